"""The rater flow in Chromium, in English and Japanese: an operator asks for double marking and
assigns a lead marker; a teacher marks blind with the keyboard, the operator gives an independent
second mark, the two differ and the lead marker adjudicates; the student's result changes and the
teacher's answer history shows the rater's score. axe-core checks every state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.demo import seed_marking_practice
from cbt.models import Role
from cbt.service import create_staff_user
from delivery.models import Administration, ExamSession, ItemResponse, Result, ResultRevision
from delivery.service.rescoring import effective_scores
from item_bank.service import find_item
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import LiveServer

LEAD_EMAIL = "lead-marker@example.org"
LEAD_PASSWORD = "lead-marker-password-1"
WORDS = {
    "en": {
        "start": "Start marking",
        "first": "First mark",
        "second": "Second mark (independent)",
        "adjudication": "Adjudication",
        "save": "Save settings",
        "assign": "Assign",
        "saved": "Settings saved.",
        "assigned": "Rater assigned.",
        "history": "1.0 / 2",
    },
    "ja": {
        "start": "採点を始める",
        "first": "1人目の採点",
        "second": "2人目の採点（独立）",
        "adjudication": "裁定",
        "save": "設定を保存",
        "assign": "割り当てる",
        "saved": "設定を保存しました。",
        "assigned": "採点者を割り当てました。",
        "history": "1.0 / 2",
    },
}


@dataclass
class Site:
    server: LiveServer
    locale: str
    language: str
    administration_id: int
    essay_version: int


@pytest.fixture(params=[("live_server", "en-US"), ("live_server_ja", "ja-JP")], ids=["en", "ja"])
def site(request: pytest.FixtureRequest) -> Site:
    fixture, locale = request.param
    server = request.getfixturevalue(fixture)
    with server.app.app_context():
        seed_marking_practice(locale[:2])
        db.session.commit()
        essay = find_item("demo-essay-triangle")
        assert essay is not None
        version = essay.versions[-1].id
        administration = db.session.scalar(
            select(Administration.id)
            .join(ExamSession, ExamSession.administration_id == Administration.id)
            .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
            .where(ItemResponse.item_version_id == version)
            .limit(1)
        )
        create_staff_user(LEAD_EMAIL, "Lead Marker", Role.TEACHER, LEAD_PASSWORD)
        db.session.commit()
    return Site(server, locale, locale[:2], administration, version)


@pytest.fixture
def pages(browser: Browser, site: Site) -> Iterator[object]:
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(locale=site.locale, viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def login(page: Page, site: Site, email: str, password: str) -> None:
    page.goto(f"{site.server.url}/staff/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("#staff-login button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/staff/login$"))


def demo_login(page: Page, site: Site, role: str) -> None:
    _, email, password = next(s for s in site.server.logins.staff if s[0] == role)
    login(page, site, email, password)


def shown_code(page: Page) -> str:
    expect(page.locator("[data-code]")).not_to_be_empty()
    return page.locator("[data-code]").inner_text().split()[-1]


def theta_and_score(site: Site, code: str) -> tuple[float, float | None, int, int]:
    """The result theta, the set essay score and the revisions of the answer named ``code``."""
    from marking.service import response_code

    with site.server.app.app_context():
        secret = site.server.app.config["SECRET_KEY"]
        response = next(
            r
            for r in db.session.scalars(
                select(ItemResponse).where(ItemResponse.item_version_id == site.essay_version)
            )
            if response_code(secret, r.id) == code
        )
        session = db.session.get(ExamSession, response.exam_session_id)
        result = db.session.scalars(
            select(Result).where(Result.exam_session_id == session.id)
        ).one()
        entry = effective_scores([session.id]).get((session.id, site.essay_version))
        revisions = len(
            db.session.scalars(
                select(ResultRevision).where(ResultRevision.result_id == result.id)
            ).all()
        )
        return result.theta, None if entry is None else entry.score, revisions, session.student_id


def test_two_raters_disagree_and_the_lead_marker_decides(pages, site: Site) -> None:
    words = WORDS[site.language]
    rater_url = (
        f"{site.server.url}/marking/administrations/{site.administration_id}"
        f"/items/{site.essay_version}"
    )

    # The operator asks for every answer to be marked twice, with no tolerance, and assigns a
    # lead marker.
    operator = pages()
    demo_login(operator, site, "operator")
    operator.goto(f"{site.server.url}/marking/administrations/{site.administration_id}")
    form = operator.locator("[data-plan-form]")
    expect(form.locator("input[name=share]")).to_have_value("20")
    form.locator("input[name=share]").fill("100")
    form.locator("input[name=tolerance]").fill("0")
    form.get_by_role("button", name=words["save"]).click()
    expect(operator.locator("[data-status]")).to_have_text(words["saved"])
    assign = operator.locator("[data-assign-form]")
    assign.locator("input[name=email]").fill(LEAD_EMAIL)
    assign.locator("input[name=is_lead]").check()
    assign.get_by_role("button", name=words["assign"]).click()
    expect(operator.locator("[data-status]")).to_have_text(words["assigned"])
    expect(operator.locator("[data-assignments] tbody")).to_contain_text("Lead Marker")
    assert_accessible(operator)

    # The teacher finds the work on the marking page and marks the first answer with a key.
    teacher = pages()
    demo_login(teacher, site, "teacher")
    teacher.goto(f"{site.server.url}/marking")
    row = teacher.locator("[data-testid=marking-item]")
    expect(row).to_have_count(1)
    assert_accessible(teacher)
    row.get_by_role("link", name=words["start"]).click()
    expect(teacher).to_have_url(rater_url)
    code = shown_code(teacher)
    page_text = teacher.locator("main").inner_text()
    for _, _, name, _ in site.server.logins.students:
        assert name not in page_text  # blind: no student's name anywhere
    expect(teacher.locator("[data-answer]")).not_to_be_empty()
    expect(teacher.locator("[data-rubric] button")).to_have_count(3)
    assert_accessible(teacher)
    before, score, revisions, student_id = theta_and_score(site, code)
    assert (score, revisions) == (None, 0)
    teacher.keyboard.press("2")
    expect(teacher.locator("[data-code]")).not_to_have_text(re.compile(re.escape(code)))
    assert theta_and_score(site, code)[1] is None  # awaiting the second mark

    # The operator marks the same answer independently: the first mark is not shown.
    operator.goto(rater_url)
    assert shown_code(operator) == code
    expect(operator.locator("[data-stage]")).to_have_text(words["second"])
    expect(operator.locator("[data-marks]")).to_be_hidden()
    assert_accessible(operator)
    operator.locator('[data-rubric] button[data-points="0"]').click()
    expect(operator.locator("[data-code]")).not_to_have_text(re.compile(re.escape(code)))

    # 2 and 0 differ by more than the tolerance: the lead marker adjudicates, seeing both.
    lead = pages()
    login(lead, site, LEAD_EMAIL, LEAD_PASSWORD)
    lead.goto(rater_url)
    expect(lead.locator("[data-stage]")).to_have_text(words["adjudication"])
    assert shown_code(lead) == code
    expect(lead.locator("[data-marks]")).to_be_visible()
    expect(lead.locator("[data-marks]")).to_contain_text("2")
    assert_accessible(lead)
    lead.locator('[data-rubric] button[data-points="1"]').focus()
    lead.keyboard.press("Enter")
    # Saved: the lead marker, assigned to the whole administration, is offered a first mark next.
    expect(lead.locator("[data-stage]")).to_have_text(words["first"])
    expect(lead.locator("[data-status]")).to_contain_text(code)
    assert_accessible(lead)

    # The final mark reached the student's result, which was rescored.
    after, score, revisions, _ = theta_and_score(site, code)
    assert score == 1.0
    assert revisions == 1
    assert after != before

    # The teacher's answer history shows the rater's score.
    teacher.goto(f"{site.server.url}/teacher/students/{student_id}")
    expect(teacher.locator("[data-sessions]")).to_contain_text(words["history"])

    # The operator's agreement table counts the pair and the adjudication.
    operator.goto(f"{site.server.url}/marking/administrations/{site.administration_id}")
    item_row = operator.locator("[data-testid=agreement-item]")
    expect(item_row).to_have_count(1)
    expect(item_row.locator("td").nth(3)).to_have_text("1")  # marked twice
    expect(item_row.locator("td").nth(7)).to_have_text("1")  # adjudicated
    expect(operator.locator("[data-testid=agreement-rater]")).to_have_count(3)
    assert_accessible(operator)
