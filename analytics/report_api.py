"""Class dashboard and 個人票 API under /api/v1: scoped like the other teacher reports, audited.

The dashboard names no student, so researchers may read it too; the 個人票 is a named staff
report (teachers of the class, the school's administrators, operators).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext

from analytics.dashboard import class_dashboard
from analytics.student_report import class_reports, student_report
from cbt.audit import record_audit
from cbt.auth import ensure_can_see_student, ensure_teacher_sees_classroom, require_user
from cbt.errors import ValidationError
from cbt.http import INT32_MAX, request_actor
from cbt.i18n import current_locale
from cbt.models import Role
from cbt.openapi import openapi

blueprint = Blueprint("report_api", __name__, url_prefix="/api/v1")

REPORTS = "Reports"
_STAFF = (Role.TEACHER, Role.OPERATOR)
_ADMINISTRATION = (
    "administration",
    {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX},
    "An administration of the class (default: the latest).",
)
_SESSION = ("session", {"type": "string", "maxLength": 64}, "A sitting id (default: the latest).")


def _administration_arg() -> int | None:
    raw = request.args.get("administration")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) <= INT32_MAX):
        raise ValidationError(
            "administration must be a whole number.", details={"field": "administration"}
        )
    return int(raw)


def _session_arg() -> str | None:
    raw = request.args.get("session")
    if raw is None or raw == "":
        return None
    if len(raw) > 64 or not raw.isascii():
        raise ValidationError("session is not a sitting id.", details={"field": "session"})
    return raw


@blueprint.get("/classes/<int:classroom_id>/dashboard")
@openapi(
    summary="A class's dashboard for one administration: anonymous scores with SEs, band "
    "probabilities, per-question correct rates and option shares, mastery by curriculum code "
    "with intervals, the trend across administrations, and the charts as SVG with text "
    "alternatives (charts=0 leaves them out). No student is named.",
    tags=[REPORTS],
    roles=["teacher", "operator", "researcher"],
    query=[
        _ADMINISTRATION,
        ("charts", {"type": "integer", "enum": [0, 1], "default": 1}, "Include the SVG charts."),
    ],
)
def dashboard(classroom_id: int) -> Response:
    user = require_user(Role.TEACHER, Role.OPERATOR, Role.RESEARCHER)
    if user.role != Role.RESEARCHER:
        ensure_teacher_sees_classroom(user, classroom_id)
    charts = request.args.get("charts", "1")
    if charts not in ("0", "1"):
        raise ValidationError("charts must be 0 or 1.", details={"field": "charts"})
    report: dict[str, Any] = class_dashboard(classroom_id, _administration_arg(), current_locale())
    if charts == "1":
        from analytics.charts.cache import cached_dashboard_charts

        report["charts"] = cached_dashboard_charts(
            report, seed=classroom_id, locale=current_locale()
        )
    chosen = report["administration"]
    record_audit(
        request_actor(user),
        "view_class_dashboard",
        "classroom",
        classroom_id,
        {
            "administration_id": chosen["id"] if chosen else None,
            "n_results": len(report["students"]),
        },
    )
    return jsonify(report)


@blueprint.get("/students/<int:student_id>/report")
@openapi(
    summary="A student's 個人票 for one sitting: score with SE and band probabilities, mastery "
    "and next-step guidance by curriculum area, every answer with the item as shown.",
    tags=[REPORTS],
    roles=["teacher", "operator"],
    query=[_SESSION],
)
def student_report_json(student_id: int) -> Response:
    user = require_user(*_STAFF)
    ensure_can_see_student(user, student_id)
    report = student_report(student_id, _session_arg(), current_locale())
    _audit_report(user, student_id, report, "json")
    return jsonify(report)


def _audit_report(user: Any, student_id: int, report: dict[str, Any], fmt: str) -> None:
    session = report["session"]
    record_audit(
        request_actor(user),
        "view_student_report",
        "student",
        student_id,
        {"format": fmt, "session_id": session["session_id"] if session else None},
    )


def _pdf(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.get("/students/<int:student_id>/report.pdf")
@openapi(
    summary="A student's 個人票 as a PDF (A4).",
    tags=[REPORTS],
    roles=["teacher", "operator"],
    query=[_SESSION],
    response={"type": "string", "format": "binary"},
    response_type="application/pdf",
)
def student_report_pdf(student_id: int) -> Response:
    from analytics.report_card_pdf import render_report_cards_pdf

    user = require_user(*_STAFF)
    ensure_can_see_student(user, student_id)
    report = student_report(student_id, _session_arg(), current_locale())
    reports = [report] if report["session"] else []
    body = render_report_cards_pdf(reports, gettext, gettext("Student report (個人票)"))
    _audit_report(user, student_id, report, "pdf")
    return _pdf(body, f"student-{student_id}-report.pdf")


@blueprint.get("/classes/<int:classroom_id>/reports.pdf")
@openapi(
    summary="Every student's 個人票 of one administration in one PDF (a new page per student).",
    tags=[REPORTS],
    roles=["teacher", "operator"],
    query=[_ADMINISTRATION],
    response={"type": "string", "format": "binary"},
    response_type="application/pdf",
)
def class_reports_pdf(classroom_id: int) -> Response:
    from analytics.report_card_pdf import render_report_cards_pdf

    user = require_user(*_STAFF)
    ensure_teacher_sees_classroom(user, classroom_id)
    bundle = class_reports(classroom_id, _administration_arg(), current_locale())
    title = gettext("Student reports: %(classroom)s", classroom=bundle["classroom"]["name"])
    body = render_report_cards_pdf(bundle["reports"], gettext, title)
    record_audit(
        request_actor(user),
        "export_student_reports",
        "classroom",
        classroom_id,
        {"format": "pdf", "n_students": len(bundle["reports"])},
    )
    return _pdf(body, f"class-{classroom_id}-reports.pdf")
