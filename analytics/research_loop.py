"""The researcher's closed loop on the server: calibrate chosen administrations with the
operational anchors held fixed (a background job), review the result (item fit, anchor drift,
the link to the reporting scale), compare it with the current parameters, publish it, rescore
past sessions with it (a background job) and promote the pretest items to operational.

Persons appear only as pseudonyms (:mod:`analytics.calibration` reads them so); every step
records an audit event; a calibrated set's provenance carries the data hash, the settings, the
software, the anchors and this review.

Anchor drift: the items are calibrated a second time with every item free (started from the
fixed-anchor solution, so it takes few EM steps); the free solution is put on the bank's scale
by Stocking-Lord linking on the anchors, and each anchor's linked location is compared with its
bank value. An anchor whose location moved more than ``drift_threshold`` (default 0.3 logits)
or whose slope changed by more than 30 % is flagged. The same linking constants ``A``, ``B``
(``theta_bank = A theta_free + B``) are the link to the reporting scale, and the pretest items'
linked free estimates are a check on their fixed-anchor estimates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from analytics.calibration import (
    AdministrationResponses,
    anchors_from_parameter_set,
    calibrate_administrations,
    load_administration_responses,
    parameter_record,
)
from cbt.audit import Actor, record_audit
from cbt.db import db
from cbt.errors import Conflict, ValidationError
from item_bank.models import (
    ItemParameter,
    ItemStatus,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
)
from item_bank.service import get_parameter_set, transition_item
from jobs import JobContext, JobFailed, register

__all__ = [
    "CALIBRATE_JOB",
    "DEFAULT_DRIFT_THRESHOLD",
    "RESCORE_JOB",
    "calibration_parameters",
    "compare_parameter_sets",
    "parameter_set_items",
    "promote_pretest_items",
]

CALIBRATE_JOB = "research.calibrate"
RESCORE_JOB = "research.rescore"
DEFAULT_DRIFT_THRESHOLD = 0.3
SLOPE_DRIFT_RATIO = 0.3
FIT_BOUNDS = (0.7, 1.3)  # infit mean squares outside are flagged
MODELS = ("rasch", "1pl", "2pl", "3pl", "grm", "gpcm")
_NAME_LIMIT = 100
_SESSION_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


def _int_list(value: Any, field: str, *, limit: int = 1000) -> list[int]:
    if not isinstance(value, list) or not value or len(value) > limit:
        raise ValidationError(
            f"{field} must be a list of 1 to {limit} ids.", details={"field": field}
        )
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in value):
        raise ValidationError(f"{field} must hold positive integer ids.", details={"field": field})
    return sorted(set(value))


def session_id_list(value: Any, *, limit: int = 100_000) -> list[str]:
    """Checked exam session ids (1 to 32 letters, digits, ``-`` or ``_``), each once."""
    if not isinstance(value, list) or not value or len(value) > limit:
        raise ValidationError(
            f"session_ids must be a list of 1 to {limit} session ids.",
            details={"field": "session_ids"},
        )
    if not all(isinstance(v, str) and _SESSION_ID.fullmatch(v) for v in value):
        raise ValidationError(
            "session_ids must hold exam session ids.", details={"field": "session_ids"}
        )
    return sorted(set(value))


def calibration_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The checked parameters of a calibration job (from the API's JSON body)."""
    administrations = _int_list(body.get("administration_ids"), "administration_ids")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= _NAME_LIMIT:
        raise ValidationError(
            f"name is 1 to {_NAME_LIMIT} characters (the parameter set to create).",
            details={"field": "name"},
        )
    model = body.get("model", "2pl")
    if model not in MODELS:
        raise ValidationError(
            f"model is one of {', '.join(MODELS)}.", details={"field": "model", "allowed": MODELS}
        )
    anchor = body.get("anchor_parameter_set_id")
    if anchor is not None:
        if not isinstance(anchor, int) or isinstance(anchor, bool) or not 0 < anchor < 2**31:
            raise ValidationError(
                "anchor_parameter_set_id must be a parameter set id.",
                details={"field": "anchor_parameter_set_id"},
            )
        anchor_set = get_parameter_set(anchor)
        if anchor_set.status != ParameterSetStatus.PUBLISHED:
            raise ValidationError(
                "The anchors come from a published parameter set (the operational values).",
                details={"field": "anchor_parameter_set_id"},
            )
    threshold = body.get("drift_threshold", DEFAULT_DRIFT_THRESHOLD)
    if (
        not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
        or not 0 < threshold <= 5
    ):
        raise ValidationError(
            "drift_threshold is a positive number of logits (at most 5).",
            details={"field": "drift_threshold"},
        )
    max_iter = body.get("max_iter", 500)
    if not isinstance(max_iter, int) or isinstance(max_iter, bool) or not 1 <= max_iter <= 5000:
        raise ValidationError("max_iter is 1 to 5000.", details={"field": "max_iter"})
    return {
        "administration_ids": administrations,
        "name": name.strip(),
        "model": model,
        "anchor_parameter_set_id": anchor,
        "drift_threshold": float(threshold),
        "max_iter": max_iter,
    }


