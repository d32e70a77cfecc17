"""School management: schools, classes, students, teachers and staff passwords.

Functions flush and never commit (the request boundary or the CLI commits). Who may call what
is decided by the callers (schools.api, schools.cli) through cbt.auth's scope helpers; the
functions here check what the data itself requires: codes and numbers unique, a move stays
inside one school, archived rows are not edited.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from cbt.db import db, iso_utc, utcnow
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import generate_login_code, hash_password, verify_password
from cbt.service import MIN_PASSWORD_LENGTH, enroll_student, new_pseudonym
from schools.retention import shown_name

MAX_PASSWORD_LENGTH = 1024
STAFF_OF_A_SCHOOL = (Role.TEACHER, Role.SCHOOL_ADMIN)
MIN_GRADE, MAX_GRADE = 1, 12
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_STUDENT_NUMBER = 99_999

# Class codes are typed by children: no 0/O, 1/I/L, U; six characters, 30**6 of them.
CLASS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CLASS_CODE_LENGTH = 6
_SCHOOL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# Hiragana, katakana (full and half width), the long-vowel mark, middle dot and spaces.
_KANA = re.compile(r"^[\u3040-\u309F\u30A0-\u30FF\uFF66-\uFF9F\u3000 ・ー]+$")
# No spaces or control characters (what the OpenAPI document's pattern says too).
_EMAIL_PART = r"[^@\s\x00-\x20\x7f-\x9f]+"
_EMAIL = re.compile(rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$")


@dataclass(frozen=True)
class NewStudent:
    """What a new student needs; ``login_code`` is the only time the code is seen."""

    enrollment: Enrollment
    login_code: str


# -- reading helpers ----------------------------------------------------------------------------


def get_school(school_id: int) -> School:
    school = db.session.get(School, school_id)
    if school is None:
        raise NotFound("No school has this id.", details={"school_id": school_id})
    return school


def get_classroom(classroom_id: int) -> Classroom:
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound("No class has this id.", details={"classroom_id": classroom_id})
    return classroom


def student_enrollment(student_id: int) -> Enrollment:
    """The student's enrolment (a student is in one class at a time)."""
    enrollment = db.session.scalar(
        select(Enrollment)
        .where(Enrollment.user_id == student_id, Enrollment.role == Role.STUDENT)
        .order_by(Enrollment.archived_at.is_not(None), Enrollment.id.desc())
        .limit(1)
    )
    if enrollment is None:
        raise NotFound("No student has this id.", details={"student_id": student_id})
    return enrollment


