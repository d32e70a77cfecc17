"""Accommodations API under /api/v1: a student's profile (set by the teacher of the student's
class, the school's administrator or an operator) and the testing conditions of a sitting
(changed by the student in the player). Every change is audited; see docs/accommodations.md."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cbt.audit import record_audit
from cbt.auth import ensure_can_see_student, require_user
from cbt.db import utcnow
from cbt.http import json_body, request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_tags
from delivery.accommodations import (
    FONT_SIZES,
    MAX_EXTRA_TIME_FACTOR,
    clean_display,
    clean_extra_time_factor,
    get_session_conditions,
    get_student_accommodations,
    record_session_conditions,
    set_student_accommodations,
)

blueprint = Blueprint("accommodations_api", __name__, url_prefix="/api/v1")

ACCOMMODATIONS = "Accommodations"
register_tags(
    {
        ACCOMMODATIONS: "A student's accommodations (QTI PNP-like profile) and the testing "
        "conditions recorded on each sitting."
    }
)

_DISPLAY_PROPERTIES = {
    "font_size": {"type": "string", "enum": list(FONT_SIZES)},
    "high_contrast": {"type": "boolean"},
    "ruby": {"type": "boolean"},
    "read_aloud": {"type": "boolean"},
    "line_reader": {"type": "boolean"},
}
_PROFILE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "extra_time_factor": {"type": "number", "minimum": 1, "maximum": MAX_EXTRA_TIME_FACTOR},
        **_DISPLAY_PROPERTIES,
    },
}
_CONDITIONS_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": _DISPLAY_PROPERTIES,
}
_STAFF = (Role.TEACHER, Role.OPERATOR)


@blueprint.get("/students/<int:student_id>/accommodations")
@openapi(
    summary="A student's accommodations: extra time and the player's display settings; audited.",
    tags=[ACCOMMODATIONS],
    roles=["teacher", "school_admin", "operator"],
)
def student_accommodations(student_id: int) -> Response:
    user = require_user(*_STAFF)
    ensure_can_see_student(user, student_id)
    profile = get_student_accommodations(student_id)
    record_audit(request_actor(user), "view_accommodations", "user", student_id)
    return jsonify({"student_id": student_id, "accommodations": profile})


@blueprint.put("/students/<int:student_id>/accommodations")
@openapi(
    summary="Set a student's accommodations (any subset); later sittings start with them; audited.",
    tags=[ACCOMMODATIONS],
    roles=["teacher", "school_admin", "operator"],
    body=_PROFILE_BODY,
)
def set_accommodations(student_id: int) -> Response:
    user = require_user(*_STAFF)
    ensure_can_see_student(user, student_id)
    data = json_body()
    factor = data.pop("extra_time_factor", None)
    extra_time_factor = None if factor is None else clean_extra_time_factor(factor)
    display = clean_display(data)
    before, after = set_student_accommodations(student_id, display, extra_time_factor)
    changed = {name: after[name] for name in after if after[name] != before[name]}
    if changed:
        record_audit(
            request_actor(user),
            "set_accommodations",
            "user",
            student_id,
            {"changed": changed, "before": {name: before[name] for name in changed}},
        )
    return jsonify({"student_id": student_id, "accommodations": after})


@blueprint.get("/sessions/<string:session_id>/conditions")
@openapi(
    summary="The testing conditions of the student's own sitting (what the player starts with).",
    tags=[ACCOMMODATIONS],
    roles=["student"],
)
def session_conditions(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    return jsonify(get_session_conditions(student.id, session_id))


@blueprint.put("/sessions/<string:session_id>/conditions")
@openapi(
    summary="Record the player's display settings on the student's live sitting (idempotent: "
    "settings already in force write nothing); changes are audited.",
    tags=[ACCOMMODATIONS],
    roles=["student"],
    body=_CONDITIONS_BODY,
)
def set_session_conditions(session_id: str) -> Response:
    student = require_user(Role.STUDENT)
    display = clean_display(json_body())
    conditions, changed = record_session_conditions(student.id, session_id, display, utcnow())
    if changed:
        record_audit(
            request_actor(student),
            "change_testing_conditions",
            "exam_session",
            session_id,
            {name: display[name] for name in changed},
        )
    return jsonify(conditions)