class _EMProgress:
    """EM steps as a fraction of a stretch of the job's progress bar: the larger of the share
    of ``max_iter`` used and how far the largest change has come down towards ``tol``."""

    def __init__(
        self, context: JobContext, start: float, end: float, max_iter: int, tol: float, what: str
    ) -> None:
        self.context, self.start, self.end = context, start, end
        self.max_iter, self.tol, self.what = max_iter, tol, what
        self.first: float | None = None

    def __call__(self, n_iter: int, log_likelihood: float, change: float) -> None:
        share = n_iter / self.max_iter
        if math.isfinite(change) and change > 0:
            self.first = self.first or max(change, self.tol * 10)
            span = math.log(self.first / self.tol)
            share = max(share, min(1.0, math.log(self.first / max(change, self.tol)) / span))
        self.context.progress(
            self.start + (self.end - self.start) * min(share, 1.0),
            f"{self.what}: EM step {n_iter}, largest change {change:.2g}",
        )


def _finite(value: Any, digits: int = 4) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _review(
    context: JobContext, parameters: dict[str, Any], anchors: Any
) -> Any:  # the callable calibrate_administrations runs before it stores the set
    def review(calibrator: Any, loaded: AdministrationResponses) -> dict[str, Any]:
        from scoring.calibration import MMLCalibrator, link, rasch_item_fit

        params = calibrator.item_parameters_
        fixed = {i for i, f in zip(calibrator.item_ids_, calibrator.fixed_, strict=True) if f}
        pretest = [i for i in calibrator.item_ids_ if i not in fixed]
        out: dict[str, Any] = {
            "anchor_parameter_set_id": parameters["anchor_parameter_set_id"],
            "anchor_items": sorted(fixed, key=int),
            "pretest_items": sorted(pretest, key=int),
            "drift_threshold": parameters["drift_threshold"],
            "fit_bounds": list(FIT_BOUNDS),
        }
        context.progress(0.72, "Item fit (infit and outfit)", force=True)
        try:
            fit = rasch_item_fit(params, loaded.data, theta=calibrator.theta_)
            records = fit.to_records()
            for rec in records:
                # Infit only: outfit, computed at EAP abilities (shrunk towards the mean),
                # runs low for items far from the persons and would flag fitting items.
                infit = rec["infit"]
                rec["flagged"] = infit is not None and not FIT_BOUNDS[0] <= infit <= FIT_BOUNDS[1]
            out["fit"] = records
        except ValueError as error:
            out["fit"] = []
            out["fit_error"] = str(error)
        if anchors is None:
            out["drift"] = []
            out["linking"] = None
            return out
        context.progress(0.75, "Free calibration for anchor drift", force=True)
        free = MMLCalibrator(
            parameters["model"],
            init=params,
            se_method=None,
            max_iter=parameters["max_iter"],
            callback=_EMProgress(
                context, 0.75, 0.95, parameters["max_iter"], 1e-4, "Free calibration"
            ),
        ).fit(loaded.data)
        common = [i for i in free.item_ids_ if i in fixed]
        if len(common) < 2:
            out["drift"] = []
            out["linking"] = None
            return out
        bank = anchors.take(anchors.index_of(common))
        bank_position = {i: k for k, i in enumerate(bank.item_ids)}
        threshold = parameters["drift_threshold"]

        def drift_of(linked: Any) -> list[dict[str, Any]]:
            position = {i: k for k, i in enumerate(linked.item_ids)}
            rows = []
            for item_id in common:
                k, b = position[item_id], bank_position[item_id]
                a_bank, a_free = float(bank.discrimination[b]), float(linked.discrimination[k])
                loc_bank, loc_free = float(bank.location[b]), float(linked.location[k])
                rows.append(
                    {
                        "item_id": item_id,
                        "item_key": loaded.item_keys.get(item_id, item_id),
                        "bank_discrimination": _finite(a_bank),
                        "free_discrimination": _finite(a_free),
                        "bank_location": _finite(loc_bank),
                        "free_location": _finite(loc_free),
                        "location_shift": _finite(loc_free - loc_bank),
                        "flagged": bool(
                            abs(loc_free - loc_bank) > threshold
                            or abs(a_free - a_bank) > SLOPE_DRIFT_RATIO * a_bank
                        ),
                    }
                )
            return rows

        # Purification: a drifted anchor pulls the link towards itself, so the link is
        # estimated again without the flagged anchors until the flags stop changing.
        linking_items = list(common)
        for _round in range(5):
            result = link(free.item_parameters_, bank, "stocking-lord", common_items=linking_items)
            linked = result.transform(free.item_parameters_)
            drift = drift_of(linked)
            kept = [d["item_id"] for d in drift if not d["flagged"]]
            if kept == linking_items or len(kept) < 2:
                break
            linking_items = kept
        position = {i: k for k, i in enumerate(linked.item_ids)}
        out["linking"] = {
            "method": result.method,
            "slope": _finite(result.slope, 6),
            "intercept": _finite(result.intercept, 6),
            "criterion": _finite(result.criterion, 8),
            "n_common_items": len(result.common_items),
            "left_out_as_drifted": [i for i in common if i not in set(result.common_items)],
            "direction": "theta_bank = slope * theta_free + intercept",
        }
        out["drift"] = drift
        # The pretest items' fixed-anchor estimates against their linked free estimates.
        pretest_here = [i for i in pretest if i in position]
        fpc_position = {i: k for k, i in enumerate(params.item_ids)}
        differences = [
            abs(float(linked.location[position[i]]) - float(params.location[fpc_position[i]]))
            for i in pretest_here
        ]
        out["pretest_check"] = {
            "n_items": len(pretest_here),
            "max_location_difference": _finite(max(differences)) if differences else None,
        }
        return out

    return review


