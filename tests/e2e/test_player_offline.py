"""The player through a network loss (issue 11, points 5 and 8; docs/offline.md).

Chromium's own offline switch (``context.set_offline``) cuts the page and its service worker
off; the answers given meanwhile must each reach the database exactly once, a reload offline
must reopen the player from the worker's cache, and no request may go to another host.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from cbt.db import db
from delivery.models import ItemResponse
from tests.e2e.conftest import LiveServer, start_test
from tests.e2e.test_student_teacher_flow import student_login

# The worker controls the page and holds its shell: the page, its code and the string catalog.
_SHELL_KEPT = """async (page) => {
  if (!navigator.serviceWorker.controller) return false;
  const cache = await caches.open("cbt-shell-v1");
  const kept = (await cache.keys()).map((request) => new URL(request.url).pathname);
  return kept.includes(page) && kept.includes("/static/js/take_test.js")
    && kept.includes("/static/js/offline.js") && kept.some((path) => path.startsWith("/i18n/"));
}"""


def record_requests(context: BrowserContext) -> list[str]:
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    return requested


def foreign(requested: list[str], server: LiveServer) -> list[str]:
    own = urlsplit(server.url).netloc
    return [
        url
        for url in requested
        if urlsplit(url).scheme not in {"data", "blob"} and urlsplit(url).netloc != own
    ]


def sitting_of(requested: list[str]) -> str:
    """The session id the player talked to (from its own requests)."""
    ids = {m.group(1) for url in requested if (m := re.search(r"/api/v1/sessions/(\w+)/", url))}
    assert len(ids) == 1, ids
    return ids.pop()


def responses_of(server: LiveServer, session_id: str) -> list[tuple[int, str]]:
    """(sequence, idempotency key) of every answer recorded for the sitting."""
    with server.app.app_context():
        rows = db.session.execute(
            select(ItemResponse.sequence, ItemResponse.idempotency_key)
            .where(ItemResponse.exam_session_id == session_id)
            .order_by(ItemResponse.sequence)
        ).all()
        db.session.rollback()
    return [tuple(row) for row in rows]


def open_the_demo_test(page: Page, server: LiveServer, index: int) -> None:
    student_login(page, server, index)
    page.get_by_role("link", name="Start").click()
    start_test(page)
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 1"))


def test_a_cat_offline_says_it_waits_for_the_network_and_resumes(
    page: Page, live_server: LiveServer
) -> None:
    requested = record_requests(page.context)
    open_the_demo_test(page, live_server, 5)
    page.locator("label.option").first.click()
    page.context.set_offline(True)
    page.get_by_role("button", name="Next").click()
    status = page.locator("[data-status]")
    expect(status).to_contain_text("No network: waiting for the connection to come back")
    expect(status).to_contain_text("Your answer is kept on this device")
    expect(page.locator("#main")).to_have_attribute("data-waiting", "true")
    page.wait_for_timeout(3000)  # a few resends fail meanwhile; none may count twice
    page.context.set_offline(False)
    # The browser's "online" ends the backoff's wait: the answer goes at once.
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    recorded = responses_of(live_server, sitting_of(requested))
    assert [sequence for sequence, _ in recorded] == [1]
    assert foreign(requested, live_server) == []


def test_a_reload_offline_reopens_the_player_from_the_worker_cache(
    page: Page, live_server: LiveServer
) -> None:
    requested = record_requests(page.context)
    open_the_demo_test(page, live_server, 6)
    player = urlsplit(page.url).path
    page.locator("label.option").first.click()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    stem = page.locator("[data-stem]").inner_text()
    page.wait_for_function(_SHELL_KEPT, arg=player, timeout=15_000)

    page.context.set_offline(True)
    page.reload()
    # The player, not the browser's error page: the question that was on screen, and why.
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    assert page.locator("[data-stem]").inner_text() == stem
    expect(page.locator("[data-status]")).to_contain_text("No network")
    page.locator("label.option").first.click()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-status]")).to_contain_text("Your answer is kept on this device")

    page.context.set_offline(False)
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 3"))
    recorded = responses_of(live_server, sitting_of(requested))
    assert [sequence for sequence, _ in recorded] == [1, 2]
    assert len({key for _, key in recorded}) == 2
    assert foreign(requested, live_server) == []
