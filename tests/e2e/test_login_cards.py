"""A teacher prints login cards in the browser; a card's QR URL signs the student in."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.models import Classroom
from tests.e2e.conftest import LiveServer, staff_login


def _classroom_id(server: LiveServer, class_code: str) -> int:
    from cbt.db import db

    with server.app.app_context():
        return db.session.scalar(select(Classroom.id).where(Classroom.class_code == class_code))


def _links(pdf: bytes) -> list[str]:
    return [uri.decode() for uri in re.findall(rb"/URI \((.*?)\)", pdf)]


def test_teacher_prints_cards_and_the_qr_url_signs_the_student_in(
    page: Page, browser, live_server: LiveServer
) -> None:
    class_code, number, name, old_code = live_server.logins.students[0]
    classroom_id = _classroom_id(live_server, class_code)
    staff_login(page, live_server, "teacher")
    expect(page.get_by_role("heading", name="My classes")).to_be_visible()
    page.goto(f"{live_server.url}/school/classes/{classroom_id}/cards")
    expect(page.get_by_test_id("void-warning")).to_contain_text("stop working")
    button = page.get_by_role("button", name="Issue and download login cards (PDF)")
    expect(button).to_be_disabled()
    page.get_by_label("I understand that the old login codes stop working.").check()
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == f"login-cards-{class_code}.pdf"
    pdf = download.path().read_bytes()
    assert pdf.startswith(b"%PDF-")
    expect(page.get_by_role("status")).to_contain_text("New login codes issued")

    link = next(u for u in _links(pdf) if parse_qs(urlsplit(u).fragment)["n"] == [str(number)])
    assert link.startswith(f"{live_server.url}/login#")
    assert parse_qs(urlsplit(link).fragment)["k"][0] != old_code

    student = browser.new_context(viewport={"width": 800, "height": 900}).new_page()
    requests: list[str] = []
    student.on("request", lambda request: requests.append(request.url))
    student.goto(link)
    expect(student.get_by_role("heading", name="My tests")).to_be_visible()
    expect(student).to_have_url(f"{live_server.url}/student")
    expect(student.get_by_test_id("who")).to_contain_text(name)
    # The fragment left the address bar and the history, and no request carried the code.
    student.go_back()
    expect(student).to_have_url(f"{live_server.url}/login")
    code = parse_qs(urlsplit(link).fragment)["k"][0]
    assert not any(code in url for url in requests)
    student.context.close()

    # The old code no longer signs in.
    old = browser.new_context().new_page()
    old.goto(f"{live_server.url}/login")
    old.get_by_label("Class code").fill(class_code)
    old.get_by_label("Student number").fill(str(number))
    old.get_by_label("Login code").fill(old_code)
    old.get_by_role("button", name="Log in").click()
    expect(old.get_by_role("alert")).to_contain_text("not right")
    old.context.close()


def test_a_broken_qr_url_leaves_the_form_empty_and_clears_the_fragment(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login#c=DEMO&k=ONLY-TWO")
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_label("Class code")).to_have_value("")


def test_the_print_view_shows_every_card_and_prints_only_the_cards(
    page: Page, live_server: LiveServer
) -> None:
    class_code = live_server.logins.students[-1][0]  # another class than the test above
    classroom_id = _classroom_id(live_server, class_code)
    staff_login(page, live_server, "teacher")
    expect(page.get_by_role("heading", name="My classes")).to_be_visible()
    page.goto(f"{live_server.url}/school/classes/{classroom_id}/cards")
    page.get_by_label("I understand that the old login codes stop working.").check()
    page.get_by_role("button", name="Issue and show cards for printing").click()
    cards = page.get_by_test_id("login-card")
    students = [s for s in live_server.logins.students if s[0] == class_code]
    expect(cards).to_have_count(len(students))
    first = cards.first
    expect(first).to_contain_text(class_code)
    expect(first).to_contain_text(students[0][2])
    expect(first.get_by_role("img", name="QR code that signs this student in")).to_be_visible()
    assert first.locator("img").evaluate("img => img.naturalWidth") > 0  # the data: URI loaded
    expect(page.get_by_role("status")).to_contain_text("Print the cards below")

    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_test_id("void-warning")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(first).to_be_visible()
    page.emulate_media(media="screen")
