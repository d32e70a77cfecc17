"""Student pages: the list of open tests and the test player (shells for ES modules)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard

blueprint = Blueprint("delivery_views", __name__)


@blueprint.get("/student")
def student_home() -> Response | str:
    return page_guard(Role.STUDENT) or render_template("student_home.html")


@blueprint.get("/student/tests/<int:administration_id>")
def take_test(administration_id: int) -> Response | str:
    return page_guard(Role.STUDENT) or render_template(
        "take_test.html", administration_id=administration_id
    )