@register(CALIBRATE_JOB)
def calibrate_job(context: JobContext) -> dict[str, Any]:
    """Calibrate the chosen administrations into a draft parameter set (see module docs)."""
    from scoring.calibration import MMLCalibrator

    parameters = context.parameters
    context.progress(0.01, "Reading responses", force=True)
    loaded = load_administration_responses(parameters["administration_ids"])
    data = loaded.data
    context.progress(
        0.10,
        f"Read {int(data.score.size)} responses of {int(data.n_persons)} persons",
        force=True,
    )
    anchors = None
    if parameters.get("anchor_parameter_set_id") is not None:
        anchors = anchors_from_parameter_set(parameters["anchor_parameter_set_id"], data.item_ids)
        if anchors is None:
            raise JobFailed(
                "None of the anchor set's items occur in the chosen administrations; choose "
                "another anchor set or calibrate without anchors."
            )
    calibrator = MMLCalibrator(
        parameters["model"],
        anchors=anchors,
        max_iter=parameters["max_iter"],
        compute_theta=True,
        callback=_EMProgress(
            context, 0.10, 0.70, parameters["max_iter"], 1e-4, "Fixed-anchor calibration"
        ),
    )
    # The set is written last, in one flush: progress (its own connection) is not written after
    # it, since SQLite would make that wait for this transaction.
    parameter_set, calibrator, loaded = calibrate_administrations(
        parameters["administration_ids"],
        parameter_set_name=parameters["name"],
        calibrator=calibrator,
        created_by_id=context.actor.id,
        loaded=loaded,
        review=_review(context, parameters, anchors),
    )
    review = parameter_set.provenance.get("review", {})
    summary = {
        "parameter_set_id": parameter_set.id,
        "name": parameter_set.name,
        "version": parameter_set.version,
        "n_items": len(calibrator.item_ids_),
        "n_anchor_items": len(review.get("anchor_items", [])),
        "n_pretest_items": len(review.get("pretest_items", [])),
        "n_persons": int(calibrator.n_persons_),
        "n_responses": int(calibrator.n_responses_),
        "converged": bool(calibrator.converged_),
        "n_iter": int(calibrator.n_iter_),
        "n_drift_flagged": sum(1 for d in review.get("drift", []) if d["flagged"]),
        "n_fit_flagged": sum(1 for f in review.get("fit", []) if f["flagged"]),
        "linking": review.get("linking"),
    }
    record_audit(
        context.actor,
        "research_calibration_finished",
        "parameter_set",
        parameter_set.id,
        {
            "job_id": context.job_id,
            "administration_ids": parameters["administration_ids"],
            "anchor_parameter_set_id": parameters.get("anchor_parameter_set_id"),
            "n_persons": summary["n_persons"],
            "n_items": summary["n_items"],
        },
    )
    return summary


