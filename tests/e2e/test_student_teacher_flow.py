"""A demo student takes the adaptive test to the end; the teacher then sees result and history."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, staff_login, start_test


def student_login(page: Page, server: LiveServer, index: int) -> tuple[str, int, str]:
    class_code, number, name, code = server.logins.students[index]
    page.goto(f"{server.url}/login")
    page.get_by_label("Class code").fill(class_code.lower())
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My tests")).to_be_visible()
    return class_code, number, name


def take_test_to_the_end(page: Page) -> int:
    """Answer every question (always the first option) until the end screen; return the count."""
    page.get_by_role("link", name=re.compile("Start|Continue")).click()
    start_test(page)
    answered = 0
    end = page.get_by_role("heading", name="You have finished the test")
    question = page.locator("[data-progress]")
    # Exactly one of the two is shown at any moment: a question number, or the end screen.
    either = page.locator("[data-progress]:not(:empty), [data-end]:not([hidden])")
    while True:
        expect(either).to_be_visible()
        if end.is_visible():
            return answered
        label = question.inner_text()
        page.locator("label.option").first.click()
        page.get_by_role("button", name="Next").click()
        answered += 1
        # Wait until the next question (or the end) replaces this one.
        expect(page.locator("[data-progress]")).not_to_have_text(label)


def test_student_takes_adaptive_test_and_teacher_sees_result(page: Page, live_server) -> None:
    _, _, name = student_login(page, live_server, 0)
    answered = take_test_to_the_end(page)
    assert 10 <= answered <= 20  # the demo CAT: 10 to 20 items, SE target 0.35
    expect(page.locator("[data-end-detail]")).to_contain_text(f"You answered {answered} questions")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    staff_login(page, live_server, "teacher")
    expect(page.get_by_role("heading", name="My classes")).to_be_visible()
    page.get_by_role("link", name="2-A").click()

    row = page.get_by_test_id("student-row").filter(has_text=name)
    expect(row).to_contain_text("Finished")
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^\d{3}$"))
    expect(row.locator("td").nth(5)).to_have_text(
        re.compile("Beginning|Developing|Proficient|Advanced")
    )
    expect(page.get_by_test_id("mastery-row").first).to_contain_text("%")
    row.get_by_role("link", name="Answer history").click()

    expect(page.get_by_role("heading", name=f"Answer history: {name}")).to_be_visible()
    expect(page.get_by_test_id("answer-row")).to_have_count(answered)
    expect(page.get_by_test_id("session-summary")).to_contain_text("Scale score")
    expect(page.get_by_test_id("subscores")).to_contain_text("835")
    first = page.get_by_test_id("answer-row").first
    expect(first).to_contain_text(re.compile("correct|wrong"))
    expect(first.locator("td").nth(6)).to_have_text(re.compile(r"^\d+\.\d s$"))


def test_answer_survives_a_reload_mid_test(page: Page, live_server) -> None:
    student_login(page, live_server, 1)
    page.get_by_role("link", name="Start").click()
    start_test(page)
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    page.locator("label.option").first.click()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    stem = page.locator("[data-stem]").inner_text()
    page.reload()
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    assert page.locator("[data-stem]").inner_text() == stem


def test_wrong_login_code_shows_a_clear_message(page: Page, live_server) -> None:
    class_code, number, _, _ = live_server.logins.students[2]
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Those login details are not right")
