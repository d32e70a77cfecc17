"""Roster API: import a OneRoster 1.2 CSV zip (or check it), export the roster as one.

Operators import and export every school; a school administrator only their own school.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cbt.audit import record_audit
from cbt.auth import CurrentUser, require_user
from cbt.db import db
from cbt.errors import DomainError, ErrorCode, Forbidden, ValidationError
from cbt.http import request_actor
from cbt.i18n import translate
from cbt.models import Role, School, User
from cbt.openapi import openapi, register_schemas, register_tags
from roster.oneroster import Limits, write_zip
from roster.service import export_tables, import_roster

__all__ = ["blueprint"]

blueprint = Blueprint("roster_api", __name__, url_prefix="/api/v1")

ROSTER = "Roster"
ROLES = (Role.OPERATOR, Role.SCHOOL_ADMIN)
register_tags({ROSTER: "OneRoster 1.2 CSV (Japan Profile) import and export."})
_PROBLEM = {
    "type": "object",
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer", "nullable": True},
        "column": {"type": "string", "nullable": True},
        "code": {"type": "string"},
        "reason": {"type": "string"},
    },
}
_COUNTS = {
    "type": "object",
    "properties": {
        name: {"type": "integer"} for name in ("created", "updated", "archived", "unchanged")
    },
}
register_schemas(
    {
        "RosterProblem": _PROBLEM,
        "RosterImportReport": {
            "type": "object",
            "properties": {
                "ok": {"type": "boolean"},
                "dry_run": {"type": "boolean"},
                "committed": {"type": "boolean"},
                "modes": {"type": "object", "additionalProperties": {"type": "string"}},
                "counts": {
                    "type": "object",
                    "properties": dict.fromkeys(
                        ("schools", "classrooms", "users", "enrollments"), _COUNTS
                    ),
                },
                "changes": {"type": "integer"},
                "errors": {"type": "array", "items": _PROBLEM},
                "warnings": {"type": "array", "items": _PROBLEM},
                "notices": {"type": "array", "items": _PROBLEM},
                "skipped": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
)


def _own_school(user: CurrentUser) -> School | None:
    """None for an operator (every school); a school administrator's school, or 403."""
    if user.role == Role.OPERATOR:
        return None
    record = db.session.get(User, user.id)
    school = db.session.get(School, record.school_id) if record and record.school_id else None
    if school is None:
        raise Forbidden("Your account belongs to no school.")
    return school


def _upload() -> bytes:
    if request.files:
        upload = request.files.get("package")
        if upload is None:
            raise ValidationError("Send the roster as the form field 'package'.")
        data = upload.read(Limits().max_package_bytes + 1)
    elif request.mimetype in ("application/zip", "application/octet-stream"):
        data = request.get_data(cache=False)
    else:
        raise DomainError(
            "Send a OneRoster zip as multipart/form-data (field 'package') or application/zip.",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            status=415,
        )
    if len(data) > Limits().max_package_bytes:
        raise DomainError(
            "The roster package is too large.",
            code=ErrorCode.PAYLOAD_TOO_LARGE,
            status=413,
            details={"max_bytes": Limits().max_package_bytes},
        )
    if not data:
        raise ValidationError("The roster package is empty.")
    return data


@blueprint.post("/roster/import")
@openapi(
    summary="Import a OneRoster 1.2 CSV zip (Japan Profile): all of it or nothing. Send it as "
    "the form field 'package' of multipart/form-data, or as the body itself (application/zip "
    "or application/octet-stream).",
    tags=[ROSTER],
    roles=[str(r) for r in ROLES],
    body={
        "type": "object",
        "required": ["package"],
        "properties": {"package": {"type": "string", "format": "binary"}},
    },
    body_type="multipart/form-data",
    other_bodies={"application/octet-stream": {"type": "string", "format": "binary"}},
    response="RosterImportReport",
    query=[("dry_run", "boolean", "Check and report what would change; write nothing.")],
)
def import_package() -> Response:
    user = require_user(*ROLES)
    school = _own_school(user)
    data = _upload()
    dry_run = request.args.get("dry_run", "").lower() in ("1", "true", "yes")
    result = import_roster(data, actor=request_actor(user), dry_run=dry_run, school=school)
    report = result.to_dict(translate)
    if not result.report.ok:
        n = len(result.report.errors)
        raise ValidationError(
            "The roster has errors; nothing was imported.",
            details={**report, "n_errors": n},
        )
    return jsonify(report)


@blueprint.get("/roster/export.zip")
@openapi(
    summary="Export the roster (every school, or the administrator's own) as OneRoster 1.2 CSV.",
    tags=[ROSTER],
    roles=[str(r) for r in ROLES],
    response={"type": "string", "format": "binary"},
    response_type="application/zip",
)
def export_package() -> Response:
    user = require_user(*ROLES)
    school = _own_school(user)
    tables = export_tables(school)
    record_audit(
        request_actor(user),
        "roster.export",
        "roster",
        school.id if school else "all",
        {name: len(rows) for name, rows in tables.items()},
    )
    return Response(
        write_zip(tables),
        mimetype="application/zip",
        headers={"Content-Disposition": 'attachment; filename="oneroster.zip"'},
    )
