"""LTI 1.3 in Chromium: a platform (the test simulator) launches a student into the demo test,
the score goes back when they finish, and a teacher's deep-linking choice reaches the platform."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.audit import SYSTEM
from cbt.db import db
from cbt.demo import SCHOOL_CODE
from delivery.models import Administration, AdministrationStatus
from lti import claims as c
from lti.platforms import register_platform
from tests.e2e.conftest import start_test
from tests.unit.lti.simulator import PlatformSimulator


@pytest.fixture(scope="module")
def platform(live_server) -> Iterator[PlatformSimulator]:
    with PlatformSimulator() as simulator, live_server.app.app_context():
        register_platform(
            SYSTEM,
            name="Simulated platform",
            issuer=simulator.issuer,
            client_id=simulator.client_id,
            auth_login_url=simulator.auth_url,
            token_url=simulator.token_url,
            jwks_url=simulator.jwks_url,
            deployment_ids=[simulator.deployment_id],
            school_code=SCHOOL_CODE,
        )
        db.session.commit()
        simulator.tool_jwks = live_server.app.test_client().get("/lti/jwks.json").get_json()
        yield simulator


def _administration_id(live_server) -> int:
    with live_server.app.app_context():
        return db.session.scalars(
            select(Administration.id)
            .where(Administration.status == AdministrationStatus.OPEN)
            .order_by(Administration.id)
        ).first()


def _launch(page: Page, live_server, platform: PlatformSimulator) -> None:
    """What the platform does when a link is clicked: the login initiation, in the browser."""
    query = {
        "iss": platform.issuer,
        "login_hint": "hint",
        "target_link_uri": f"{live_server.url}/lti/launch",
        "client_id": platform.client_id,
    }
    page.goto(f"{live_server.url}/lti/login?{urlencode(query)}")


def test_platform_launch_opens_the_test_and_the_score_goes_back(
    page: Page, live_server, platform: PlatformSimulator
) -> None:
    administration_id = _administration_id(live_server)
    platform.next_launch = {
        "sub": "browser-student",
        "custom": {"administration_id": str(administration_id)},
        c.CONTEXT: {"id": "course-e2e", "title": "LTI class"},
    }
    _launch(page, live_server, platform)
    expect(page).to_have_url(re.compile(rf"/student/tests/{administration_id}$"))
    expect(page.get_by_test_id("who")).to_contain_text("Hanako Yamada")
    # The link lands on the player itself: answer until the end screen.
    start_test(page)
    end = page.get_by_role("heading", name="You have finished the test")
    either = page.locator("[data-progress]:not(:empty), [data-end]:not([hidden])")
    for _ in range(40):
        expect(either).to_be_visible()
        if end.is_visible():
            break
        label = page.locator("[data-progress]").inner_text()
        page.locator("label.option").first.click()
        page.get_by_role("button", name="Next").click()
        expect(page.locator("[data-progress]")).not_to_have_text(label)
    expect(end).to_be_visible()
    live_server.app.extensions["lti.ags"].wait()
    scores = [s for s in platform.scores if s["userId"] == "browser-student"]
    assert len(scores) == 1
    assert scores[0]["gradingProgress"] == "FullyGraded"


def test_teacher_picks_a_test_and_the_platform_gets_the_link(
    page: Page, live_server, platform: PlatformSimulator
) -> None:
    platform.next_launch = {
        "sub": "browser-teacher",
        "roles": [c.INSTRUCTOR],
        "message_type": c.DEEP_LINKING_REQUEST,
        c.CONTEXT: {"id": "course-e2e", "title": "LTI class"},
    }
    _launch(page, live_server, platform)
    expect(
        page.get_by_role("heading", name="Choose a test for your learning platform")
    ).to_be_visible()
    page.get_by_role("button", name=re.compile("^Assign")).first.click()
    # The signed answer is posted to the platform by the page itself (CSP allows that origin).
    expect(page.get_by_role("heading", name="Link created")).to_be_visible()
    [response] = platform.deep_link_responses
    [item] = response[c.CONTENT_ITEMS]
    assert item["type"] == "ltiResourceLink"
    assert item["custom"]["administration_id"].isdigit()


def test_a_forged_launch_shows_a_clear_refusal(
    page: Page, live_server, platform: PlatformSimulator
) -> None:
    platform.next_launch = {"sub": "forger", "signing_key": platform.stranger_key}
    _launch(page, live_server, platform)
    expect(page.get_by_test_id("lti-error")).to_contain_text("signature is not valid")
    expect(page.get_by_test_id("lti-error")).to_contain_text("bad_signature")
