"""The roster page: upload a OneRoster zip, read the dry run's report, then import it."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.auth import current_user
from cbt.models import Role
from cbt.views import page_guard

__all__ = ["blueprint"]

blueprint = Blueprint("roster_views", __name__)


@blueprint.get("/roster")
def roster_page() -> Response | str:
    user = current_user()
    # School administrators see it for their own school (the API scopes what they send).
    if user is not None and user.role == Role.SCHOOL_ADMIN:
        return render_template("roster_import.html")
    return page_guard(Role.OPERATOR) or render_template("roster_import.html")
