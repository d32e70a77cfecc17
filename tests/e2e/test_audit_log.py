"""An operator reads the audit log in the browser: the logins are there, a filter narrows the
table, the export downloads the same events as CSV, and the page reads in Japanese too."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer, staff_login


def test_operator_filters_and_exports_the_log(
    browser: Browser, page: Page, live_server: LiveServer
) -> None:
    teacher = browser.new_context().new_page()
    staff_login(teacher, live_server, "teacher")
    expect(teacher.get_by_test_id("who")).to_be_visible()
    teacher.context.close()
    staff_login(page, live_server, "operator")
    expect(page.get_by_test_id("who")).to_be_visible()
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()

    page.get_by_label("Action").fill("login")
    page.get_by_label("Action").press("Enter")  # the form submits from the keyboard
    expect(rows).to_have_count(2)  # the teacher's login and the operator's
    expect(rows.first).to_contain_text("login")

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    exported = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {row["action"] for row in exported} == {"login"}
    assert len(exported) == 2


def test_the_audit_page_in_japanese(browser: Browser, live_server_ja: LiveServer) -> None:
    page = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 768}).new_page()
    _, email, password = next(s for s in live_server_ja.logins.staff if s[0] == "operator")
    page.goto(f"{live_server_ja.url}/staff/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    page.get_by_role("link", name="監査ログ").first.click()
    expect(page.get_by_role("heading", name="監査ログ")).to_be_visible()
    expect(page.get_by_label("操作者（ユーザー ID）")).to_be_visible()
    expect(page.get_by_test_id("audit-row").first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.context.close()
