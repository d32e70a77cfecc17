"""Teacher report API under /api/v1. Every read of student data is scoped and audited."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, request

from analytics.service import (
    classroom_mastery,
    classroom_results,
    list_classrooms,
    student_answer_history,
)
from cbt.audit import record_audit
from cbt.auth import ensure_can_see_student, ensure_teacher_sees_classroom, require_user
from cbt.errors import ValidationError
from cbt.http import request_actor
from cbt.models import Role
from cbt.openapi import openapi, register_tags

blueprint = Blueprint("analytics_api", __name__, url_prefix="/api/v1")

_STAFF_REPORT_ROLES = (Role.TEACHER, Role.OPERATOR)
REPORTS = "Reports"
register_tags({REPORTS: "Teacher reports, scoped to the teacher's own classes and audited."})


@blueprint.get("/classes")
@openapi(summary="Classes the user may see.", tags=[REPORTS], roles=["teacher", "operator"])
def classes() -> Response:
    user = require_user(*_STAFF_REPORT_ROLES)
    return jsonify({"classes": list_classrooms(user.id, user.role)})


@blueprint.get("/classes/<int:classroom_id>/results")
@openapi(
    summary="Every student's results in a class.", tags=[REPORTS], roles=["teacher", "operator"]
)
def class_results(classroom_id: int) -> Response:
    user = require_user(*_STAFF_REPORT_ROLES)
    ensure_teacher_sees_classroom(user, classroom_id)
    report = classroom_results(classroom_id)
    record_audit(request_actor(user), "view_class_results", "classroom", classroom_id)
    return jsonify(report)


@blueprint.get("/classes/<int:classroom_id>/mastery")
@openapi(
    summary="Share correct per curriculum-code prefix in a class (prefix_length 1-16).",
    tags=[REPORTS],
    roles=["teacher", "operator"],
    query=[
        (
            "prefix_length",
            {"type": "integer", "minimum": 1, "maximum": 16, "default": 8},
            "Characters of the code to group by.",
        )
    ],
)
def class_mastery(classroom_id: int) -> Response:
    """Share correct per curriculum-code prefix (``?prefix_length=8``, 1..16)."""
    user = require_user(*_STAFF_REPORT_ROLES)
    ensure_teacher_sees_classroom(user, classroom_id)
    raw = request.args.get("prefix_length", "8")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 16):
        raise ValidationError(
            "prefix_length must be a whole number from 1 to 16.", details={"field": "prefix_length"}
        )
    report = classroom_mastery(classroom_id, int(raw))
    record_audit(request_actor(user), "view_class_mastery", "classroom", classroom_id)
    return jsonify(report)


@blueprint.get("/classes/<int:classroom_id>/results.csv")
@openapi(
    summary="The class results as CSV.",
    tags=[REPORTS],
    roles=["teacher", "operator"],
    response_type="text/csv",
    response={"type": "string"},
)
def class_results_csv(classroom_id: int) -> Response:
    user = require_user(*_STAFF_REPORT_ROLES)
    ensure_teacher_sees_classroom(user, classroom_id)
    report = classroom_results(classroom_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "student_number",
            "student",
            "administration",
            "status",
            "n_answered",
            "scale_score",
            "scale_se",
            "band",
            "theta",
            "se",
            "finished_at",
        ]
    )
    names = {str(a["id"]): a["name"] for a in report["administrations"]}
    for student in report["students"]:
        for administration_id, session in student["sessions"].items():
            result = (session or {}).get("result") or {}
            writer.writerow(
                [
                    student["student_number"],
                    student["display_name"],
                    names[administration_id],
                    session["status"] if session else "not_started",
                    session["n_answered"] if session else 0,
                    result.get("scale_score", ""),
                    result.get("scale_se", ""),
                    result.get("band", ""),
                    result.get("theta", ""),
                    result.get("se", ""),
                    (session or {}).get("finished_at") or "",
                ]
            )
    record_audit(request_actor(user), "export_class_results", "classroom", classroom_id)
    filename = f"class-{classroom_id}-results.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.get("/students/<int:student_id>/history")
@openapi(
    summary="One student's answer history, item by item.",
    tags=[REPORTS],
    roles=["teacher", "operator"],
)
def student_history(student_id: int) -> Response:
    user = require_user(Role.TEACHER, Role.OPERATOR)
    ensure_can_see_student(user, student_id)
    history = student_answer_history(student_id)
    record_audit(request_actor(user), "view_answer_history", "student", student_id)
    return jsonify(history)
