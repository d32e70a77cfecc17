"""An operator searches the bank, authors an item with the live student preview, edits it into
a second version, compares the versions and sends it to review."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer


def operator_login(page: Page, server: LiveServer) -> None:
    _, email, password = next(s for s in server.logins.staff if s[0] == "operator")
    page.goto(f"{server.url}/staff/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Item bank")).to_be_visible()


def test_operator_searches_the_bank(page: Page, live_server: LiveServer) -> None:
    operator_login(page, live_server)
    rows = page.get_by_test_id("item-row")
    expect(rows).to_have_count(50)  # the first page of the demo bank
    expect(page.locator("[data-total]")).to_contain_text("288 items match")
    page.get_by_label("Curriculum code").fill("8350233")  # grade 9 (中学3年), section 内容
    page.get_by_role("button", name="Search").click()
    expect(page.locator("[data-total]")).not_to_contain_text("288")
    for code in rows.locator("td:nth-child(5)").all_inner_texts()[:10]:
        assert code.startswith("8350233")
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_role("button", name="First page")).to_be_visible()


def test_operator_authors_previews_revises_and_submits_an_item(
    page: Page, live_server: LiveServer
) -> None:
    operator_login(page, live_server)
    page.get_by_role("link", name="New item").click()
    expect(page.get_by_role("heading", name="New item")).to_be_visible()
    page.get_by_label("Type").select_option("multiple_response")
    preview = page.locator("[data-preview]")
    expect(preview.locator("input[type=checkbox]")).to_have_count(4)
    page.get_by_label("Key", exact=True).fill("e2e-primes")
    page.get_by_label("Curriculum codes").fill("8350213111200000")
    # Answer in the preview as a student would, then try the key.
    preview.locator("label.option", has_text="2").first.click()
    preview.locator("label.option", has_text="7").click()
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 1 of 1")
    preview.locator("label.option", has_text="9").click()
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 0.5 of 1")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", name="Edit e2e-primes")).to_be_visible()
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    # The preview follows the stem as it is typed.
    page.get_by_label("Stem (HTML; ruby allowed)").fill(
        "<p>Which are <ruby>素数<rt>そすう</rt></ruby>?</p><script>alert(1)</script>"
    )
    expect(preview.locator("[data-stem]")).to_contain_text("Which are")
    expect(preview.locator("ruby rt")).to_have_text("そすう")
    expect(preview.locator("script")).to_have_count(0)
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("[data-item-form] [data-status]")).to_have_text("Saved as version 2.")
    expect(page.get_by_test_id("history-row")).to_have_count(2)
    page.get_by_role("button", name="Show changes").click()
    expect(page.get_by_test_id("diff-row").filter(has_text="content.stem")).to_be_visible()

    page.get_by_role("button", name="Move to review").click()
    expect(page.locator("[data-latest-status]")).to_have_text("review")
    expect(page.get_by_role("button", name="Move to pretest")).to_be_visible()
    page.screenshot(
        path=str(live_server.app.instance_path) + "/operator-editor.png", full_page=True
    )


def test_bad_content_shows_a_clear_message(page: Page, live_server: LiveServer) -> None:
    operator_login(page, live_server)
    page.goto(f"{live_server.url}/operator/items/new")
    page.get_by_label("Other content (JSON: options, gaps, …)").fill('{"options": [}')
    expect(page.locator("[data-preview-error]")).to_contain_text("not a JSON object")
    page.get_by_label("Other content (JSON: options, gaps, …)").fill('{"options": []}')
    expect(page.locator("[data-preview-error]")).to_contain_text(re.compile("options"))
    page.get_by_label("Key", exact=True).fill("bad key")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").first).not_to_be_empty()
