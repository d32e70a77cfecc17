"""Calibration from the database and the provenance every calibration records (read side).

* :func:`load_administration_responses` reads the responses of chosen administrations
  (``ItemResponse`` joined to ``ExamSession``), keyed by the student's **pseudonym** only: a
  researcher never sees names, logins or internal user ids.
* :func:`calibrate_administrations` calibrates them with :class:`scoring.MMLCalibrator` and
  writes a **draft** ``ParameterSet`` through :func:`item_bank.service.create_parameter_set`
  with full provenance. It only flushes; the caller (the ``cbt calibrate`` command) commits.
* :func:`response_data_hash` and :func:`provenance` are shared with the file-based commands.

Rules for database responses: sessions that were reset are left out; a student who answered
the same item version in more than one chosen session keeps the latest answer; item ids are
the item version ids (as text), which is what a ParameterSet is keyed by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from analytics.provenance import provenance, response_data_hash, software_versions
from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from cbt.models import User
from delivery.models import Administration, ExamSession, ItemResponse, SessionStatus
from item_bank.models import Item, ItemParameter, ItemVersion, ParameterSet, ParameterSetStatus
from item_bank.service import create_parameter_set

__all__ = [
    "AdministrationResponses",
    "anchors_from_parameter_set",
    "calibrate_administrations",
    "load_administration_responses",
    "provenance",
    "response_data_hash",
    "software_versions",
]

_BATCH = 50_000


@dataclass(frozen=True)
class AdministrationResponses:
    """Responses of chosen administrations, ready for calibration.

    Attributes
    ----------
    data : scoring.ResponseData
        Persons are pseudonyms; item ids are item version ids (text).
    administration_of_person : ndarray of int
        The administration of each person's latest session (for multi-group calibration).
    administrations : list of dict
        ``{"id", "name", "test_definition_id"}`` of each chosen administration.
    item_keys : dict of str to str
        Item version id -> ``"<item key> v<version>"`` (for reports).
    n_duplicates : int
        Earlier answers replaced by a later answer to the same item version.
    """

    data: Any
    administration_of_person: np.ndarray
    administrations: list[dict[str, Any]]
    item_keys: dict[str, str]
    n_duplicates: int


def load_administration_responses(administration_ids: Sequence[int]) -> AdministrationResponses:
    """Pseudonymised responses of the given administrations (see the module docstring).

    Raises
    ------
    NotFound
        An administration does not exist.
    ValidationError
        No responses, or a score that is not a whole number.
    """
    from scoring.calibration import ResponseData

    ids = sorted({int(a) for a in administration_ids})
    if not ids:
        raise ValidationError("Choose at least one administration.")
    found = db.session.execute(
        select(Administration.id, Administration.name, Administration.test_definition_id).where(
            Administration.id.in_(ids)
        )
    ).all()
    missing = sorted(set(ids) - {row.id for row in found})
    if missing:
        raise NotFound("No such administration.", details={"administration_ids": missing})
    query = (
        select(
            User.pseudonym,
            ItemResponse.item_version_id,
            ItemResponse.score,
            ExamSession.administration_id,
            ItemResponse.exam_session_id,
        )
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .join(User, User.id == ExamSession.student_id)
        .where(ExamSession.administration_id.in_(ids), ExamSession.status != SessionStatus.RESET)
        .order_by(ItemResponse.answered_at, ItemResponse.id)
        .execution_options(yield_per=_BATCH)
    )
    persons: dict[str, int] = {}
    admin_index = {a: k for k, a in enumerate(ids)}
    p_parts, i_parts, s_parts, a_parts = [], [], [], []
    for batch in db.session.execute(query).partitions(_BATCH):
        p_parts.append(np.fromiter((persons.setdefault(r[0], len(persons)) for r in batch), int))
        i_parts.append(np.fromiter((r[1] for r in batch), np.int64))
        s_parts.append(np.fromiter((r[2] for r in batch), float))
        a_parts.append(np.fromiter((admin_index[r[3]] for r in batch), np.int64))
        bad = ~np.isfinite(s_parts[-1]) | (s_parts[-1] != np.floor(s_parts[-1]))
        if bad.any():
            row = batch[int(np.flatnonzero(bad)[0])]
            raise ValidationError(
                f"Session {row[4]}, item version {row[1]}: score {row[2]} is not a whole "
                "number; polytomous scores must be categories 0, 1, 2, ...",
                details={"exam_session_id": row[4], "item_version_id": row[1]},
            )
    if not p_parts:
        raise ValidationError(
            "The chosen administrations have no responses.", details={"administration_ids": ids}
        )
    person = np.concatenate(p_parts)
    item = np.concatenate(i_parts)
    score = np.concatenate(s_parts)
    admin = np.concatenate(a_parts)
    # Keep each person's latest answer to an item version (rows are in answer order).
    key = person * (int(item.max()) + 1) + item
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = np.sort(key.size - 1 - last_rev)
    n_duplicates = int(key.size - keep.size)
    pseudonyms = np.array(list(persons), dtype=object)
    data = ResponseData.from_long(pseudonyms[person[keep]], item[keep].astype(str), score[keep])
    # Administration of each person: the one of their latest answer.
    latest = np.zeros(len(persons), dtype=np.int64)
    latest[person] = admin
    order = {p: k for k, p in enumerate(pseudonyms.tolist())}
    admin_of_person = latest[[order[p] for p in data.person_ids]]
    version_ids = sorted({int(i) for i in data.item_ids})
    keys = {
        str(version_id): f"{key} v{number}"
        for version_id, key, number in db.session.execute(
            select(ItemVersion.id, Item.key, ItemVersion.version_number)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(ItemVersion.id.in_(version_ids))
        )
    }
    administrations = [
        {"id": row.id, "name": row.name, "test_definition_id": row.test_definition_id}
        for row in sorted(found, key=lambda r: r.id)
    ]
    return AdministrationResponses(
        data=data,
        administration_of_person=np.asarray(ids)[admin_of_person],
        administrations=administrations,
        item_keys=keys,
        n_duplicates=n_duplicates,
    )


def anchors_from_parameter_set(parameter_set_id: int, item_ids: Sequence[str]) -> Any:
    """The items of a parameter set that occur in ``item_ids``, as anchors (``None`` if none).

    Raises
    ------
    NotFound
        No such parameter set.
    """
    from scoring import ItemParameters

    parameter_set = db.session.get(ParameterSet, int(parameter_set_id))
    if parameter_set is None:
        raise NotFound("No such parameter set.", details={"parameter_set_id": parameter_set_id})
    wanted = {int(i) for i in item_ids}
    rows = db.session.execute(
        select(ItemParameter)
        .where(ItemParameter.parameter_set_id == parameter_set.id)
        .order_by(ItemParameter.item_version_id)
    ).scalars()
    records = []
    for row in rows:
        if row.item_version_id not in wanted:
            continue
        record: dict[str, Any] = {
            "item_id": str(row.item_version_id),
            "model": row.model,
            "discrimination": row.discrimination,
        }
        if row.thresholds and row.model in ("grm", "gpcm"):
            record["thresholds"] = list(row.thresholds)
        else:
            record["difficulty"] = row.difficulty
            if row.model == "3pl":
                record["guessing"] = row.guessing
        records.append(record)
    if not records:
        return None
    return ItemParameters.from_records(records, scaling=parameter_set.scaling)


def calibrate_administrations(
    administration_ids: Sequence[int],
    *,
    parameter_set_name: str,
    calibrator: Any,
    group_by_administration: bool = False,
    seed: int | None = None,
    created_by_id: int | None = None,
    loaded: AdministrationResponses | None = None,
    review: Any = None,
) -> tuple[ParameterSet, Any, AdministrationResponses]:
    """Calibrate the responses of ``administration_ids`` and store a draft ParameterSet.

    Parameters
    ----------
    administration_ids : sequence of int
    parameter_set_name : str
        Name of the parameter set; its next version is created, with status ``draft``.
    calibrator : scoring.MMLCalibrator
        Configured, not yet fitted (anchors included, if any).
    group_by_administration : bool
        Multi-group calibration with one group per administration (the first is the
        reference group).
    seed : int, optional
        Recorded in the provenance (the EM algorithm itself is deterministic).
    loaded : AdministrationResponses, optional
        Responses already loaded by :func:`load_administration_responses`.
    review : callable, optional
        ``review(calibrator, loaded) -> dict`` after the fit (fit statistics, anchor drift,
        linking); stored in the provenance as ``"review"``, since a set is immutable once made.

    Returns
    -------
    (ParameterSet, fitted calibrator, AdministrationResponses)
    """
    started = dt.datetime.now(dt.UTC)
    loaded = loaded or load_administration_responses(administration_ids)
    groups = None
    if group_by_administration:
        groups = loaded.administration_of_person
        if calibrator.reference_group is None:
            calibrator.reference_group = int(loaded.administrations[0]["id"])
    try:
        calibrator.fit(loaded.data, groups=groups)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    document = calibrator.to_params_document()
    record = provenance(
        calibrator,
        loaded.data,
        sources={"administrations": loaded.administrations},
        started_at=started,
        seed=seed,
    )
    record.update(
        administrations=loaded.administrations,
        n_duplicate_answers_replaced=loaded.n_duplicates,
        fit={
            key: document[key]
            for key in (
                "model",
                "log_likelihood",
                "aic",
                "bic",
                "n_parameters",
                "n_iter",
                "converged",
                "se_method",
                "groups",
            )
        },
        item_keys=loaded.item_keys,
    )
    if review is not None:
        record["review"] = review(calibrator, loaded)
    fixed = set(document.get("fixed_items", []))
    parameters: dict[int, dict[str, Any]] = {}
    for rec in document["items"]:
        out = {
            key: value
            for key, value in rec.items()
            if key in ("model", "discrimination", "difficulty", "guessing", "thresholds", "se")
        }
        if rec["item_id"] in fixed:
            out["se"] = {"fixed": True}
        parameters[int(rec["item_id"])] = out
    parameter_set = create_parameter_set(
        name=parameter_set_name,
        parameters=parameters,
        provenance=_json_ready(record),
        status=ParameterSetStatus.DRAFT,
        scaling=float(calibrator.scaling),
        created_by_id=created_by_id,
    )
    return parameter_set, calibrator, loaded


def _json_ready(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def research_administrations() -> list[dict[str, Any]]:
    """Every administration with what a researcher chooses by: its test, window, status and
    how many sessions (reset ones left out) and responses it holds. No person data."""
    from sqlalchemy import func

    from delivery.models import TestDefinition

    live = ExamSession.status != SessionStatus.RESET
    sessions = (
        select(ExamSession.administration_id, func.count().label("n"))
        .where(live)
        .group_by(ExamSession.administration_id)
        .subquery()
    )
    responses = (
        select(ExamSession.administration_id, func.count().label("n"))
        .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
        .where(live)
        .group_by(ExamSession.administration_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Administration,
            TestDefinition.key,
            TestDefinition.title,
            func.coalesce(sessions.c.n, 0),
            func.coalesce(responses.c.n, 0),
        )
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .outerjoin(sessions, sessions.c.administration_id == Administration.id)
        .outerjoin(responses, responses.c.administration_id == Administration.id)
        .order_by(Administration.id)
    ).all()

    return [
        {
            "id": administration.id,
            "name": administration.name,
            "status": administration.status,
            "opens_at": iso_utc(administration.opens_at),
            "closes_at": iso_utc(administration.closes_at),
            "test_key": key,
            "test_title": title,
            "n_sessions": int(n_sessions),
            "n_responses": int(n_responses),
        }
        for administration, key, title, n_sessions, n_responses in rows
    ]
