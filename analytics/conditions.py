"""Testing conditions for research exports: per person (pseudonym) and administration, the
conditions of their latest sitting (delivery.accommodations), so results compare by condition."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from cbt.db import db
from cbt.models import User
from delivery.accommodations import conditions_summary, conditions_text
from delivery.models import ExamSession, SessionStatus

__all__ = ["conditions_by_person"]


def conditions_by_person(administration_ids: Sequence[int]) -> dict[tuple[str, int], str]:
    """``(pseudonym, administration id) -> conditions cell`` of the latest non-reset sitting.

    Only pseudonyms leave this function: no name, no user id.
    """
    rows = db.session.execute(
        select(User.pseudonym, ExamSession.administration_id, ExamSession.conditions)
        .join(User, User.id == ExamSession.student_id)
        .where(
            ExamSession.administration_id.in_(list(administration_ids)),
            ExamSession.status != SessionStatus.RESET,
        )
        .order_by(ExamSession.started_at)
    )
    # Later sittings overwrite earlier ones.
    return {
        (pseudonym, administration_id): conditions_text(conditions_summary(conditions))
        for pseudonym, administration_id, conditions in rows
    }
