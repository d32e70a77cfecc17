"""Human marking: who marks an administration, how much is double-marked, and the marks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt.db import db, utcnow

# item_responses.id is 64-bit (SQLite: INTEGER), as delivery declares it.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class MarkStage(StrEnum):
    """The three marks a response can receive, in order; handed to the frontend from here."""

    FIRST = "first"
    SECOND = "second"  # independent: the second rater never sees the first mark
    ADJUDICATION = "adjudication"  # a lead marker or operator decides a disagreement


class MarkingPlan(db.Model):
    """An administration's marking settings (defaults apply while it has none)."""

    __tablename__ = "marking_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), unique=True)
    # Share of responses (0..1) that get a second, independent mark.
    double_marking_share: Mapped[float] = mapped_column(Float)
    # Largest difference between two marks settled without adjudication (score points).
    tolerance: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class MarkingAssignment(db.Model):
    """A staff member an operator asked to mark every response of an administration (beyond a
    teacher's own classes); a lead marker also adjudicates."""

    __tablename__ = "marking_assignments"
    __table_args__ = (UniqueConstraint("administration_id", "rater_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Mark(db.Model):
    """One rater's rubric points for one response. Never updated; one per stage, and a rater
    marks a response at most once (so the two marks are independent)."""

    __tablename__ = "marks"
    __table_args__ = (
        UniqueConstraint("item_response_id", "stage"),
        UniqueConstraint("item_response_id", "rater_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_response_id: Mapped[int] = mapped_column(BigId, ForeignKey("item_responses.id"))
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    points: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