def get_staff(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.STUDENT:
        raise NotFound("No staff member has this id.", details={"user_id": user_id})
    return user


def staff_school_ids(user: User) -> set[int]:
    """Schools a staff member belongs to: their own, and those of classes they teach."""
    schools = {user.school_id} if user.school_id is not None else set()
    schools.update(
        db.session.scalars(
            select(Classroom.school_id)
            .join(Enrollment, Enrollment.classroom_id == Classroom.id)
            .where(Enrollment.user_id == user.id, Enrollment.role == Role.TEACHER)
        )
    )
    return schools


# -- text checks ---------------------------------------------------------------------------------


def _text(value: str, field: str, max_length: int, *, required: bool = True) -> str | None:
    cleaned = " ".join(value.split())
    if not cleaned:
        if required:
            raise ValidationError(
                "'%(field)s' is required.", params={"field": field}, details={"field": field}
            )
        return None
    if len(cleaned) > max_length:
        raise ValidationError(
            "'%(field)s' is too long (at most %(max_length)s).",
            params={"field": field, "max_length": max_length},
            details={"field": field},
        )
    return cleaned


def _kana(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    cleaned = _text(value, field, 100, required=False)
    if cleaned is not None and not _KANA.match(cleaned):
        raise ValidationError(
            "Kana names take hiragana or katakana only.", details={"field": field}
        )
    return cleaned


def _range(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValidationError(
            "'%(field)s' must be between %(low)s and %(high)s.",
            params={"field": field, "low": low, "high": high},
            details={"field": field, "minimum": low, "maximum": high},
        )
    return value


def check_new_password(password: str, user: User | None = None) -> None:
    """The password rules: at least MIN_PASSWORD_LENGTH characters, not the e-mail address."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "Passwords need at least 10 characters.",
            details={"field": "new_password", "min_length": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            "Passwords may have at most 1024 characters.",
            details={"field": "new_password", "max_length": MAX_PASSWORD_LENGTH},
        )
    if user is not None and user.email and password.strip().lower() == user.email:
        raise ValidationError(
            "The password may not be your e-mail address.", details={"field": "new_password"}
        )


def generate_password() -> str:
    """A temporary password people can read aloud and type: 16 characters in groups of four."""
    return generate_login_code() + "-" + generate_login_code()[:4]


# -- schools -----------------------------------------------------------------------------------


def school_view(school: School) -> dict[str, Any]:
    n_classes = db.session.scalar(
        select(func.count())
        .select_from(Classroom)
        .where(Classroom.school_id == school.id, Classroom.archived_at.is_(None))
    )
    return {
        "id": school.id,
        "code": school.code,
        "name": school.name,
        "archived_at": iso_utc(school.archived_at),
        "n_classes": n_classes or 0,
    }


def list_schools(scope: int | None, include_archived: bool = False) -> list[dict[str, Any]]:
    query = select(School).order_by(School.code)
    if scope is not None:
        query = query.where(School.id == scope)
    if not include_archived:
        query = query.where(School.archived_at.is_(None))
    return [school_view(school) for school in db.session.scalars(query)]


def _school_code(code: str) -> str:
    code = code.strip()
    if not _SCHOOL_CODE.match(code):
        raise ValidationError(
            "A school code has 1 to 32 letters, digits, '-' or '_'.", details={"field": "code"}
        )
    return code


def create_school(code: str, name: str) -> School:
    code = _school_code(code)
    name = _text(name, "name", 200) or ""
    if db.session.scalar(select(School.id).where(School.code == code)) is not None:
        raise Conflict("A school with this code exists.", details={"code": code})
    school = School(code=code, name=name)
    db.session.add(school)
    db.session.flush()
    return school


def update_school(school: School, *, code: str | None, name: str | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if code is not None:
        code = _school_code(code)
        if code != school.code:
            taken = db.session.scalar(
                select(School.id).where(School.code == code, School.id != school.id)
            )
            if taken is not None:
                raise Conflict("A school with this code exists.", details={"code": code})
            changes["code"] = school.code = code
    if name is not None:
        changes["name"] = school.name = _text(name, "name", 200) or ""
    db.session.flush()
    return changes


def archive_school(school: School) -> None:
    if school.archived_at is None:
        school.archived_at = utcnow()
        db.session.flush()


# -- classes -----------------------------------------------------------------------------------


def classroom_view(classroom: Classroom, n_students: int | None = None) -> dict[str, Any]:
    if n_students is None:
        n_students = _count_students(classroom.id)
    return {
        "id": classroom.id,
        "school_id": classroom.school_id,
        "name": classroom.name,
        "grade": classroom.grade,
        "academic_year": classroom.academic_year,
        "class_code": classroom.class_code,
        "archived_at": iso_utc(classroom.archived_at),
        "n_students": n_students,
    }


def _count_students(classroom_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(
                Enrollment.classroom_id == classroom_id,
                Enrollment.role == Role.STUDENT,
                Enrollment.archived_at.is_(None),
            )
        )
        or 0
    )


def list_classrooms(
    school_id: int, *, only_ids: list[int] | None = None, include_archived: bool = False
) -> list[dict[str, Any]]:
    counts = (
        select(Enrollment.classroom_id, func.count().label("n"))
        .where(Enrollment.role == Role.STUDENT, Enrollment.archived_at.is_(None))
        .group_by(Enrollment.classroom_id)
        .subquery()
    )
    query = (
        select(Classroom, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.classroom_id == Classroom.id)
        .where(Classroom.school_id == school_id)
        .order_by(Classroom.academic_year.desc(), Classroom.grade, Classroom.name)
    )
    if only_ids is not None:
        query = query.where(Classroom.id.in_(only_ids))
    if not include_archived:
        query = query.where(Classroom.archived_at.is_(None))
    return [classroom_view(c, n) for c, n in db.session.execute(query)]


def new_class_code() -> str:
    for _attempt in range(20):
        code = "".join(secrets.choice(CLASS_CODE_ALPHABET) for _ in range(CLASS_CODE_LENGTH))
        if db.session.scalar(select(Classroom.id).where(Classroom.class_code == code)) is None:
            return code
    raise Conflict("Could not find a free class code. Try again.")  # pragma: no cover


def create_classroom(school: School, name: str, grade: int, academic_year: int) -> Classroom:
    if school.archived_at is not None:
        raise Conflict("This school is archived.", details={"school_id": school.id})
    classroom = Classroom(
        school_id=school.id,
        name=_text(name, "name", 100) or "",
        grade=_range(grade, "grade", MIN_GRADE, MAX_GRADE),
        academic_year=_range(academic_year, "academic_year", MIN_YEAR, MAX_YEAR),
        class_code=new_class_code(),
    )
    db.session.add(classroom)
    db.session.flush()
    return classroom


def _not_archived(classroom: Classroom) -> None:
    if classroom.archived_at is not None:
        raise Conflict("This class is archived.", details={"classroom_id": classroom.id})


def update_classroom(
    classroom: Classroom, *, name: str | None, grade: int | None, academic_year: int | None
) -> dict[str, Any]:
    _not_archived(classroom)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = classroom.name = _text(name, "name", 100) or ""
    if grade is not None:
        changes["grade"] = classroom.grade = _range(grade, "grade", MIN_GRADE, MAX_GRADE)
    if academic_year is not None:
        changes["academic_year"] = classroom.academic_year = _range(
            academic_year, "academic_year", MIN_YEAR, MAX_YEAR
        )
    db.session.flush()
    return changes


def archive_classroom(classroom: Classroom) -> None:
    """Archived: hidden from lists, students can no longer sign in; results stay."""
    if classroom.archived_at is None:
        classroom.archived_at = utcnow()
        db.session.flush()


# -- students ----------------------------------------------------------------------------------


def student_view(enrollment: Enrollment, user: User) -> dict[str, Any]:
    kana = " ".join(k for k in (user.family_name_kana, user.given_name_kana) if k)
    return {
        "id": user.id,
        "enrollment_id": enrollment.id,
        "classroom_id": enrollment.classroom_id,
        "student_number": enrollment.student_number,
        "display_name": shown_name(user.display_name, user.identity_deleted_at),
        "identity_deleted": user.identity_deleted_at is not None,
        "family_name": user.family_name,
        "given_name": user.given_name,
        "family_name_kana": user.family_name_kana,
        "given_name_kana": user.given_name_kana,
        "kana": kana or None,
        "is_active": user.is_active,
        "archived_at": iso_utc(enrollment.archived_at),
    }


def list_students(classroom_id: int, include_archived: bool = False) -> list[dict[str, Any]]:
    query = (
        select(Enrollment, User)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT)
        .order_by(Enrollment.student_number, User.id)
    )
    if not include_archived:
        query = query.where(Enrollment.archived_at.is_(None))
    return [student_view(e, u) for e, u in db.session.execute(query)]


def _number_free(classroom_id: int, number: int, except_enrollment: int | None = None) -> None:
    query = select(Enrollment.id).where(
        Enrollment.classroom_id == classroom_id, Enrollment.student_number == number
    )
    if except_enrollment is not None:
        query = query.where(Enrollment.id != except_enrollment)
    if db.session.scalar(query) is not None:
        raise Conflict(
            "Another student in this class has this number.",
            details={"field": "student_number", "student_number": number},
        )


def _names(fields: dict[str, str | None]) -> dict[str, str | None]:
    checked: dict[str, str | None] = {}
    for name in ("family_name", "given_name"):
        if name in fields:
            value = fields[name]
            checked[name] = None if value is None else _text(value, name, 100, required=False)
    for name in ("family_name_kana", "given_name_kana"):
        if name in fields:
            checked[name] = _kana(fields[name], name)
    return checked


def create_student(
    classroom: Classroom,
    secret_key: str,
    *,
    student_number: int,
    display_name: str | None,
    names: dict[str, str | None],
) -> NewStudent:
    """A student in ``classroom`` with a fresh login code (returned once, stored as an HMAC)."""
    _not_archived(classroom)
    number = _range(student_number, "student_number", 1, MAX_STUDENT_NUMBER)
    checked = _names(names)
    shown = display_name if display_name is not None else ""
    display = _text(shown, "display_name", 200, required=False)
    if display is None:
        joined = " ".join(v for v in (checked.get("family_name"), checked.get("given_name")) if v)
        display = _text(joined, "display_name", 200)
    _number_free(classroom.id, number)
    code = generate_login_code()
    enrollment = enroll_student(classroom, number, display, code, secret_key, names=checked)
    return NewStudent(enrollment, code)


def update_student(
    enrollment: Enrollment,
    *,
    display_name: str | None,
    student_number: int | None,
    names: dict[str, str | None],
) -> dict[str, Any]:
    if enrollment.archived_at is not None:
        raise Conflict("This student is archived.", details={"student_id": enrollment.user_id})
    user = enrollment.user
    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = user.display_name = _text(display_name, "display_name", 200)
    for field, value in _names(names).items():
        setattr(user, field, value)
        changes[field] = value
    if student_number is not None:
        number = _range(student_number, "student_number", 1, MAX_STUDENT_NUMBER)
        _number_free(enrollment.classroom_id, number, except_enrollment=enrollment.id)
        changes["student_number"] = enrollment.student_number = number
    db.session.flush()
    return changes


def move_student(
    enrollment: Enrollment, target: Classroom, student_number: int | None
) -> dict[str, Any]:
    """Move the enrolment to another class of the same school, keeping results."""
    if enrollment.archived_at is not None:
        raise Conflict("This student is archived.", details={"student_id": enrollment.user_id})
    source = enrollment.classroom
    if target.school_id != source.school_id:
        raise Conflict(
            "A student can only move to a class of the same school.",
            details={"field": "classroom_id"},
        )
    if target.id == source.id:
        raise Conflict("The student is already in this class.", details={"field": "classroom_id"})
    _not_archived(target)
    number = enrollment.student_number if student_number is None else student_number
    number = _range(number or 0, "student_number", 1, MAX_STUDENT_NUMBER)
    _number_free(target.id, number)
    enrollment.classroom_id = target.id
    enrollment.student_number = number
    db.session.flush()
    db.session.refresh(enrollment)
    return {"from_classroom_id": source.id, "to_classroom_id": target.id, "student_number": number}


def archive_student(enrollment: Enrollment) -> None:
    """The student can no longer sign in and leaves the class list; results stay."""
    enrollment.user.is_active = False
    if enrollment.archived_at is None:
        enrollment.archived_at = utcnow()
    db.session.flush()


# -- teachers and other staff ------------------------------------------------------------------


def staff_view(user: User, classroom_ids: list[int] | None = None) -> dict[str, Any]:
    return {
        "id": user.id,
        "role": str(user.role),
        "display_name": user.display_name,
        "email": user.email,
        "school_id": user.school_id,
        "is_active": user.is_active,
        "classroom_ids": classroom_ids or [],
    }


def list_staff(school_id: int, include_archived: bool = False) -> list[dict[str, Any]]:
    """Teachers and school administrators of a school, with the classes each teaches."""
    classrooms = select(Classroom.id).where(Classroom.school_id == school_id)
    teaching = select(Enrollment.user_id).where(
        Enrollment.role == Role.TEACHER, Enrollment.classroom_id.in_(classrooms)
    )
    query = (
        select(User)
        .where(
            User.role.in_([str(role) for role in STAFF_OF_A_SCHOOL]),
            or_(User.school_id == school_id, User.id.in_(teaching)),
        )
        .order_by(User.display_name, User.id)
    )
    if not include_archived:
        query = query.where(User.is_active.is_(True))
    users = list(db.session.scalars(query))
    assigned: dict[int, list[int]] = {user.id: [] for user in users}
    rows = db.session.execute(
        select(Enrollment.user_id, Enrollment.classroom_id)
        .join(Classroom, Classroom.id == Enrollment.classroom_id)
        .where(
            Enrollment.role == Role.TEACHER,
            Enrollment.archived_at.is_(None),
            Enrollment.user_id.in_(list(assigned)),
            Classroom.school_id == school_id,
        )
        .order_by(Enrollment.classroom_id)
    )
    for user_id, classroom_id in rows:
        assigned[user_id].append(classroom_id)
    return [staff_view(user, assigned[user.id]) for user in users]


def create_staff(
    school: School | None,
    *,
    email: str,
    display_name: str,
    role: Role,
    password: str | None,
) -> tuple[User, str | None]:
    """A staff account; returns the user and the generated password (None when one was given)."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError("That is not an e-mail address.", details={"field": "email"})
    if role == Role.STUDENT:
        raise ValidationError(
            "Students are enrolled with a login code, not a password.", details={"field": "role"}
        )
    if role == Role.SCHOOL_ADMIN and school is None:
        raise ValidationError("A school administrator needs a school.", details={"field": "school"})
    if school is not None and school.archived_at is not None:
        raise Conflict("This school is archived.", details={"school_id": school.id})
    display = _text(display_name, "display_name", 200) or ""
    generated = None
    if password is None:
        password = generated = generate_password()
    check_new_password(password)
    if password.strip().lower() == email:
        raise ValidationError(
            "The password may not be your e-mail address.", details={"field": "password"}
        )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with this e-mail exists.", details={"field": "email"})
    user = User(
        role=str(role),
        display_name=display,
        email=email,
        password_hash=hash_password(password),
        pseudonym=new_pseudonym(),
        school_id=school.id if school else None,
        # a generated password was seen by whoever made the account: the person picks their own
        password_change_required=generated is not None,
    )
    db.session.add(user)
    db.session.flush()
    return user, generated


def assign_teacher(classroom: Classroom, teacher: User) -> Enrollment:
    _not_archived(classroom)
    if teacher.role not in STAFF_OF_A_SCHOOL or not teacher.is_active:
        raise Conflict(
            "Only an active teacher or school administrator can teach a class.",
            details={"field": "user_id"},
        )
    if classroom.school_id not in staff_school_ids(teacher):
        raise Conflict(
            "This teacher does not belong to the class's school.", details={"field": "user_id"}
        )
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.classroom_id == classroom.id, Enrollment.user_id == teacher.id
        )
    )
    if enrollment is None:
        enrollment = Enrollment(classroom_id=classroom.id, user_id=teacher.id, role=Role.TEACHER)
        db.session.add(enrollment)
    elif enrollment.role != Role.TEACHER:
        raise Conflict("This person is a student of the class.", details={"field": "user_id"})
    else:
        enrollment.archived_at = None
    db.session.flush()
    return enrollment


def unassign_teacher(classroom: Classroom, teacher: User) -> None:
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.classroom_id == classroom.id,
            Enrollment.user_id == teacher.id,
            Enrollment.role == Role.TEACHER,
            Enrollment.archived_at.is_(None),
        )
    )
    if enrollment is None:
        raise NotFound(
            "This teacher does not teach this class.",
            details={"classroom_id": classroom.id, "user_id": teacher.id},
        )
    enrollment.archived_at = utcnow()
    db.session.flush()


