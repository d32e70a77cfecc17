"""``cbt seed-load``: schools, classes, students and teachers in bulk, for load tests.

Rows go in with multi-row Core inserts (a few statements per thousand students, no ORM objects)
and the whole seed is one transaction. The student login codes are written to a CSV in the
format of the demo's ``demo-logins.csv`` (what loadtest/ reads); only their HMACs are stored,
as for any student. Teachers (one per class, all with the one password given) go to a second
CSV with the class they teach and the administrations their class is assigned to.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import insert, select

from cbt.db import db
from cbt.errors import Conflict, ValidationError
from cbt.i18n import cli_gettext as _
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import generate_login_code, hash_password, login_code_hmac
from delivery.models import Administration, AdministrationClassroom, AdministrationStatus

_CHUNK = 2_000  # rows per insert statement


@dataclass
class SeededLoad:
    """What was created: students as (class_code, number, name, login_code), teachers as
    (email, classroom_id, class_code)."""

    students: list[tuple[str, int, str, str]] = field(default_factory=list)
    teachers: list[tuple[str, int, str]] = field(default_factory=list)
    classroom_ids: list[int] = field(default_factory=list)


def _chunks(rows: Sequence[dict], size: int = _CHUNK) -> Iterator[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert_returning_ids(model: type, rows: Sequence[dict]) -> list[int]:
    ids: list[int] = []
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    for chunk in _chunks(rows):
        ids.extend(db.session.execute(statement, list(chunk)).scalars())
    return ids


def seed_load(
    secret_key: str,
    *,
    schools: int,
    classes_per_school: int,
    students_per_class: int,
    prefix: str = "LT",
    grade: int = 6,
    academic_year: int = 2026,
    teacher_password: str | None = None,
    administration_ids: Sequence[int] = (),
) -> SeededLoad:
    """Create the rows (no commit: the caller's request or command commits once)."""
    if min(schools, classes_per_school, students_per_class) < 1:
        raise ValidationError("Schools, classes per school and students per class start at 1.")
    prefix = prefix.strip().upper()
    if not prefix.isalnum() or len(prefix) > 8:
        raise ValidationError("The prefix is 1 to 8 letters or digits.")
    first_code = f"{prefix}-S{1:05d}"
    if db.session.scalar(select(School.id).where(School.code == first_code)) is not None:
        raise Conflict(
            "Schools with this prefix exist already; choose another prefix.",
            details={"school_code": first_code},
        )
    seeded = SeededLoad()
    school_ids = _insert_returning_ids(
        School,
        [
            {"code": f"{prefix}-S{s:05d}", "name": f"Load school {s}", "roster_data": {}}
            for s in range(1, schools + 1)
        ],
    )
    classes = [
        (school_id, f"{prefix}{s:05d}-{c:03d}", c)
        for s, school_id in enumerate(school_ids, start=1)
        for c in range(1, classes_per_school + 1)
    ]
    classroom_ids = _insert_returning_ids(
        Classroom,
        [
            {
                "school_id": school_id,
                "name": f"Class {c}",
                "grade": grade,
                "academic_year": academic_year,
                "class_code": code,
                "roster_data": {},
            }
            for school_id, code, c in classes
        ],
    )
    seeded.classroom_ids = classroom_ids
    users, enrolments = [], []
    for (school_id, code, _c), classroom_id in zip(classes, classroom_ids, strict=True):
        for number in range(1, students_per_class + 1):
            name = f"{code} {number}"
            login_code = generate_login_code()
            seeded.students.append((code, number, name, login_code))
            users.append(
                {
                    "role": Role.STUDENT.value,
                    "display_name": name,
                    "email": None,
                    "password_hash": None,
                    "pseudonym": "P" + secrets.token_hex(8).upper(),
                    "school_id": school_id,
                    "accommodations": {},
                    "roster_data": {},
                }
            )
            enrolments.append(
                {
                    "classroom_id": classroom_id,
                    "role": Role.STUDENT.value,
                    "student_number": number,
                    "login_code_hmac": login_code_hmac(secret_key, login_code),
                    "roster_data": {},
                }
            )
    if teacher_password is not None:
        password_hash = hash_password(teacher_password)  # once: every teacher shares it
        for (school_id, code, _c), classroom_id in zip(classes, classroom_ids, strict=True):
            email = f"teacher-{code.lower()}@load.invalid"
            seeded.teachers.append((email, classroom_id, code))
            users.append(
                {
                    "role": Role.TEACHER.value,
                    "display_name": f"Teacher {code}",
                    "email": email,
                    "password_hash": password_hash,
                    "pseudonym": "P" + secrets.token_hex(8).upper(),
                    "school_id": school_id,
                    "accommodations": {},
                    "roster_data": {},
                }
            )
            enrolments.append(
                {
                    "classroom_id": classroom_id,
                    "role": Role.TEACHER.value,
                    "student_number": None,
                    "login_code_hmac": None,
                    "roster_data": {},
                }
            )
    user_ids = _insert_returning_ids(User, users)
    for row, user_id in zip(enrolments, user_ids, strict=True):
        row["user_id"] = user_id
    for chunk in _chunks(enrolments):
        db.session.execute(insert(Enrollment), list(chunk))
    if administration_ids:
        links = [
            {"administration_id": a, "classroom_id": c}
            for a in administration_ids
            for c in classroom_ids
        ]
        for chunk in _chunks(links):
            db.session.execute(insert(AdministrationClassroom), list(chunk))
    return seeded


def write_logins(path: Path, seeded: SeededLoad) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class_code", "student_number", "name", "login_code"])
        writer.writerows(seeded.students)


def write_teachers(path: Path, seeded: SeededLoad, password: str, administrations: list[int]):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "password", "classroom_id", "class_code", "administration_ids"])
        joined = " ".join(str(a) for a in administrations)
        writer.writerows(
            (email, password, classroom, code, joined) for email, classroom, code in seeded.teachers
        )


