"""Student pages: the list of open tests and the test player (shells for ES modules)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from cbt.auth import current_user
from cbt.models import Role

blueprint = Blueprint("delivery_views", __name__)


def _student_or_login() -> Response | None:
    user = current_user()
    if user is None or user.role != Role.STUDENT:
        return redirect(url_for("cbt_views.student_login"))
    return None


@blueprint.get("/student")
def student_home() -> Response | str:
    return _student_or_login() or render_template("student_home.html")


@blueprint.get("/student/tests/<int:administration_id>")
def take_test(administration_id: int) -> Response | str:
    return _student_or_login() or render_template(
        "take_test.html", administration_id=administration_id
    )
