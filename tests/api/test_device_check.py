"""The device check: the public page, the ping it times and the download it measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from cbt.catalogs import ROOT
from cbt.device_check import SAMPLE_BYTES, SAMPLE_PATH


def test_ping_answers_anyone_at_once_without_the_database(
    client: FlaskClient, count_queries: list[str]
) -> None:
    response = client.get("/api/v1/ping")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert set(body) == {"ok", "server_time"}
    server_time = datetime.fromisoformat(body["server_time"])
    assert abs(datetime.now(UTC) - server_time) < timedelta(minutes=1)
    assert response.headers["Cache-Control"] == "no-store"  # every timed request reaches us
    assert count_queries == []
    assert "Set-Cookie" not in response.headers  # nothing stored for an anonymous ping


def test_ping_ignores_the_cache_busting_query_and_refuses_writes(client: FlaskClient) -> None:
    assert client.get("/api/v1/ping?n=3").get_json()["ok"] is True
    refused = client.post("/api/v1/ping", json={})
    assert 400 <= refused.status_code < 500
    assert "error" in refused.get_json()


def test_ping_is_described_in_the_api_document(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/ping"]["get"]
    assert operation["tags"] == ["Device check"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["ok", "server_time"]


def test_the_page_needs_no_login_and_speaks_both_languages(client: FlaskClient) -> None:
    english = client.get("/device-check")
    assert english.status_code == 200
    html = english.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Device check" in html
    assert 'data-ping-url="/api/v1/ping"' in html
    assert f'data-sample-bytes="{SAMPLE_BYTES}"' in html
    assert 'type="module" src="/static/js/device_check.js"' in html
    assert "script-src 'self'" in english.headers["Content-Security-Policy"]
    assert "<script>" not in html  # nothing inline (strict CSP)
    assert "style=" not in html

    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    japanese = client.get("/device-check").get_data(as_text=True)
    assert '<html lang="ja">' in japanese
    assert "端末チェック" in japanese
    assert "聞こえましたか？" in japanese


def test_the_student_login_page_links_to_the_check(client: FlaskClient) -> None:
    assert 'href="/device-check"' in client.get("/login").get_data(as_text=True)


def test_the_download_sample_has_the_size_the_page_expects(client: FlaskClient) -> None:
    response = client.get(f"/static/{SAMPLE_PATH}")
    assert response.status_code == 200
    assert len(response.data) == SAMPLE_BYTES
    assert (ROOT / "frontend" / "static" / SAMPLE_PATH).stat().st_size == SAMPLE_BYTES
    response.close()
