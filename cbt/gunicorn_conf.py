"""gunicorn settings for production.

    gunicorn -c python:cbt.gunicorn_conf 'cbt.app:create_app()'

What it adds to gunicorn's defaults (override any of them on the command line):

- Prometheus multi-process mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set, the directory is
  emptied when the master starts and a dead worker's live gauges are dropped, so ``/metrics``
  on any worker reports the sum over the live ones (docs/observability.md).
- Each worker compiles the open administrations' published forms as it starts, in a background
  thread (``post_worker_init``): it serves at once, and a failure only loses the warm-up.
- JSON lines for gunicorn's own error log, and an access log line that carries the request id
  (the ``X-Request-ID`` reply header) and the time taken in microseconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("CBT_GUNICORN_THREADS", "4"))
keepalive = 5
accesslog = os.environ.get("CBT_ACCESS_LOG", "-") or None
access_log_format = (
    '{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "bytes": "%(B)s", '
    '"micros": %(D)s, "request_id": "%({x-request-id}o)s"}'
)
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cbt.logs.JsonFormatter"}},
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
        # The access line is already JSON (access_log_format): written as it is.
        "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    # gunicorn merges this dict over its defaults key by key: the root logger must be given.
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """Empty the multi-process directory: files of an earlier run would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for path in Path(directory).glob("*.db"):
            path.unlink()


def post_worker_init(worker: Any) -> None:
    """Start compiling the open administrations' forms (cbt.app.start_warm_up); returns at
    once, so the worker's readiness never waits for it."""
    try:
        from cbt.app import start_warm_up

        start_warm_up(getattr(worker, "wsgi", None))
    except Exception:  # never keep a worker from serving
        worker.log.warning("Worker warm-up not started.", exc_info=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
