"""An operator makes a pool and defines a CAT on the pages, gives it to one class, opens it and
re-publishes its form; a student of that class then finds the test on their page, and one of
another class does not. Everything the operator does is on the pages (only the researcher's draft
parameter set is seeded directly)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom
from item_bank.models import ItemVersion
from item_bank.service import create_parameter_set
from tests.e2e.conftest import LiveServer, staff_login

# Every visible form control has a label (a programmatic name), and every aria-describedby
# points at an element that exists.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map((e) => e.name || e.id)"""
BROKEN_REFERENCES = """() => [...document.querySelectorAll('[aria-describedby]')]
  .flatMap((e) => e.getAttribute('aria-describedby').split(/\\s+/))
  .filter((id) => !document.getElementById(id))"""


def assert_accessible_form(page: Page) -> None:
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate(BROKEN_REFERENCES) == []


def student_sees(page: Page, server: LiveServer, index: int) -> list[str]:
    class_code, number, _, code = server.logins.students[index]
    page.goto(f"{server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My tests")).to_be_visible()
    expect(page.get_by_test_id("test").first).to_be_visible()
    return page.get_by_test_id("test").all_inner_texts()


def add_draft_parameter_set(server: LiveServer) -> None:
    """A researcher's unpublished recalibration, as the page must show it: listed, not usable."""
    with server.app.app_context():
        version_id = db.session.scalar(select(ItemVersion.id).limit(1))
        create_parameter_set(
            name="recalibration-draft",
            parameters={version_id: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}},
            provenance={"source": "e2e"},
        )
        db.session.commit()


