"""Accommodations: the student's profile (set by staff), the conditions recorded on a sitting
(changed by the student), and both in the class results and the research export."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, Role, School, User
from cbt.service import create_staff_user
from delivery.models import ExamSession
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


def login(app: Flask, email: str) -> ApiClient:
    client = ApiClient(app.test_client())
    assert client.login_staff(email, TEACHER_PASSWORD).status_code == 200
    return client


def student(app: Flask, school: SeededSchool, number: int = 1) -> ApiClient:
    client = ApiClient(app.test_client())
    reply = client.login_student(school.class_code, number, school.student_codes[number])
    assert reply.status_code == 200
    return client


def put(client: ApiClient, path: str, body: Any):
    return client._remember(client.client.put(path, json=body, headers=client._headers()))


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def start(client: ApiClient, school: SeededSchool) -> dict:
    reply = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(time_limit_seconds=600, n_items=10)


@pytest.fixture
def teacher(app: Flask, school: SeededSchool) -> ApiClient:
    return login(app, school.teacher_email)


def test_teacher_sets_a_profile_and_the_sitting_starts_with_it(
    app: Flask, school: SeededSchool, teacher: ApiClient
) -> None:
    sid = school.student_ids[1]
    path = f"/api/v1/students/{sid}/accommodations"
    reply = teacher.get(path)
    assert reply.status_code == 200
    assert reply.get_json()["accommodations"] == {
        "extra_time_factor": 1.0,
        "font_size": "standard",
        "high_contrast": False,
        "ruby": True,
        "read_aloud": False,
        "line_reader": False,
    }
    reply = put(
        teacher, path, {"font_size": "large", "high_contrast": True, "extra_time_factor": 1.5}
    )
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["accommodations"]["font_size"] == "large"
    (event,) = audits("set_accommodations")
    assert event.target_id == str(sid)
    assert event.details["changed"] == {
        "extra_time_factor": 1.5,
        "font_size": "large",
        "high_contrast": True,
    }
    assert event.details["before"]["font_size"] == "standard"
    user = db.session.get(User, sid)
    assert user.extra_time_factor == 1.5  # extra time keeps its one column
    assert user.accommodations["font_size"] == "large"
    # The same PUT again changes nothing and is not audited twice.
    assert put(teacher, path, {"font_size": "large"}).status_code == 200
    assert len(audits("set_accommodations")) == 1

    view = start(student(app, school), school)
    assert view["session"]["remaining_seconds"] == 900  # 600 s x 1.5
    row = db.session.get(ExamSession, view["session"]["id"])
    assert row.conditions["extra_time_factor"] == 1.5
    assert row.conditions["current"]["font_size"] == "large"
    assert row.conditions["current"]["high_contrast"] is True
    assert row.conditions["profile"]["extra_time_factor"] == 1.5
    assert row.conditions["changes"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"font_size": "huge"},
        {"font_size": 2},
        {"high_contrast": "yes"},
        {"ruby": 1},
        {"colour": "blue"},
        {"extra_time_factor": 0.5},
        {"extra_time_factor": 10},
        {"extra_time_factor": True},
        {"extra_time_factor": "1.5"},
        {"font_size": "large", "line_reader": None},
    ],
)
def test_bad_profiles_are_refused_and_write_nothing(
    school: SeededSchool, teacher: ApiClient, body: dict
) -> None:
    sid = school.student_ids[1]
    reply = put(teacher, f"/api/v1/students/{sid}/accommodations", body)
    assert reply.status_code == 422, reply.get_json()
    assert reply.get_json()["error"]["code"] == "validation_failed"
    db.session.expire_all()
    user = db.session.get(User, sid)
    assert user.accommodations == {}
    assert user.extra_time_factor == 1.0
    assert audits("set_accommodations") == []


def test_who_may_set_a_profile(app: Flask, school: SeededSchool) -> None:
    sid = school.student_ids[1]
    path = f"/api/v1/students/{sid}/accommodations"
    school_row = db.session.scalar(select(School).where(School.code == "T1"))
    other_school = School(code="T2", name="Other School")
    db.session.add(other_school)
    db.session.flush()
    create_staff_user(
        "admin@test.example", "Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, school_row
    )
    create_staff_user(
        "admin2@test.example", "Admin 2", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, other_school
    )
    create_staff_user("op@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    for email, status in [
        (school.other_teacher_email, 403),  # teaches class B only
        ("admin2@test.example", 403),  # another school
        (school.researcher_email, 403),
    ]:
        client = login(app, email)
        assert client.get(path).status_code == status, email
        assert put(client, path, {"ruby": False}).status_code == status, email
    assert put(student(app, school), path, {"ruby": False}).status_code == 403
    for email in ("admin@test.example", "op@test.example"):
        client = login(app, email)
        assert client.get(path).status_code == 200, email
        assert put(client, path, {"line_reader": True}).status_code == 200, email
    # A teacher id is not a student: nothing to set.
    teacher_id = db.session.scalar(select(User.id).where(User.email == school.teacher_email))
    op = login(app, "op@test.example")
    assert (
        put(op, f"/api/v1/students/{teacher_id}/accommodations", {"ruby": False}).status_code == 404
    )


def test_the_student_changes_settings_during_the_sitting(
    app: Flask, school: SeededSchool, teacher: ApiClient
) -> None:
    put(teacher, f"/api/v1/students/{school.student_ids[1]}/accommodations", {"font_size": "large"})
    me = student(app, school)
    session_id = start(me, school)["session"]["id"]
    path = f"/api/v1/sessions/{session_id}/conditions"
    got = me.get(path).get_json()
    assert got["current"]["font_size"] == "large"

    reply = put(me, path, {"ruby": False, "line_reader": True, "font_size": "large"})
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert body["current"] == {
        "font_size": "large",
        "high_contrast": False,
        "ruby": False,
        "read_aloud": False,
        "line_reader": True,
    }
    assert [(c["setting"], c["value"]) for c in body["changes"]] == [
        ("ruby", False),
        ("line_reader", True),
    ]
    (event,) = audits("change_testing_conditions")
    assert event.target_id == session_id
    assert event.details == {"ruby": False, "line_reader": True}
    # Idempotent: the same settings again record nothing new.
    again = put(me, path, {"ruby": False, "line_reader": True})
    assert again.status_code == 200
    assert len(again.get_json()["changes"]) == 2
    assert len(audits("change_testing_conditions")) == 1
    # Extra time is the teacher's, not the student's; bad values write nothing.
    for bad in ({"extra_time_factor": 2}, {"font_size": "tiny"}, {"ruby": "off"}, [1]):
        assert put(me, path, bad).status_code == 422, bad
    db.session.expire_all()
    row = db.session.get(ExamSession, session_id)
    assert len(row.conditions["changes"]) == 2
    assert row.conditions["current"]["ruby"] is False

    # Only the session's own student.
    classmate = student(app, school, 2)
    assert classmate.get(path).status_code == 404
    assert put(classmate, path, {"ruby": True}).status_code == 404
    assert put(teacher, path, {"ruby": True}).status_code == 403
    assert (
        put(me, f"/api/v1/sessions/{uuid.uuid4().hex}/conditions", {"ruby": True}).status_code
        == 404
    )


def test_conditions_cannot_change_after_the_end(app: Flask, school: SeededSchool) -> None:
    me = student(app, school)
    session_id = start(me, school)["session"]["id"]
    db.session.get(ExamSession, session_id).status = "finished"
    db.session.commit()
    reply = put(me, f"/api/v1/sessions/{session_id}/conditions", {"ruby": False})
    assert reply.status_code == 409
    assert reply.get_json()["error"]["code"] == "session_not_active"


def _csv(reply) -> list[list[str]]:
    return list(csv.reader(io.StringIO(reply.get_data(as_text=True).lstrip("\ufeff"))))


def test_conditions_reach_class_results_and_the_research_export(
    app: Flask, school: SeededSchool, teacher: ApiClient
) -> None:
    put(
        teacher,
        f"/api/v1/students/{school.student_ids[1]}/accommodations",
        {"extra_time_factor": 1.25, "high_contrast": True},
    )
    me = student(app, school)
    view = start(me, school)
    session_id = view["session"]["id"]
    put(me, f"/api/v1/sessions/{session_id}/conditions", {"ruby": False})
    reply = me.post(
        f"/api/v1/sessions/{session_id}/responses",
        {"item": view["item"]["handle"], "response": {"choice": "A"}, "idempotency_key": "k1"},
    )
    assert reply.status_code == 200
    start(student(app, school, 2), school)  # a sitting with the defaults

    results = teacher.get(f"/api/v1/classes/{school.classroom_id}/results").get_json()
    by_number = {s["student_number"]: s for s in results["students"]}
    conditions = by_number[1]["sessions"][str(school.administration_id)]["conditions"]
    assert conditions == {
        "extra_time_factor": 1.25,
        "font_size": "standard",
        "high_contrast": True,
        "ruby": False,
        "read_aloud": False,
        "line_reader": False,
        "changed": ["ruby"],
    }
    assert by_number[3]["sessions"][str(school.administration_id)] is None

    rows = _csv(teacher.get(f"/api/v1/classes/{school.classroom_id}/results.csv"))
    column = rows[0].index("conditions")
    cells = {row[0]: row[column] for row in rows[1:]}
    assert cells["1"] == (
        "extra_time=1.25;font_size=standard;high_contrast=1;ruby=0;read_aloud=0;"
        "line_reader=0;changed=ruby"
    )
    assert cells["2"].startswith("extra_time=1;font_size=standard;high_contrast=0;ruby=1")
    assert cells["3"] == ""

    researcher = login(app, school.researcher_email)
    reply = researcher.get(f"/api/v1/research/groups.csv?administration={school.administration_id}")
    assert reply.status_code == 200
    rows = _csv(reply)
    assert rows[0] == ["person_id", "group", "conditions"]
    pseudonym = db.session.get(User, school.student_ids[1]).pseudonym
    assert [pseudonym, str(school.administration_id), cells["1"]] in rows
    text = reply.get_data(as_text=True)
    assert "Student 1" not in text