# ------------------------------------------------------------------------------ comparison
def parameter_set_items(parameter_set_id: int) -> tuple[ParameterSet, Any]:
    """A stored set as :class:`scoring.ItemParameters` keyed by item version id (text)."""
    from scoring import ItemParameters

    parameter_set = get_parameter_set(parameter_set_id)
    rows = db.session.execute(
        select(ItemParameter)
        .where(ItemParameter.parameter_set_id == parameter_set.id)
        .order_by(ItemParameter.item_version_id)
    ).scalars()
    records = [parameter_record(row) for row in rows]
    return parameter_set, ItemParameters.from_records(records, scaling=parameter_set.scaling)


def compare_parameter_sets(new_id: int, current_id: int) -> dict[str, Any]:
    """Item by item, the new and the current values (slope and location) of the items both
    sets hold, the items only the new set holds, and the curves of the common items.

    The test characteristic curve is ``sum_j E[X_j | theta]`` and the information curve
    ``sum_j I_j(theta)`` over the common items, under each set's values, on theta -4..4.
    """
    from scoring.irt import expected_score, test_information

    new_set, new = parameter_set_items(new_id)
    current_set, current = parameter_set_items(current_id)
    common = [i for i in new.item_ids if i in set(current.item_ids)]
    only_new = [i for i in new.item_ids if i not in set(current.item_ids)]
    rows = []
    for item_id in common:
        j, k = new.index_of([item_id])[0], current.index_of([item_id])[0]
        rows.append(
            {
                "item_id": item_id,
                "new_discrimination": _finite(new.discrimination[j]),
                "current_discrimination": _finite(current.discrimination[k]),
                "new_location": _finite(new.location[j]),
                "current_location": _finite(current.location[k]),
            }
        )
    theta = np.linspace(-4.0, 4.0, 33)
    curves: dict[str, Any] = {"theta": theta.round(3).tolist()}
    if common:
        a = new.take(new.index_of(common))
        b = current.take(current.index_of(common))
        curves.update(
            new_tcc=expected_score(a, theta).sum(axis=1).round(4).tolist(),
            current_tcc=expected_score(b, theta).sum(axis=1).round(4).tolist(),
            new_information=test_information(a, theta).round(4).tolist(),
            current_information=test_information(b, theta).round(4).tolist(),
        )
    shifts = [abs(r["new_location"] - r["current_location"]) for r in rows]
    return {
        "new": {"id": new_set.id, "name": new_set.name, "version": new_set.version},
        "current": {"id": current_set.id, "name": current_set.name, "version": current_set.version},
        "n_common_items": len(common),
        "new_items": only_new,
        "items": rows,
        "max_location_shift": _finite(max(shifts)) if shifts else None,
        "curves": curves,
    }


