"""Logins, the current user and role/scope checks (invariant 6).

The browser keeps only a signed session cookie holding the user id and role, so the hot path
authorises a student without touching the database.

A school administrator (学校管理者) holds every permission of a teacher, narrowed to the
classes of their own school (``users.school_id``) by the scope helpers below, so the teacher
routes (results, answer history, proctoring) serve them without a change.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import current_app, session
from sqlalchemy import Select, or_, select

from cbt.db import db
from cbt.errors import AuthenticationRequired, DomainError, ErrorCode, Forbidden
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import (
    VerifiedCookieSessions,
    announce_revoked,
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
    row = db.session.execute(
        select(Enrollment, Classroom.archived_at, School.archived_at)
        .join(Classroom, Enrollment.classroom_id == Classroom.id)
        .join(School, Classroom.school_id == School.id)
        .where(
            Classroom.class_code == class_code.strip().upper(),
            Enrollment.student_number == student_number,
            Enrollment.role == Role.STUDENT,
        )
    ).one_or_none()
    enrollment = row[0] if row else None
    expected = enrollment.login_code_hmac if enrollment else None
    given = login_code_hmac(secret_key, login_code)
    if enrollment is None or expected is None or not _same(expected, given):
        raise _invalid_credentials()
    # Archived enrolments, classes and schools keep their results but sign nobody in.
    if enrollment.archived_at is not None or row[1] is not None or row[2] is not None:
        raise _invalid_credentials()
    user = db.session.get(User, enrollment.user_id)
    if user is None or not _may_sign_in(user):
        raise _invalid_credentials()
    return user


def _may_sign_in(user: User) -> bool:
    """Active, identity not deleted, and the person's school (if any) not archived."""
    if not user.is_active or user.identity_deleted_at is not None:
        return False
    if user.school_id is not None:
        archived = db.session.scalar(select(School.archived_at).where(School.id == user.school_id))
        if archived is not None:
            return False
    return True


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def authenticate_staff(email: str, password: str) -> User:
    """A teacher, school administrator, researcher or operator by e-mail and password."""
    user = db.session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    hash_ = user.password_hash if user else None
    if not verify_password(hash_, password) or user is None or not _may_sign_in(user):
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
    _remember_login(user.id)
    if user.password_change_required:
        session["pw_change"] = True
    if user.locale:
        session["locale"] = user.locale  # the chosen language follows the person to any device
    csrf_token()
    return CurrentUser(user.id, Role(user.role), user.display_name)


def password_change_pending() -> bool:
    """Whether this login must choose a new password before using the pages."""
    return bool(session.get("pw_change"))


def password_changed() -> None:
    session.pop("pw_change", None)


def logout_user() -> None:
    """End the login on the server too: the cookie, even if copied, no longer signs anyone in."""
    revoke_login_session()


# A person's live logins are listed in the state store (login id -> expiry), so a password
# change, a reset or archiving can end them all. Expired entries are pruned past this many.
_MAX_LISTED_LOGINS = 32


def _remember_login(user_id: int) -> None:
    store = current_app.extensions["cbt.state"]
    key = store.keys.user_logins(user_id)
    store.increment_field(key, session["sid"], int(session["exp"]))
    logins = store.get_fields(key)
    if len(logins) > _MAX_LISTED_LOGINS:
        now = time.time()
        store.delete(key)
        store.batch([("incr", key, sid, exp) for sid, exp in logins.items() if exp > now])


def revoke_user_logins(user_id: int, keep_current: bool = False) -> int:
    """End every login of ``user_id`` on the server (all workers see it within seconds), except
    this browser's own when ``keep_current``. Returns how many were ended."""
    store = current_app.extensions["cbt.state"]
    key = store.keys.user_logins(user_id)
    logins = store.get_fields(key)
    keep = session.get("sid") if keep_current and session.get("uid") == user_id else None
    now = time.time()
    interface = current_app.session_interface
    ops: list[tuple[Any, ...]] = []
    ended_ids: list[str] = []
    for login_id, expires in logins.items():
        if login_id == keep:
            continue
        remaining = int(expires - now) + 1
        if remaining > 0:
            ops.append(("set", store.keys.revoked_login(login_id), b"1", remaining))
            ended_ids.append(login_id)
        if isinstance(interface, VerifiedCookieSessions):
            interface.forget(login_id)
    store.delete(key)
    if keep is not None and keep in logins:
        ops.append(("incr", key, keep, logins[keep]))
    if ops:
        store.batch(ops)
    announce_revoked(store, ended_ids)
    return len(ended_ids)


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
    if roles and not role_allowed(user.role, roles):
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


