"""A new school goes from nothing to a class sitting a test, in the browser alone.

The engine holds only its item bank (the demo's, with its published parameters and CAT). The
school does not exist: the operator imports it from a OneRoster package on the roster page,
opens its class, prints login cards, gives the class an administration and opens it; a student
signs in with a card's QR link and sits the test; the class's results show the sitting. No step
uses the shell or the database (the test reads ids and names only to check what the pages show).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom, Enrollment, Role, School, User
from tests.e2e.conftest import LiveServer, staff_login
from tests.e2e.test_login_cards import _links
from tests.e2e.test_student_teacher_flow import take_test_to_the_end
from tests.unit.roster.conftest import fixture_files, to_zip

SCHOOL_NAME = "横浜市立さくら中学校"
CLASS_NAME = "2年1組"


def _imported_class(server: LiveServer) -> tuple[int, str, list[tuple[int, str]]]:
    """The imported class: its id, class code and (student number, name) of its students."""
    with server.app.app_context():
        classroom = db.session.scalar(
            select(Classroom)
            .join(School)
            .where(School.name == SCHOOL_NAME, Classroom.name == CLASS_NAME)
        )
        students = db.session.execute(
            select(Enrollment.student_number, User.display_name)
            .join(User, User.id == Enrollment.user_id)
            .where(Enrollment.classroom_id == classroom.id, Enrollment.role == Role.STUDENT)
            .order_by(Enrollment.student_number)
        ).all()
        return classroom.id, classroom.class_code, [tuple(s) for s in students]


def test_a_new_school_from_roster_to_results_without_a_shell(
    page: Page, browser, live_server: LiveServer, tmp_path: Path
) -> None:
    package = tmp_path / "sakura.zip"
    package.write_bytes(to_zip(fixture_files()))
    staff_login(page, live_server, "operator")
    expect(page.get_by_role("heading", name="Item bank")).to_be_visible()

    # 1. The roster: checked, then imported.
    page.goto(f"{live_server.url}/roster")
    page.get_by_label("Roster zip").set_input_files(str(package))
    page.get_by_role("button", name="Check (dry run)").click()
    expect(page.locator("[data-status]")).to_contain_text("The roster is valid")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("[data-status]")).to_have_text("The roster was imported.")

    # 2. The school and its class, reached through the school pages.
    page.get_by_role("link", name="School management").click()
    page.get_by_role("link", name=SCHOOL_NAME).click()
    page.get_by_role("link", name=CLASS_NAME).click()
    classroom_id, class_code, students = _imported_class(live_server)
    assert students, "the roster's class has students"
    number, name = students[0]
    expect(page).to_have_url(f"{live_server.url}/school/classes/{classroom_id}")
    expect(page.get_by_text(name).first).to_be_visible()

    # 3. Login cards: issued (no student had a code before) and downloaded as a PDF.
    page.get_by_test_id("login-cards").click()
    page.get_by_label("I understand that the old login codes stop working.").check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Issue and download login cards (PDF)").click()
    pdf = download_info.value.path().read_bytes()
    links = _links(pdf)
    assert len(links) == len(students)
    link = next(u for u in links if parse_qs(urlsplit(u).fragment)["n"] == [str(number)])

    # 4. An administration of the bank's CAT for this class, opened.
    page.goto(f"{live_server.url}/operator/administrations")
    page.get_by_label("Test definition").select_option("demo-math-cat")
    page.get_by_label("Name (students see it)").fill("さくら 2年1組 数学")
    page.get_by_label(re.compile(class_code)).check()
    page.get_by_role("button", name="Create administration").click()
    row = page.get_by_test_id("administration-row").filter(has_text="さくら 2年1組 数学")
    expect(row.get_by_test_id("administration-status")).to_have_text("scheduled")
    row.get_by_role("button", name="Open").click()
    expect(row.get_by_test_id("administration-status")).to_have_text("open")

    # 5. The student signs in with the card's QR link and sits the test.
    student = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    student.goto(link)
    expect(student.get_by_role("heading", name="My tests")).to_be_visible()
    expect(student.get_by_test_id("who")).to_contain_text(name)
    expect(student.get_by_test_id("test")).to_have_count(1)  # the class's only test
    expect(student.get_by_test_id("test")).to_contain_text("さくら 2年1組 数学")
    answered = take_test_to_the_end(student)
    assert answered >= 10
    student.context.close()

    # 6. The class's results show the finished sitting with a scale score.
    page.goto(f"{live_server.url}/teacher/classes/{classroom_id}")
    result = page.get_by_test_id("student-row").filter(has_text=name)
    expect(result).to_contain_text("Finished")
    expect(result.locator("td").nth(3)).to_have_text(re.compile(r"^\d{3}$"))
