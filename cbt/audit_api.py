"""The audit log for operators: ``GET /api/v1/audit-events`` (filtered, newest first, a page at a
time) and ``GET /api/v1/audit-events.csv`` (every matching event). Looking at the log, or
downloading it, is itself an audit event. See docs/audit.md."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context
from sqlalchemy import Select, select

from cbt.audit import record_audit
from cbt.auth import require_user
from cbt.db import db, iso_utc
from cbt.errors import ValidationError
from cbt.exports import csv_chunks, csv_download
from cbt.http import INT32_MAX, request_actor
from cbt.models import AuditEvent, Role, User
from cbt.openapi import openapi, register_tags

__all__ = ["blueprint"]

blueprint = Blueprint("audit_api", __name__, url_prefix="/api/v1")

AUDIT = "Audit log"
register_tags({AUDIT: "Who saw or changed what: operators view and export the log (audited)."})

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
CSV_CHUNK = 5_000
_TEXT_FILTERS = ("action", "target_type", "target_id")
_QUERY = [
    ("actor_id", {"type": "integer", "minimum": 0, "maximum": INT32_MAX}, "Who acted (user id)."),
    ("action", {"type": "string", "maxLength": 64}, "Exactly this action, e.g. login."),
    ("target_type", {"type": "string", "maxLength": 64}, "What was acted on, e.g. classroom."),
    ("target_id", {"type": "string", "maxLength": 64}, "Its id (with target_type)."),
    (
        "from",
        {"type": "string", "maxLength": 40},
        "Events at or after this ISO 8601 date or time (a date: that day's start, UTC).",
    ),
    (
        "to",
        {"type": "string", "maxLength": 40},
        "Events before this ISO 8601 time; a bare date includes that whole day (UTC).",
    ),
]
_PAGE = [
    (
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "Events per page.",
    ),
    ("cursor", {"type": "string", "maxLength": 64}, "next_cursor of the previous page."),
]
_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "actor_id": {"type": "integer", "nullable": True},
        "actor_role": {"type": "string", "nullable": True},
        "actor_name": {"type": "string", "nullable": True},
        "action": {"type": "string"},
        "target_type": {"type": "string"},
        "target_id": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
        "remote_addr": {"type": "string", "nullable": True},
    },
}
_COLUMNS = [
    "id",
    "at",
    "actor_id",
    "actor_role",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "details",
    "remote_addr",
]


def _int_arg(name: str, high: int, refusal: ValidationError) -> int | None:
    """A whole number from the query (at least the refusal's minimum, at most ``high``)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and refusal.details["minimum"] <= int(raw) <= high):
        raise refusal
    return int(raw)


def _moment(name: str, refusal: ValidationError, *, end_of_day: bool) -> datetime | None:
    """An ISO 8601 date or date-time from the query; naive times are UTC. A bare date is that
    day's start, or with ``end_of_day`` the next day's start (so ``to`` includes the day)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise refusal from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _filters() -> dict[str, Any]:
    """The filters of this request, checked; what the audit event of the view records."""
    chosen: dict[str, Any] = {}
    actor_id = _int_arg(
        "actor_id",
        INT32_MAX,
        ValidationError(
            "actor_id must be a user id (a whole number).",
            details={"field": "actor_id", "minimum": 0, "maximum": INT32_MAX},
        ),
    )
    if actor_id is not None:
        chosen["actor_id"] = actor_id
    for name in _TEXT_FILTERS:
        value = request.args.get(name, "").strip()
        if len(value) > 64:
            raise ValidationError(
                "A filter is too long (at most 64 characters).",
                details={"field": name, "max_length": 64},
            )
        if value:
            chosen[name] = value
    start = _moment(
        "from",
        ValidationError(
            "'from' must be an ISO 8601 date or time, such as 2026-04-01 or "
            "2026-04-01T09:00:00+09:00.",
            details={"field": "from"},
        ),
        end_of_day=False,
    )
    end = _moment(
        "to",
        ValidationError(
            "'to' must be an ISO 8601 date or time, such as 2026-04-30 or "
            "2026-04-30T17:00:00+09:00.",
            details={"field": "to"},
        ),
        end_of_day=True,
    )
    if start is not None and end is not None and end <= start:
        raise ValidationError("'to' must be later than 'from'.", details={"field": "to"})
    if start is not None:
        chosen["from"] = iso_utc(start)
    if end is not None:
        chosen["to"] = iso_utc(end)
    return chosen


def _query(chosen: dict[str, Any]) -> Select[Any]:
    query = select(AuditEvent, User.display_name).outerjoin(User, User.id == AuditEvent.actor_id)
    if "actor_id" in chosen:
        query = query.where(AuditEvent.actor_id == chosen["actor_id"])
    for name in _TEXT_FILTERS:
        if name in chosen:
            query = query.where(getattr(AuditEvent, name) == chosen[name])
    if "from" in chosen:
        query = query.where(AuditEvent.at >= datetime.fromisoformat(chosen["from"]))
    if "to" in chosen:
        query = query.where(AuditEvent.at < datetime.fromisoformat(chosen["to"]))
    return query.order_by(AuditEvent.id.desc())


def _encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"a1:{event_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":")
        if prefix != "a1" or not value.isdigit():
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "That page cursor is not valid.", details={"field": "cursor"}
        ) from None


def _event(event: AuditEvent, actor_name: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso_utc(event.at),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "actor_name": actor_name,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": event.details,
        "remote_addr": event.remote_addr,
    }


@blueprint.get("/audit-events")
@openapi(
    summary="The audit log, newest first, a page at a time (operators; the view is audited).",
    tags=[AUDIT],
    roles=["operator"],
    query=[*_QUERY, *_PAGE],
    response={
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": _EVENT},
            "next_cursor": {"type": "string", "nullable": True},
        },
    },
)
def list_events() -> Response:
    user = require_user(Role.OPERATOR)
    chosen = _filters()
    limit = _int_arg(
        "limit",
        MAX_LIMIT,
        ValidationError(
            "limit must be a whole number from 1 to 200.",
            details={"field": "limit", "minimum": 1, "maximum": MAX_LIMIT},
        ),
    )
    limit = DEFAULT_LIMIT if limit is None else limit
    query = _query(chosen)
    after = _decode_cursor(request.args.get("cursor", "").strip())
    if after is not None:
        query = query.where(AuditEvent.id < after)
    rows = db.session.execute(query.limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    events = [_event(event, name) for event, name in rows]
    record_audit(
        request_actor(user),
        "view_audit_log",
        "audit_log",
        "events",
        {"filters": chosen, "n_rows": len(events), "page_after": after},
    )
    return jsonify(
        {
            "events": events,
            "next_cursor": _encode_cursor(events[-1]["id"]) if more and events else None,
        }
    )


def _csv_row(event: AuditEvent, actor_name: str | None) -> list[Any]:
    details = json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True)
    return [
        event.id,
        iso_utc(event.at),
        "" if event.actor_id is None else event.actor_id,
        event.actor_role or "",
        actor_name or "",
        event.action,
        event.target_type,
        event.target_id,
        details,
        event.remote_addr or "",
    ]


def _csv_pages(query: Select[Any], below: int) -> Iterator[list[list[Any]]]:
    """Every matching event older than id ``below``, newest first, read in keyset pages."""
    while True:
        rows = db.session.execute(query.where(AuditEvent.id < below).limit(CSV_CHUNK)).all()
        if not rows:
            return
        yield [_csv_row(event, name) for event, name in rows]
        below = rows[-1][0].id


@blueprint.get("/audit-events.csv")
@openapi(
    summary="Every audit event matching the filters as CSV (UTF-8 with BOM), newest first; "
    "the export is itself audited.",
    tags=[AUDIT],
    roles=["operator"],
    query=_QUERY,
    response_type="text/csv",
    response={"type": "string"},
)
def export_events() -> Response:
    user = require_user(Role.OPERATOR)
    chosen = _filters()
    # The export covers the log as it stands now (its own event comes after it).
    newest = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    record_audit(
        request_actor(user), "export_audit_log", "audit_log", "events", {"filters": chosen}
    )
    pages = _csv_pages(_query(chosen), (newest or 0) + 1)
    body = stream_with_context(csv_chunks(_COLUMNS, pages))
    return csv_download(body, "audit-events.csv")
