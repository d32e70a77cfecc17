"""Staff passwords: change with the current one, reset by a manager; other logins end. Archived
people, classes and schools cannot sign in, and their results stay."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, Classroom, School, User
from tests.helpers import TEACHER_PASSWORD, ApiClient
from tests.unit.schools.school_helpers import ADMIN, TEACHER, Schools, signed_in

pytest_plugins = ["tests.unit.schools.school_fixtures"]

NEW_PASSWORD = "a-brand-new-password"


def test_change_password_ends_other_logins_and_keeps_this_one(app: Flask, schools: Schools) -> None:
    here = signed_in(app, TEACHER)
    elsewhere = signed_in(app, TEACHER)
    reply = here.post(
        "/api/v1/me/password",
        {"current_password": TEACHER_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert reply.status_code == 200, reply.get_json()
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    old = ApiClient(app.test_client()).login_staff(TEACHER, TEACHER_PASSWORD)
    assert old.status_code == 401
    signed_in(app, TEACHER, NEW_PASSWORD)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "change_password"))
    assert [e.details["logins_ended"] for e in events] == [1]


def test_change_password_refusals_change_nothing(app: Flask, schools: Schools) -> None:
    api = signed_in(app, TEACHER)
    before = db.session.get(User, schools.teacher_id).password_hash
    for body, status in (
        ({"current_password": "wrong-password", "new_password": NEW_PASSWORD}, 403),
        ({"current_password": TEACHER_PASSWORD, "new_password": "short"}, 422),
        ({"current_password": TEACHER_PASSWORD, "new_password": TEACHER_PASSWORD}, 422),
        ({"current_password": TEACHER_PASSWORD, "new_password": TEACHER}, 422),
        ({"current_password": TEACHER_PASSWORD, "new_password": "x" * 1025}, 422),
        ({"current_password": TEACHER_PASSWORD}, 422),
        ({"current_password": TEACHER_PASSWORD, "new_password": 1234567890}, 422),
    ):
        reply = api.post("/api/v1/me/password", body)
        assert reply.status_code == status, (body, reply.get_json())
    db.session.expire_all()
    assert db.session.get(User, schools.teacher_id).password_hash == before
    assert api.get("/api/v1/me").status_code == 200
    anonymous = ApiClient(app.test_client())
    assert anonymous.post("/api/v1/me/password", {}).status_code == 401


def test_wrong_current_passwords_lock_like_logins(app: Flask, schools: Schools) -> None:
    app.extensions["cbt.login_guard"].account_limit = __import__("limits").parse("3 per minute")
    api = signed_in(app, TEACHER)
    body = {"current_password": "wrong-password", "new_password": NEW_PASSWORD}
    statuses = [api.post("/api/v1/me/password", body).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_students_have_no_password_to_change(app: Flask, schools: Schools) -> None:
    student = ApiClient(app.test_client())
    assert student.login_student(schools.class_code, 1, schools.student_code).status_code == 200
    body = {"current_password": "x" * 10, "new_password": NEW_PASSWORD}
    assert student.post("/api/v1/me/password", body).status_code == 403


def test_reset_gives_a_temporary_password_and_ends_logins(
    app: Flask, admin: ApiClient, schools: Schools
) -> None:
    victim = signed_in(app, TEACHER)
    reply = admin.post(f"/api/v1/staff/{schools.teacher_id}/password-reset")
    assert reply.status_code == 200
    temporary = reply.get_json()["temporary_password"]
    assert len(temporary) >= 10
    assert victim.get("/api/v1/me").status_code == 401
    assert ApiClient(app.test_client()).login_staff(TEACHER, TEACHER_PASSWORD).status_code == 401
    fresh = signed_in(app, TEACHER, temporary)
    changed = fresh.post(
        "/api/v1/me/password", {"current_password": temporary, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert admin.post(f"/api/v1/staff/{schools.admin_id}/password-reset").status_code == 403
    assert [
        e.target_id
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reset_password"))
    ] == [str(schools.teacher_id)]


def test_operator_resets_anyone(app: Flask, operator: ApiClient, schools: Schools) -> None:
    reply = operator.post(f"/api/v1/staff/{schools.admin_id}/password-reset")
    assert reply.status_code == 200
    signed_in(app, ADMIN, reply.get_json()["temporary_password"])
    assert operator.post("/api/v1/staff/999999/password-reset").status_code == 404
    assert operator.post(f"/api/v1/staff/{schools.student_id}/password-reset").status_code == 404


def test_archived_class_and_school_refuse_login_but_keep_results(
    app: Flask, admin: ApiClient, operator: ApiClient, schools: Schools
) -> None:
    def student_login() -> int:
        pupil = ApiClient(app.test_client())
        return pupil.login_student(schools.class_code, 1, schools.student_code).status_code

    assert student_login() == 200
    assert admin.post(f"/api/v1/classes/{schools.class_id}/archive").status_code == 200
    assert student_login() == 401
    # results of the archived class are still there for the people who may see them
    assert admin.get(f"/api/v1/classes/{schools.class_id}/results").status_code == 200
    assert admin.get(f"/api/v1/students/{schools.student_id}/history").status_code == 200

    db.session.get(Classroom, schools.class_id).archived_at = None
    db.session.commit()
    assert student_login() == 200
    assert operator.post(f"/api/v1/schools/{schools.school_id}/archive").status_code == 200
    assert student_login() == 401
    refused = ApiClient(app.test_client()).login_staff(TEACHER, TEACHER_PASSWORD)
    assert refused.status_code == 401
    assert db.session.get(School, schools.school_id).archived_at is not None


def test_archived_or_deleted_staff_cannot_log_in(app: Flask, schools: Schools) -> None:
    user = db.session.get(User, schools.teacher_id)
    user.identity_deleted_at = user.created_at
    db.session.commit()
    assert ApiClient(app.test_client()).login_staff(TEACHER, TEACHER_PASSWORD).status_code == 401


def test_a_reset_password_must_be_replaced_before_the_pages_open(
    app: Flask, admin: ApiClient, schools: Schools
) -> None:
    temporary = admin.post(f"/api/v1/staff/{schools.teacher_id}/password-reset").get_json()[
        "temporary_password"
    ]
    assert db.session.get(User, schools.teacher_id).password_change_required
    teacher = signed_in(app, TEACHER, temporary)
    sent = teacher.client.get("/teacher")
    assert sent.status_code == 302
    assert sent.headers["Location"].endswith("/staff/password")
    page = teacher.client.get("/staff/password")
    assert page.status_code == 200
    assert b"data-must-change" in page.data
    changed = teacher.post(
        "/api/v1/me/password", {"current_password": temporary, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert teacher.client.get("/teacher").status_code == 200
    assert b"data-must-change" not in teacher.client.get("/staff/password").data
    db.session.expire_all()
    assert not db.session.get(User, schools.teacher_id).password_change_required


def test_a_generated_initial_password_must_be_replaced(
    app: Flask, admin: ApiClient, schools: Schools
) -> None:
    reply = admin.post(
        f"/api/v1/schools/{schools.school_id}/teachers",
        {"email": "fresh@a.example", "display_name": "Fresh", "role": "teacher"},
    ).get_json()
    fresh = signed_in(app, "fresh@a.example", reply["initial_password"])
    assert fresh.client.get("/teacher").headers["Location"].endswith("/staff/password")
