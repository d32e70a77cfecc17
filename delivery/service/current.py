"""Which result is a student's current one for an administration: the one definition.

A result is current when its sitting was not reset and no later result (higher id) of a sitting
not reset exists for the same student and administration; every other result is
``superseded``. Every path that writes a result or changes which one is current (a sitting
finished and scored, a sitting reset, a retake after a reset, a rescore) calls
:func:`refresh_superseded` in its own transaction, so readers filter on ``NOT superseded`` alone.
The migration that added the column (``migrations/versions/c9fcee539b0a``) backfilled it with
the same definition.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, or_, update
from sqlalchemy.orm import aliased

from cbt.db import db
from delivery.models import ExamSession, Result, SessionStatus

__all__ = ["current_results", "refresh_superseded", "superseded_now"]


def superseded_now() -> ColumnElement[bool]:
    """Whether each row of ``results`` is superseded by the definition, from the sittings (SQL):
    its sitting was reset, or a later result of a sitting not reset exists for the pair."""
    later = aliased(Result)
    later_sitting = aliased(ExamSession)
    reset = exists().where(
        ExamSession.id == Result.exam_session_id, ExamSession.status == SessionStatus.RESET
    )
    newer = exists().where(
        later.student_id == Result.student_id,
        later.administration_id == Result.administration_id,
        later.id > Result.id,
        later_sitting.id == later.exam_session_id,
        later_sitting.status != SessionStatus.RESET,
    )
    return or_(reset, newer)


def current_results() -> ColumnElement[bool]:
    """The filter for current results (``NOT superseded``): one per (student, administration)."""
    return Result.superseded.is_(False)


def refresh_superseded(student_ids: Iterable[int], administration_ids: Iterable[int]) -> int:
    """Set ``superseded`` on the results of these students in these administrations from the
    definition; returns how many rows changed.

    Every pair of the two lists is refreshed (a superset of the pairs that changed is harmless:
    the flag is recomputed, not toggled). Flushes the session first, so results added or
    sittings reset through the ORM in this transaction count; the UPDATE touches only rows whose
    flag changes, by the ``student_id`` index.
    """
    students = sorted({int(s) for s in student_ids})
    administrations = sorted({int(a) for a in administration_ids})
    if not students or not administrations:
        return 0
    db.session.flush()
    flag = superseded_now()
    scope = and_(Result.student_id.in_(students), Result.administration_id.in_(administrations))
    changed = db.session.execute(
        update(Result)
        .where(scope, Result.superseded.is_distinct_from(flag))
        .values(superseded=flag)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Objects already loaded in this session read the new flag from the database.
    for result in list(db.session.identity_map.values()):
        if isinstance(result, Result) and result.student_id in students:
            db.session.expire(result, ["superseded"])
    return changed
