"""Teacher report API under /api/v1. Every read of student data is scoped and audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from analytics.exports import XLSX_MIMETYPE, csv_download, csv_text, xlsx_download
from analytics.service import (
    classroom_answers,
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
from delivery.accommodations import conditions_text

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
    record_audit(
        request_actor(user),
        "view_class_results",
        "classroom",
        classroom_id,
        {"n_students": len(report["students"])},
    )
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
    record_audit(
        request_actor(user),
        "view_class_mastery",
        "classroom",
        classroom_id,
        {"prefix_length": int(raw)},
    )
    return jsonify(report)


_RESULT_COLUMNS = [
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
    "conditions",
]


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
    rows = _result_rows(classroom_results(classroom_id))
    body = csv_text(_RESULT_COLUMNS, rows)
    record_audit(
        request_actor(user),
        "export_class_results",
        "classroom",
        classroom_id,
        {"format": "csv", "n_rows": len(rows)},
    )
    return csv_download(body, f"class-{classroom_id}-results.csv")


def _result_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per student and administration of a class results report."""
    names = {str(a["id"]): a["name"] for a in report["administrations"]}
    rows = []
    for student in report["students"]:
        for administration_id, session in student["sessions"].items():
            result = (session or {}).get("result") or {}
            rows.append(
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
                    conditions_text((session or {}).get("conditions")),
                ]
            )
    return rows


_ANSWER_COLUMNS = [
    "student_number",
    "student",
    "administration",
    "sequence",
    "item_key",
    "item_version",
    "item_type",
    "curriculum_codes",
    "response",
    "correct_answer",
    "score",
    "max_score",
    "is_correct",
    "time_taken_s",
    "answered_at",
]


@blueprint.get("/classes/<int:classroom_id>/answers.csv")
@openapi(
    summary="Every answer of the class as CSV: what each student answered, the key, the score "
    "and the time, one row per answer.",
    tags=["Reports"],
    roles=(Role.TEACHER, Role.OPERATOR),
    response={"type": "string"},
    response_type="text/csv",
)
def class_answers_csv(classroom_id: int) -> Response:
    user = require_user(*_STAFF_REPORT_ROLES)
    ensure_teacher_sees_classroom(user, classroom_id)
    rows = _answer_rows(classroom_answers(classroom_id))
    body = csv_text(_ANSWER_COLUMNS, rows)
    record_audit(
        request_actor(user),
        "export_class_answers",
        "classroom",
        classroom_id,
        {"format": "csv", "n_rows": len(rows)},
    )
    return csv_download(body, f"class-{classroom_id}-answers.csv")


def _answer_rows(answers: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            row["student_number"],
            row["student"],
            row["administration"],
            row["sequence"],
            row["item_key"],
            row["item_version"],
            row["item_type"],
            " ".join(row["curriculum_codes"]),
            row["response_text"],
            row["correct_text"],
            row["score"],
            row["max_score"],
            "" if row["is_correct"] is None else int(row["is_correct"]),
            round(row["time_taken_ms"] / 1000, 1),
            row["answered_at"] or "",
        ]
        for row in answers
    ]


@blueprint.get("/classes/<int:classroom_id>/results.xlsx")
@openapi(
    summary="The class results and every answer as an Excel workbook (sheets Results and "
    "Answers, the same columns as the two CSVs).",
    tags=["Reports"],
    roles=(Role.TEACHER, Role.OPERATOR),
    response={"type": "string", "format": "binary"},
    response_type=XLSX_MIMETYPE,
)
def class_results_xlsx(classroom_id: int) -> Response:
    user = require_user(*_STAFF_REPORT_ROLES)
    ensure_teacher_sees_classroom(user, classroom_id)
    results = _result_rows(classroom_results(classroom_id))
    answers = _answer_rows(classroom_answers(classroom_id))
    sheets = {"Results": (_RESULT_COLUMNS, results), "Answers": (_ANSWER_COLUMNS, answers)}
    record_audit(
        request_actor(user),
        "export_class_results",
        "classroom",
        classroom_id,
        {"format": "xlsx", "n_rows": len(results), "n_answers": len(answers)},
    )
    return xlsx_download(sheets, f"class-{classroom_id}-results.xlsx")


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
    n_answers = sum(len(session["answers"]) for session in history["sessions"])
    record_audit(
        request_actor(user),
        "view_answer_history",
        "student",
        student_id,
        {"n_sessions": len(history["sessions"]), "n_answers": n_answers},
    )
    return jsonify(history)
