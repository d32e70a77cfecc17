"""Test definitions, administrations, exam sessions, the durable response log and results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    exists,
    false,
    text,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from cbt.db import db, utcnow

# 64-bit ids where volume is national-scale; SQLite only auto-increments INTEGER keys.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class SessionStatus(StrEnum):
    """States of an ExamSession; handed to the frontend from here."""

    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"
    EXPIRED = "expired"
    RESET = "reset"


class AdministrationStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


class TestDefinition(db.Model):
    """What a test is: its pool, parameters, engine settings, reporting scale and time limit."""

    __tablename__ = "test_definitions"
    __test__ = False  # not a pytest class, despite the name

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # "linear", "loft", "cat" or "mixed", derived from the sections (for listings).
    mode: Mapped[str] = mapped_column(String(16), default="cat")
    pool_id: Mapped[int] = mapped_column(ForeignKey("item_pools.id"))
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    # The definition itself: sections, forms, blueprints, rules (delivery.schemas.TestSpec).
    settings: Mapped[dict[str, Any]]
    # Reporting scale: slope, intercept, cut scores and band labels (scoring.ReportingScale).
    scale: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Administration(db.Model):
    """A test given to chosen classrooms during a window."""

    __tablename__ = "administrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    test_definition_id: Mapped[int] = mapped_column(ForeignKey("test_definitions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=AdministrationStatus.SCHEDULED)
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormSnapshot(db.Model):
    """A published, immutable form: everything a sitting of an administration is compiled from.

    Stored when an administration opens (or, for one opened before snapshots existed, at its
    first sitting). Sessions point at it, so a pool edit, a new parameter set or a new engine
    never changes a running or resumed sitting. A re-publish adds a revision; sittings already
    started keep theirs.
    """

    __tablename__ = "form_snapshots"
    __table_args__ = (UniqueConstraint("administration_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    revision: Mapped[int] = mapped_column(default=1)
    test_definition_id: Mapped[int] = mapped_column(ForeignKey("test_definitions.id"))
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    # The exact item versions, in the order the compiled test indexes them.
    item_version_ids: Mapped[list[int]] = mapped_column(db.JSON)
    # Pairs of item versions that may never share a sitting (as they were when published).
    enemy_pairs: Mapped[list[list[int]]] = mapped_column(db.JSON, default=list)
    settings: Mapped[dict[str, Any]]
    scale: Mapped[dict[str, Any]]
    # How session randomness is drawn from the session seed (delivery.engine.SEED_RULE).
    seed_rule: Mapped[str] = mapped_column(String(100))
    engine_version: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AdministrationClassroom(db.Model):
    __tablename__ = "administration_classrooms"

    administration_id: Mapped[int] = mapped_column(
        ForeignKey("administrations.id"), primary_key=True
    )
    classroom_id: Mapped[int] = mapped_column(
        ForeignKey("classrooms.id"), primary_key=True, index=True
    )


class AdministrationStartWindow(db.Model):
    """A staggered start: one school's or one class's sittings of an administration may begin
    only from ``starts_at`` (a class's own window wins over its school's). Set by operators so
    that a national start does not ring every bell at once (delivery/start_windows.py)."""

    __tablename__ = "administration_start_windows"
    __table_args__ = (UniqueConstraint("administration_id", "school_id", "classroom_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id"))
    starts_at: Mapped[datetime]


class ExamSession(db.Model):
    """One student's sitting of one administration."""

    __tablename__ = "exam_sessions"
    __table_args__ = (
        # One active session per student per administration, enforced by the database.
        Index(
            "uq_exam_sessions_active",
            "administration_id",
            "student_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.ACTIVE)
    seed: Mapped[int] = mapped_column(BigInteger)
    # The published form this sitting runs on (None only for rows older than snapshots).
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("form_snapshots.id"))
    # The test definition as it was when the session started (recorded for replay).
    engine_settings: Mapped[dict[str, Any]]
    # The whole delivery.engine.SessionState, written in the same transaction as each answer:
    # the state store caches it, and a flushed store is refilled from here.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped on every write of ``state``; writers check it (optimistic concurrency).
    revision: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The item on screen now: written with the previous answer, so a rebuild re-presents it.
    current_item_version_id: Mapped[int | None] = mapped_column(ForeignKey("item_versions.id"))
    presented_at: Mapped[datetime | None]
    section_index: Mapped[int] = mapped_column(default=0)
    n_answered: Mapped[int] = mapped_column(default=0)
    theta: Mapped[float | None] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Testing conditions (delivery.accommodations): the accommodations in force when the sitting
    # started and every change the student made in the player. Never written on the submit path.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ItemResponse(db.Model):
    """One acknowledged answer. Written before the reply (invariant 2); never updated.

    In a section with free navigation a changed answer is a new row with the next ``revision``
    (0 for the first answer); the latest revision of an item is the one that counts. Every
    unique constraint names the session, so the table can be partitioned.

    On PostgreSQL the table is partitioned by LIST (administration_id) (migration a9d4f2c6e8b1,
    docs/production.md): every unique constraint carries the partition key in front, which
    changes nothing since a session belongs to one administration, and the primary key there is
    (id, administration_id). Ids still come from one sequence, so ``id`` alone identifies a row.
    """

    __tablename__ = "item_responses"
    __table_args__ = (
        UniqueConstraint("administration_id", "exam_session_id", "sequence"),
        UniqueConstraint("administration_id", "exam_session_id", "item_version_id", "revision"),
        UniqueConstraint("administration_id", "exam_session_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The partition key: the session's administration, written with the answer.
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    exam_session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    sequence: Mapped[int]
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    revision: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    section_index: Mapped[int] = mapped_column(default=0)
    # False for embedded pretest items: recorded and scored, but not part of theta.
    is_operational: Mapped[bool] = mapped_column(default=True)
    response: Mapped[dict[str, Any]]
    # What the student saw (for example the option order) and why the item was chosen
    # (the items exposure control blocked), so the session can be replayed exactly.
    presentation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[float] = mapped_column(Float)
    is_correct: Mapped[bool | None]
    presented_at: Mapped[datetime]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    time_taken_ms: Mapped[int]
    theta_after: Mapped[float] = mapped_column(Float)
    se_after: Mapped[float] = mapped_column(Float)


def latest_revisions() -> ColumnElement[bool]:
    """A filter on ``item_responses`` keeping each item's latest revision: the answers that
    count (a session without changed answers keeps every row)."""
    later = aliased(ItemResponse)
    return ~exists().where(
        later.exam_session_id == ItemResponse.exam_session_id,
        later.item_version_id == ItemResponse.item_version_id,
        later.revision > ItemResponse.revision,
    )


#: The results the dashboard's aggregates read: the current ones (``NOT superseded``).
_CURRENT = "NOT superseded"


class Result(db.Model):
    """A finished session's score, with everything needed to replay it (invariant 5).

    ``superseded`` is false for exactly one result per (student, administration) that has any
    result of a sitting not reset: the latest such result (highest id). It is kept so by
    ``delivery.service.current.refresh_superseded``, called in the same transaction by every
    path that writes a result or resets a sitting, so reports filter ``NOT superseded`` instead
    of joining sittings and de-duplicating.
    """

    __tablename__ = "results"
    __table_args__ = (
        # The national aggregates (analytics.dashboard) read only these columns of the
        # current results: an index-only scan on PostgreSQL.
        Index(
            "ix_results_current",
            "administration_id",
            sqlite_where=text(_CURRENT),
            postgresql_where=text(_CURRENT),
            postgresql_include=["band", "scale_score", "scale_se"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id"), unique=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    theta: Mapped[float] = mapped_column(Float)
    se: Mapped[float] = mapped_column(Float)
    scale_score: Mapped[float] = mapped_column(Float)
    scale_se: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(50))
    n_items: Mapped[int]
    # Scores by curriculum-code prefix: [{curriculum_prefix, n_items, raw_score, theta, se}].
    subscores: Mapped[list[dict[str, Any]]] = mapped_column(db.JSON, default=list)
    finish_reason: Mapped[str] = mapped_column(String(32), default="completed")
    test_definition_id: Mapped[int | None] = mapped_column(ForeignKey("test_definitions.id"))
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    item_version_ids: Mapped[list[int]] = mapped_column(db.JSON)
    engine_settings: Mapped[dict[str, Any]]
    seed: Mapped[int] = mapped_column(BigInteger)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("form_snapshots.id"))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # True once another result is the student's current one for the administration, or the
    # sitting was reset (see the class docstring).
    superseded: Mapped[bool] = mapped_column(default=False, server_default=false())


# ---------------------------------------------------------------------- rescoring (marking helper)


class ItemScoreEntry(db.Model):
    """A score for one answered item set by someone other than the automatic scorer (a rater's
    final mark, an operator's correction). Append-only: the latest entry for a (session, item)
    takes precedence over ``ItemResponse.score``, which is never updated."""

    __tablename__ = "item_score_entries"
    __table_args__ = (Index("ix_item_score_entries_target", "exam_session_id", "item_version_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exam_session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id"))
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    # The answer (no foreign key: item_responses is partitioned on PostgreSQL).
    item_response_id: Mapped[int] = mapped_column(BigId, index=True)
    score: Mapped[float] = mapped_column(Float)
    # Where the score came from: "rater" (marking), "operator" (a correction), ...
    source: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResultRevision(db.Model):
    """A result as it was before a rescore replaced its figures, with why, by whom and when.

    ``Result`` always holds the current figures; its revisions, in order, are its history.
    """

    __tablename__ = "result_revisions"
    __table_args__ = (UniqueConstraint("result_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), index=True)
    exam_session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    revision: Mapped[int]  # 1 for the first result replaced, then 2, ...
    # The replaced figures and what produced them.
    theta: Mapped[float] = mapped_column(Float)
    se: Mapped[float] = mapped_column(Float)
    scale_score: Mapped[float] = mapped_column(Float)
    scale_se: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(50))
    subscores: Mapped[list[dict[str, Any]]] = mapped_column(db.JSON, default=list)
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    scored_at: Mapped[datetime]  # when the replaced figures were computed
    # The rescore that replaced them.
    new_parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