# ------------------------------------------------------------------------------ promotion
def promote_pretest_items(parameter_set_id: int, *, actor: Actor) -> dict[str, Any]:
    """Every pretest item version with values in this published set becomes operational."""
    parameter_set = get_parameter_set(parameter_set_id)
    if parameter_set.status != ParameterSetStatus.PUBLISHED:
        raise Conflict(
            "Publish the parameter set first: an item becomes operational only with published "
            "values.",
            details={"parameter_set_id": parameter_set_id},
        )
    version_ids = db.session.scalars(
        select(ItemVersion.id)
        .join(ItemParameter, ItemParameter.item_version_id == ItemVersion.id)
        .where(
            ItemParameter.parameter_set_id == parameter_set.id,
            ItemVersion.status == ItemStatus.PRETEST,
        )
        .order_by(ItemVersion.id)
    ).all()
    for version_id in version_ids:
        transition_item(version_id, ItemStatus.OPERATIONAL, actor=actor)
    record_audit(
        actor,
        "research_pretest_items_promoted",
        "parameter_set",
        parameter_set.id,
        {"item_version_ids": list(version_ids), "n_items": len(version_ids)},
    )
    return {"parameter_set_id": parameter_set.id, "promoted": list(version_ids)}


_RESCORE_BATCH = 200


@register(RESCORE_JOB)
def rescore_job(context: JobContext) -> dict[str, Any]:
    """Rescore the chosen sessions with a published set (delivery's one rescoring), in batches
    for the progress bar; all in the job's one transaction, so it changes all or nothing. The
    report names students by pseudonym only."""
    from cbt.models import User
    from delivery.models import ExamSession
    from delivery.service.rescoring import rescore_sessions

    parameters = context.parameters
    session_ids: list[str] = parameters["session_ids"]
    reports: list[dict[str, Any]] = []
    for start in range(0, len(session_ids), _RESCORE_BATCH):
        batch = session_ids[start : start + _RESCORE_BATCH]
        context.progress(
            start / len(session_ids), f"Rescoring sessions {start + 1} to {start + len(batch)}"
        )
        report = rescore_sessions(
            batch,
            parameter_set_id=parameters["parameter_set_id"],
            actor_id=context.actor.id,
            reason=parameters["reason"],
        )
        reports.extend(report["sessions"])
    pseudonyms = dict(
        db.session.execute(
            select(ExamSession.id, User.pseudonym)
            .join(User, User.id == ExamSession.student_id)
            .where(ExamSession.id.in_(session_ids))
        ).all()
    )
    fields = ("theta", "se", "scale_score", "band")
    sessions = [
        {
            "session_id": row["session_id"],
            "pseudonym": pseudonyms.get(row["session_id"]),
            "changed": row["changed"],
            "old": {k: row["old"].get(k) for k in fields},
            "new": {k: row["new"].get(k) for k in fields},
        }
        for row in reports
    ]
    changed = [r for r in sessions if r["changed"]]
    shifts = [r["new"]["theta"] - r["old"]["theta"] for r in changed]
    summary = {
        "n_sessions": len(sessions),
        "n_changed": len(changed),
        "n_band_changed": sum(1 for r in changed if r["new"]["band"] != r["old"]["band"]),
        "mean_theta_change": _finite(np.mean(shifts)) if shifts else 0.0,
        "max_abs_theta_change": _finite(np.max(np.abs(shifts))) if shifts else 0.0,
    }
    record_audit(
        context.actor,
        "research_rescoring_finished",
        "parameter_set",
        parameters["parameter_set_id"],
        {"job_id": context.job_id, "reason": parameters["reason"], **summary},
    )
    return {
        "parameter_set_id": parameters["parameter_set_id"],
        "summary": summary,
        "sessions": sessions,
    }


def session_ids_of(administration_ids: Sequence[int]) -> list[str]:
    """The sessions of chosen administrations that a rescoring may touch: those of each
    student's current result (``NOT superseded``: reset sittings, replaced results and sittings
    never scored left out)."""
    from delivery.models import Result
    from delivery.service import current_results

    return db.session.scalars(
        select(Result.exam_session_id)
        .where(Result.administration_id.in_(list(administration_ids)), current_results())
        .order_by(Result.exam_session_id)
    ).all()