def role_allowed(role: Role | str, roles: Iterable[Role]) -> bool:
    """Whether ``role`` may use something open to ``roles``: a school administrator may use
    whatever a teacher may, the scope helpers then narrowing it to their school."""
    roles = tuple(roles)
    return role in roles or (role == Role.SCHOOL_ADMIN and Role.TEACHER in roles)


def _visible_classrooms(user_id: int) -> Select[tuple[int]]:
    """Ids of the classrooms a teacher teaches (current assignments), or, for a school
    administrator, every classroom of their school."""
    return select(Classroom.id).where(
        or_(
            Classroom.id.in_(
                select(Enrollment.classroom_id).where(
                    Enrollment.user_id == user_id,
                    Enrollment.role == Role.TEACHER,
                    Enrollment.archived_at.is_(None),
                )
            ),
            Classroom.school_id.in_(
                select(User.school_id).where(User.id == user_id, User.role == Role.SCHOOL_ADMIN)
            ),
        )
    )


def teacher_classroom_ids(teacher_id: int) -> list[int]:
    """Classrooms a teacher is enrolled in as teacher (a school administrator: their school's)."""
    return list(db.session.scalars(_visible_classrooms(teacher_id).order_by(Classroom.id)))


def ensure_teacher_sees_classroom(user: CurrentUser, classroom_id: int) -> None:
    if user.role == Role.OPERATOR:
        return
    if user.role in (Role.TEACHER, Role.SCHOOL_ADMIN):
        visible = db.session.scalar(
            _visible_classrooms(user.id).where(Classroom.id == classroom_id).limit(1)
        )
        if visible is not None:
            return
    raise Forbidden("You do not teach this class.", details={"classroom_id": classroom_id})


def ensure_can_see_student(user: CurrentUser, student_id: int) -> None:
    """Students see only themselves, teachers only their own classes' students, school
    administrators only their school's (invariant 6)."""
    if user.role == Role.STUDENT and user.id == student_id:
        return
    if user.role == Role.OPERATOR:
        return
    if user.role in (Role.TEACHER, Role.SCHOOL_ADMIN):
        shared = db.session.scalar(
            select(Enrollment.id)
            .where(
                Enrollment.user_id == student_id,
                Enrollment.role == Role.STUDENT,
                Enrollment.classroom_id.in_(_visible_classrooms(user.id)),
            )
            .limit(1)
        )
        if shared is not None:
            return
    raise Forbidden("You may not see this student's data.", details={"student_id": student_id})


def school_scope(user: CurrentUser) -> int | None:
    """The one school a school administrator manages; None for an operator (every school).
    Anyone else may not manage schools."""
    if user.role == Role.OPERATOR:
        return None
    if user.role == Role.SCHOOL_ADMIN:
        school_id = db.session.scalar(select(User.school_id).where(User.id == user.id))
        if school_id is not None:
            return school_id
        raise Forbidden("Your account is not attached to a school.")
    raise Forbidden(
        "Your role may not do this.",
        details={"role": str(user.role), "allowed": [str(Role.SCHOOL_ADMIN), str(Role.OPERATOR)]},
    )


def ensure_manages_school(user: CurrentUser, school_id: int) -> None:
    """Operators manage every school, a school administrator only their own."""
    scope = school_scope(user)
    if scope is not None and scope != school_id:
        raise Forbidden("You do not manage this school.", details={"school_id": school_id})


def session_payload(user: CurrentUser | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "role": str(user.role), "display_name": user.display_name}
