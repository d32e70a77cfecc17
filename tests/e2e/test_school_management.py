"""A school administrator (学校管理者) signs in, creates a class, adds two students, moves one
to another class and archives the other, all in the browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Role, School
from schools import service
from tests.e2e.conftest import LiveServer

ADMIN_EMAIL = "head@school.example"
ADMIN_PASSWORD = "head-teacher-password"


def _school_admin(server: LiveServer) -> tuple[int, str]:
    with server.app.app_context():
        school = db.session.scalars(select(School).order_by(School.id)).first()
        if service.find_school_admin(ADMIN_EMAIL) is None:
            service.create_staff(
                school,
                email=ADMIN_EMAIL,
                display_name="Head Teacher",
                role=Role.SCHOOL_ADMIN,
                password=ADMIN_PASSWORD,
            )
            db.session.commit()
        return school.id, school.name


def _labels_name_every_control(page: Page) -> None:
    """Each visible input and select has an accessible name (a label), as axe would ask."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter((e) => e.offsetParent !== null)
            .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !e.textContent.trim())
            .map((e) => e.outerHTML)"""
    )
    assert unnamed == []


def test_school_admin_manages_a_class(page: Page, live_server: LiveServer) -> None:
    school_id, school_name = _school_admin(live_server)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/staff/login")
    page.get_by_label("E-mail").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The school administrator lands on their school: classes and teachers.
    expect(page.get_by_role("heading", level=1)).to_have_text(school_name)
    expect(page.get_by_role("heading", name="Teachers", exact=True)).to_be_visible()
    _labels_name_every_control(page)
    new_class = page.locator("#new-class")
    new_class.get_by_label("Class name").fill("2-C")
    new_class.get_by_label("Grade").fill("8")
    new_class.get_by_label("Academic year").fill("2026")
    new_class.get_by_role("button", name="Create class").click()
    expect(page.get_by_role("status").first).to_contain_text("Class 2-C created")
    page.locator("[data-classes]").get_by_role("link", name="2-C").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("2-C")
    expect(page.get_by_role("link", name="Login cards")).to_be_visible()
    _labels_name_every_control(page)
    form = page.locator("#new-student")
    for number, family, given, kana in ((1, "青木", "葵", "あおき"), (2, "井上", "樹", "いのうえ")):
        form.get_by_label("Number", exact=True).fill(str(number))
        form.get_by_label("Family name", exact=True).fill(family)
        form.get_by_label("Given name", exact=True).fill(given)
        form.get_by_label("Family name (kana)").fill(kana)
        form.get_by_role("button", name="Add student").click()
        expect(page.locator("[data-notice]")).to_contain_text("Login code (shown only now)")
    rows = page.locator("[data-students] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("青木 葵")

    # Move the first student to another class of the school.
    page.get_by_role("button", name="Move 青木 葵 to another class").click()
    dialog = page.locator("[data-move-dialog]")
    expect(dialog).to_be_visible()
    # the demo class already has a number 1: the move is refused until the number is free
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("Another student in this class")
    dialog.get_by_label("Number in the new class").fill("41")
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("[data-notice]")).to_contain_text("青木 葵 was moved.")
    expect(rows).to_have_count(1)

    # Archive the second: they leave the list (and can no longer sign in).
    page.get_by_role("button", name="Archive 井上 樹").click()
    expect(page.locator("[data-notice]")).to_contain_text("井上 樹 was archived.")
    expect(page.locator("[data-no-students]")).to_be_visible()
    with live_server.app.app_context():
        classes = service.list_classrooms(school_id)
        assert "2-C" in [c["name"] for c in classes]
