"""Marking pages (shells; marking.js calls /api/v1/marking)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard
from marking.models import MarkStage

blueprint = Blueprint("marking_views", __name__)

RATERS = (Role.TEACHER, Role.OPERATOR)  # school administrators too (role_allowed)


@blueprint.get("/marking")
def marking_home() -> Response | str:
    """What the signed-in rater may mark, per administration and item."""
    return page_guard(*RATERS) or render_template("marking_home.html")


@blueprint.get("/marking/administrations/<int:administration_id>/items/<int:version_id>")
def rater_page(administration_id: int, version_id: int) -> Response | str:
    """The rater page: one anonymous answer at a time, the rubric beside it."""
    return page_guard(*RATERS) or render_template(
        "marking_rater.html",
        administration_id=administration_id,
        version_id=version_id,
        stages=[str(s) for s in MarkStage],
    )


@blueprint.get("/marking/administrations/<int:administration_id>")
def administration_page(administration_id: int) -> Response | str:
    """An operator's marking settings, raters and agreement statistics for one administration."""
    return page_guard(Role.OPERATOR) or render_template(
        "marking_administration.html", administration_id=administration_id
    )
