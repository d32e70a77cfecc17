"""Logins, the current user and role/scope checks (invariant 6).

The browser keeps only a signed session cookie holding the user id and role, so the hot path
authorises a student without touching the database.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import current_app, session
from sqlalchemy import select

from cbt.db import db
from cbt.errors import AuthenticationRequired, DomainError, ErrorCode, Forbidden
from cbt.models import Classroom, Enrollment, Role, User
from cbt.security import (
    csrf_token,
    login_code_hmac,
    revoke_login_session,
    start_login_session,
    verify_password,
)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class CurrentUser:
    id: int
    role: Role
    display_name: str


def _invalid_credentials() -> DomainError:
    # One message for every failure, so a guesser learns nothing about which part was wrong.
    return DomainError(
        "Those login details are not right. Check them and try again.",
        code=ErrorCode.INVALID_CREDENTIALS,
        status=401,
    )


def authenticate_student(
    secret_key: str, class_code: str, student_number: int, login_code: str
) -> User:
    """The student identified by class code, number and class-issued login code, or an error."""
    enrollment = db.session.execute(
        select(Enrollment)
        .join(Classroom, Enrollment.classroom_id == Classroom.id)
        .where(
            Classroom.class_code == class_code.strip().upper(),
            Enrollment.student_number == student_number,
            Enrollment.role == Role.STUDENT,
        )
    ).scalar_one_or_none()
    expected = enrollment.login_code_hmac if enrollment else None
    given = login_code_hmac(secret_key, login_code)
    if enrollment is None or expected is None or not _same(expected, given):
        raise _invalid_credentials()
    user = db.session.get(User, enrollment.user_id)
    if user is None or not user.is_active:
        raise _invalid_credentials()
    return user


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def authenticate_staff(email: str, password: str) -> User:
    """A teacher, researcher or operator by e-mail and password, or an error."""
    user = db.session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    hash_ = user.password_hash if user else None
    if not verify_password(hash_, password) or user is None or not user.is_active:
        raise _invalid_credentials()
    if user.role == Role.STUDENT:
        raise _invalid_credentials()
    return user


def login_user(user: User) -> CurrentUser:
    """Start a fresh browser session for ``user`` (a new CSRF token guards against fixation)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["role"] = str(user.role)
    session["name"] = user.display_name
    start_login_session(current_app.permanent_session_lifetime.total_seconds())
    if user.locale:
        session["locale"] = user.locale  # the chosen language follows the person to any device
    csrf_token()
    return CurrentUser(user.id, Role(user.role), user.display_name)


def logout_user() -> None:
    """End the login on the server too: the cookie, even if copied, no longer signs anyone in."""
    revoke_login_session()


def current_user() -> CurrentUser | None:
    """The logged-in user from the signed session cookie, or None (no database read)."""
    uid, role = session.get("uid"), session.get("role")
    if isinstance(uid, int) and role in Role.__members__.values():
        return CurrentUser(uid, Role(role), session.get("name", ""))
    return None


def require_user(*roles: Role) -> CurrentUser:
    """The current user if they hold one of ``roles`` (any role when none given)."""
    user = current_user()
    if user is None:
        raise AuthenticationRequired("Log in first.")
    if roles and user.role not in roles:
        raise Forbidden(
            "Your role may not do this.",
            details={"role": str(user.role), "allowed": [str(role) for role in roles]},
        )
    return user


def roles_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: the caller must be logged in with one of ``roles``."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            require_user(*roles)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def teacher_classroom_ids(teacher_id: int) -> list[int]:
    """Classrooms a teacher is enrolled in as teacher."""
    return list(
        db.session.scalars(
            select(Enrollment.classroom_id).where(
                Enrollment.user_id == teacher_id, Enrollment.role == Role.TEACHER
            )
        )
    )


def ensure_teacher_sees_classroom(user: CurrentUser, classroom_id: int) -> None:
    if user.role == Role.OPERATOR:
        return
    if user.role != Role.TEACHER or classroom_id not in teacher_classroom_ids(user.id):
        raise Forbidden("You do not teach this class.", details={"classroom_id": classroom_id})


def ensure_can_see_student(user: CurrentUser, student_id: int) -> None:
    """Students see only themselves, teachers only their own classes' students (invariant 6)."""
    if user.role == Role.STUDENT and user.id == student_id:
        return
    if user.role == Role.OPERATOR:
        return
    if user.role == Role.TEACHER:
        shared = db.session.scalar(
            select(Enrollment.id)
            .where(
                Enrollment.user_id == student_id,
                Enrollment.role == Role.STUDENT,
                Enrollment.classroom_id.in_(
                    select(Enrollment.classroom_id).where(
                        Enrollment.user_id == user.id, Enrollment.role == Role.TEACHER
                    )
                ),
            )
            .limit(1)
        )
        if shared is not None:
            return
    raise Forbidden("You may not see this student's data.", details={"student_id": student_id})


def session_payload(user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "role": str(user.role), "display_name": user.display_name}
