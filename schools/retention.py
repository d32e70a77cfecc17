"""Retention: deleting a student's identity while keeping pseudonymised responses for research.

What is removed and what is kept is documented in docs/retention.md and tested field by field in
tests/unit/schools/test_retention.py. In short: every field that names, reaches or identifies the
person (names, kana, e-mail, password hash, roster ids and data, login code, student number,
language, accommodation) is cleared; the row itself, its pseudonym, its school and class
enrolments, and every session, response and result stay, so research exports and class counts
are unchanged. Services flush; the request boundary (or the CLI) commits.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.auth import CurrentUser, revoke_user_logins
from cbt.db import db, iso_utc, utcnow
from cbt.errors import Conflict, Forbidden, NotFound
from cbt.models import Enrollment, Role, User
from cbt.signals import identity_deleted

__all__ = [
    "CLEARED_ENROLLMENT_FIELDS",
    "CLEARED_USER_FIELDS",
    "delete_student_identity",
    "ensure_may_delete_identity",
    "get_student",
    "is_identity_deleted",
    "shown_name",
]

#: Columns of ``users`` cleared by a deletion, with the value left behind.
CLEARED_USER_FIELDS: dict[str, object] = {
    "display_name": "",  # NOT NULL: pages show 「削除済み」 / "Deleted" instead
    "family_name": None,
    "given_name": None,
    "family_name_kana": None,
    "given_name_kana": None,
    "email": None,
    "password_hash": None,
    "sourced_id": None,
    "roster_data": {},
    "locale": None,
    "extra_time_factor": 1.0,  # an accommodation says something about the person's needs
    "accommodations": {},
    "is_active": False,
}
#: Columns of the person's ``enrollments`` cleared by a deletion.
CLEARED_ENROLLMENT_FIELDS: dict[str, object] = {
    "student_number": None,
    "login_code_hmac": None,
    "sourced_id": None,
    "roster_data": {},
}


def is_identity_deleted(user: User) -> bool:
    return user.identity_deleted_at is not None


def shown_name(display_name: str, identity_deleted_at: datetime | None) -> str:
    """A student's name as staff pages show it: 「削除済み」 ("Deleted") once the identity is
    deleted. Teacher reports and the live monitor read names through this."""
    return display_name if identity_deleted_at is None else gettext("Deleted")


def get_student(student_id: int) -> User:
    student = db.session.execute(
        select(User).where(User.id == student_id, User.role == Role.STUDENT)
    ).scalar_one_or_none()
    if student is None:
        raise NotFound("No such student.", details={"student_id": student_id})
    return student


def ensure_may_delete_identity(user: CurrentUser, student: User) -> None:
    """Operators, and the administrators of the student's school; teachers may not."""
    if user.role == Role.OPERATOR:
        return
    if user.role == Role.SCHOOL_ADMIN and student.school_id is not None:
        school_id = db.session.scalar(
            select(User.school_id).where(User.id == user.id, User.is_active.is_(True))
        )
        if school_id == student.school_id:
            return
    raise Forbidden(
        "You may not delete this student's identity.", details={"student_id": student.id}
    )


def delete_student_identity(student: User, actor: Actor) -> User:
    """Clear every identifying field of ``student`` and their enrolments; keep the rest.

    A second deletion is refused with a 409 (nothing is left to delete, and saying so is
    clearer than a silent success). The audit event names the pseudonym and the cleared
    fields, never their old values.
    """
    if student.role != Role.STUDENT:
        raise Conflict("Only a student's identity can be deleted here.")
    if student.identity_deleted_at is not None:
        raise Conflict(
            "This student's identity was already deleted.",
            details={
                "student_id": student.id,
                "identity_deleted_at": iso_utc(student.identity_deleted_at),
            },
        )
    for name, value in CLEARED_USER_FIELDS.items():
        setattr(student, name, dict(value) if isinstance(value, dict) else value)
    student.identity_deleted_at = utcnow()
    enrollments = list(
        db.session.scalars(select(Enrollment).where(Enrollment.user_id == student.id))
    )
    for enrollment in enrollments:
        for name, value in CLEARED_ENROLLMENT_FIELDS.items():
            setattr(enrollment, name, dict(value) if isinstance(value, dict) else value)
    db.session.flush()
    identity_deleted.send(student, user_id=student.id)
    # A browser still signed in as the student is signed out too (all workers within seconds).
    revoke_user_logins(student.id)
    record_audit(
        actor,
        "student_identity_deleted",
        "user",
        student.id,
        {
            "pseudonym": student.pseudonym,
            "cleared_user_fields": sorted(CLEARED_USER_FIELDS),
            "cleared_enrollment_fields": sorted(CLEARED_ENROLLMENT_FIELDS),
            "n_enrollments": len(enrollments),
        },
    )
    return student
