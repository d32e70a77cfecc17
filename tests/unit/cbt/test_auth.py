"""Logins, rate limits, roles and scopes."""

from __future__ import annotations

import pytest
from flask import Flask

from cbt.models import AuditEvent, Enrollment
from cbt.security import (
    derived_login_code,
    generate_login_code,
    hash_password,
    login_code_hmac,
    normalise_login_code,
    verify_password,
)
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, row_count, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


def test_student_logs_in_with_class_code_number_and_login_code(
    api: ApiClient, school: SeededSchool
) -> None:
    response = api.login_student("test-1a", 2, school.student_codes[2].lower().replace("-", " "))
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "student"
    assert api.get("/api/v1/me").get_json()["user"]["id"] == school.student_ids[2]


@pytest.mark.parametrize(
    ("class_code", "number", "code"),
    [
        ("TEST-1A", 1, "WRON-GCOD-E000"),  # wrong code
        ("TEST-1A", 2, "ABCD-EFGH-0001"),  # another student's code
        ("NOPE-1A", 1, "ABCD-EFGH-0001"),  # unknown class
        ("TEST-1A", 99, "ABCD-EFGH-0001"),  # unknown number
        ("TEST-1A", "x", "ABCD-EFGH-0001"),  # not a number
    ],
)
def test_wrong_student_login_is_401_with_one_message_and_writes_nothing(
    api: ApiClient, school: SeededSchool, class_code: str, number, code: str
) -> None:
    before = row_count(AuditEvent)
    response = api.login_student(class_code, number, code)
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message"].startswith("Those login details are not right")
    assert row_count(AuditEvent) == before
    assert api.get("/api/v1/me").status_code == 401


def test_missing_login_field_is_422(api: ApiClient, school: SeededSchool) -> None:
    response = api.post("/api/v1/auth/student-login", {"class_code": "TEST-1A"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == {"field": "student_number"}


def test_login_codes_are_stored_only_as_hmac(app: Flask, school: SeededSchool) -> None:
    from sqlalchemy import select

    from cbt.db import db

    stored = db.session.scalars(select(Enrollment.login_code_hmac)).all()
    assert all(value is None or len(value) == 64 for value in stored)
    assert school.student_codes[1] not in stored
    assert login_code_hmac(app.config["SECRET_KEY"], school.student_codes[1]) in stored


def test_staff_login_and_logout(api: ApiClient, school: SeededSchool) -> None:
    response = api.login_staff("Teacher@Test.Example ", TEACHER_PASSWORD)
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "teacher"
    assert api.post("/api/v1/auth/logout").status_code == 200
    assert api.get("/api/v1/me").status_code == 401


def test_wrong_staff_password_is_401(api: ApiClient, school: SeededSchool) -> None:
    response = api.login_staff(school.teacher_email, "not-the-password")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_login_is_audited(api: ApiClient, school: SeededSchool) -> None:
    before = row_count(AuditEvent)
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    assert row_count(AuditEvent) == before + 1


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_login_is_rate_limited(api: ApiClient, school: SeededSchool) -> None:
    statuses = [
        api.login_staff(school.teacher_email, "wrong-password").status_code for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    response = api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_student_cannot_use_teacher_api(api: ApiClient, school: SeededSchool) -> None:
    api.login_student(school.class_code, 1, school.student_codes[1])
    response = api.get("/api/v1/classes")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_anonymous_gets_401(api: ApiClient, school: SeededSchool) -> None:
    response = api.get("/api/v1/me/administrations")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "authentication_required"


def test_password_hashes_are_argon2() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


def test_login_codes_are_high_entropy_and_forgiving_to_type() -> None:
    codes = {generate_login_code() for _ in range(200)}
    assert len(codes) == 200
    code = next(iter(codes))
    assert len(code) == 14
    assert code.count("-") == 2
    assert normalise_login_code(" ab0o-1il ") == "AB00111"
    assert login_code_hmac("k" * 20, code) == login_code_hmac("k" * 20, code.lower())
    assert derived_login_code("k" * 20, "x") == derived_login_code("k" * 20, "x")
    assert derived_login_code("k" * 20, "x") != derived_login_code("k" * 20, "y")


def test_a_tampered_session_cookie_is_anonymous(api: ApiClient, school: SeededSchool) -> None:
    api.login_student(school.class_code, 1, school.student_codes[1])
    assert api.get("/api/v1/me").status_code == 200  # the cookie is now verified and cached
    cookie = api.client.get_cookie("cbt_session")
    value = cookie.value
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    api.client.set_cookie("cbt_session", forged)
    assert api.get("/api/v1/me").status_code == 401
    api.client.set_cookie("cbt_session", value)
    assert api.get("/api/v1/me").status_code == 200
