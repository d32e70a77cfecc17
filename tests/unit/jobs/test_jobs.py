"""Background jobs: the job row's life (queued, running, succeeded or failed with a reason, its
progress) under both runners: the in-process worker thread and RQ on the real Redis."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor
from cbt.config import ConfigError
from cbt.db import db, utcnow
from cbt.errors import NotFound, ValidationError
from jobs import JobContext, JobFailed, JobStatus, enqueue, get_job, job_dict, register
from jobs.models import Job
from jobs.runners import rq_queue, stop_thread_worker
from tests.conftest import empty_database, make_test_app

REDIS_URL = os.environ.get("CBT_JOBS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SEEN: list[dict[str, Any]] = []


@register("test.add")
def _add(context: JobContext) -> dict[str, Any]:
    context.progress(0.5, "half way", force=True)
    # Read through another connection: the progress is committed, not just in this session.
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Job.progress, Job.status, Job.message).where(Job.id == context.job_id)
        ).one()
    SEEN.append({"progress_row": row._asdict()})
    return {"sum": context.parameters["a"] + context.parameters["b"], "actor": context.actor.id}


@register("test.refuse")
def _refuse(context: JobContext) -> dict[str, Any]:
    raise JobFailed("The chosen administrations have no responses.")


@register("test.crash")
def _crash(context: JobContext) -> dict[str, Any]:
    {}["missing"]
    return {}


def _wait(app: Flask, job_id: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            row = job_dict(get_job(job_id))
            db.session.remove()
        if row["status"] in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return row
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {row}")


@pytest.fixture
def thread_app(app: Flask) -> Iterator[Flask]:
    app.config["JOBS_RUNNER"] = "thread"
    yield app
    stop_thread_worker(app)


def _start(app: Flask, kind: str, parameters: dict[str, Any]) -> int:
    with app.app_context():
        job = enqueue(kind, parameters, actor=Actor(id=None, role="researcher"))
        assert job.status == JobStatus.QUEUED
        db.session.commit()  # the runner gets the job only now
        job_id = job.id
        db.session.remove()
    return job_id


def test_the_thread_runner_runs_a_job_and_keeps_its_progress_and_result(thread_app: Flask) -> None:
    SEEN.clear()
    job_id = _start(thread_app, "test.add", {"a": 2, "b": 3})
    row = _wait(thread_app, job_id)
    assert row["status"] == "succeeded", row
    assert row["runner"] == "thread"
    assert row["result"] == {"sum": 5, "actor": None}
    assert row["progress"] == 1.0
    assert row["message"] == "half way"  # the last progress message stays on the row
    assert row["started_at"]
    assert row["finished_at"]
    # While it ran, the progress was already committed on the row (a reload would show it).
    assert SEEN[0]["progress_row"]["progress"] == 0.5
    assert SEEN[0]["progress_row"]["status"] == "running"


def test_a_refused_job_says_why_and_a_crash_does_not_show_a_traceback(thread_app: Flask) -> None:
    refused = _wait(thread_app, _start(thread_app, "test.refuse", {}))
    assert refused["status"] == "failed"
    assert refused["error"] == "The chosen administrations have no responses."
    crashed = _wait(thread_app, _start(thread_app, "test.crash", {}))
    assert crashed["status"] == "failed"
    assert "KeyError" in crashed["error"]
    assert "Traceback" not in crashed["error"]
    assert "server log" in crashed["error"]


def test_a_rolled_back_job_never_runs_and_unknown_kinds_are_refused(thread_app: Flask) -> None:
    with thread_app.app_context():
        job = enqueue("test.add", {"a": 1, "b": 1}, actor=Actor())
        job_id = job.id
        db.session.rollback()
        with pytest.raises(NotFound):
            get_job(job_id)
        with pytest.raises(ValidationError, match="Unknown job kind"):
            enqueue("no.such.kind", {}, actor=Actor())


def test_a_job_left_running_by_a_stopped_server_is_failed_on_restart(thread_app: Flask) -> None:
    with thread_app.app_context():
        job = Job(kind="test.add", parameters={}, runner="thread", status=JobStatus.RUNNING)
        job.started_at = job.updated_at = utcnow()
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    time.sleep(0.01)
    _wait(thread_app, _start(thread_app, "test.add", {"a": 0, "b": 0}))
    with thread_app.app_context():
        row = job_dict(get_job(job_id))
    assert row["status"] == "failed"
    assert "stopped while the job was running" in row["error"]


def test_the_runner_setting_is_checked(tmp_path, database_url: str) -> None:
    with pytest.raises(ConfigError, match="JOBS_RUNNER"):
        make_test_app(database_url, tmp_path, JOBS_RUNNER="celery")
    with pytest.raises(ConfigError, match="needs CBT_REDIS_URL"):
        make_test_app(database_url, tmp_path, JOBS_RUNNER="rq", REDIS_URL=None)


@pytest.fixture
def rq_app(database_url: str, tmp_path) -> Iterator[Flask]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    # A queue of its own (the prefix names it), so other runs sharing this Redis are untouched.
    app = make_test_app(
        database_url,
        tmp_path,
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=f"cbt-jobs-test-{uuid.uuid4().hex[:8]}",
        JOBS_RUNNER="auto",
    )
    yield app
    queue = rq_queue(app)
    queue.delete(delete_jobs=True)
    with app.app_context():  # empty it and close its pool, as the app fixture does
        db.session.remove()
        empty_database()
        db.engine.dispose()


def test_the_rq_runner_hands_jobs_to_an_rq_worker(rq_app: Flask) -> None:
    from rq import SimpleWorker

    ok = _start(rq_app, "test.add", {"a": 20, "b": 22})
    refused = _start(rq_app, "test.refuse", {})
    queue = rq_queue(rq_app)
    assert queue.count == 2
    with rq_app.app_context():
        assert job_dict(get_job(ok))["runner"] == "rq"
        assert job_dict(get_job(ok))["status"] == "queued"
        # What `cbt worker --burst` does: run what is queued in this process, then stop.
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        db.session.remove()
    done = _wait(rq_app, ok, timeout=5)
    assert done["status"] == "succeeded"
    assert done["result"]["sum"] == 42
    failed = _wait(rq_app, refused, timeout=5)
    assert failed["status"] == "failed"
    assert failed["error"] == "The chosen administrations have no responses."


def test_cbt_worker_burst_runs_the_queue(rq_app: Flask) -> None:
    job_id = _start(rq_app, "test.add", {"a": 1, "b": 2})
    runner = rq_app.test_cli_runner()
    from jobs.cli import worker_command

    result = runner.invoke(worker_command, ["--burst"])
    assert result.exit_code == 0, result.output
    assert _wait(rq_app, job_id, timeout=5)["result"]["sum"] == 3
