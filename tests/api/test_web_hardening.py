"""Security headers, cookie flags, server-side logout and expiry, sanitised student texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from cbt.config import load_settings
from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from item_bank.rendering import sanitise_html
from item_bank.service import clean_accessibility, student_view
from tests.helpers import ApiClient

PASSWORD = "staff-password-1"
TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"


def _login(app: Flask) -> ApiClient:
    create_staff_user("t@hard.example", "Teacher", Role.TEACHER, PASSWORD)
    db.session.commit()
    api = ApiClient(app.test_client())
    assert api.login_staff("t@hard.example", PASSWORD).status_code == 200
    return api


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/csrf", "/healthz", "/api/v1/nothing"])
def test_every_reply_carries_the_security_headers(client, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert "media-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_templates_hold_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text, template.name
        assert " style=" not in text, template.name
        for chunk in text.split("<script")[1:]:
            opening = chunk.split(">", 1)[0]
            # Only external modules and inert JSON data blocks.
            assert "src=" in opening or 'type="application/json"' in opening, template.name


def test_secure_cookies_by_default_in_production(tmp_path: Path) -> None:
    production = {
        "ENV": "production",
        "SECRET_KEY": "x" * 32,
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "db.sqlite3"),
    }
    assert load_settings(production, str(tmp_path), environ={})["SESSION_COOKIE_SECURE"] is True
    development = load_settings({}, str(tmp_path), environ={})
    assert development["SESSION_COOKIE_SECURE"] is False
    explicit = {**production, "SESSION_COOKIE_SECURE": "false"}
    assert load_settings(explicit, str(tmp_path), environ={})["SESSION_COOKIE_SECURE"] is False


def test_logout_makes_the_cookie_useless(app: Flask) -> None:
    api = _login(app)
    cookie = api.client.get_cookie("cbt_session").value
    assert api.get("/api/v1/me").status_code == 200
    assert api.post("/api/v1/auth/logout").status_code == 200
    # A copy of the old cookie, replayed by another client, signs nobody in.
    thief = app.test_client()
    thief.set_cookie("cbt_session", cookie)
    response = thief.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "authentication_required"


def test_an_expired_login_is_refused_even_if_the_cookie_was_refreshed(app: Flask) -> None:
    api = _login(app)
    with api.client.session_transaction() as session:
        session["exp"] = 1  # long past, while the signature itself is fresh
    assert api.get("/api/v1/me").status_code == 401


def test_read_aloud_is_sanitised_on_save_and_on_display() -> None:
    hostile = 'Read this <img src=x onerror="alert(1)"><script>alert(2)</script>'
    saved = clean_accessibility({"read_aloud": hostile})["read_aloud"]
    assert "<" not in saved
    assert "onerror" not in saved
    assert saved.startswith("Read this")
    content = {"stem": "<p>2 + 2</p>", "options": [{"id": "A", "text": "4"}]}
    view = student_view("single_choice", content, accessibility={"read_aloud": hostile})
    assert "<" not in view["accessibility"]["read_aloud"]


def test_items_cannot_pull_external_images() -> None:
    cleaned = sanitise_html(
        '<p><img src="https://tracker.example/p.png"><img src="/api/v1/media/ab"></p>'
    )
    assert "tracker.example" not in cleaned
    assert "/api/v1/media/ab" in cleaned
