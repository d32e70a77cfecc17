"""`cbt seed-load`: bulk schools, classes and students whose printed codes log in."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from cbt.db import db
from cbt.demo.load import seed_load
from cbt.models import Classroom, Enrollment, Role, School, User
from delivery.models import AdministrationClassroom
from tests.helpers import SECRET, ApiClient, seed_school


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seeded_students_and_teachers_log_in(app: Flask, api: ApiClient) -> None:
    seeded = seed_load(
        SECRET,
        schools=3,
        classes_per_school=2,
        students_per_class=4,
        prefix="T1",
        teacher_password="load-test-password",
    )
    db.session.commit()
    assert count(School, School.code.like("T1-%")) == 3
    assert count(Classroom, Classroom.class_code.like("T1%")) == 6
    assert count(Enrollment, Enrollment.role == Role.STUDENT) == 24
    assert count(User, User.role == Role.TEACHER) == 6
    assert len(seeded.students) == 24
    assert len({code for *_, code in seeded.students}) == 24
    class_code, number, _name, login_code = seeded.students[-1]
    assert api.login_student(class_code, number, login_code).status_code == 200
    api.post("/api/v1/auth/logout")
    email, _classroom, _code = seeded.teachers[0]
    assert api.login_staff(email, "load-test-password").status_code == 200


def test_seed_assigns_administrations_and_refuses_a_used_prefix(
    app: Flask, runner, tmp_path: Path
) -> None:
    from cbt.demo.load import seed_load_command

    seed_school()  # one open administration, assigned to its two classes
    out = tmp_path / "logins.csv"
    teachers = tmp_path / "teachers.csv"
    args = ["--schools", "2", "--classes-per-school", "2", "--students-per-class", "3"]
    args += ["--prefix", "T2", "--out", str(out), "--teachers-out", str(teachers), "--assign-open"]
    result = runner.invoke(seed_load_command, args)
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert set(rows[0]) == {"class_code", "student_number", "name", "login_code"}
    with teachers.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert count(AdministrationClassroom) == 2 + 4
    again = runner.invoke(seed_load_command, args)
    assert again.exit_code != 0
    assert count(School, School.code.like("T2-%")) == 2
