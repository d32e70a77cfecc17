"""Authentication API: CSRF token, student and staff login, logout, who am I, my language."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, session
from sqlalchemy import select

from cbt.admission import LOGIN, TICKET_HEADER_DOC, admit_or_wait
from cbt.audit import record_audit
from cbt.auth import (
    authenticate_staff,
    authenticate_student,
    current_user,
    ensure_teacher_sees_classroom,
    login_user,
    logout_user,
    require_user,
    session_payload,
)
from cbt.db import db
from cbt.errors import DomainError, Forbidden, NotFound, ValidationError
from cbt.http import INT32_MAX, INT32_MIN, get_field, json_body, request_actor
from cbt.i18n import LOCALE_COOKIE, LOCALE_COOKIE_MAX_AGE, LOCALES
from cbt.models import Classroom, Role, User
from cbt.openapi import openapi, ref, register_tags
from cbt.security import csrf_token, login_guard, staff_account, student_account

blueprint = Blueprint("cbt_api", __name__, url_prefix="/api/v1")

AUTH = "Authentication"
register_tags({AUTH: "Login and the CSRF token (every POST needs X-CSRF-Token)."})
_LOGIN_REPLY = {
    "type": "object",
    "properties": {"user": ref("User"), "csrf_token": {"type": "string"}},
}


@blueprint.get("/auth/csrf")
@openapi(
    summary="A CSRF token for clients that are not our pages.",
    tags=[AUTH],
    response={"type": "object", "properties": {"csrf_token": {"type": "string"}}},
)
def get_csrf() -> Response:
    """A CSRF token for clients that are not our pages (load tests, scripts)."""
    return jsonify({"csrf_token": csrf_token()})


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _student_number(raw: int | str) -> int:
    try:
        number = int(raw)
    except ValueError:
        return -1  # fails like any wrong detail, without saying which one
    return number if 0 <= number <= INT32_MAX else -1


@blueprint.post("/auth/student-login")
@openapi(
    summary="Student login with class code, student number and login code.",
    tags=[AUTH],
    body={
        "type": "object",
        "required": ["class_code", "student_number", "login_code"],
        "properties": {
            "class_code": {"type": "string", "maxLength": 32},
            "student_number": {
                "oneOf": [
                    {
                        "type": "integer",
                        "format": "int32",
                        "minimum": INT32_MIN,
                        "maximum": INT32_MAX,
                    },
                    {"type": "string", "maxLength": 16},
                ]
            },
            "login_code": {"type": "string", "maxLength": 64},
        },
    },
    response=_LOGIN_REPLY,
    headers=TICKET_HEADER_DOC,
)
def student_login() -> Response:
    admit_or_wait(LOGIN)
    data = json_body()
    class_code = get_field(data, "class_code", str, max_length=32)
    number = _student_number(get_field(data, "student_number", (int, str), max_length=16))
    login_code = get_field(data, "login_code", str, max_length=64)
    guard, address, account = login_guard(), _client_address(), student_account(class_code, number)
    guard.check(address, account)
    try:
        user = authenticate_student(
            current_app.config["SECRET_KEY"], class_code, number, login_code
        )
    except DomainError:
        guard.failed(address, account)
        raise
    login = login_user(user)
    record_audit(request_actor(login), "login", "user", user.id)
    return jsonify({"user": session_payload(login), "csrf_token": csrf_token()})


@blueprint.post("/auth/staff-login")
@openapi(
    summary="Staff login with e-mail and password.",
    tags=[AUTH],
    body={
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "maxLength": 254},
            "password": {"type": "string", "maxLength": 1024},
        },
    },
    response=_LOGIN_REPLY,
)
def staff_login() -> Response:
    data = json_body()
    email = get_field(data, "email", str, max_length=254)
    password = get_field(data, "password", str, max_length=1024)
    guard, address, account = login_guard(), _client_address(), staff_account(email)
    guard.check(address, account)
    try:
        user = authenticate_staff(email, password)
    except DomainError:
        guard.failed(address, account)
        raise
    login = login_user(user)
    record_audit(request_actor(login), "login", "user", user.id)
    return jsonify({"user": session_payload(login), "csrf_token": csrf_token()})


@blueprint.post("/auth/logout")
@openapi(
    summary="End the browser session (the cookie stops working on the server too).",
    tags=[AUTH],
    response={
        "type": "object",
        "properties": {"user": {"nullable": True}, "csrf_token": {"type": "string"}},
    },
)
def logout() -> Response:
    logout_user()
    return jsonify({"user": None, "csrf_token": csrf_token()})


@blueprint.post("/auth/unlock")
@openapi(
    summary="Lift the lock on an account after too many wrong login attempts; audited.",
    tags=[AUTH],
    roles=["teacher", "operator"],
    body={
        "oneOf": [
            {
                "type": "object",
                "required": ["class_code", "student_number"],
                "properties": {
                    "class_code": {"type": "string", "maxLength": 32},
                    "student_number": {
                        "type": "integer",
                        "format": "int32",
                        "minimum": 0,
                        "maximum": INT32_MAX,
                    },
                },
            },
            {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string", "maxLength": 254}},
            },
        ]
    },
)
def unlock_account() -> Response:
    """Lift the lock on an account after too many wrong attempts: a teacher for a student of
    their class, an operator for anyone."""
    user = require_user(Role.TEACHER, Role.OPERATOR)
    data = json_body()
    if "email" in data:
        if user.role != Role.OPERATOR:
            raise Forbidden("Only an operator can unlock a staff account.")
        email = get_field(data, "email", str, max_length=254).strip().lower()
        staff_id = db.session.scalar(select(User.id).where(User.email == email))
        if staff_id is None:
            raise NotFound("No staff account has this e-mail.")
        account = staff_account(email)
        target: dict[str, object] = {"user_id": staff_id}
        audited: tuple[str, int] = ("user", staff_id)
    else:
        class_code = get_field(data, "class_code", str, max_length=32).strip().upper()
        number = get_field(data, "student_number", int, minimum=0)
        classroom_id = db.session.scalar(
            select(Classroom.id).where(Classroom.class_code == class_code)
        )
        if classroom_id is None:
            raise NotFound("No class has this code.", details={"class_code": class_code})
        ensure_teacher_sees_classroom(user, classroom_id)
        account = student_account(class_code, number)
        target = {"class_code": class_code, "student_number": number}
        audited = ("classroom", classroom_id)
    login_guard().unlock(account)
    record_audit(request_actor(user), "unlock_login", *audited, target)
    return jsonify({"unlocked": target})


@blueprint.put("/me/locale")
@openapi(
    summary="Choose the page language (ja or en): a cookie, and the profile when signed in.",
    tags=[AUTH],
    body={
        "type": "object",
        "required": ["locale"],
        "properties": {"locale": {"type": "string", "enum": ["ja", "en"]}},
    },
    response={"type": "object", "properties": {"locale": {"type": "string"}}},
)
def set_locale() -> Response:
    """Switch the page language: a cookie for this browser and, when signed in, the profile."""
    data = json_body()
    locale = get_field(data, "locale", str, max_length=8)
    if locale not in LOCALES:
        raise ValidationError(
            "Choose one of the offered languages.",
            details={"field": "locale", "allowed": list(LOCALES)},
        )
    user = current_user()
    if user is not None:
        stored = db.session.get(User, user.id)
        if stored is not None:
            stored.locale = locale
        session["locale"] = locale
    response = jsonify({"locale": locale})
    response.set_cookie(
        LOCALE_COOKIE,
        locale,
        max_age=LOCALE_COOKIE_MAX_AGE,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@blueprint.get("/me")
@openapi(
    summary="The logged-in user.",
    tags=[AUTH],
    roles=["student", "teacher", "school_admin", "researcher", "operator"],
    response={"type": "object", "properties": {"user": ref("User")}},
)
def me() -> Response:
    require_user()
    return jsonify({"user": session_payload(current_user())})
