"""Student pages (the list of open tests, the test player) and the operators' pages for test
definitions and administrations. Pages are shells for ES modules that call /api/v1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard
from delivery.models import AdministrationStatus
from delivery.schemas import FORM_ASSIGNMENTS, SECTION_KINDS, TIME_FORMAT_HINT
from item_bank.models import ParameterSetStatus

blueprint = Blueprint("delivery_views", __name__)


@blueprint.get("/student")
def student_home() -> Response | str:
    return page_guard(Role.STUDENT) or render_template("student_home.html")


@blueprint.get("/student/tests/<int:administration_id>")
def take_test(administration_id: int) -> Response | str:
    return page_guard(Role.STUDENT) or render_template(
        "take_test.html", administration_id=administration_id
    )


@blueprint.get("/sw.js")
def player_worker() -> Response:
    """The player's service worker (frontend/static/js/sw.js, docs/offline.md), served from the
    root so that its scope covers the player's pages; never cached by the browser, so a new
    version is picked up on the next load."""
    script = Path(current_app.static_folder or "", "js", "sw.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


def operator_constants() -> dict[str, Any]:
    """What the operator pages need from Python, never typed twice (STYLE habit 10)."""
    return {
        "sectionKinds": list(SECTION_KINDS),
        "formAssignments": list(FORM_ASSIGNMENTS),
        "administrationStatus": {m.name: m.value for m in AdministrationStatus},
        "parameterSetPublished": ParameterSetStatus.PUBLISHED.value,
        "timeFormatHint": TIME_FORMAT_HINT,
    }


@blueprint.get("/operator/tests")
def operator_tests() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_tests.html", item_bank=None, delivery=operator_constants()
    )


@blueprint.get("/operator/administrations")
def operator_administrations() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_administrations.html", item_bank=None, delivery=operator_constants()
    )
