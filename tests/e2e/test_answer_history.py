"""The teacher's answer history shows every type's answer, and a hostile answer only as text."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom, Enrollment
from delivery.models import Administration
from item_bank.types import ITEM_TYPES
from tests.e2e.conftest import LiveServer, staff_login
from tests.e2e.test_item_types import give_all_types_to_class_2b
from tests.helpers import ApiClient
from tests.unit.analytics.test_answer_descriptions import ANSWERS, IMAGE, SCRIPT


def answer_every_type(server: LiveServer) -> int:
    """A DEMO-2B student answers each type with ANSWERS' responses; returns the student's id."""
    give_all_types_to_class_2b(server)
    class_code, number, _, code = server.logins.students[40]
    with server.app.app_context():
        student_id = db.session.scalars(
            select(Enrollment.user_id)
            .join(Classroom, Classroom.id == Enrollment.classroom_id)
            .where(Classroom.class_code == class_code, Enrollment.student_number == number)
        ).one()
        administration_id = db.session.scalars(
            select(Administration.id).where(Administration.name == "Types")
        ).one()
    student = ApiClient(server.app.test_client())
    student.login_student(class_code, number, code)
    view = student.post(f"/api/v1/administrations/{administration_id}/sessions").get_json()
    for type_id in sorted(ITEM_TYPES):
        view = student.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": ANSWERS[type_id][0],
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()
    assert view["finished"]
    return student_id


def test_answer_history_renders_answers_as_text(page: Page, live_server: LiveServer) -> None:
    student_id = answer_every_type(live_server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    staff_login(page, live_server, "teacher")
    expect(page).to_have_url(f"{live_server.url}/teacher")
    page.goto(f"{live_server.url}/teacher/students/{student_id}")
    session = page.get_by_test_id("session").filter(has_text="Every item type")
    responses = session.get_by_test_id("answer-response")
    expect(responses).to_have_count(len(ITEM_TYPES))
    texts = responses.all_text_contents()
    assert SCRIPT in texts
    assert IMAGE in texts  # textContent keeps the newline; CSS shows it as a line break
    for type_id in sorted(ITEM_TYPES):
        assert ANSWERS[type_id][1] in texts, type_id
    assert session.get_by_test_id("answer-key").all_text_contents() == [
        ANSWERS[type_id][2] for type_id in sorted(ITEM_TYPES)
    ]
    # Nothing of the answers became markup: no element inside the cells, nothing ran.
    assert session.locator("[data-testid=answer-response] *").count() == 0
    assert dialogs == []
