"""Staggered starts: per school or per class, the moment its sittings of an administration may
begin (docs/scale.md). A class's own window wins over its school's; without either, the
administration's own window applies. Operators set them; the start route enforces them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select

from cbt.db import db, iso_utc
from cbt.errors import DomainError, ErrorCode, NotFound, ValidationError
from cbt.http import INT32_MAX
from cbt.models import Classroom, Enrollment, School
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStartWindow,
    ExamSession,
)
from delivery.schemas import TIME_FORMAT_HINT, parse_time

MAX_WINDOWS = 1000


def _targets(administration_id: int) -> list[Any]:
    return list(
        db.session.execute(
            select(Classroom, School)
            .join(AdministrationClassroom, AdministrationClassroom.classroom_id == Classroom.id)
            .join(School, School.id == Classroom.school_id)
            .where(AdministrationClassroom.administration_id == administration_id)
            .order_by(School.name, Classroom.name)
        ).all()
    )


def _administration(administration_id: int) -> Administration:
    administration = db.session.get(Administration, administration_id)
    if administration is None:
        raise NotFound("No such administration.", details={"administration_id": administration_id})
    return administration


def start_windows(administration_id: int) -> dict[str, Any]:
    """The windows set, and the schools and classes they may be set for (for the page)."""
    _administration(administration_id)
    windows = db.session.scalars(
        select(AdministrationStartWindow)
        .where(AdministrationStartWindow.administration_id == administration_id)
        .order_by(AdministrationStartWindow.starts_at, AdministrationStartWindow.id)
    ).all()
    schools: dict[int, dict[str, Any]] = {}
    classes = []
    for classroom, school in _targets(administration_id):
        schools.setdefault(school.id, {"id": school.id, "name": school.name})
        classes.append({"id": classroom.id, "name": classroom.name, "school_id": school.id})
    return {
        "administration_id": administration_id,
        "start_windows": [
            {
                "school_id": window.school_id,
                "classroom_id": window.classroom_id,
                "starts_at": iso_utc(window.starts_at),
            }
            for window in windows
        ],
        "schools": list(schools.values()),
        "classrooms": classes,
    }


def _parse(entry: Any, index: int) -> tuple[int | None, int | None, datetime]:
    where = {"field": f"start_windows[{index}]"}
    if not isinstance(entry, dict):
        raise ValidationError("Each start window must be an object.", details=where)
    school_id, classroom_id = entry.get("school_id"), entry.get("classroom_id")
    if (school_id is None) == (classroom_id is None):
        raise ValidationError(
            "Each start window names either a school_id or a classroom_id.", details=where
        )
    for value in (school_id, classroom_id):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT32_MAX
        ):
            raise ValidationError("school_id and classroom_id must be integers.", details=where)
    raw = entry.get("starts_at")
    try:
        if not isinstance(raw, str) or len(raw) > 64:
            raise ValueError(raw)
        starts_at = parse_time(raw)
    except ValueError:
        raise ValidationError(f"'starts_at' must be {TIME_FORMAT_HINT}.", details=where) from None
    return school_id, classroom_id, starts_at


def set_start_windows(administration_id: int, entries: list[Any]) -> dict[str, Any]:
    """Replace the administration's windows; every school and class must be one it is given to."""
    _administration(administration_id)
    if len(entries) > MAX_WINDOWS:
        raise ValidationError(
            "Too many start windows.", details={"field": "start_windows", "max": MAX_WINDOWS}
        )
    targets = _targets(administration_id)
    classes = {classroom.id for classroom, _ in targets}
    schools = {school.id for _, school in targets}
    parsed = [_parse(entry, index) for index, entry in enumerate(entries)]
    seen: set[tuple[int | None, int | None]] = set()
    for index, (school_id, classroom_id, _) in enumerate(parsed):
        where = {"field": f"start_windows[{index}]"}
        if (school_id, classroom_id) in seen:
            raise ValidationError("A school or class is listed twice.", details=where)
        seen.add((school_id, classroom_id))
        if classroom_id is not None and classroom_id not in classes:
            raise ValidationError("That class is not given this administration.", details=where)
        if school_id is not None and school_id not in schools:
            raise ValidationError(
                "No class of that school is given this administration.", details=where
            )
    db.session.execute(
        delete(AdministrationStartWindow).where(
            AdministrationStartWindow.administration_id == administration_id
        )
    )
    db.session.add_all(
        AdministrationStartWindow(
            administration_id=administration_id,
            school_id=school_id,
            classroom_id=classroom_id,
            starts_at=starts_at,
        )
        for school_id, classroom_id, starts_at in parsed
    )
    db.session.flush()
    return start_windows(administration_id)


def student_start(student_id: int, administration_id: int) -> datetime | None:
    """When this student's sittings may begin: the earliest over the student's classes given
    the administration, each class's own window or else its school's; None when unrestricted."""
    rows = db.session.execute(
        select(Classroom.id, Classroom.school_id)
        .join(Enrollment, Enrollment.classroom_id == Classroom.id)
        .join(AdministrationClassroom, AdministrationClassroom.classroom_id == Classroom.id)
        .where(
            Enrollment.user_id == student_id,
            AdministrationClassroom.administration_id == administration_id,
        )
    ).all()
    if not rows:
        return None
    windows = db.session.execute(
        select(
            AdministrationStartWindow.school_id,
            AdministrationStartWindow.classroom_id,
            AdministrationStartWindow.starts_at,
        ).where(AdministrationStartWindow.administration_id == administration_id)
    ).all()
    if not windows:
        return None
    by_class = {w.classroom_id: w.starts_at for w in windows if w.classroom_id is not None}
    by_school = {w.school_id: w.starts_at for w in windows if w.school_id is not None}
    starts = [
        by_class.get(classroom_id, by_school.get(school_id)) for classroom_id, school_id in rows
    ]
    if any(start is None for start in starts):
        return None  # one of the student's classes is not held back
    return min(start for start in starts if start is not None)


def ensure_start_window(student_id: int, administration_id: int, now: datetime) -> None:
    """409 ``not_started_yet`` with the start time before the student's window; a sitting
    already begun (a window moved later) may always go on."""
    starts_at = student_start(student_id, administration_id)
    if starts_at is None or now >= starts_at:
        return
    begun = db.session.scalar(
        select(
            exists().where(
                ExamSession.administration_id == administration_id,
                ExamSession.student_id == student_id,
            )
        )
    )
    if begun:
        return
    raise DomainError(
        "Your class starts this test later. The start button works from the time shown.",
        code=ErrorCode.NOT_STARTED_YET,
        status=409,
        details={
            "administration_id": administration_id,
            "starts_at": iso_utc(starts_at),
            "seconds_to_start": max(1, int((starts_at - now).total_seconds())),
        },
    )
