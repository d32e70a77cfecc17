"""Browser fixtures: the demo app served on a free port, and Debian's Chromium via playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cbt.app import create_app
from cbt.db import db
from cbt.demo import DemoLogins, seed_demo
from cbt.migrate import upgrade

CHROMIUM = os.environ.get("CBT_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session", autouse=True)
def _patient_assertions() -> None:
    # CI machines are shared and slow at times: give web-first assertions 15 s, not 5 s.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveServer:
    url: str
    logins: DemoLogins
    app: object


def staff_login(page: object, server: LiveServer, role: str) -> None:
    """Log the demo's ``role`` (teacher, researcher, operator) in on the staff login page."""
    _, email, password = next(s for s in server.logins.staff if s[0] == role)
    page.goto(f"{server.url}/staff/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def start_test(page: object) -> None:
    """Press Start on the player's instructions, shown before a new sitting (a sitting under way
    resumes at once, and a finished one shows its end screen)."""
    from playwright.sync_api import expect

    shown = page.locator(
        "[data-intro-start]:visible, [data-progress]:not(:empty), [data-end]:not([hidden])"
    )
    expect(shown.first).to_be_visible()
    start = page.locator("[data-intro-start]")
    if start.is_visible():
        start.click()


@contextmanager
def serve_demo(instance: Path, language: str) -> Iterator[LiveServer]:
    """The embedded default exactly as `cbt demo` sets it up, on 127.0.0.1 and a free port."""
    app = create_app({"INSTANCE_PATH": str(instance), "LOGIN_RATE_LIMIT": "1000 per minute"})
    with app.app_context():
        upgrade(db.engine)
        # Without the marking practice's second administration (cbt/demo/essays.py), which the
        # tests that need it seed themselves (seed_marking_practice).
        logins = seed_demo(app.config["SECRET_KEY"], language, marking_practice=False)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", logins, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The English demo: the browser tests below read English pages (Chromium's en-US)."""
    with serve_demo(tmp_path_factory.mktemp("instance"), "en") as server:
        yield server


@pytest.fixture(scope="module")
def live_server_ja(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The Japanese demo, the default of `cbt demo`."""
    with serve_demo(tmp_path_factory.mktemp("instance-ja"), "ja") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
