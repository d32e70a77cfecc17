"""Deleting a student's identity: exactly the documented fields go, the research data stays."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import openpyxl
import pytest
from flask import Flask
from sqlalchemy import func, select

from cbt.db import db
from cbt.models import AuditEvent, Enrollment, Role, User
from cbt.service import create_school, create_staff_user, find_school
from delivery.models import ExamSession, ItemResponse
from schools.cards_cli import delete_identity_command
from schools.retention import CLEARED_ENROLLMENT_FIELDS, CLEARED_USER_FIELDS
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school, sit_sessions

OPERATOR = "op@test.example"
ADMIN = "admin@test.example"
OTHER_ADMIN = "admin2@test.example"
PERSONAL = {
    "display_name": "山田 太郎",
    "family_name": "山田",
    "given_name": "太郎",
    "family_name_kana": "やまだ",
    "given_name_kana": "たろう",
    "email": "taro.yamada@student.example",
    "password_hash": "not-a-real-hash",
    "sourced_id": "user-sourced-42",
    "roster_data": {"birthDate": "2012-04-02", "phone": "090-0000-0000"},
    "locale": "ja",
    "extra_time_factor": 1.5,
    "accommodations": {"font_size": "large", "read_aloud": True},
}


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    seeded = seed_school(n_items=4, n_students=3)
    create_staff_user(OPERATOR, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    create_staff_user(ADMIN, "School Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, find_school("T1"))
    other = create_school("T2", "Other School")
    create_staff_user(OTHER_ADMIN, "Other Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, other)
    student = db.session.get(User, seeded.student_ids[1])
    for name, value in PERSONAL.items():
        setattr(student, name, value)
    enrollment = db.session.scalars(
        select(Enrollment).where(Enrollment.user_id == student.id)
    ).one()
    enrollment.sourced_id = "enrollment-sourced-42"
    enrollment.roster_data = {"beginDate": "2026-04-01"}
    sit_sessions(
        seeded.item_version_ids,
        seeded.administration_id,
        1,
        np.random.default_rng(7),
        students=[student.id],
    )
    db.session.commit()
    return seeded


def _delete(api: ApiClient, student_id: int):
    return api.client.delete(f"/api/v1/students/{student_id}/identity", headers=api._headers())


def _staff(app: Flask, email: str, language: str = "en") -> ApiClient:
    client = ApiClient(app.test_client())
    client.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert client.login_staff(email, TEACHER_PASSWORD).status_code == 200
    return client


def _responses(student_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ItemResponse)
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .where(ExamSession.student_id == student_id)
    )


def test_deletion_clears_exactly_the_documented_fields(app: Flask, school: SeededSchool) -> None:
    student_id = school.student_ids[1]
    before = db.session.get(User, student_id)
    pseudonym, school_id, created_at = before.pseudonym, before.school_id, before.created_at
    n_sessions = db.session.scalar(
        select(func.count()).select_from(ExamSession).where(ExamSession.student_id == student_id)
    )
    n_responses = _responses(student_id)
    assert n_sessions == 1
    assert n_responses == 4

    reply = _delete(_staff(app, OPERATOR), student_id)
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()["student"]
    assert body["id"] == student_id
    assert body["pseudonym"] == pseudonym
    assert body["identity_deleted_at"].endswith("Z")

    db.session.expire_all()
    user = db.session.get(User, student_id)
    assert user.display_name == ""
    for name in ("family_name", "given_name", "family_name_kana", "given_name_kana"):
        assert getattr(user, name) is None, name
    assert user.email is None
    assert user.password_hash is None
    assert user.sourced_id is None
    assert user.roster_data == {}
    assert user.locale is None
    assert user.extra_time_factor == 1.0
    assert user.accommodations == {}
    assert user.is_active is False
    assert user.identity_deleted_at is not None
    # Kept: the row, its role, pseudonym, school and creation time.
    assert user.role == Role.STUDENT
    assert user.pseudonym == pseudonym
    assert user.school_id == school_id
    assert user.created_at == created_at

    enrollment = db.session.scalars(
        select(Enrollment).where(Enrollment.user_id == student_id)
    ).one()
    assert enrollment.classroom_id == school.classroom_id  # still counted in the class
    assert enrollment.student_number is None
    assert enrollment.login_code_hmac is None
    assert enrollment.sourced_id is None
    assert enrollment.roster_data == {}

    assert _responses(student_id) == n_responses
    assert set(CLEARED_USER_FIELDS) == {*PERSONAL, "is_active"}
    assert set(CLEARED_ENROLLMENT_FIELDS) == {
        "student_number",
        "login_code_hmac",
        "sourced_id",
        "roster_data",
    }


def test_no_personal_value_is_left_in_the_row_or_the_audit_log(
    app: Flask, school: SeededSchool
) -> None:
    student_id = school.student_ids[1]
    assert _delete(_staff(app, OPERATOR), student_id).status_code == 200
    db.session.expire_all()
    user = db.session.get(User, student_id)
    row = json.dumps(
        {c.name: str(getattr(user, c.key)) for c in User.__table__.columns}, ensure_ascii=False
    )
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "student_identity_deleted")
    ).one()
    assert event.target_type == "user"
    assert event.target_id == str(student_id)
    assert event.actor_role == "operator"
    assert event.details["pseudonym"] == user.pseudonym
    assert event.details["n_enrollments"] == 1
    logged = json.dumps(event.details, ensure_ascii=False)
    for value in ("山田", "太郎", "やまだ", "たろう", "taro.yamada", "user-sourced-42", "090-0000"):
        assert value not in row
        assert value not in logged
    assert "enrollment-sourced-42" not in logged
    assert school.student_codes[1] not in logged


def test_login_is_impossible_afterwards(app: Flask, school: SeededSchool) -> None:
    student = ApiClient(app.test_client())
    assert student.login_student("TEST-1A", 1, school.student_codes[1]).status_code == 200
    assert _delete(_staff(app, OPERATOR), school.student_ids[1]).status_code == 200
    again = ApiClient(app.test_client())
    reply = again.login_student("TEST-1A", 1, school.student_codes[1])
    assert reply.status_code == 401
    assert reply.get_json()["error"]["code"] == "invalid_credentials"
    # The number is free for a new student, and the other students are untouched.
    assert again.login_student("TEST-1A", 2, school.student_codes[2]).status_code == 200


def test_responses_stay_in_research_exports_under_the_pseudonym(
    app: Flask, school: SeededSchool
) -> None:
    student_id = school.student_ids[1]
    pseudonym = db.session.get(User, student_id).pseudonym
    assert _delete(_staff(app, OPERATOR), student_id).status_code == 200
    researcher = _staff(app, school.researcher_email)
    reply = researcher.client.get(
        f"/api/v1/research/responses.csv?administration={school.administration_id}"
    )
    assert reply.status_code == 200
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True).lstrip("\ufeff"))))
    mine = [row for row in rows if row["person_id"] == pseudonym]
    assert len(mine) == 4
    assert {row["item_id"] for row in mine} == {str(v) for v in school.item_version_ids}


def test_teacher_pages_show_the_student_as_deleted(app: Flask, school: SeededSchool) -> None:
    student_id = school.student_ids[1]
    assert _delete(_staff(app, OPERATOR), student_id).status_code == 200
    teacher = _staff(app, school.teacher_email)
    results = teacher.client.get(f"/api/v1/classes/{school.classroom_id}/results").get_json()
    shown = {s["id"]: s for s in results["students"]}
    assert shown[student_id]["display_name"] == "Deleted"
    assert shown[student_id]["student_number"] is None
    assert shown[school.student_ids[2]]["display_name"] == "Student 2"
    assert len(results["students"]) == 3  # still counted in the class
    session = shown[student_id]["sessions"][str(school.administration_id)]
    assert session["status"] == "finished"

    history = teacher.client.get(f"/api/v1/students/{student_id}/history").get_json()
    assert history["student"]["display_name"] == "Deleted"
    csv_text = teacher.client.get(f"/api/v1/classes/{school.classroom_id}/results.csv").get_data(
        as_text=True
    )
    assert "Deleted" in csv_text
    answers = teacher.client.get(f"/api/v1/classes/{school.classroom_id}/answers.csv").get_data(
        as_text=True
    )
    assert "Deleted" in answers
    workbook = openpyxl.load_workbook(
        io.BytesIO(teacher.client.get(f"/api/v1/classes/{school.classroom_id}/results.xlsx").data)
    )
    cells = {cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row}
    assert "Deleted" in cells

    japanese = _staff(app, school.teacher_email, "ja")
    results = japanese.client.get(f"/api/v1/classes/{school.classroom_id}/results").get_json()
    assert {s["id"]: s for s in results["students"]}[student_id]["display_name"] == "削除済み"


def test_the_live_monitor_shows_the_student_as_deleted(app: Flask) -> None:
    seeded = seed_school(n_items=4, n_students=2)  # no sittings: the monitor reads live state
    create_staff_user(OPERATOR, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    assert _delete(_staff(app, OPERATOR), seeded.student_ids[2]).status_code == 200
    teacher = _staff(app, seeded.teacher_email)
    reply = teacher.client.get(f"/api/v1/administrations/{seeded.administration_id}/monitor")
    assert reply.status_code == 200, reply.get_json()
    names = {row["student_id"]: row["display_name"] for row in reply.get_json()["students"]}
    assert names == {seeded.student_ids[1]: "Student 1", seeded.student_ids[2]: "Deleted"}


def test_a_second_deletion_is_a_clear_conflict(app: Flask, school: SeededSchool) -> None:
    operator = _staff(app, OPERATOR)
    student_id = school.student_ids[1]
    first = _delete(operator, student_id)
    assert first.status_code == 200
    second = _delete(operator, student_id)
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "conflict"
    assert (
        error["details"]["identity_deleted_at"]
        == first.get_json()["student"]["identity_deleted_at"]
    )
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "student_identity_deleted")
        )
        == 1
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("teacher@test.example", 403),  # the student's own teacher may not
        ("research@test.example", 403),
        (OTHER_ADMIN, 403),
        (None, 401),
    ],
)
def test_only_operators_and_the_school_admin_may_delete(
    app: Flask, school: SeededSchool, who: str | None, status: int
) -> None:
    student_id = school.student_ids[1]
    client = _staff(app, who) if who else ApiClient(app.test_client())
    assert _delete(client, student_id).status_code == status
    db.session.expire_all()
    user = db.session.get(User, student_id)
    assert user.identity_deleted_at is None
    assert user.display_name == PERSONAL["display_name"]
    assert (
        db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "student_identity_deleted")
        )
        is None
    )


def test_the_school_admin_of_the_students_school_may_delete(
    app: Flask, school: SeededSchool
) -> None:
    assert _delete(_staff(app, ADMIN), school.student_ids[2]).status_code == 200
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "student_identity_deleted")
    ).one()
    assert event.actor_role == "school_admin"


def test_a_student_may_not_delete_even_themselves(app: Flask, school: SeededSchool) -> None:
    student = ApiClient(app.test_client())
    student.login_student("TEST-1A", 1, school.student_codes[1])
    assert _delete(student, school.student_ids[1]).status_code == 403


def test_unknown_ids_and_staff_ids_are_not_found(app: Flask, school: SeededSchool) -> None:
    operator = _staff(app, OPERATOR)
    assert _delete(operator, 999999).status_code == 404
    teacher_id = db.session.scalar(select(User.id).where(User.email == school.teacher_email))
    assert _delete(operator, teacher_id).status_code == 404
    assert _delete(operator, 2**31).status_code == 404  # beyond a 32-bit id
    reply = operator.client.delete(f"/api/v1/students/{school.student_ids[1]}/identity")
    assert reply.status_code == 403  # no CSRF token
    assert db.session.get(User, school.student_ids[1]).identity_deleted_at is None


def test_cards_skip_a_deleted_student(app: Flask, school: SeededSchool) -> None:
    operator = _staff(app, OPERATOR)
    assert _delete(operator, school.student_ids[1]).status_code == 200
    reply = operator.post(f"/api/v1/classes/{school.classroom_id}/login-cards", {})
    assert reply.status_code == 200
    assert reply.data.count(b"/URI (") == 2
    refused = operator.post(
        f"/api/v1/classes/{school.classroom_id}/login-cards",
        {"student_ids": [school.student_ids[1]]},
    )
    assert refused.status_code == 409


def test_cli_deletes_and_refuses_a_second_time(runner, school: SeededSchool) -> None:
    student_id = school.student_ids[1]
    pseudonym = db.session.get(User, student_id).pseudonym
    result = runner.invoke(delete_identity_command, ["--id", str(student_id), "--yes"])
    assert result.exit_code == 0, result.output
    assert pseudonym in result.output
    db.session.expire_all()
    assert db.session.get(User, student_id).identity_deleted_at is not None
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "student_identity_deleted")
    ).one()
    assert event.actor_id is None
    again = runner.invoke(delete_identity_command, ["--id", str(student_id), "--yes"])
    assert again.exit_code == 1
    assert "already deleted" in again.output


def test_cli_asks_before_deleting(runner, school: SeededSchool) -> None:
    student_id = school.student_ids[2]
    result = runner.invoke(delete_identity_command, ["--id", str(student_id)], input="n\n")
    assert result.exit_code == 1
    db.session.expire_all()
    assert db.session.get(User, student_id).identity_deleted_at is None
    missing = runner.invoke(delete_identity_command, ["--id", "999999", "--yes"])
    assert missing.exit_code == 1
    assert "No such student" in missing.output


def test_cli_is_registered(runner, school: SeededSchool) -> None:
    from cbt.cli import cli

    result = runner.invoke(cli, ["students", "delete-identity", "--help"])
    assert result.exit_code == 0, result.output
