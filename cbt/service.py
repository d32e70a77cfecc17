"""People services: schools, classrooms, staff and student enrolment. They flush; callers commit."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sqlalchemy import select

from cbt.db import db
from cbt.errors import Conflict, ValidationError
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import hash_password, login_code_hmac

MIN_PASSWORD_LENGTH = 10


def new_pseudonym() -> str:
    """A random, stable person key for research exports (no link to name or number)."""
    return "P" + secrets.token_hex(8).upper()


def find_school(code: str) -> School | None:
    return db.session.execute(select(School).where(School.code == code)).scalar_one_or_none()


def create_school(code: str, name: str) -> School:
    if find_school(code) is not None:
        raise Conflict("School %(code)r exists.", params={"code": code}, details={"code": code})
    school = School(code=code, name=name)
    db.session.add(school)
    db.session.flush()
    return school


def find_classroom(class_code: str) -> Classroom | None:
    return db.session.execute(
        select(Classroom).where(Classroom.class_code == class_code.upper())
    ).scalar_one_or_none()


def create_classroom(
    school: School, name: str, grade: int, academic_year: int, class_code: str
) -> Classroom:
    if find_classroom(class_code) is not None:
        raise Conflict(
            "Class code %(class_code)r is taken.",
            params={"class_code": class_code},
            details={"class_code": class_code},
        )
    classroom = Classroom(
        school=school,
        name=name,
        grade=grade,
        academic_year=academic_year,
        class_code=class_code.upper(),
    )
    db.session.add(classroom)
    db.session.flush()
    return classroom


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()


def create_staff_user(
    email: str, display_name: str, role: Role, password: str, school: School | None = None
) -> User:
    """A teacher, researcher or operator with an argon2 password hash."""
    if role == Role.STUDENT:
        raise ValidationError("Students are enrolled with a login code, not a password.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "Passwords need at least %(minimum)s characters.",
            params={"minimum": MIN_PASSWORD_LENGTH},
            details={"field": "password"},
        )
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationError("That is not an e-mail address.", details={"field": "email"})
    if find_user_by_email(email) is not None:
        raise Conflict(
            "A user with e-mail %(email)s exists.",
            params={"email": email},
            details={"email": email},
        )
    user = User(
        role=role,
        display_name=display_name,
        email=email,
        password_hash=hash_password(password),
        pseudonym=new_pseudonym(),
        school_id=school.id if school else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def enroll_teacher(classroom: Classroom, teacher: User) -> Enrollment:
    enrollment = Enrollment(classroom=classroom, user=teacher, role=Role.TEACHER)
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def enroll_student(
    classroom: Classroom,
    student_number: int,
    display_name: str,
    login_code: str,
    secret_key: str,
    names: Mapping[str, str | None] | None = None,
) -> Enrollment:
    """Create a student in ``classroom``; only the HMAC of ``login_code`` is stored. ``names``
    sets the roster's name columns (family_name, given_name and their kana)."""
    if student_number < 1:
        raise ValidationError("Student numbers start at 1.", details={"field": "student_number"})
    user = User(
        role=Role.STUDENT,
        display_name=display_name,
        pseudonym=new_pseudonym(),
        school_id=classroom.school_id,
        **(names or {}),
    )
    enrollment = Enrollment(
        classroom=classroom,
        user=user,
        role=Role.STUDENT,
        student_number=student_number,
        login_code_hmac=login_code_hmac(secret_key, login_code),
    )
    db.session.add_all([user, enrollment])
    db.session.flush()
    return enrollment