@click.command("seed-load")
@click.option("--schools", type=click.IntRange(1, 100_000), required=True)
@click.option("--classes-per-school", type=click.IntRange(1, 1_000), required=True)
@click.option("--students-per-class", type=click.IntRange(1, 1_000), required=True)
@click.option("--prefix", default="LT", show_default=True, help="School and class code prefix.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV of student logins (class_code, student_number, name, login_code).",
)
@click.option(
    "--teachers-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also create one teacher per class and write their logins here.",
)
@click.option(
    "--assign-open",
    is_flag=True,
    help="Assign every open administration to the new classes.",
)
@with_appcontext
def seed_load_command(
    schools: int,
    classes_per_school: int,
    students_per_class: int,
    prefix: str,
    out: Path,
    teachers_out: Path | None,
    assign_open: bool,
) -> None:
    """Create many schools, classes and students quickly, for load tests (one transaction)."""
    administrations: list[int] = []
    if assign_open:
        administrations = list(
            db.session.scalars(
                select(Administration.id).where(Administration.status == AdministrationStatus.OPEN)
            )
        )
    password = secrets.token_urlsafe(12) if teachers_out is not None else None
    try:
        seeded = seed_load(
            current_app.config["SECRET_KEY"],
            schools=schools,
            classes_per_school=classes_per_school,
            students_per_class=students_per_class,
            prefix=prefix,
            teacher_password=password,
            administration_ids=administrations,
        )
    except (Conflict, ValidationError) as error:
        db.session.rollback()
        raise click.ClickException(_(error.message)) from error
    db.session.commit()
    write_logins(out, seeded)
    if teachers_out is not None and password is not None:
        write_teachers(teachers_out, seeded, password, administrations)
    click.echo(
        _(
            "Created %(schools)d schools, %(classes)d classes and %(students)d students; "
            "logins in %(out)s.",
            schools=schools,
            classes=len(seeded.classroom_ids),
            students=len(seeded.students),
            out=str(out),
        )
    )
    if administrations:
        click.echo(_("Assigned administrations: %(ids)s", ids=", ".join(map(str, administrations))))
