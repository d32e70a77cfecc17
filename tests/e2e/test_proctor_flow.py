"""A teacher watches live progress, pauses a student and resumes them."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer, staff_login, start_test


def test_teacher_pauses_and_resumes_a_student(browser: Browser, live_server: LiveServer) -> None:
    student = browser.new_context().new_page()
    teacher = browser.new_context().new_page()
    _, number, name, code = live_server.logins.students[4]
    student.goto(f"{live_server.url}/login")
    student.get_by_label("Class code").fill("DEMO-2A")
    student.get_by_label("Student number").fill(str(number))
    student.get_by_label("Login code").fill(code)
    student.get_by_role("button", name="Log in").click()
    student.get_by_role("link", name="Start").click()
    start_test(student)
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 1"))
    student.locator("label.option").first.click()
    student.get_by_role("button", name="Next").click()
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 2"))

    staff_login(teacher, live_server, "teacher")
    teacher.get_by_role("link", name="Live progress").click()
    row = teacher.get_by_test_id("monitor-row").filter(has_text=name)
    expect(row).to_contain_text("Answering")
    expect(row.locator("td").nth(5)).to_have_text("1")
    row.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("Paused")

    # The poll shows the pause by itself, within seconds, without pressing Next.
    expect(student.get_by_role("dialog", name="Your teacher paused the test")).to_be_visible()

    row.get_by_role("button", name="Resume").click()
    expect(row).to_contain_text("Answering")
    # The paused page polls the server and brings the question back by itself.
    expect(student.locator("#item-form")).to_be_visible(timeout=12_000)
    expect(student.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    student.context.close()
    teacher.context.close()
