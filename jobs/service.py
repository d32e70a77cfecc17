"""Enqueue a job, read its status, and run it: the part both runners share.

A job's work runs in the worker's own database session and commits together with the job's
``succeeded`` status, so a job either did all its work or none. Progress is written through a
separate connection (committed at once, at most a few times a second), so a page that is
reloaded mid-job still sees how far it got.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from cbt.audit import Actor
from cbt.db import db, iso_utc, on_commit, utcnow
from cbt.errors import DomainError, NotFound, ValidationError
from jobs.models import Job, JobStatus

__all__ = [
    "JobContext",
    "JobFailed",
    "enqueue",
    "execute",
    "get_job",
    "job_dict",
    "register",
    "registered_kinds",
    "runner_name",
]

logger = logging.getLogger(__name__)

_HANDLERS: dict[str, Callable[[JobContext], dict[str, Any]]] = {}
_PROGRESS_INTERVAL = 0.5  # seconds between progress writes


class JobFailed(Exception):
    """Raised by a job's handler to fail with a message meant for the person who started it."""


@dataclass
class JobContext:
    """What a handler gets: its parameters, who asked (for audit rows) and a progress callback."""

    job_id: int
    parameters: dict[str, Any]
    actor: Actor
    _last_write: float = field(default=0.0, repr=False)

    def progress(self, fraction: float, message: str | None = None, *, force: bool = False) -> None:
        """Record progress in 0..1 (and what the job is doing) on the job's row, committed at
        once through its own connection; calls closer than half a second apart are skipped."""
        now = time.monotonic()
        if not force and now - self._last_write < _PROGRESS_INTERVAL:
            return
        self._last_write = now
        values: dict[str, Any] = {
            "progress": min(max(float(fraction), 0.0), 1.0),
            "updated_at": utcnow(),
        }
        if message is not None:
            values["message"] = message[:500]
        try:
            with db.engine.begin() as connection:
                sqlite = connection.dialect.name == "sqlite"
                if sqlite:  # do not wait long for a job that holds SQLite's write lock
                    connection.exec_driver_sql("PRAGMA busy_timeout=200")
                try:
                    connection.execute(update(Job).where(Job.id == self.job_id).values(**values))
                finally:
                    if sqlite:
                        connection.exec_driver_sql("PRAGMA busy_timeout=10000")
        except Exception:  # progress is best effort: never fail the job for it
            logger.warning("job %s: progress not recorded", self.job_id, exc_info=True)


def register(kind: str) -> Callable[[Callable[[JobContext], dict[str, Any]]], Any]:
    """Register ``handler(context) -> result dict`` as the code of job ``kind``."""

    def decorate(handler: Callable[[JobContext], dict[str, Any]]) -> Any:
        _HANDLERS[kind] = handler
        return handler

    return decorate


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


def runner_name() -> str:
    """The configured runner: ``rq`` with Redis (or when asked), else the in-process thread."""
    configured = current_app.config.get("JOBS_RUNNER", "auto")
    if configured == "auto":
        return "rq" if current_app.config.get("REDIS_URL") else "thread"
    return configured


def enqueue(kind: str, parameters: dict[str, Any], *, actor: Actor) -> Job:
    """Add a queued job to the current transaction; it is handed to the runner once the
    transaction commits (a worker never sees a job that was rolled back).

    Raises
    ------
    ValidationError
        No handler is registered for ``kind``.
    """
    if kind not in _HANDLERS:
        raise ValidationError(f"Unknown job kind {kind!r}.", details={"kind": kind})
    runner = runner_name()
    job = Job(
        kind=kind,
        parameters=parameters,
        runner=runner,
        created_by_id=actor.id,
        created_by_role=None if actor.role is None else str(actor.role),
    )
    db.session.add(job)
    db.session.flush()
    from jobs.runners import dispatch

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job_id = job.id
    on_commit(lambda: dispatch(app, runner, job_id))
    return job


def get_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("No such job.", details={"job_id": job_id})
    if job.status == JobStatus.QUEUED and job.runner == "thread":
        from jobs.runners import ensure_thread_worker

        # After a restart of the embedded server, a reload of the job's page resumes the queue.
        ensure_thread_worker(current_app._get_current_object())  # type: ignore[attr-defined]
    return job


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "parameters": job.parameters,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "result": job.result,
        "error": job.error,
        "runner": job.runner,
        "created_by_id": job.created_by_id,
        "created_at": iso_utc(job.created_at),
        "started_at": iso_utc(job.started_at),
        "finished_at": iso_utc(job.finished_at),
        "updated_at": iso_utc(job.updated_at),
    }


def _claim(job_id: int) -> bool:
    """Queued -> running, atomically: two workers never run one job."""
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=utcnow(), updated_at=utcnow())
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _reason(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return str(error.message)
    if isinstance(error, JobFailed | ValueError):
        return str(error) or type(error).__name__
    if isinstance(error, MemoryError):
        return "The job ran out of memory; choose fewer administrations or ask an operator."
    return f"The job stopped on an unexpected error ({type(error).__name__}); see the server log."


def execute(job_id: int) -> str | None:
    """Run one queued job to its end in the current app context; returns its final status
    (``None`` if another worker had already claimed it)."""
    if not _claim(job_id):
        return None
    job = db.session.get(Job, job_id)
    assert job is not None
    handler = _HANDLERS.get(job.kind)
    context = JobContext(
        job_id=job.id,
        parameters=dict(job.parameters or {}),
        actor=Actor(id=job.created_by_id, role=job.created_by_role),
    )
    try:
        if handler is None:
            raise JobFailed(f"This server has no code for jobs of kind {job.kind!r}.")
        result = handler(context)
        job = db.session.get(Job, job_id)
        assert job is not None
        db.session.refresh(job, ["progress", "message"])
        job.status = JobStatus.SUCCEEDED
        job.result = result
        job.progress = 1.0
        job.finished_at = job.updated_at = utcnow()
        db.session.commit()
        return JobStatus.SUCCEEDED
    except BaseException as error:
        db.session.rollback()
        if not isinstance(error, DomainError | JobFailed | ValueError):
            logger.exception("job %s (%s) failed", job_id, context.parameters)
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.FAILED,
                error=_reason(error)[:2000],
                finished_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        db.session.commit()
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: stop the worker
            raise
        return JobStatus.FAILED


def next_queued(runner: str) -> int | None:
    return db.session.scalar(
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, Job.runner == runner)
        .order_by(Job.id)
        .limit(1)
    )


def mark_failed(job_id: int, reason: str) -> None:
    """Fail a job that was never run, through its own connection."""
    with db.engine.begin() as connection:
        connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.FAILED, error=reason, finished_at=utcnow(), updated_at=utcnow()
            )
        )


def fail_abandoned(runner: str, started_before: Any) -> int:
    """Mark jobs a stopped process left ``running`` as failed (they will not finish)."""
    count = db.session.execute(
        update(Job)
        .where(
            Job.status == JobStatus.RUNNING,
            Job.runner == runner,
            Job.started_at < started_before,
        )
        .values(
            status=JobStatus.FAILED,
            error="The server stopped while the job was running; start the job again.",
            finished_at=utcnow(),
            updated_at=utcnow(),
        )
    ).rowcount
    db.session.commit()
    return int(count or 0)
