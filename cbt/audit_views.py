"""The operators' audit-log page (a shell; operator_audit.js calls /api/v1/audit-events)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard

__all__ = ["blueprint"]

blueprint = Blueprint("audit_views", __name__)


@blueprint.get("/operator/audit")
def audit_log() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template("operator_audit.html")
