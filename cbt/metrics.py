"""Prometheus metrics: request rate and latency per route, errors, sittings, waiting room, pool.

Exposed at ``GET /metrics`` in Prometheus' text format (docs/observability.md). The route label
is the URL *rule* (``/api/v1/sessions/<int:session_id>/responses``), never the raw path, and a
request that matches no rule is counted under ``<unmatched>``: no client can create new series.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
(before the workers start) and use ``cbt.gunicorn_conf``: each worker writes its samples to
memory-mapped files there, and a scrape of any worker adds them up.

Other packages publish through the small functions here, for example the waiting room calls
:func:`set_waiting_room_length` whenever it measures the queue.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: Label of every request that matched no URL rule (404s, 405s on unknown paths).
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
#: Seconds a scrape reuses the count of active sittings (one indexed COUNT per interval).
ACTIVE_SITTINGS_CACHE_SECONDS = 10.0

REQUESTS = Counter(
    "cbt_http_requests",
    "HTTP requests served, by route (URL rule), method and status class (2xx, 4xx, 5xx...).",
    ("route", "method", "status_class"),
)
LATENCY = Histogram(
    "cbt_http_request_duration_seconds",
    "Time from the request reaching the app to its reply, commit included, by route.",
    ("route", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ACTIVE_SITTINGS = Gauge(
    "cbt_active_sittings",
    "Exam sessions in status active (counted in the database at scrape time).",
    multiprocess_mode="mostrecent",
)
WAITING_ROOM_LENGTH = Gauge(
    "cbt_waiting_room_length",
    "Students waiting in the admission queue, as last measured by the waiting room.",
    multiprocess_mode="mostrecent",
)
POOL_CHECKED_OUT = Gauge(
    "cbt_db_pool_checked_out",
    "Database connections checked out of the pools now (summed over live workers).",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "cbt_db_pool_size",
    "Connections each pool keeps (pool_size), summed over live workers.",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW_LIMIT = Gauge(
    "cbt_db_pool_max_overflow",
    "Connections a pool may open beyond its size (max_overflow), summed over live workers.",
    multiprocess_mode="livesum",
)


def set_waiting_room_length(n: int) -> None:
    """Publish the length of the admission queue (the waiting room calls this)."""
    WAITING_ROOM_LENGTH.set(max(0, int(n)))


def route_label(rule: str | None) -> str:
    """The route label of a request: its URL rule, or ``<unmatched>``."""
    return rule if rule else UNMATCHED


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one finished request and its latency."""
    method = method if method in _METHODS else "OTHER"
    REQUESTS.labels(route, method, status_class(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


class MetricsMiddleware:
    """WSGI middleware timing every request from its arrival to the return of its body.

    The route is read from the environ, where a before-request hook puts the matched rule, so
    the label never depends on the raw path.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        seen: list[int] = []

        def _start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            seen.append(int(status[:3]))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, _start_response)
        finally:
            observe_request(
                route_label(environ.get("cbt.route")),
                environ.get("REQUEST_METHOD", "OTHER"),
                seen[-1] if seen else 500,
                time.perf_counter() - started,
            )


def _remember_route() -> None:
    rule = request.url_rule
    request.environ["cbt.route"] = rule.rule if rule is not None else None


def _instrument_pools(app: Flask) -> None:
    """Pool gauges follow checkout and checkin events (no work at scrape time)."""
    from sqlalchemy import event
    from sqlalchemy.pool import QueuePool

    with app.app_context():
        engines = app.extensions["sqlalchemy"].engines.values()
        for engine in engines:
            pool = engine.pool
            if isinstance(pool, QueuePool):
                POOL_SIZE.inc(pool.size())
                POOL_OVERFLOW_LIMIT.inc(max(0, pool._max_overflow))  # no public accessor
            event.listen(pool, "checkout", lambda *_: POOL_CHECKED_OUT.inc())
            event.listen(pool, "checkin", lambda *_: POOL_CHECKED_OUT.dec())


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _allowed(token: str | None) -> bool:
    """A bearer token when one is configured; otherwise only a loopback client."""
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in _LOOPBACK


def init_metrics(app: Flask, active_sittings: Callable[[], int] | None = None) -> None:
    """Instrument ``app`` and add ``GET /metrics``.

    ``active_sittings`` counts the active sittings; it is called at most once per
    :data:`ACTIVE_SITTINGS_CACHE_SECONDS` per process, when a scrape comes.
    """
    app.before_request(_remember_route)
    app.wsgi_app = MetricsMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    _instrument_pools(app)
    token = app.config.get("METRICS_TOKEN")
    last_count = [-float("inf")]

    def metrics() -> Response:
        if not _allowed(token):
            from cbt.errors import Forbidden

            raise Forbidden(
                "Metrics are served to loopback clients or with the metrics bearer token."
            )
        now = time.monotonic()
        if active_sittings is not None and now - last_count[0] >= ACTIVE_SITTINGS_CACHE_SECONDS:
            ACTIVE_SITTINGS.set(active_sittings())
            last_count[0] = now
        return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
