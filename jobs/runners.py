"""The two runners: RQ on Redis (production, ``cbt worker`` processes) and a worker thread in
the app process (the embedded one-process default). Both run :func:`jobs.service.execute`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app

from cbt.db import db, utcnow

__all__ = ["dispatch", "ensure_thread_worker", "execute_rq", "rq_queue", "stop_thread_worker"]

logger = logging.getLogger(__name__)

_EXTENSION = "cbt.jobs.thread"
_IDLE_POLL_SECONDS = 5.0
#: The longest an RQ job may run before RQ stops it (the 1,000,000 x 1,000 calibration takes
#: minutes; an hour is far beyond any honest job).
RQ_JOB_TIMEOUT = 3600


def rq_queue(app: Flask) -> Any:
    """The RQ queue of this deployment, named after ``CBT_REDIS_PREFIX``."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(app.config["REDIS_URL"])
    return Queue(f"{app.config['REDIS_PREFIX']}-jobs", connection=connection)


def dispatch(app: Flask, runner: str, job_id: int) -> None:
    """Hand a committed job to its runner."""
    if runner == "thread":
        ensure_thread_worker(app).wake.set()
        return
    from redis.exceptions import RedisError

    try:
        rq_queue(app).enqueue(
            "jobs.runners.execute_rq",
            job_id,
            job_timeout=RQ_JOB_TIMEOUT,
            result_ttl=0,
            failure_ttl=24 * 3600,
            job_id=f"{app.config['REDIS_PREFIX']}-job-{job_id}",
        )
    except RedisError:
        # The job row is committed already: say on it why it will not run.
        logger.exception("job %s: not handed to RQ", job_id)
        from jobs.service import mark_failed

        with app.app_context():
            mark_failed(job_id, "The job queue (Redis) was not reachable; start the job again.")


def execute_rq(job_id: int) -> str | None:
    """What an RQ worker runs: the job in a fresh app context of the worker's app."""
    from jobs.service import execute

    with current_app.app_context():
        return execute(job_id)


class _ThreadWorker:
    """One daemon thread that runs this process's queued ``thread`` jobs in turn."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.started_at = utcnow()
        self.thread = threading.Thread(target=self._loop, name="cbt-jobs", daemon=True)

    def _loop(self) -> None:
        from jobs.service import execute, fail_abandoned, next_queued

        with self.app.app_context():
            fail_abandoned("thread", self.started_at)
            db.session.remove()
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    job_id = next_queued("thread")
                    if job_id is not None:
                        execute(job_id)
                    db.session.remove()
                if job_id is not None:
                    continue
            except Exception:
                logger.exception("the job worker thread hit an error; it carries on")
            self.wake.wait(_IDLE_POLL_SECONDS)
            self.wake.clear()


_LOCK = threading.Lock()


def ensure_thread_worker(app: Flask) -> _ThreadWorker:
    """The app's worker thread, started on first use."""
    with _LOCK:
        worker = app.extensions.get(_EXTENSION)
        if worker is None or not worker.thread.is_alive():
            worker = _ThreadWorker(app)
            app.extensions[_EXTENSION] = worker
            worker.thread.start()
        return worker


def stop_thread_worker(app: Flask, timeout: float = 30.0) -> None:
    """Stop the worker thread after its current job (tests, shutdown)."""
    worker = app.extensions.pop(_EXTENSION, None)
    if worker is None:
        return
    worker.stopping.set()
    worker.wake.set()
    worker.thread.join(timeout)