def test_operator_sets_up_and_opens_an_administration_a_student_then_sees(
    browser, live_server: LiveServer
) -> None:
    add_draft_parameter_set(live_server)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
    )
    staff_login(page, live_server, "operator")
    expect(page.get_by_role("heading", name="Item bank")).to_be_visible()

    # -- a CAT test definition ----------------------------------------------------------------
    page.get_by_role("link", name="Test definitions").click()
    expect(page.get_by_role("heading", name="Test definitions", level=1)).to_be_visible()
    expect(page.get_by_test_id("test-row")).to_have_count(1)  # the demo's own CAT
    # A pool of every operational item, scored by the demo's published parameter set.
    page.get_by_text("New item pool").click()
    page.get_by_label("Pool name").fill("e2e-pool")
    page.get_by_label("Active parameter set (optional)").select_option(label="demo-mathematics v1")
    page.get_by_role("button", name="Count matching items").click()
    expect(page.locator("[data-pool-count]")).to_have_text("288 items match")
    page.get_by_role("button", name="Create pool").click()
    expect(page.locator("[data-pool-status]")).to_have_text("Created pool e2e-pool with 288 items.")
    expect(page.get_by_test_id("pool-row").filter(has_text="e2e-pool")).to_contain_text("288")

    page.get_by_label("Key", exact=True).fill("e2e-cat")
    page.get_by_label("Title (students see it)").fill("E2E adaptive check")
    page.locator("#t-pool").select_option("e2e-pool")
    # The pool's active parameter set is published, so it is chosen for the operator.
    expect(page.locator("#t-parameters")).not_to_have_value("")
    expect(page.get_by_label("CAT (adaptive")).to_be_checked()
    draft = page.locator("#t-parameters option", has_text="recalibration-draft")
    expect(draft).to_be_disabled()
    expect(draft).to_contain_text("draft, not available until a researcher publishes it")
    assert_accessible_form(page)

    # A broken stopping rule comes back from the API and is shown beside its fields.
    page.get_by_label("Most items").fill("")
    page.get_by_role("button", name="Save test definition").click()
    stopping = page.locator("#t-stopping-error")
    expect(stopping).to_contain_text("max_length")
    expect(page.get_by_label("Most items")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-error-summary]")).to_be_visible()
    expect(page.get_by_test_id("test-row")).to_have_count(1)

    page.get_by_label("Fewest items").fill("4")
    page.get_by_label("Most items").fill("6")
    page.get_by_label("Content limits").fill("arithmetic: 0-3\nfractions: 0-3")
    page.get_by_label("Time limit in minutes").fill("15")
    page.get_by_role("button", name="Save test definition").click()
    expect(page.locator("[data-form-status]")).to_contain_text("Saved test definition e2e-cat")
    expect(page.locator("[data-error-summary]")).to_be_hidden()
    row = page.get_by_test_id("test-row").filter(has_text="e2e-cat")
    expect(row).to_contain_text("CAT")
    expect(row).to_contain_text("e2e-pool")
    expect(row).to_contain_text("4–6")
    expect(row).to_contain_text("15 minutes")
    page.screenshot(path=str(live_server.app.instance_path) + "/operator-tests.png", full_page=True)

    # -- an administration for one class -------------------------------------------------------
    page.get_by_role("link", name="Administrations").click()
    expect(page.get_by_role("heading", name="Administrations", level=1)).to_be_visible()
    expect(page.get_by_text("Opening publishes the form")).to_be_visible()
    class_code = live_server.logins.students[0][0]
    other_code = next(s[0] for s in live_server.logins.students if s[0] != class_code)
    with live_server.app.app_context():
        names = dict(db.session.execute(select(Classroom.class_code, Classroom.name)).all())
    class_name, other_name = names[class_code], names[other_code]
    expect(page.get_by_test_id("administration-row")).to_have_count(1)  # the demo's own
    expect(page.get_by_label(re.compile(class_code))).to_be_visible()
    page.get_by_role("button", name="Create administration").click()
    expect(page.locator("#a-classes-error")).to_have_text("Choose at least one class.")
    page.get_by_label("Test definition").select_option("e2e-cat")
    page.get_by_label("Name (students see it)").fill("E2E sitting")
    # Both classes first; the other one is taken off again before opening.
    page.get_by_label(re.compile(class_code)).check()
    page.get_by_label(re.compile(other_code)).check()
    assert_accessible_form(page)
    page.get_by_role("button", name="Create administration").click()
    expect(page.locator("[data-form-status]")).to_contain_text("Created E2E sitting")
    created = page.get_by_test_id("administration-row").filter(has_text="E2E sitting")
    expect(created.get_by_test_id("administration-status")).to_have_text("scheduled")
    expect(created).to_contain_text("not published yet")
    expect(created.get_by_role("link", name=f"Results of {other_name}")).to_be_visible()
    created.get_by_role("button", name="Change classes").click()
    classes_dialog = page.locator("[data-classes-dialog]")
    expect(classes_dialog.get_by_label(re.compile(class_code))).to_be_checked()
    classes_dialog.get_by_label(re.compile(other_code)).uncheck()
    classes_dialog.get_by_role("button", name="Save classes").click()
    expect(classes_dialog).to_be_hidden()
    expect(page.locator("[data-action-status]")).to_have_text("Classes saved.")
    expect(created.get_by_role("link", name=f"Results of {class_name}")).to_be_visible()
    expect(created.get_by_role("link", name=f"Results of {other_name}")).to_have_count(0)

    created.get_by_role("button", name="Open").click()
    expect(created.get_by_test_id("administration-status")).to_have_text("open")
    expect(created).to_contain_text("revision 1")
    expect(page.locator("[data-action-status]")).to_contain_text("Its form is published")
    expect(created.get_by_role("link", name="Live progress")).to_have_attribute(
        "href", re.compile(r"/teacher/administrations/\d+$")
    )

    # Re-publish asks for a reason and says what happens to running sittings.
    created.get_by_role("button", name="Re-publish").click()
    dialog = page.locator("[data-republish-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Sittings already started keep the snapshot")
    dialog.get_by_role("button", name="Re-publish").click()
    expect(dialog.locator("#republish-error")).to_contain_text("Give a reason")
    dialog.get_by_label("Reason").fill("Checked the pool after an edit")
    dialog.get_by_role("button", name="Re-publish").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-action-status]")).to_contain_text("Form revision 2 published")
    expect(created).to_contain_text("revision 2")
    # By keyboard: Close asks first, and Escape leaves the administration open.
    created.get_by_role("button", name="Close").focus()
    page.keyboard.press("Enter")
    close_dialog = page.locator("[data-close-dialog]")
    expect(close_dialog).to_be_visible()
    expect(close_dialog).to_contain_text("Sittings still running are ended and scored now")
    page.keyboard.press("Escape")
    expect(close_dialog).to_be_hidden()
    expect(created.get_by_test_id("administration-status")).to_have_text("open")
    page.screenshot(
        path=str(live_server.app.instance_path) + "/operator-administrations.png", full_page=True
    )
    assert errors == []
    page.context.close()

    # -- the student of that class sees it; one of another class does not ----------------------
    student = browser.new_context().new_page()
    assert any("E2E adaptive check" in text for text in student_sees(student, live_server, 0))
    student.context.close()
    other_index = next(i for i, s in enumerate(live_server.logins.students) if s[0] == other_code)
    other = browser.new_context().new_page()
    assert not any("E2E adaptive check" in t for t in student_sees(other, live_server, other_index))
    other.context.close()


def test_the_pages_in_japanese(browser, live_server_ja: LiveServer) -> None:
    page = browser.new_context(locale="ja-JP").new_page()
    _, email, password = next(s for s in live_server_ja.logins.staff if s[0] == "operator")
    page.goto(f"{live_server_ja.url}/staff/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="テストの実施").click()
    expect(page.get_by_role("heading", name="テストの実施", level=1)).to_be_visible()
    row = page.get_by_test_id("administration-row").first
    expect(row.get_by_test_id("administration-status")).to_have_text("実施中")
    expect(row.get_by_role("button", name="終了")).to_be_visible()
    expect(page.get_by_label("テスト定義")).to_contain_text("テスト定義を選ぶ")
    page.get_by_role("link", name="テスト定義").first.click()
    expect(page.get_by_role("heading", name="テスト定義", level=1)).to_be_visible()
    expect(page.get_by_test_id("test-row")).to_contain_text("CAT")
    expect(page.get_by_label("CAT（適応型")).to_be_checked()
    page.context.close()
