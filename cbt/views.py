"""Login pages and the landing redirect. Pages are shells; their ES modules talk to /api/v1."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from cbt.auth import current_user
from cbt.models import Role

blueprint = Blueprint("cbt_views", __name__)

_HOME_BY_ROLE = {
    Role.STUDENT: "delivery_views.student_home",
    Role.TEACHER: "analytics_views.teacher_home",
    Role.OPERATOR: "item_bank_views.operator_home",
    Role.RESEARCHER: "analytics_views.researcher_home",
}


@blueprint.get("/")
def index() -> Response:
    user = current_user()
    if user is None:
        return redirect(url_for("cbt_views.student_login"))
    return redirect(url_for(_HOME_BY_ROLE[user.role]))


@blueprint.get("/login")
def student_login() -> str:
    return render_template("login_student.html")


@blueprint.get("/staff/login")
def staff_login() -> str:
    return render_template("login_staff.html")
