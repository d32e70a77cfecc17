"""Fixtures of the school management tests, loaded with ``pytest_plugins``: two schools, each
with a school administrator, a teacher and two classes; an operator and a researcher."""

from __future__ import annotations

import pytest
from flask import Flask

from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from schools import service
from tests.helpers import SECRET, TEACHER_PASSWORD, ApiClient
from tests.unit.schools.school_helpers import (
    ADMIN,
    OPERATOR,
    OTHER_ADMIN,
    OTHER_TEACHER,
    RESEARCHER,
    TEACHER,
    Schools,
    signed_in,
)


@pytest.fixture
def schools(app: Flask) -> Schools:
    a = service.create_school("SCH-A", "Sakura Junior High")
    b = service.create_school("SCH-B", "Momiji Junior High")
    class_a = service.create_classroom(a, "1-A", 7, 2026)
    class_a2 = service.create_classroom(a, "1-B", 7, 2026)
    class_b = service.create_classroom(b, "1-A", 7, 2026)
    admin, _ = service.create_staff(
        a, email=ADMIN, display_name="Admin A", role=Role.SCHOOL_ADMIN, password=TEACHER_PASSWORD
    )
    other_admin, _ = service.create_staff(
        b,
        email=OTHER_ADMIN,
        display_name="Admin B",
        role=Role.SCHOOL_ADMIN,
        password=TEACHER_PASSWORD,
    )
    teacher, _ = service.create_staff(
        a, email=TEACHER, display_name="Teacher A", role=Role.TEACHER, password=TEACHER_PASSWORD
    )
    other_teacher, _ = service.create_staff(
        b,
        email=OTHER_TEACHER,
        display_name="Teacher B",
        role=Role.TEACHER,
        password=TEACHER_PASSWORD,
    )
    service.assign_teacher(class_a, teacher)
    service.assign_teacher(class_b, other_teacher)
    create_staff_user(OPERATOR, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    create_staff_user(RESEARCHER, "Researcher", Role.RESEARCHER, TEACHER_PASSWORD)
    student = service.create_student(
        class_a,
        SECRET,
        student_number=1,
        display_name=None,
        names={"family_name": "山田", "given_name": "花子", "family_name_kana": "やまだ"},
    )
    other = service.create_student(
        class_b, SECRET, student_number=1, display_name="Other", names={}
    )
    db.session.commit()
    return Schools(
        school_id=a.id,
        other_school_id=b.id,
        class_id=class_a.id,
        second_class_id=class_a2.id,
        other_class_id=class_b.id,
        student_id=student.enrollment.user_id,
        student_code=student.login_code,
        class_code=class_a.class_code,
        other_student_id=other.enrollment.user_id,
        teacher_id=teacher.id,
        other_teacher_id=other_teacher.id,
        admin_id=admin.id,
        other_admin_id=other_admin.id,
    )


@pytest.fixture
def admin(app: Flask, schools: Schools) -> ApiClient:
    return signed_in(app, ADMIN)


@pytest.fixture
def other_admin(app: Flask, schools: Schools) -> ApiClient:
    return signed_in(app, OTHER_ADMIN)


@pytest.fixture
def teacher(app: Flask, schools: Schools) -> ApiClient:
    return signed_in(app, TEACHER)


@pytest.fixture
def operator(app: Flask, schools: Schools) -> ApiClient:
    return signed_in(app, OPERATOR)
