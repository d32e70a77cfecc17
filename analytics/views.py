"""Teacher and researcher pages (shells; their ES modules call /api/v1)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from cbt.auth import current_user
from cbt.models import Role

blueprint = Blueprint("analytics_views", __name__)


def _staff_or_login(*roles: Role) -> Response | None:
    user = current_user()
    if user is None or user.role not in roles:
        return redirect(url_for("cbt_views.staff_login"))
    return None


@blueprint.get("/teacher")
def teacher_home() -> Response | str:
    return _staff_or_login(Role.TEACHER, Role.OPERATOR) or render_template("teacher_home.html")


@blueprint.get("/teacher/classes/<int:classroom_id>")
def teacher_class(classroom_id: int) -> Response | str:
    return _staff_or_login(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_class.html", classroom_id=classroom_id
    )


@blueprint.get("/teacher/students/<int:student_id>")
def teacher_student(student_id: int) -> Response | str:
    return _staff_or_login(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_student.html", student_id=student_id
    )


@blueprint.get("/teacher/administrations/<int:administration_id>")
def teacher_monitor(administration_id: int) -> Response | str:
    return _staff_or_login(Role.TEACHER, Role.OPERATOR) or render_template(
        "teacher_monitor.html", administration_id=administration_id
    )


@blueprint.get("/researcher")
def researcher_home() -> Response | str:
    return _staff_or_login(Role.RESEARCHER) or render_template("researcher_home.html")
