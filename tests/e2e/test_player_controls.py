"""The player shows a teacher's pause, resume, extra time and reset within seconds, keeps the
answer being chosen through a pause and a reload, warns at 5 and at 1 minute left in aria-live
regions, and says so when time is up."""

from __future__ import annotations

import json
import re
import time
from itertools import pairwise

from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom, User
from delivery.definitions import create_administration, create_test_definition
from delivery.models import ExamSession, ItemResponse, SessionStatus
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool
from item_bank.types import ITEM_TYPES
from tests.e2e.conftest import LiveServer, staff_login, start_test

WITHIN = 5_000  # a teacher's action shows on the student's screen within 5 s


def _student(browser: Browser, server: LiveServer, index: int, test: str | None = None) -> Page:
    page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    class_code, number, _, code = server.logins.students[index]
    page.goto(f"{server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    tests = page.get_by_test_id("test")
    (tests.filter(has_text=test) if test else tests.first).get_by_role("link").click()
    return page


def _session_id(server: LiveServer, index: int) -> str:
    name = server.logins.students[index][2]
    with server.app.app_context():
        return db.session.scalars(
            select(ExamSession.id)
            .join(User, User.id == ExamSession.student_id)
            .where(User.display_name == name, ExamSession.status != SessionStatus.RESET)
            .order_by(ExamSession.started_at.desc())
        ).first()


class Teacher:
    """The teacher's own browser calling the proctor API, as the monitor page's buttons do."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.page = browser.new_context().new_page()
        self.url = server.url
        staff_login(self.page, server, "teacher")
        expect(self.page.get_by_role("link", name="Live progress").first).to_be_visible()

    def act(self, session_id: str, action: str, body: dict) -> None:
        token = self.page.locator('meta[name="csrf-token"]').get_attribute("content")
        response = self.page.request.post(
            f"{self.url}/api/v1/sessions/{session_id}/{action}",
            data=body,
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        )
        assert response.status == 200, response.text()


def _timer_seconds(page: Page) -> int:
    minutes, seconds = re.search(
        r"(\d+):(\d\d)", page.locator("[data-timer]").inner_text()
    ).groups()
    return int(minutes) * 60 + int(seconds)


def test_a_pause_keeps_the_chosen_answer_through_a_reload_and_extra_time_and_reset_show(
    browser: Browser, live_server: LiveServer
) -> None:
    student = _student(browser, live_server, 6)
    # The instructions come first; the CAT says it is forward-only, there and on the player.
    expect(student.locator("[data-intro]")).to_contain_text("cannot go back")
    expect(student.locator("[data-intro]")).to_contain_text("Time limit")
    start_test(student)
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    expect(student.locator("[data-forward-only]")).to_be_visible()
    options = student.locator("[data-item] input[type=radio]")
    student.locator("label.option").nth(1).click()
    chosen = options.nth(1).get_attribute("value")
    session_id = _session_id(live_server, 6)
    teacher = Teacher(browser, live_server)

    teacher.act(session_id, "pause", {"reason": "fire drill"})
    overlay = student.get_by_role("dialog", name="Your teacher paused the test")
    expect(overlay).to_be_visible(timeout=WITHIN)
    expect(overlay.get_by_role("heading")).to_be_focused()
    expect(options.nth(1)).to_be_checked()  # still on the page, out of reach
    expect(student.locator("#item-form")).to_have_attribute("inert", "")
    # A reload while paused shows the pause again, and the choice comes back on resume.
    student.reload()
    expect(overlay).to_be_visible()
    teacher.act(session_id, "resume", {"reason": "back"})
    expect(overlay).to_be_hidden(timeout=WITHIN)
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    expect(options.nth(1)).to_be_checked()
    expect(student.locator("[data-live-polite]")).to_have_text("Your teacher resumed the test.")

    before = _timer_seconds(student)
    teacher.act(session_id, "extra-time", {"seconds": 300, "reason": "reading support"})
    expect(student.locator("[data-live-polite]")).to_contain_text(
        "Your teacher gave you more time", timeout=WITHIN
    )
    assert _timer_seconds(student) >= before + 280

    student.get_by_role("button", name="Next").click()
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    with live_server.app.app_context():
        first = db.session.scalars(
            select(ItemResponse).where(
                ItemResponse.exam_session_id == session_id, ItemResponse.sequence == 1
            )
        ).one()
        assert first.response == {"choice": chosen}  # the answer chosen before the pause

    teacher.act(session_id, "reset", {"reason": "wrong student"})
    expect(student.get_by_role("heading", name="Your teacher reset this test")).to_be_visible(
        timeout=WITHIN
    )
    expect(student.get_by_role("heading", name="Your teacher reset this test")).to_be_focused()
    expect(student.locator("[data-item]")).to_be_empty()
    expect(student.locator("#item-form")).to_be_hidden()
    expect(student.locator("[data-timer]")).to_be_hidden()
    # Start again: the instructions of a new sitting.
    student.get_by_role("link", name="Start again").click()
    expect(student.get_by_role("button", name="Start the test")).to_be_visible()
    student.context.close()
    teacher.page.context.close()


OUTAGE = {
    "error": {
        "code": "service_unavailable",
        "message": "The service is unavailable for a moment. Wait and try again.",
        "details": {"retry_after_seconds": 3},
    }
}


def test_the_poll_backs_off_in_an_outage_then_shows_the_pause(
    browser: Browser, live_server: LiveServer
) -> None:
    student = _student(browser, live_server, 7)
    start_test(student)
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    student.locator("label.option").first.click()
    polls: list[float] = []

    def outage(route: Route) -> None:
        polls.append(time.monotonic())
        route.fulfill(
            status=503,
            headers={"Retry-After": "3", "Content-Type": "application/json"},
            body=json.dumps(OUTAGE),
        )

    status_route = re.compile(r".*/api/v1/sessions/[^/]+/status$")
    student.route(status_route, outage)
    student.wait_for_timeout(10_000)
    gaps = [later - earlier for earlier, later in pairwise(polls)]
    assert len(polls) >= 2
    assert min(gaps) >= 2.9  # at least what Retry-After asked, never the 2.5 s of a calm day
    student.unroute(status_route)

    teacher = Teacher(browser, live_server)
    teacher.act(_session_id(live_server, 7), "pause", {"reason": "after the outage"})
    overlay = student.get_by_role("dialog", name="Your teacher paused the test")
    expect(overlay).to_be_visible(timeout=20_000)  # the next try, after the back-off
    expect(student.locator("[data-item] input").first).to_be_checked()
    student.context.close()
    teacher.page.context.close()


def _short_test_for_class_2b(server: LiveServer, seconds: int) -> None:
    with server.app.app_context():
        kind = ITEM_TYPES["single_choice"]
        content, scoring = kind.example()
        versions = [
            create_item(
                key=f"short-{n}",
                item_type="single_choice",
                content=content,
                scoring=scoring,
                curriculum_codes=["8350213111200000"],
                status=ItemStatus.OPERATIONAL,
            )
            for n in range(3)
        ]
        parameters = create_parameter_set(
            name="short",
            parameters={
                v.id: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0} for v in versions
            },
            provenance={"source": "test"},
            status=ParameterSetStatus.PUBLISHED,
        )
        create_pool(
            name="short",
            item_version_ids=[v.id for v in versions],
            active_parameter_set_id=parameters.id,
        )
        keys = [f"short-{n}" for n in range(3)]
        definition = create_test_definition(
            key="short",
            title="A short timed test",
            pool="short",
            parameter_set="short",
            parameter_set_version=None,
            settings={
                "sections": [
                    {
                        "kind": "linear",
                        "forms": [keys],
                        "time_limit_seconds": seconds,
                        "navigation": "forward",
                    }
                ]
            },
            scale={"slope": 100, "intercept": 500},
        )
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == "DEMO-2B")
        ).one()
        create_administration(
            test_definition_id=definition.id,
            name="Short",
            classroom_ids=[classroom.id],
            status="open",
        )
        db.session.commit()


def test_time_warnings_are_announced_once_and_time_up_is_told(
    browser: Browser, live_server: LiveServer
) -> None:
    _short_test_for_class_2b(live_server, 66)
    student = _student(browser, live_server, 41, test="A short timed test")
    expect(student.locator("[data-intro]")).to_contain_text("1 minute 6 seconds")
    start_test(student)
    polite = student.locator("[data-live-polite]")
    assertive = student.locator("[data-live-assertive]")
    expect(polite).to_have_attribute("aria-live", "polite")
    expect(assertive).to_have_attribute("aria-live", "assertive")
    expect(polite).to_contain_text("Less than 5 minutes left")
    expect(assertive).to_contain_text("Less than 1 minute left", timeout=15_000)
    expect(student.locator("[data-notice]")).to_contain_text("Less than 1 minute left")
    expect(student.locator("[data-timer]")).to_have_attribute("data-warning", "urgent")
    student.locator("label.option").first.click()

    # After a reload the clock is the server's, and a warning already given is not given again.
    student.reload()
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    expect(student.locator("[data-timer]")).to_have_attribute("data-warning", "urgent")
    assert _timer_seconds(student) <= 60
    student.wait_for_timeout(1_500)
    expect(assertive).to_be_empty()
    expect(student.locator("[data-item] input").first).to_be_checked()  # the choice is kept

    end = student.get_by_role("heading", name="You have finished the test")
    expect(end).to_be_visible(timeout=75_000)
    # The choice on screen was never sent: the notice says so instead of claiming it was saved.
    expect(assertive).to_contain_text(
        "Time is up. The answers you sent were saved; the one on screen had not been sent."
    )
    expect(student.locator("[data-notice]")).to_contain_text("The test is over.")
    expect(student.locator("[data-end]")).to_contain_text("You may now close this window")
    student.context.close()


def test_the_pause_and_the_forward_only_line_in_japanese(
    browser: Browser, live_server_ja: LiveServer
) -> None:
    page = browser.new_context(locale="ja-JP", viewport={"width": 360, "height": 640}).new_page()
    class_code, number, _, code = live_server_ja.logins.students[3]
    page.goto(f"{live_server_ja.url}/login")
    page.get_by_label("クラスコード").fill(class_code)
    page.get_by_label("出席番号").fill(str(number))
    page.get_by_label("ログインコード").fill(code)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_test_id("test").first.get_by_role("link").click()
    expect(page.locator("[data-intro]")).to_contain_text("制限時間")
    page.get_by_role("button", name="テストをはじめる").click()
    expect(page.locator("[data-forward-only]")).to_have_text("このテストは前の問題に戻れません。")
    page.locator("label.option").first.click()

    teacher = Teacher(browser, live_server_ja)
    session_id = _session_id(live_server_ja, 3)
    teacher.act(session_id, "pause", {"reason": "避難訓練"})
    expect(page.get_by_role("dialog", name="先生が一時停止しました")).to_be_visible(timeout=WITHIN)
    teacher.act(session_id, "resume", {})
    expect(page.locator("[data-live-polite]")).to_have_text(
        "先生がテストを再開しました。", timeout=WITHIN
    )
    expect(page.locator("[data-item] input").first).to_be_checked()
    page.context.close()
    teacher.page.context.close()
