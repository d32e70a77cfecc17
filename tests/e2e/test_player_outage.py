"""The player waits out a 503 (honouring Retry-After) and resends the answer with its key."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, Route, expect
from sqlalchemy import func, select

from cbt.db import db
from delivery.models import ItemResponse
from tests.e2e.conftest import LiveServer, start_test
from tests.e2e.test_item_types import answer_whatever_is_shown, give_all_types_to_class_2b

OUTAGE = {
    "error": {
        "code": "service_unavailable",
        "message": "The service is unavailable for a moment. Wait and try again.",
        "details": {"retry_after_seconds": 1},
    }
}


def test_player_resends_after_an_outage(page: Page, live_server: LiveServer) -> None:
    give_all_types_to_class_2b(live_server)
    keys: list[str] = []

    def two_outages_then_through(route: Route) -> None:
        keys.append(json.loads(route.request.post_data)["idempotency_key"])
        if len(keys) <= 2:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps(OUTAGE),
            )
        else:
            route.continue_()

    class_code, number, _, code = live_server.logins.students[40]
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("test").filter(has_text="Every item type").get_by_role("link").click()
    start_test(page)
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    page.route(re.compile(r".*/api/v1/sessions/[^/]+/responses$"), two_outages_then_through)
    answer_whatever_is_shown(page)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-status]")).to_contain_text("Trying again in")
    expect(page.locator("[data-status]")).to_contain_text("Your answer is kept")
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    assert len(keys) == 3  # two refused, one through
    assert len(set(keys)) == 1  # the same answer with the same key each time
    with live_server.app.app_context():
        recorded = db.session.scalar(
            select(func.count())
            .select_from(ItemResponse)
            .where(ItemResponse.idempotency_key == keys[0])
        )
    assert recorded == 1
