"""The roster page: upload a OneRoster zip, read the dry run's report, then import it."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard

__all__ = ["blueprint"]

blueprint = Blueprint("roster_views", __name__)


@blueprint.get("/roster")
def roster_page() -> Response | str:
    return page_guard(Role.OPERATOR, Role.SCHOOL_ADMIN) or render_template("roster_import.html")
