"""Marking API under /api/v1/marking: raters' queues and marks, operators' plans, assignments
and agreement statistics. Nothing a rater receives names the student."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from cbt.auth import require_user
from cbt.http import INT32_MAX, get_field, json_body, request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_tags
from marking import service
from marking.models import MarkStage

blueprint = Blueprint("marking_api", __name__, url_prefix="/api/v1/marking")

MARKING = "Marking"
register_tags(
    {
        MARKING: "Human scoring of rater-scored answers (essays): blind marking with the rubric, "
        "double marking, adjudication and agreement. Teachers mark their own classes, operators "
        "assign raters and see agreement. Marks and views are audited."
    }
)

RATERS = (Role.TEACHER, Role.OPERATOR)  # school administrators too (role_allowed)
_RATER_NAMES = ["teacher", "school_admin", "operator"]
_ID = {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX}


@blueprint.get("/administrations")
@openapi(
    summary="Administrations with answers the caller may mark, with progress per item.",
    tags=[MARKING],
    roles=_RATER_NAMES,
)
def overview() -> Response:
    user = require_user(*RATERS)
    return jsonify({"administrations": service.marking_overview(user.id, str(user.role))})


@blueprint.get("/administrations/<int:administration_id>/items/<int:version_id>/next")
@openapi(
    summary="The next answer to this item the caller may mark, blind to the student: the item "
    "as the student saw it, the answer and the rubric (audited).",
    tags=[MARKING],
    roles=_RATER_NAMES,
)
def next_task(administration_id: int, version_id: int) -> Response:
    user = require_user(*RATERS)
    return jsonify(
        service.next_task(
            user.id,
            str(user.role),
            administration_id,
            version_id,
            secret_key=current_app.config["SECRET_KEY"],
            actor=request_actor(user),
        )
    )


@blueprint.post("/responses/<int:response_id>/marks")
@openapi(
    summary="Record the caller's rubric points for an answer at the stage it waits for; a mark "
    "that settles the final mark updates the student's result.",
    tags=[MARKING],
    roles=_RATER_NAMES,
    body={
        "type": "object",
        "required": ["points", "stage"],
        "properties": {
            "points": {"type": "integer", "minimum": 0, "maximum": 10},
            "stage": {"type": "string", "enum": [str(s) for s in MarkStage]},
        },
        "additionalProperties": False,
    },
)
def record_mark(response_id: int) -> Response:
    user = require_user(*RATERS)
    data = json_body()
    return jsonify(
        service.record_mark(
            user.id,
            str(user.role),
            response_id,
            points=get_field(data, "points", int, minimum=0, maximum=10),
            stage=get_field(data, "stage", str, max_length=16),
            actor=request_actor(user),
        )
    )


@blueprint.get("/administrations/<int:administration_id>/plan")
@openapi(
    summary="The administration's double-marking share and tolerance.",
    tags=[MARKING],
    roles=["operator"],
)
def plan(administration_id: int) -> Response:
    require_user(Role.OPERATOR)
    return jsonify(service.plan_settings(administration_id))


@blueprint.put("/administrations/<int:administration_id>/plan")
@openapi(
    summary="Set the share of answers double-marked (0 to 1) and the tolerance in points; audited.",
    tags=[MARKING],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["double_marking_share", "tolerance"],
        "properties": {
            "double_marking_share": {"type": "number", "minimum": 0, "maximum": 1},
            "tolerance": {"type": "integer", "minimum": 0, "maximum": service.MAX_TOLERANCE},
        },
        "additionalProperties": False,
    },
)
def set_plan(administration_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    data = json_body()
    return jsonify(
        service.set_plan(
            administration_id,
            double_marking_share=get_field(data, "double_marking_share", (int, float)),
            tolerance=get_field(data, "tolerance", int, minimum=0, maximum=service.MAX_TOLERANCE),
            actor=request_actor(user),
        )
    )


@blueprint.get("/administrations/<int:administration_id>/assignments")
@openapi(
    summary="Staff assigned to mark every answer of the administration (lead markers adjudicate).",
    tags=[MARKING],
    roles=["operator"],
)
def assignments(administration_id: int) -> Response:
    require_user(Role.OPERATOR)
    return jsonify({"assignments": service.list_assignments(administration_id)})


@blueprint.post("/administrations/<int:administration_id>/assignments")
@openapi(
    summary="Assign a teacher or operator (by e-mail) to mark the administration; audited.",
    tags=[MARKING],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": {"type": "string", "minLength": 3, "maxLength": 255},
            "is_lead": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
)
def assign(administration_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    data = json_body()
    return jsonify(
        service.assign_rater(
            administration_id,
            email=get_field(data, "email", str, max_length=255),
            is_lead=get_field(data, "is_lead", bool, default=False),
            actor=request_actor(user),
        )
    )


@blueprint.delete("/assignments/<int:assignment_id>")
@openapi(summary="End a marking assignment; audited.", tags=[MARKING], roles=["operator"])
def unassign(assignment_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    service.remove_assignment(assignment_id, actor=request_actor(user))
    return jsonify({"removed": assignment_id})


@blueprint.get("/administrations/<int:administration_id>/agreement")
@openapi(
    summary="Agreement of double-marked answers per item and per rater: exact and adjacent "
    "agreement and quadratic-weighted kappa.",
    tags=[MARKING],
    roles=["operator"],
)
def agreement(administration_id: int) -> Response:
    require_user(Role.OPERATOR)
    return jsonify(service.agreement(administration_id))
