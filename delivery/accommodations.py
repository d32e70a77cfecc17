"""Accommodations (合理的配慮) and the testing conditions recorded on each sitting.

A student's profile is QTI PNP-like: extra time (``users.extra_time_factor``, the one source of
truth for it, read by the clock when a sitting starts) and the player's display settings in
``users.accommodations``: font size (標準 / 大 / 特大), high contrast (高コントラスト), ruby
(ふりがな), read-aloud (読み上げ) and the line reader (ラインリーダー). Teachers of the student's
class, the school's administrators and operators set it.

When a sitting starts its conditions (``exam_sessions.conditions``) are stored from the profile;
the student may change the display settings in the player, and each change is appended there.
Analytics reads :func:`conditions_summary` and :func:`conditions_text`, so results can be
compared by condition.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from cbt.db import db, iso_utc
from cbt.errors import DomainError, ErrorCode, NotFound, ValidationError
from cbt.models import Role, User
from delivery.models import ExamSession, SessionStatus

__all__ = [
    "DEFAULT_DISPLAY",
    "DISPLAY_SETTINGS",
    "FONT_SIZES",
    "MAX_EXTRA_TIME_FACTOR",
    "clean_display",
    "clean_extra_time_factor",
    "conditions_summary",
    "conditions_text",
    "get_session_conditions",
    "get_student_accommodations",
    "initial_conditions",
    "record_session_conditions",
    "set_student_accommodations",
]

#: 標準, 大, 特大.
FONT_SIZES = ("standard", "large", "x_large")
#: What the player shows and the student may change during a sitting, with the defaults.
DEFAULT_DISPLAY: dict[str, Any] = {
    "font_size": "standard",
    "high_contrast": False,
    "ruby": True,
    "read_aloud": False,
    "line_reader": False,
}
DISPLAY_SETTINGS = tuple(DEFAULT_DISPLAY)
MIN_EXTRA_TIME_FACTOR = 1.0
MAX_EXTRA_TIME_FACTOR = 4.0
#: Changes kept on a session; past this only the current settings move (a toggling loop must
#: not grow a row without bound).
MAX_RECORDED_CHANGES = 500


def clean_display(data: dict[str, Any]) -> dict[str, Any]:
    """The display settings given in ``data`` (any subset), validated; unknown keys refused."""
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name not in DEFAULT_DISPLAY:
            raise ValidationError(
                "Unknown accommodation setting.",
                details={"field": name, "allowed": list(DISPLAY_SETTINGS)},
            )
        if name == "font_size":
            if value not in FONT_SIZES:
                raise ValidationError(
                    "font_size must be standard, large or x_large.",
                    details={"field": name, "allowed": list(FONT_SIZES)},
                )
        elif not isinstance(value, bool):
            raise ValidationError("This setting must be true or false.", details={"field": name})
        cleaned[name] = value
    return cleaned


def clean_extra_time_factor(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(
            "extra_time_factor must be a number.", details={"field": "extra_time_factor"}
        )
    if not MIN_EXTRA_TIME_FACTOR <= value <= MAX_EXTRA_TIME_FACTOR:
        raise ValidationError(
            "extra_time_factor must be between 1 and 4.",
            details={
                "field": "extra_time_factor",
                "minimum": MIN_EXTRA_TIME_FACTOR,
                "maximum": MAX_EXTRA_TIME_FACTOR,
            },
        )
    return round(float(value), 2)


def _display_of(user: User) -> dict[str, Any]:
    stored = {k: v for k, v in (user.accommodations or {}).items() if k in DEFAULT_DISPLAY}
    return {**DEFAULT_DISPLAY, **stored}


def _profile(user: User) -> dict[str, Any]:
    return {"extra_time_factor": float(user.extra_time_factor or 1.0), **_display_of(user)}


def _student(student_id: int) -> User:
    user = db.session.get(User, student_id)
    if user is None or user.role != Role.STUDENT:
        raise NotFound("No such student.", details={"student_id": student_id})
    return user


def get_student_accommodations(student_id: int) -> dict[str, Any]:
    """The student's profile: extra time and display settings (defaults filled in)."""
    return _profile(_student(student_id))


