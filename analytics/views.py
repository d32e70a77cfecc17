"""Teacher and researcher pages (shells; their ES modules call /api/v1)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard

blueprint = Blueprint("analytics_views", __name__)


@blueprint.get("/teacher")
def teacher_home() -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template("teacher_home.html")


@blueprint.get("/teacher/classes/<int:classroom_id>")
def teacher_class(classroom_id: int) -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_class.html", classroom_id=classroom_id
    )


@blueprint.get("/teacher/classes/<int:classroom_id>/dashboard")
def teacher_dashboard(classroom_id: int) -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_dashboard.html", classroom_id=classroom_id
    )


@blueprint.get("/teacher/students/<int:student_id>/report")
def teacher_report(student_id: int) -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_report.html", student_id=student_id
    )


@blueprint.get("/teacher/students/<int:student_id>")
def teacher_student(student_id: int) -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_student.html", student_id=student_id
    )


@blueprint.get("/teacher/administrations/<int:administration_id>")
def teacher_monitor(administration_id: int) -> Response | str:
    return page_guard(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_monitor.html", administration_id=administration_id
    )


@blueprint.get("/researcher")
def researcher_home() -> Response | str:
    return page_guard(Role.RESEARCHER) or render_template("researcher_home.html")


@blueprint.get("/researcher/parameter-sets/<int:parameter_set_id>")
def researcher_parameter_set(parameter_set_id: int) -> Response | str:
    return page_guard(Role.RESEARCHER) or render_template(
        "researcher_set.html", parameter_set_id=parameter_set_id
    )
