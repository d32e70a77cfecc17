"""The app shell: health, readiness, JSON errors and CSRF."""

from __future__ import annotations

from flask.testing import FlaskClient

from cbt.models import AuditEvent
from tests.helpers import ApiClient, row_count


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_state_store(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "state_store": "ok"},
    }


def test_readyz_reports_unreachable_state_store(client: FlaskClient, app) -> None:
    store = app.extensions["cbt.state"]
    original = store.ping

    def broken() -> bool:
        raise ConnectionError("down")

    store.ping = broken
    try:
        response = client.get("/readyz")
    finally:
        store.ping = original
    assert response.status_code == 503
    assert response.get_json()["checks"]["state_store"] == "error: ConnectionError"


def test_unknown_api_route_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    response = client.get("/api/v1/auth/student-login")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_post_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/staff-login", json={"email": "a@b.c", "password": "xxxxxxxxxxxx"}
    )
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "csrf_failed"
    assert set(error) == {"code", "message", "details"}


def test_malformed_json_is_a_clear_400_and_writes_nothing(api: ApiClient) -> None:
    before = row_count(AuditEvent)
    response = api.client.post(
        "/api/v1/auth/staff-login",
        data=b'{"email": "x@y.z", "password": ',
        headers={
            "Content-Type": "application/json",
            "X-CSRF-Token": api._headers()["X-CSRF-Token"],
        },
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert row_count(AuditEvent) == before


def test_non_json_body_is_415(api: ApiClient) -> None:
    response = api.client.post(
        "/api/v1/auth/staff-login",
        data="email=x",
        headers={"Content-Type": "text/plain", **api._headers()},
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_json_array_body_is_422(api: ApiClient) -> None:
    response = api.post("/api/v1/auth/staff-login", json=["a"])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_failed"


def test_pages_carry_csrf_token_and_constants(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf-token"' in page
    assert "item_not_presented" in page  # error codes handed to the frontend from Python


def test_index_redirects_to_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
