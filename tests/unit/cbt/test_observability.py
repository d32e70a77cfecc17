"""/metrics, request ids and JSON log lines (docs/observability.md)."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from cbt import metrics
from cbt.db import db
from cbt.logs import JsonFormatter, RequestIdFilter, request_id_from
from tests.conftest import make_test_app


def scrape(client: FlaskClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: dict, name: str) -> set[frozenset]:
    return {labels for (sample, labels) in samples if sample == name}


def test_requests_are_counted_and_timed_by_url_rule(client: FlaskClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    client.get("/api/v1/nothing-here")
    after = scrape(client)
    ok = {"route": "/healthz", "method": "GET", "status_class": "2xx"}
    assert value(after, "cbt_http_requests_total", **ok) - value(
        before, "cbt_http_requests_total", **ok
    ) == pytest.approx(3)
    timed = {"route": "/healthz", "method": "GET"}
    count = "cbt_http_request_duration_seconds_count"
    assert value(after, count, **timed) - value(before, count, **timed) == pytest.approx(3)
    missing = {"route": "<unmatched>", "method": "GET", "status_class": "4xx"}
    assert value(after, "cbt_http_requests_total", **missing) >= 1


def test_route_label_is_the_rule_not_the_path(client: FlaskClient) -> None:
    client.get("/api/v1/administrations/12345/sessions")  # GET on a POST route: 405
    client.post("/api/v1/sessions/777/responses", json={})  # no CSRF token: 403
    samples = scrape(client)
    routes = {dict(labels)["route"] for labels in series(samples, "cbt_http_requests_total")}
    assert "/api/v1/sessions/<string:session_id>/responses" in routes
    assert not any("777" in route or "12345" in route for route in routes)


def test_random_paths_do_not_create_series(client: FlaskClient) -> None:
    client.get(f"/{uuid.uuid4().hex}")
    before = series(scrape(client), "cbt_http_requests_total")
    for _ in range(20):
        assert client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}").status_code == 404
        client.post(f"/api/v1/{uuid.uuid4().hex}", json={})
    after = series(scrape(client), "cbt_http_requests_total")
    new = {dict(labels)["route"] for labels in after - before}
    assert new <= {"<unmatched>", "/metrics"}, new


def test_gauges_for_waiting_room_sittings_and_pool(client: FlaskClient) -> None:
    metrics.set_waiting_room_length(42)
    samples = scrape(client)
    assert value(samples, "cbt_waiting_room_length") == 42
    assert value(samples, "cbt_active_sittings") >= 0
    assert ("cbt_active_sittings", frozenset()) in samples
    assert ("cbt_db_pool_checked_out", frozenset()) in samples
    metrics.set_waiting_room_length(-3)
    assert metrics.WAITING_ROOM_LENGTH._value.get() == 0


def test_metrics_refuse_a_client_beyond_loopback(client: FlaskClient) -> None:
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_metrics_with_a_bearer_token(database_url: str, tmp_path) -> None:
    app: Flask = make_test_app(database_url, tmp_path, METRICS_TOKEN="s3cret-scraper-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 403  # loopback is not enough then
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong).status_code == 403
    right = {"Authorization": "Bearer s3cret-scraper-token"}
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", headers=right, environ_base=remote).status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})
    assert given.headers["X-Request-ID"] == "lb-1234abcd"
    fresh = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" {"level": "ERROR"}'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    assert request_id_from("a" * 129) != "a" * 129
    # Every reply has one, errors included.
    assert client.get("/api/v1/nothing-here").headers["X-Request-ID"]


def test_log_lines_are_json_with_the_request_id(app: Flask, client: FlaskClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("cbt.test_observability")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    @app.get("/_log_twice")
    def _log_twice() -> str:
        logger.info("first %s", "line", extra={"student": 7})
        logger.warning("second")
        return "ok"

    try:
        response = client.get("/_log_twice", headers={"X-Request-ID": "req-42"})
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["first line", "second", "outside"]
    assert [line["request_id"] for line in lines] == ["req-42", "req-42", None]
    assert lines[0]["student"] == 7
    assert lines[0]["level"] == "INFO"
    assert lines[1]["logger"] == "cbt.test_observability"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["ts"])


def test_an_internal_error_names_its_request_id(app: Flask, client: FlaskClient) -> None:
    @app.get("/api/v1/_boom")
    def _boom() -> str:
        raise RuntimeError("boom")

    response = client.get("/api/v1/_boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.get_json()["error"]["details"] == {"request_id": "trace-me"}
    samples = scrape(client)
    failed = {"route": "/api/v1/_boom", "method": "GET", "status_class": "5xx"}
    assert value(samples, "cbt_http_requests_total", **failed) == 1


def test_exceptions_are_logged_as_one_json_object() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exc_info"]


def test_grafana_dashboard_uses_only_metrics_we_export(client: FlaskClient) -> None:
    from pathlib import Path

    client.get("/healthz")  # so the labelled families have samples
    metrics.set_waiting_room_length(0)

    path = Path(__file__).parents[3] / "docs" / "grafana-dashboard.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bcbt_[a-z_]+", expr)}
    exported = set()
    for metric in (
        metrics.REQUESTS,
        metrics.LATENCY,
        metrics.ACTIVE_SITTINGS,
        metrics.WAITING_ROOM_LENGTH,
        metrics.POOL_CHECKED_OUT,
        metrics.POOL_SIZE,
        metrics.POOL_OVERFLOW_LIMIT,
    ):
        for family in metric.collect():
            exported |= {sample.name for sample in family.samples} | {family.name}
    assert used
    assert used <= exported, used - exported