def set_student_accommodations(
    student_id: int, display: dict[str, Any], extra_time_factor: float | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change the profile (only what is given); returns (before, after). Sittings already
    started keep the conditions they started with."""
    user = _student(student_id)
    before = _profile(user)
    if display:
        user.accommodations = {**_display_of(user), **display}
    if extra_time_factor is not None:
        user.extra_time_factor = extra_time_factor
    db.session.flush()
    return before, _profile(user)


def initial_conditions(user: User) -> dict[str, Any]:
    """What a sitting records when it starts: the profile then, and the settings in force."""
    profile = _profile(user)
    return {
        "profile": profile,
        "extra_time_factor": profile["extra_time_factor"],
        "current": _display_of(user),
        "changes": [],
    }


def _session_row(student_id: int, session_id: str, *, lock: bool = False) -> ExamSession:
    query = select(ExamSession).where(ExamSession.id == session_id)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    if row is None or row.student_id != student_id:
        raise NotFound("No such session.", details={"session_id": session_id})
    return row


def _with_defaults(conditions: dict[str, Any] | None) -> dict[str, Any]:
    """Conditions of a row; a row from before conditions were recorded reads as the defaults."""
    conditions = dict(conditions or {})
    conditions["current"] = {**DEFAULT_DISPLAY, **(conditions.get("current") or {})}
    conditions.setdefault("extra_time_factor", None)
    conditions.setdefault("changes", [])
    return conditions


def get_session_conditions(student_id: int, session_id: str) -> dict[str, Any]:
    row = _session_row(student_id, session_id)
    return {"session_id": row.id, **_with_defaults(row.conditions)}


def record_session_conditions(
    student_id: int, session_id: str, display: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """Set the player's display settings on a live sitting (idempotent: settings already in
    force write nothing). Returns the conditions and the names of the settings that changed."""
    row = _session_row(student_id, session_id, lock=True)
    if row.status not in (SessionStatus.ACTIVE, SessionStatus.PAUSED):
        raise DomainError(
            "This test has ended; its conditions can no longer change.",
            code=ErrorCode.SESSION_NOT_ACTIVE,
            status=409,
            details={"session_id": session_id},
        )
    conditions = _with_defaults(row.conditions)
    current = conditions["current"]
    changed = [
        name for name in DISPLAY_SETTINGS if name in display and display[name] != current[name]
    ]
    if not changed:
        return {"session_id": row.id, **conditions}, []
    changes = list(conditions["changes"])
    for name in changed:
        if len(changes) < MAX_RECORDED_CHANGES:
            changes.append({"at": iso_utc(now), "setting": name, "value": display[name]})
    conditions = {
        **conditions,
        "current": {**current, **{name: display[name] for name in changed}},
        "changes": changes,
    }
    db.session.execute(
        update(ExamSession).where(ExamSession.id == row.id).values(conditions=conditions)
    )
    db.session.expire(row)
    return {"session_id": row.id, **conditions}, changed


def conditions_summary(conditions: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per session, for analytics: extra time, the settings in force at the end, and which
    settings the student changed during the sitting. None for a session with no record."""
    if not conditions:
        return None
    full = _with_defaults(conditions)
    changed = sorted({change.get("setting") for change in full["changes"]} - {None})
    return {
        "extra_time_factor": full["extra_time_factor"],
        **full["current"],
        "changed": [name for name in DISPLAY_SETTINGS if name in changed],
    }


def conditions_text(summary: dict[str, Any] | None) -> str:
    """A :func:`conditions_summary` as one CSV cell: ``extra_time=1.5;font_size=large;
    high_contrast=1;ruby=0;read_aloud=0;line_reader=0;changed=ruby+line_reader`` (empty for a
    session with no record)."""
    if summary is None:
        return ""
    factor = summary["extra_time_factor"]
    parts = [f"extra_time={'' if factor is None else f'{factor:g}'}"]
    for name in DISPLAY_SETTINGS:
        value = summary[name]
        parts.append(f"{name}={int(value) if isinstance(value, bool) else value}")
    parts.append(f"changed={'+'.join(summary['changed'])}")
    return ";".join(parts)
