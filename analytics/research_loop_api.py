"""Researcher API for the closed loop, under /api/v1/research: calibration and rescoring as
background jobs, their status, the review of a calibrated set, the comparison with the current
parameters (JSON and SVG charts), and the promotion of pretest items. Publishing a set is the
item bank's ``POST /api/v1/parameter-sets/<id>/publish``. Every step is audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from analytics import research_loop as loop
from analytics.research_charts import CHARTS, comparison_chart
from cbt.audit import record_audit
from cbt.auth import require_user
from cbt.db import db
from cbt.errors import NotFound, ValidationError
from cbt.http import INT32_MAX, get_field, json_body, request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_schemas
from item_bank.service import get_parameter_set
from jobs import Job, enqueue, get_job, job_dict

blueprint = Blueprint("research_loop_api", __name__, url_prefix="/api/v1/research")

RESEARCH = "Research"
_ID = {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX}
_AGAINST = [("against", _ID, "The current parameter set to compare with.")]

register_schemas(
    {
        "ResearchCalibration": {
            "type": "object",
            "required": ["administration_ids", "name"],
            "properties": {
                "administration_ids": {"type": "array", "items": _ID, "minItems": 1},
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "model": {"type": "string", "enum": list(loop.MODELS)},
                "anchor_parameter_set_id": _ID,
                "drift_threshold": {
                    "type": "number",
                    "minimum": 0,
                    "exclusiveMinimum": True,
                    "maximum": 5,
                },
                "max_iter": {"type": "integer", "minimum": 1, "maximum": 5000},
            },
        },
        "ResearchRescoring": {
            "type": "object",
            "required": ["parameter_set_id", "reason"],
            "properties": {
                "parameter_set_id": _ID,
                "session_ids": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    "maxItems": 100000,
                },
                "administration_ids": {"type": "array", "items": _ID, "maxItems": 1000},
                "reason": {"type": "string", "minLength": 1, "maxLength": 500},
            },
        },
    }
)


def _accepted(job: Job) -> tuple[Response, int]:
    return jsonify(job_dict(job)), 202


@blueprint.post("/calibrations")
@openapi(
    summary="Start a calibration job: the chosen administrations, the operational anchors of a "
    "published parameter set held fixed, into a new draft parameter set with its review "
    "(item fit, anchor drift, linking).",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    body="ResearchCalibration",
    status=202,
)
def start_calibration() -> tuple[Response, int]:
    user = require_user(Role.RESEARCHER)
    parameters = loop.calibration_parameters(json_body())
    actor = request_actor(user)
    job = enqueue(loop.CALIBRATE_JOB, parameters, actor=actor)
    record_audit(actor, "research_calibration_started", "job", job.id, parameters)
    return _accepted(job)


@blueprint.post("/rescorings")
@openapi(
    summary="Start a rescoring job: the chosen past sessions (or every session of the chosen "
    "administrations) scored again with a published parameter set, with a report of what "
    "changed.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    body="ResearchRescoring",
    status=202,
)
def start_rescoring() -> tuple[Response, int]:
    from cbt.errors import Conflict
    from item_bank.models import ParameterSetStatus

    user = require_user(Role.RESEARCHER)
    body = json_body()
    set_id = get_field(body, "parameter_set_id", int, minimum=1)
    reason = get_field(body, "reason", str, max_length=500).strip()
    if not reason:
        raise ValidationError("Say why the sessions are rescored.", details={"field": "reason"})
    if get_parameter_set(set_id).status != ParameterSetStatus.PUBLISHED:
        raise Conflict(
            "Rescore with a published parameter set (publish the draft first).",
            details={"parameter_set_id": set_id},
        )
    sessions = body.get("session_ids")
    administrations = body.get("administration_ids")
    if (sessions is None) == (administrations is None):
        raise ValidationError(
            "Give either session_ids or administration_ids.", details={"field": "session_ids"}
        )
    if sessions is not None:
        chosen = loop.session_id_list(sessions)
    else:
        chosen = loop.session_ids_of(loop._int_list(administrations, "administration_ids"))
        if not chosen:
            raise ValidationError(
                "The chosen administrations have no sessions.",
                details={"field": "administration_ids"},
            )
    parameters = {"parameter_set_id": set_id, "session_ids": chosen, "reason": reason}
    actor = request_actor(user)
    job = enqueue(loop.RESCORE_JOB, parameters, actor=actor)
    record_audit(
        actor,
        "research_rescoring_started",
        "job",
        job.id,
        {"parameter_set_id": set_id, "n_sessions": len(chosen), "reason": reason},
    )
    return _accepted(job)


def _own_job(job_id: int, user: Any) -> Job:
    job = get_job(job_id)
    if job.created_by_id != user.id:
        raise NotFound("No such job.", details={"job_id": job_id})
    return job


@blueprint.get("/jobs")
@openapi(
    summary="Your latest background jobs (calibration, rescoring), newest first.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
)
def list_jobs() -> Response:
    user = require_user(Role.RESEARCHER)
    jobs = db.session.scalars(
        select(Job).where(Job.created_by_id == user.id).order_by(Job.id.desc()).limit(20)
    ).all()
    return jsonify({"jobs": [job_dict(job) for job in jobs]})


@blueprint.get("/jobs/<int:job_id>")
@openapi(
    summary="A background job's status, progress (0..1 with a message), result or the reason "
    "it failed.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
)
def show_job(job_id: int) -> Response:
    user = require_user(Role.RESEARCHER)
    return jsonify(job_dict(_own_job(job_id, user)))


@blueprint.get("/parameter-sets/<int:parameter_set_id>/review")
@openapi(
    summary="The review a calibration stored with its set: item fit, anchor drift against the "
    "bank values, the link to the reporting scale, the pretest items.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
)
def review(parameter_set_id: int) -> Response:
    require_user(Role.RESEARCHER)
    parameter_set = get_parameter_set(parameter_set_id)
    provenance = parameter_set.provenance or {}
    return jsonify(
        {
            "parameter_set": {
                "id": parameter_set.id,
                "name": parameter_set.name,
                "version": parameter_set.version,
                "status": parameter_set.status,
            },
            "item_keys": provenance.get("item_keys", {}),
            "review": provenance.get("review"),
            "fit": provenance.get("fit"),
            "data_sha256": provenance.get("data_sha256"),
        }
    )


def _against() -> int:
    raw = request.args.get("against", "")
    if not raw.isdigit() or not 0 < int(raw) <= INT32_MAX:
        raise ValidationError(
            "against must be a parameter set id (the current set).", details={"field": "against"}
        )
    return int(raw)


@blueprint.get("/parameter-sets/<int:parameter_set_id>/comparison")
@openapi(
    summary="New against current values item by item (slope, location), the new items, and "
    "the test characteristic and information curves of the common items.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    query=_AGAINST,
)
def comparison(parameter_set_id: int) -> Response:
    require_user(Role.RESEARCHER)
    return jsonify(loop.compare_parameter_sets(parameter_set_id, _against()))


@blueprint.get("/parameter-sets/<int:parameter_set_id>/charts/<chart>.svg")
@openapi(
    summary="A comparison chart as SVG (scatter of slopes and locations, test characteristic "
    "curve, information curve), with a text alternative in its title and description.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    query=_AGAINST,
    response_type="image/svg+xml",
)
def chart(parameter_set_id: int, chart: str) -> Response:
    require_user(Role.RESEARCHER)
    if chart not in CHARTS:
        raise NotFound("No such chart.", details={"chart": chart, "allowed": list(CHARTS)})
    against = _against()
    svg = comparison_chart(chart, loop.compare_parameter_sets(parameter_set_id, against))
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@blueprint.post("/parameter-sets/<int:parameter_set_id>/promote")
@openapi(
    summary="Promote the pretest items of a published parameter set to operational.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    body_required=False,
)
def promote(parameter_set_id: int) -> Response:
    user = require_user(Role.RESEARCHER)
    return jsonify(loop.promote_pretest_items(parameter_set_id, actor=request_actor(user)))
