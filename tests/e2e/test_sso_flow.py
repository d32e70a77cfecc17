"""SSO in Chromium: the login page's button, the provider simulator and back, across origins.

The app is served on ``localhost`` and the simulator on ``127.0.0.1``, so the provider's redirect
back is a cross-site navigation: the session cookie (SameSite=Lax) must still carry the state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from cbt.app import create_app
from cbt.db import db
from cbt.migrate import upgrade
from cbt.models import Role
from cbt.service import create_classroom, create_school, create_staff_user, enroll_student
from tests.unit.sso.simulator import OidcSimulator


@dataclass
class SsoServer:
    url: str
    google: OidcSimulator


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoServer]:
    google = OidcSimulator(client_id="e2e-client", client_secret="e2e-secret")
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("sso-instance")),
            "SSO_PROVIDERS": "google",
            "SSO_GOOGLE_CLIENT_ID": google.client_id,
            "SSO_GOOGLE_CLIENT_SECRET": google.client_secret,
            "SSO_GOOGLE_METADATA_URL": google.metadata_url,
            "SSO_GOOGLE_HOSTED_DOMAIN": "school.example",
            "SSO_GOOGLE_SOURCED_ID_CLAIM": "sourced_id",
        }
    )
    with app.app_context():
        upgrade(db.engine)
        school = create_school("E2E", "E2E School")
        classroom = create_classroom(school, "1-1", 1, 2026, "E2ESSO")
        create_staff_user("teacher@school.example", "E2E Teacher", Role.TEACHER, "x" * 12, school)
        student = enroll_student(classroom, 1, "E2E Student", "AAAA-BBBB-CCCC", "k").user
        student.sourced_id = "stu-e2e"
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SsoServer(f"http://localhost:{server.server_port}", google)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        google.close()


def test_student_signs_in_with_google_from_the_login_page(page, sso_server: SsoServer) -> None:
    sso_server.google.reset(
        email="s1@school.example", email_verified=True, hd="school.example", sourced_id="stu-e2e"
    )
    page.goto(f"{sso_server.url}/login")
    page.get_by_role("link", name="Sign in with Google").click()
    expect(page).to_have_url(f"{sso_server.url}/student")
    expect(page.get_by_test_id("who")).to_contain_text("E2E Student")


def test_unknown_teacher_sees_the_refusal_page(page, sso_server: SsoServer) -> None:
    sso_server.google.reset(email="new@school.example", email_verified=True, hd="school.example")
    page.goto(f"{sso_server.url}/staff/login")
    page.get_by_role("link", name="Sign in with Google").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This account is not registered")
    expect(page.get_by_role("link", name="Staff login")).to_be_visible()


def test_staff_signs_in_with_google(page, sso_server: SsoServer) -> None:
    sso_server.google.reset(
        email="Teacher@School.example", email_verified=True, hd="school.example"
    )
    page.goto(f"{sso_server.url}/staff/login")
    page.get_by_role("link", name="Sign in with Google").click()
    expect(page).to_have_url(f"{sso_server.url}/teacher")
    expect(page.get_by_test_id("who")).to_contain_text("E2E Teacher")


def test_japanese_button(browser, sso_server: SsoServer) -> None:
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{sso_server.url}/login")
    expect(page.get_by_role("link", name="Googleでログイン")).to_be_visible()
    expect(page.get_by_role("heading", name="学校のアカウントでログイン")).to_be_visible()
    context.close()
