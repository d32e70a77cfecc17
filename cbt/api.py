"""Authentication API: CSRF token, student and staff login, logout, who am I, my language."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, session

from cbt.audit import record_audit
from cbt.auth import (
    authenticate_staff,
    authenticate_student,
    current_user,
    login_user,
    logout_user,
    require_user,
    session_payload,
)
from cbt.db import db
from cbt.errors import ValidationError
from cbt.http import get_field, json_body, request_actor
from cbt.i18n import LOCALE_COOKIE, LOCALE_COOKIE_MAX_AGE, LOCALES
from cbt.models import User
from cbt.security import check_login_rate, csrf_token

blueprint = Blueprint("cbt_api", __name__, url_prefix="/api/v1")


@blueprint.get("/auth/csrf")
def get_csrf() -> Response:
    """A CSRF token for clients that are not our pages (load tests, scripts)."""
    return jsonify({"csrf_token": csrf_token()})


@blueprint.post("/auth/student-login")
def student_login() -> Response:
    check_login_rate()
    data = json_body()
    class_code = get_field(data, "class_code", str, max_length=32)
    student_number = get_field(data, "student_number", (int, str))
    login_code = get_field(data, "login_code", str, max_length=64)
    try:
        number = int(student_number)
    except ValueError:
        number = -1  # fails like any wrong detail, without saying which one
    user = authenticate_student(current_app.config["SECRET_KEY"], class_code, number, login_code)
    login = login_user(user)
    record_audit(request_actor(login), "login", "user", user.id)
    return jsonify({"user": session_payload(login), "csrf_token": csrf_token()})


@blueprint.post("/auth/staff-login")
def staff_login() -> Response:
    check_login_rate()
    data = json_body()
    email = get_field(data, "email", str, max_length=254)
    password = get_field(data, "password", str, max_length=1024)
    user = authenticate_staff(email, password)
    login = login_user(user)
    record_audit(request_actor(login), "login", "user", user.id)
    return jsonify({"user": session_payload(login), "csrf_token": csrf_token()})


@blueprint.post("/auth/logout")
def logout() -> Response:
    logout_user()
    return jsonify({"user": None, "csrf_token": csrf_token()})


@blueprint.put("/me/locale")
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
def me() -> Response:
    require_user()
    return jsonify({"user": session_payload(current_user())})
