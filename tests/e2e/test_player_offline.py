"""The player through a network loss (issue 11, points 5 and 8; docs/offline.md).

Chromium's own offline switch (``context.set_offline``) cuts the page and its service worker
off; the answers given meanwhile must each reach the database exactly once, a reload offline
must reopen the player from the worker's cache, and no request may go to another host.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom
from delivery.definitions import create_administration, create_test_definition
from delivery.models import ItemResponse
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool
from item_bank.types import ITEM_TYPES
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


# The free part was prefetched: the snapshot on this device holds all of its questions.
_PART_KEPT = """async (count) => {
  const database = await new Promise((resolve, reject) => {
    const request = indexedDB.open("cbt-player");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const snapshots = await new Promise((resolve) => {
    const read = database.transaction("snapshots").objectStore("snapshots").getAll();
    read.onsuccess = () => resolve(read.result);
  });
  database.close();
  return snapshots.some((snapshot) => snapshot.items && snapshot.items.length === count);
}"""
OFFLINE_SECONDS = 60
PART_LENGTH = 5


def give_a_free_part_to_class_2b(server: LiveServer) -> str:
    """A linear test of five one-answer questions in one part with free navigation."""
    content, scoring = ITEM_TYPES["single_choice"].example()
    with server.app.app_context():
        versions = [
            create_item(
                key=f"offline-{number}",
                item_type="single_choice",
                content={**content, "stem": f"<p>Offline question {number}</p>"},
                scoring=scoring,
                curriculum_codes=["8350213111200000"],
                status=ItemStatus.OPERATIONAL,
            )
            for number in range(1, PART_LENGTH + 1)
        ]
        parameters = create_parameter_set(
            name="offline",
            parameters={
                version.id: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}
                for version in versions
            },
            provenance={"source": "test"},
            status=ParameterSetStatus.PUBLISHED,
        )
        create_pool(
            name="offline",
            item_version_ids=[version.id for version in versions],
            active_parameter_set_id=parameters.id,
        )
        keys = [f"offline-{number}" for number in range(1, PART_LENGTH + 1)]
        definition = create_test_definition(
            key="offline-free",
            title="Offline free part",
            pool="offline",
            parameter_set="offline",
            parameter_set_version=None,
            settings={"sections": [{"kind": "linear", "forms": [keys], "navigation": "free"}]},
            scale={"slope": 100, "intercept": 500},
        )
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == "DEMO-2B")
        ).one()
        create_administration(
            test_definition_id=definition.id,
            name="Offline",
            classroom_ids=[classroom.id],
            status="open",
        )
        db.session.commit()
    return "Offline free part"


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
    page.locator("[data-item] label.option").first.click()
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
    page.locator("[data-item] label.option").first.click()
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
    page.locator("[data-item] label.option").first.click()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-status]")).to_contain_text("Your answer is kept on this device")

    page.context.set_offline(False)
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 3"))
    recorded = responses_of(live_server, sitting_of(requested))
    assert [sequence for sequence, _ in recorded] == [1, 2]
    assert len({key for _, key in recorded}) == 2
    assert foreign(requested, live_server) == []


def test_a_free_part_goes_on_through_60_seconds_offline_and_syncs_each_answer_once(
    page: Page, live_server: LiveServer
) -> None:
    title = give_a_free_part_to_class_2b(live_server)
    requested = record_requests(page.context)
    flag_replies: list[dict] = []
    page.context.on(
        "response",
        lambda reply: (
            flag_replies.append(reply.json())
            if reply.request.method == "PUT" and reply.url.endswith("/flags") and reply.ok
            else None
        ),
    )
    student_login(page, live_server, 42)
    page.get_by_test_id("test").filter(has_text=title).get_by_role("link").click()
    start_test(page)
    number = page.locator("[data-question-number]")
    stem = page.locator("[data-item] .free-item:not([hidden]) [data-stem]")
    expect(number).to_have_text(re.compile("Question 1 of 5"))
    player = urlsplit(page.url).path
    page.wait_for_function(_SHELL_KEPT, arg=player, timeout=15_000)
    page.wait_for_function(_PART_KEPT, arg=PART_LENGTH, timeout=15_000)

    page.context.set_offline(True)
    offline_since = time.monotonic()
    state = page.locator("[data-save-state]")
    for question in (1, 2, 3):
        expect(number).to_have_text(re.compile(f"Question {question} of 5"))
        expect(stem).to_contain_text(f"Offline question {question}")
        page.locator(".free-item:not([hidden]) label.option").first.click()
        page.get_by_role("button", name="Next").click()
    expect(number).to_have_text(re.compile("Question 4 of 5"))
    expect(state).to_contain_text("Offline: 3 answers are waiting to be sent")
    expect(state).to_have_attribute("role", "status")

    # A reload with no network reopens the part where it was, the answers still waiting.
    page.reload()
    expect(number).to_have_text(re.compile("Question 4 of 5"))
    expect(stem).to_contain_text("Offline question 4")
    expect(state).to_contain_text("Offline: 3 answers are waiting to be sent")
    page.get_by_role("button", name="Flag for review").click()
    expect(page.locator("[data-flag]")).to_have_attribute("aria-pressed", "true")
    page.locator(".free-item:not([hidden]) label.option").first.click()
    page.get_by_role("button", name="Next").click()
    expect(number).to_have_text(re.compile("Question 5 of 5"))
    page.locator(".free-item:not([hidden]) label.option").first.click()
    page.get_by_role("button", name="Review and submit").click()
    expect(page.locator("[data-review-summary]")).to_contain_text("5 of 5 questions answered")
    page.get_by_role("button", name="Submit this part").click()
    page.get_by_role("button", name="Yes, submit").click()
    expect(page.locator("[data-status]")).to_contain_text("Submitting this part")
    expect(state).to_contain_text("Offline: 5 answers are waiting to be sent")
    assert responses_of(live_server, sitting_of(requested)) == []  # nothing reached the server

    page.wait_for_timeout(max(0.0, OFFLINE_SECONDS - (time.monotonic() - offline_since)) * 1000)
    page.context.set_offline(False)
    expect(page.get_by_role("heading", name="You have finished the test")).to_be_visible()
    expect(state).to_have_text("All your answers are saved.")
    recorded = responses_of(live_server, sitting_of(requested))
    assert len(recorded) == PART_LENGTH  # each answer exactly once
    assert len({key for _, key in recorded}) == PART_LENGTH
    # The flag given offline reached the server too, before the part was submitted.
    assert len(flag_replies) == 1
    fourth = [entry for entry in flag_replies[0]["section"]["items"] if entry["number"] == 4]
    assert fourth[0]["flagged"] is True
    assert foreign(requested, live_server) == []
