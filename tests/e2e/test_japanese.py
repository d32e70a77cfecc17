"""The Japanese demo in a Japanese browser: pages, player, teacher pages, switch, 403 page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer


def _japanese_page(browser: Browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 768})
    return context.new_page()


def test_a_student_takes_the_japanese_demo_in_japanese(
    browser: Browser, live_server_ja: LiveServer
) -> None:
    page = _japanese_page(browser)
    _, number, name, code = live_server_ja.logins.students[2]
    page.goto(f"{live_server_ja.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_label("クラスコード").fill("DEMO-2A")
    page.get_by_label("出席番号").fill(str(number))
    page.get_by_label("ログインコード").fill(code)
    page.get_by_role("button", name="ログイン").click()
    test = page.get_by_test_id("test")
    expect(test).to_contain_text("数学（適応型）")
    expect(test).to_contain_text("最大20問")
    expect(test).to_contain_text("40分")
    expect(page.get_by_test_id("who")).to_contain_text(f"{name} (児童生徒)")
    test.get_by_role("link", name="はじめる").click()
    # The instructions first: the length, the time, and that a CAT cannot go back.
    expect(page.get_by_role("heading", name="数学（適応型）")).to_be_visible()
    expect(page.locator("[data-intro]")).to_contain_text("このテストは前の問題に戻れません")
    page.get_by_role("button", name="テストをはじめる").click()
    expect(page.locator("[data-forward-only]")).to_contain_text("このテストは前の問題に戻れません")
    expect(page.locator("[data-progress]")).to_have_text(re.compile(r"第1問（最大20問）"))
    expect(page.locator("[data-stem]")).to_contain_text(re.compile("なさい|ですか"))  # Japanese
    page.locator("label.option").first.click()
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("[data-progress]")).to_have_text(re.compile(r"第2問"))
    page.context.close()


def test_the_teacher_pages_in_japanese_and_the_switch_to_english(
    browser: Browser, live_server_ja: LiveServer
) -> None:
    page = _japanese_page(browser)
    _, email, password = next(s for s in live_server_ja.logins.staff if s[0] == "teacher")
    page.goto(f"{live_server_ja.url}/staff/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="担当クラス")).to_be_visible()
    expect(page.get_by_role("link", name="2年A組")).to_be_visible()
    page.get_by_role("link", name="進行状況").click()
    expect(page.get_by_role("heading", name=re.compile("進行状況：数学（適応型）"))).to_be_visible()
    # The test is open: Close shows, Open stays hidden ([hidden] beats button's inline-block).
    expect(page.get_by_role("button", name="テストを終了")).to_be_visible()
    expect(page.get_by_role("button", name="テストを開始")).to_be_hidden()
    # Every row has as many cells as the header has columns (the table lines up).
    header_cells = page.locator("table[data-table] thead th").count()
    first_row = page.get_by_test_id("monitor-row").first
    expect(first_row.locator("td")).to_have_count(header_cells)

    # A wrong role sees why, in Japanese, with a way home (not a silent login page).
    page.goto(f"{live_server_ja.url}/operator")
    expect(
        page.get_by_role("heading", name="このページはあなたの役割では表示できません")
    ).to_be_visible()
    page.get_by_role("link", name="自分のホームへ").click()
    expect(page.get_by_role("heading", name="担当クラス")).to_be_visible()

    # The switch: English, remembered after a reload and on the next page.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="My classes")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("heading", name="My classes")).to_be_visible()
    page.get_by_role("button", name="日本語").click()
    expect(page.get_by_role("heading", name="担当クラス")).to_be_visible()
    page.context.close()
