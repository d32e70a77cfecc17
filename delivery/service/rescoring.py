"""Rescoring: scores set after delivery (a rater's mark, a correction) and results recomputed.

Two operations, both append-only where history matters:

- ``set_item_score`` records a score for one answered item from a source other than the
  automatic scorer. ``ItemResponse`` rows are never updated; the latest ``ItemScoreEntry`` of a
  (session, item) takes precedence over the response's automatic score wherever a score is read
  (``effective_scores``).
- ``rescore_sessions`` recomputes finished sessions' theta, SE, scale score, band and subscores
  from their responses, with set scores applied, under a parameter set (by default the one each
  was scored under). The replaced figures are kept as a ``ResultRevision`` (with the reason, the
  actor, the parameter sets and the time) and the ``Result`` row is updated in place, so every
  reader of results sees the new figures.

Which answers move theta on a rescore: those that did at delivery (operational responses whose
item has parameters in the chosen set), plus human-scored items (``extended_text`` and other
rater-scored types, which delivery records at 0 and leaves out of theta) once a score has been
set for them and they have parameters in the set. Pretest responses stay out. Raw scores map to
IRT categories as delivery maps them (``delivery.engine.irt_category``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select

from cbt.audit import Actor, record_audit
from cbt.db import db, utcnow
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.models import User
from delivery import engine
from delivery.engine import BankItem, CompiledTest
from delivery.models import (
    ExamSession,
    FormSnapshot,
    ItemResponse,
    ItemScoreEntry,
    Result,
    ResultRevision,
    SessionStatus,
    TestDefinition,
)
from delivery.service.current import refresh_superseded
from delivery.service.forms import _bank_items, checked_spec, unpublished_parameters
from item_bank.models import ItemVersion, ParameterSet
from item_bank.service import is_published, load_items, load_pool_items, pool_enemy_pairs

#: Sessions one rescore may name (a researcher's batch; larger sets go in several calls).
MAX_RESCORE_SESSIONS = 5000
MAX_REASON = 500
MAX_SOURCE = 32
#: Session states that have a result a rescore may replace.
RESCORABLE = (SessionStatus.FINISHED, SessionStatus.EXPIRED)
#: Figures that count as a change when they move by more than rounding.
_FIGURES = ("theta", "se", "scale_score", "scale_se")
_TOLERANCE = 1e-9


# ------------------------------------------------------------------------------- set scores


def set_item_score(
    session_id: str,
    item_version_id: int,
    score: float,
    *,
    source: str,
    actor_id: int | None,
) -> None:
    """Record ``score`` for the session's answer to one item, from ``source`` (for example
    ``"rater"``). Append-only: a later call for the same item supersedes this one. The result
    changes only when the session is rescored (``rescore_sessions``)."""
    if not isinstance(source, str) or not 1 <= len(source.strip()) <= MAX_SOURCE:
        raise ValidationError("'source' must be 1 to 32 characters.", details={"field": "source"})
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise ValidationError("The score must be a number.", details={"field": "score"})
    response = db.session.execute(
        select(ItemResponse.id, ItemVersion.max_score)
        .join(ItemVersion, ItemVersion.id == ItemResponse.item_version_id)
        .where(
            ItemResponse.exam_session_id == session_id,
            ItemResponse.item_version_id == item_version_id,
        )
    ).one_or_none()
    if response is None:
        raise NotFound(
            "The session has no answer to that item.",
            details={"session_id": session_id, "item_version_id": item_version_id},
        )
    if not 0 <= score <= response.max_score:
        raise ValidationError(
            "The score must be between 0 and the item's maximum score.",
            details={"field": "score", "max_score": response.max_score},
        )
    db.session.add(
        ItemScoreEntry(
            exam_session_id=session_id,
            item_version_id=item_version_id,
            item_response_id=response.id,
            score=float(score),
            source=source.strip(),
            actor_id=actor_id,
        )
    )
    record_audit(
        _actor(actor_id),
        "item_score.set",
        "exam_session",
        session_id,
        {"item_version_id": item_version_id, "score": float(score), "source": source.strip()},
    )
    db.session.flush()


def effective_scores(session_ids: Sequence[str]) -> dict[tuple[str, int], ItemScoreEntry]:
    """The latest set score of each (session, item version) that has one: what overrides the
    automatic ``ItemResponse.score`` for readers of answer history."""
    if not session_ids:
        return {}
    latest = (
        select(func.max(ItemScoreEntry.id))
        .where(ItemScoreEntry.exam_session_id.in_(list(session_ids)))
        .group_by(ItemScoreEntry.exam_session_id, ItemScoreEntry.item_version_id)
    )
    entries = db.session.scalars(select(ItemScoreEntry).where(ItemScoreEntry.id.in_(latest)))
    return {(e.exam_session_id, e.item_version_id): e for e in entries}


# ---------------------------------------------------------------------------------- rescore


@dataclass(frozen=True)
class _RescoringTest:
    """A form compiled for rescoring: human-scored items with parameters are operational."""

    test: CompiledTest
    human_scored: frozenset[int]  # item version ids of human-scored types


def rescore_sessions(
    session_ids: list[str],
    *,
    parameter_set_id: int | None = None,
    actor_id: int | None,
    reason: str,
) -> dict[str, Any]:
    """Recompute finished sessions' results and keep what they replace.

    Everything is computed before anything is written, so an error in any session (not found,
    not finished, a parameter set that does not fit the form) leaves every result as it was.
    A session whose figures come out the same is left alone (no revision): rescoring twice
    with the same inputs changes nothing the second time.

    Returns ``{"parameter_set_id", "sessions": [{"session_id", "changed", "old", "new"}],
    "summary": {...}}``.
    """
    ids = _checked_ids(session_ids)
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= MAX_REASON:
        raise ValidationError("A reason of 1 to 500 characters is required.",
                              details={"field": "reason"})  # fmt: skip
    if parameter_set_id is not None:
        _published_set(parameter_set_id)
    sessions = {
        s.id: s for s in db.session.scalars(select(ExamSession).where(ExamSession.id.in_(ids)))
    }
    results = {
        r.exam_session_id: r
        for r in db.session.scalars(select(Result).where(Result.exam_session_id.in_(ids)))
    }
    for session_id in ids:
        session = sessions.get(session_id)
        if session is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        if session.status not in RESCORABLE or session_id not in results:
            raise Conflict(
                "Only finished sessions can be rescored.",
                details={"session_id": session_id, "status": session.status},
            )
    overrides = effective_scores(ids)
    compiled: dict[tuple[int | None, int | None, int], _RescoringTest] = {}
    outcomes = []
    for session_id in ids:
        result = results[session_id]
        target_set = parameter_set_id or result.parameter_set_id
        key = (result.snapshot_id, result.test_definition_id, target_set)
        if key not in compiled:
            compiled[key] = _compile(result, target_set)
        new = _recompute(compiled[key], sessions[session_id], overrides)
        old = _figures(result)
        changed = target_set != result.parameter_set_id or not _same(old, new)
        outcomes.append((result, target_set, old, new, changed))

    now = utcnow()
    previous = _latest_revisions([r.id for r, _, _, _, changed in outcomes if changed])
    report = []
    for result, target_set, old, new, changed in outcomes:
        if changed:
            revision, scored_at = previous.get(result.id, (0, result.created_at))
            db.session.add(
                ResultRevision(
                    result_id=result.id,
                    exam_session_id=result.exam_session_id,
                    revision=revision + 1,
                    theta=result.theta,
                    se=result.se,
                    scale_score=result.scale_score,
                    scale_se=result.scale_se,
                    band=result.band,
                    subscores=result.subscores,
                    parameter_set_id=result.parameter_set_id,
                    engine_version=result.engine_version,
                    scored_at=scored_at,
                    new_parameter_set_id=target_set,
                    reason=reason.strip(),
                    actor_id=actor_id,
                    created_at=now,
                )
            )
            for name in (*_FIGURES, "band", "subscores"):
                setattr(result, name, new[name])
            result.parameter_set_id = target_set
            result.engine_version = engine.ENGINE_VERSION
            record_audit(
                _actor(actor_id),
                "result.rescore",
                "exam_session",
                result.exam_session_id,
                {
                    "reason": reason.strip(),
                    "parameter_set_id": target_set,
                    "old": {k: old[k] for k in ("theta", "scale_score", "band")},
                    "new": {k: new[k] for k in ("theta", "scale_score", "band")},
                },
            )
        report.append(
            {
                "session_id": result.exam_session_id,
                "student_id": result.student_id,
                "changed": changed,
                "parameter_set_id": target_set,
                "old": old,
                "new": new,
            }
        )
    # A rescore replaces a result's figures in place: which result is current stays, and the
    # one definition says so (it would also repair a flag left wrong by hand).
    refresh_superseded(
        [r.student_id for r, *_ in outcomes], [r.administration_id for r, *_ in outcomes]
    )
    return {
        "parameter_set_id": parameter_set_id,
        "reason": reason.strip(),
        "sessions": report,
        "summary": _summary(report),
    }


def _checked_ids(session_ids: Any) -> list[str]:
    if not isinstance(session_ids, list) or not session_ids:
        raise ValidationError("Name at least one session.", details={"field": "session_ids"})
    if len(session_ids) > MAX_RESCORE_SESSIONS:
        raise ValidationError(
            "Too many sessions for one rescore.",
            details={"field": "session_ids", "max": MAX_RESCORE_SESSIONS},
        )
    if not all(isinstance(s, str) and 1 <= len(s) <= 32 for s in session_ids):
        raise ValidationError("Session ids are strings.", details={"field": "session_ids"})
    return list(dict.fromkeys(session_ids))


def _published_set(parameter_set_id: Any) -> ParameterSet:
    if isinstance(parameter_set_id, bool) or not isinstance(parameter_set_id, int):
        raise ValidationError("'parameter_set_id' must be a whole number.",
                              details={"field": "parameter_set_id"})  # fmt: skip
    parameters = db.session.get(ParameterSet, parameter_set_id)
    if parameters is None:
        raise NotFound("No such parameter set.", details={"parameter_set_id": parameter_set_id})
    if not is_published(parameters):
        raise unpublished_parameters(parameters)
    return parameters


def _compile(result: Result, parameter_set_id: int) -> _RescoringTest:
    """The form the result was scored on (its published snapshot, or for a result older than
    snapshots its definition's pool), with the parameters of ``parameter_set_id``."""
    if result.snapshot_id is not None:
        snapshot = db.session.get(FormSnapshot, result.snapshot_id)
        assert snapshot is not None
        loaded = {i.item_version_id: i for i in load_items(snapshot.item_version_ids,
                                                           parameter_set_id)}  # fmt: skip
        items = _bank_items([loaded[i] for i in snapshot.item_version_ids])
        source: dict[str, Any] = {
            "test_definition_id": snapshot.test_definition_id,
            "settings": snapshot.settings,
            "scale": snapshot.scale,
            "enemy_sets": [tuple(pair) for pair in snapshot.enemy_pairs],
            "snapshot_id": snapshot.id,
        }
    else:
        definition = db.session.get(TestDefinition, result.test_definition_id)
        if definition is None:
            raise Conflict("The result's test definition is gone; it cannot be rescored.",
                           details={"session_id": result.exam_session_id})  # fmt: skip
        items = _bank_items(load_pool_items(definition.pool_id, parameter_set_id))
        source = {
            "test_definition_id": definition.id,
            "settings": result.engine_settings or definition.settings,
            "scale": definition.scale,
            "enemy_sets": pool_enemy_pairs(definition.pool_id),
        }
    human = frozenset(i.item_version_id for i in items if i.human_scored)
    with checked_spec():
        test = engine.compile_test(
            parameter_set_id=parameter_set_id,
            items=[_operational(i) for i in items],
            **source,
        )
    return _RescoringTest(test=test, human_scored=human)


def _operational(item: BankItem) -> BankItem:
    return replace(item, human_scored=False) if item.human_scored else item


def _recompute(
    rescoring: _RescoringTest,
    session: ExamSession,
    overrides: dict[tuple[str, int], ItemScoreEntry],
) -> dict[str, Any]:
    test = rescoring.test
    state = engine.clock_state(session.state)
    state.snapshot_id = test.snapshot_id
    posterior = test.new_posterior()
    rows = db.session.execute(
        select(ItemResponse.item_version_id, ItemResponse.score, ItemResponse.is_operational)
        .where(ItemResponse.exam_session_id == session.id)
        .order_by(ItemResponse.sequence)
    ).all()
    items, scores, operational = [], [], []
    for row in rows:
        index = test.index_of_version.get(row.item_version_id)
        if index is None:
            raise Conflict("An answered item is not on the session's form.",
                           details={"session_id": session.id,
                                    "item_version_id": row.item_version_id})  # fmt: skip
        entry = overrides.get((session.id, row.item_version_id))
        raw = row.score if entry is None else entry.score
        counted = index < test.n_operational and (
            row.is_operational
            or (entry is not None and row.item_version_id in rescoring.human_scored)
        )
        category = engine.irt_category(test, index, raw)
        if counted:
            posterior.update(test.parameters, index, category)
        items.append(index)
        scores.append(category)
        operational.append(counted)
    state.items, state.scores, state.operational = items, scores, operational
    state.sections = [0] * len(items)
    state.idempotency_keys = [""] * len(items)
    state._posterior = posterior
    final = engine.final_result(test, state)
    return {
        "theta": final.theta,
        "se": final.se,
        "scale_score": final.scale_score,
        "scale_se": final.scale_se,
        "band": final.band,
        "n_scored": final.n_operational,
        "subscores": final.subscores,
    }


def _figures(result: Result) -> dict[str, Any]:
    return {
        "theta": result.theta,
        "se": result.se,
        "scale_score": result.scale_score,
        "scale_se": result.scale_se,
        "band": result.band,
        "subscores": result.subscores,
    }


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _TOLERANCE * max(1.0, abs(a))


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if old["band"] != new["band"] or not all(_close(old[k], new[k]) for k in _FIGURES):
        return False
    before = {s["curriculum_prefix"]: s for s in old["subscores"] or []}
    after = {s["curriculum_prefix"]: s for s in new["subscores"]}
    if before.keys() != after.keys():
        return False
    return all(
        before[p]["n_items"] == after[p]["n_items"]
        and all(_close(before[p][k], after[p][k]) for k in ("raw_score", "theta", "se"))
        for p in after
    )


def _latest_revisions(result_ids: list[int]) -> dict[int, tuple[int, Any]]:
    """Per result, its last revision number and when the figures it holds now were computed."""
    if not result_ids:
        return {}
    rows = db.session.execute(
        select(ResultRevision.result_id, ResultRevision.revision, ResultRevision.created_at)
        .where(ResultRevision.result_id.in_(result_ids))
        .order_by(ResultRevision.result_id, ResultRevision.revision)
    ).all()
    return {row.result_id: (row.revision, row.created_at) for row in rows}


def _summary(report: list[dict[str, Any]]) -> dict[str, Any]:
    changed = [r for r in report if r["changed"]]
    shifts = [r["new"]["theta"] - r["old"]["theta"] for r in changed]
    return {
        "n_sessions": len(report),
        "n_changed": len(changed),
        "n_band_changed": sum(1 for r in changed if r["new"]["band"] != r["old"]["band"]),
        "mean_theta_change": sum(shifts) / len(shifts) if shifts else 0.0,
        "max_abs_theta_change": max((abs(s) for s in shifts), default=0.0),
        "mean_abs_scale_change": (
            sum(abs(r["new"]["scale_score"] - r["old"]["scale_score"]) for r in changed)
            / len(changed)
            if changed
            else 0.0
        ),
    }


def _actor(actor_id: int | None) -> Actor:
    if actor_id is None:
        return Actor()
    role = db.session.scalar(select(User.role).where(User.id == actor_id))
    return Actor(id=actor_id, role=None if role is None else str(role))


__all__ = [
    "MAX_RESCORE_SESSIONS",
    "RESCORABLE",
    "effective_scores",
    "rescore_sessions",
    "set_item_score",
]
