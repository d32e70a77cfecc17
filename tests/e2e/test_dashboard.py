"""The class dashboard (charts with text alternatives, in English and Japanese) and the 個人票
(on the page and as a downloaded PDF)."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Enrollment
from delivery.models import Administration
from tests.e2e.conftest import LiveServer
from tests.e2e.test_answer_history import answer_every_type

pytestmark = pytest.mark.e2e

CHARTS = ["chart-distribution", "chart-bands", "chart-items", "chart-mastery", "chart-trend"]


def _teacher(browser: Browser, server: LiveServer, locale: str) -> Page:
    context = browser.new_context(locale=locale, viewport={"width": 1024, "height": 900})
    page = context.new_page()
    _, email, password = next(s for s in server.logins.staff if s[0] == "teacher")
    page.goto(f"{server.url}/staff/login")
    page.locator("input[type=email]").fill(email)
    page.locator("input[type=password]").fill(password)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/teacher")
    return page


def _class_and_types(server: LiveServer, student_id: int) -> tuple[int, int]:
    with server.app.app_context():
        classroom = db.session.scalars(
            select(Enrollment.classroom_id).where(Enrollment.user_id == student_id)
        ).first()
        types = db.session.scalars(
            select(Administration.id).where(Administration.name == "Types")
        ).one()
    return classroom, types


def _check_dashboard(page: Page, titles: dict[str, str]) -> None:
    for chart_id in CHARTS:
        svg = page.locator(f"svg#{chart_id}")
        expect(svg).to_have_attribute("role", "img")
        expect(svg).to_have_attribute("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
        assert page.locator(f"#{chart_id}-desc").text_content().strip()
        caption = page.locator(f'[data-chart="{chart_id}"] figcaption')
        assert caption.inner_text().strip()
    for chart_id, title in titles.items():
        assert title in page.locator(f"#{chart_id}-title").text_content()
    # Every chart has its numbers in a table beside it.
    assert page.get_by_test_id("band-row").count() >= 1
    assert page.get_by_test_id("item-row").count() >= 9
    assert page.get_by_test_id("mastery-row").count() >= 1
    assert page.get_by_test_id("trend-row").count() == 2


def test_dashboard_in_english_then_the_report_pdf(
    browser: Browser, live_server: LiveServer
) -> None:
    student_id = answer_every_type(live_server)
    classroom, types = _class_and_types(live_server, student_id)
    page = _teacher(browser, live_server, "en-US")
    page.goto(f"{live_server.url}/teacher/classes/{classroom}")
    page.get_by_role("link", name="Dashboard (charts)").click()
    expect(page.locator("[data-dashboard]")).to_be_visible()
    page.locator("[data-administration]").select_option(str(types))
    expect(page.locator("#chart-items-desc")).to_contain_text("Questions: ")
    _check_dashboard(
        page,
        {
            "chart-distribution": "Score distribution with measurement error",
            "chart-mastery": "Mastery by curriculum code",
        },
    )
    assert "Students: 1." in page.locator("#chart-distribution-desc").text_content()

    page.goto(f"{live_server.url}/teacher/students/{student_id}/report")
    page.locator("[data-session]").select_option(index=0)
    expect(page.get_by_test_id("report-answer").first).to_be_visible()
    score_line = page.get_by_test_id("report-score").inner_text()
    assert score_line.startswith("Scale score ")
    score = score_line.split()[2]
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    body = info.value.path().read_bytes()
    assert body.startswith(b"%PDF-")
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    name = page.locator("[data-title]").inner_text().split(": ", 1)[1]
    assert name in text
    assert f"Scale score {score}" in text


def test_dashboard_in_japanese(browser: Browser, live_server_ja: LiveServer) -> None:
    student_id = answer_every_type(live_server_ja)
    classroom, types = _class_and_types(live_server_ja, student_id)
    page = _teacher(browser, live_server_ja, "ja-JP")
    page.goto(f"{live_server_ja.url}/teacher/classes/{classroom}/dashboard?administration={types}")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#chart-items-desc")).to_contain_text("問題数：")
    _check_dashboard(
        page,
        {
            "chart-distribution": "測定の誤差を含む得点の分布",
            "chart-mastery": "学習指導要領コード",
        },
    )
    assert "人数：1人" in page.locator("#chart-distribution-desc").text_content()
    expect(page.locator("h1")).to_contain_text("学級ダッシュボード")