def archive_staff(user: User) -> None:
    """The account can no longer sign in; teaching assignments end."""
    user.is_active = False
    now = utcnow()
    for enrollment in db.session.scalars(
        select(Enrollment).where(
            Enrollment.user_id == user.id,
            Enrollment.role == Role.TEACHER,
            Enrollment.archived_at.is_(None),
        )
    ):
        enrollment.archived_at = now
    db.session.flush()


def classroom_teachers(classroom_id: int) -> list[dict[str, Any]]:
    users = db.session.scalars(
        select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(
            Enrollment.classroom_id == classroom_id,
            Enrollment.role == Role.TEACHER,
            Enrollment.archived_at.is_(None),
        )
        .order_by(User.display_name)
    )
    return [staff_view(user) for user in users]


# -- passwords ---------------------------------------------------------------------------------


def change_password(user: User, current: str, new: str) -> bool:
    """Set ``new`` if ``current`` is right; False (nothing changed) when it is not."""
    if not verify_password(user.password_hash, current):
        return False
    check_new_password(new, user)
    if new == current:
        raise ValidationError(
            "Choose a password different from the current one.",
            details={"field": "new_password"},
        )
    user.password_hash = hash_password(new)
    user.password_change_required = False
    db.session.flush()
    return True


def reset_password(user: User) -> str:
    """A new temporary password (shown once); the old one stops working."""
    temporary = generate_password()
    user.password_hash = hash_password(temporary)
    user.password_change_required = True
    db.session.flush()
    return temporary


def find_school_admin(email: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.email == email.strip().lower(), User.role == Role.SCHOOL_ADMIN)
    )
