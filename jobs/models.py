"""The job table: one row per background job, so its progress and outcome outlive the worker
process and the page that started it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cbt.db import db, utcnow

__all__ = ["Job", "JobStatus"]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(db.Model):
    """A background job: what to do (kind, parameters), who asked, and how far it got."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_runner", "status", "runner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A registered kind (jobs.register); the parameters are that kind's JSON arguments.
    kind: Mapped[str] = mapped_column(String(50), index=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    # "thread" (the in-process worker) or "rq" (RQ on Redis): who is expected to run it.
    runner: Mapped[str] = mapped_column(String(8))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict[str, Any] | None]
    # Why a failed job failed, in words for the person who started it (never a traceback).
    error: Mapped[str | None] = mapped_column(String(2000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
