"""An operator searches the bank, authors an item with the live student preview, edits it into
a second version, compares the versions and sends it to review."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, staff_login


def operator_login(page: Page, server: LiveServer) -> None:
    staff_login(page, server, "operator")
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


def test_operator_edits_options_and_key_without_json(page: Page, live_server: LiveServer) -> None:
    operator_login(page, live_server)
    page.get_by_role("link", name="New item").click()
    page.get_by_label("Type").select_option("single_choice")
    rows = page.get_by_test_id("choice-row")
    expect(rows).to_have_count(4)
    expect(page.get_by_label("Option B is correct")).to_be_checked()
    page.get_by_label("Option B text").fill("seven")
    page.get_by_label("Option C is correct").check()
    page.get_by_role("button", name="Add option").click()
    expect(rows).to_have_count(5)
    page.get_by_label("Option E text").fill("70")
    page.get_by_role("button", name="Remove option A").click()
    expect(rows).to_have_count(4)
    # The JSON fields follow the form, and the preview follows both.
    scoring = json.loads(page.get_by_label("Key and scoring rule (JSON)").input_value())
    assert scoring["correct"] == "C"
    content = json.loads(page.get_by_label("Other content (JSON: options, gaps, …)").input_value())
    assert [o["id"] for o in content["options"]] == ["B", "C", "D", "E"]
    preview = page.locator("[data-preview]")
    expect(preview.locator("input[type=radio]")).to_have_count(4)
    expect(preview).to_contain_text("seven")
    preview.locator("label.option", has_text="8").click()
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 1 of 1")

    page.get_by_label("Key", exact=True).fill("e2e-seven")
    page.get_by_label("Curriculum codes").fill("8350213111200000")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Edit e2e-seven")).to_be_visible()
    expect(rows).to_have_count(4)
    expect(page.get_by_label("Option C is correct")).to_be_checked()
    expect(page.get_by_label("Option B text")).to_have_value("seven")

    # Multiple response: the key is a set of checkboxes, kept in option order.
    page.get_by_role("link", name="New item").click()
    page.get_by_label("Type").select_option("multiple_response")
    expect(page.get_by_label("Option A is correct")).to_be_checked()
    page.get_by_label("Option D is correct").check()
    page.get_by_label("Option A is correct").uncheck()
    scoring = json.loads(page.get_by_label("Key and scoring rule (JSON)").input_value())
    assert scoring["correct"] == ["C", "D"]
    # Broken JSON: the form says so instead of guessing.
    page.get_by_label("Other content (JSON: options, gaps, …)").fill("{")
    expect(page.get_by_text("The JSON below does not parse")).to_be_visible()


def test_operator_exports_a_package_and_checks_it_on_import(
    page: Page, live_server: LiveServer, tmp_path
) -> None:
    operator_login(page, live_server)
    page.get_by_role("link", name="Import / export").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download QTI 3.0 package").click()
    package = tmp_path / "package.zip"
    info.value.save_as(package)
    # Checked only (the default): the whole package is read and nothing is written.
    page.get_by_label("Package", exact=True).set_input_files(str(package))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("[data-status]")).to_contain_text("Nothing was written")
    # Not a package at all: a clear refusal.
    page.get_by_label("Package", exact=True).set_input_files(
        files=[{"name": "notes.zip", "mimeType": "application/zip", "buffer": b"not a zip"}]
    )
    page.get_by_role("button", name="Import").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-kind", "error")


def test_operator_authors_a_hottext_item_in_the_json_editor(
    page: Page, live_server: LiveServer
) -> None:
    operator_login(page, live_server)
    page.get_by_role("link", name="New item").click()
    page.get_by_label("Type").select_option("hottext")
    preview = page.locator("[data-preview]")
    expect(preview.locator("button.hottext")).to_have_count(4)  # the type's example
    # Change the text and its spans in the JSON: three spans, one to choose.
    content = {
        "text": "<p>Tokyo is the {{a}} of {{b}}, not of {{c}}.</p>",
        "hottexts": [
            {"id": "a", "text": "capital"},
            {"id": "b", "text": "Japan"},
            {"id": "c", "text": "China"},
        ],
        "max_choices": 1,
        "min_choices": 0,
    }
    page.get_by_label("Other content (JSON: options, gaps, …)").fill(json.dumps(content))
    page.get_by_label("Key and scoring rule (JSON)").fill(json.dumps({"correct": ["b"]}))
    expect(preview.locator("button.hottext")).to_have_count(3)
    preview.get_by_role("button", name="Japan").click()
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 1 of 1")
    preview.get_by_role("button", name="China").click()  # one choice: the press moves it
    expect(preview.get_by_role("button", name="Japan")).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 0 of 1")
    page.get_by_label("Key", exact=True).fill("e2e-hottext")
    page.get_by_label("Curriculum codes").fill("8350213111200000")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Edit e2e-hottext")).to_be_visible()


def test_operator_authors_a_gap_match_item_in_the_json_editor(
    page: Page, live_server: LiveServer
) -> None:
    operator_login(page, live_server)
    page.get_by_role("link", name="New item").click()
    page.get_by_label("Type").select_option("gap_match")
    preview = page.locator("[data-preview]")
    expect(preview.locator("select")).to_have_count(2)  # the type's example: two gaps
    preview.get_by_label("Gap 1").select_option(label="0")
    preview.get_by_label("Gap 2").select_option(label="100")
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 1 of 1")
    preview.get_by_label("Gap 2").select_option(label="50")
    page.get_by_role("button", name="Score this answer").click()
    expect(page.locator("[data-score]")).to_have_text("Score 0.5 of 1")
    page.get_by_label("Key", exact=True).fill("e2e-gap-match")
    page.get_by_label("Curriculum codes").fill("8350213111200000")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Edit e2e-gap-match")).to_be_visible()
