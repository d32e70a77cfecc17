"""Staggered starts: an operator holds a class or school back until its time; the start route
refuses earlier with the time, and lets the class in from then."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask

from cbt.db import db, utcnow
from cbt.models import Classroom, Role
from cbt.service import create_staff_user
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school

OPERATOR = "operator@test.example"


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(n_items=6, n_students=2)
    create_staff_user(OPERATOR, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    return school


def operator(app: Flask) -> ApiClient:
    client = ApiClient(app.test_client())
    client.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert client.login_staff(OPERATOR, TEACHER_PASSWORD).status_code == 200
    return client


def student(app: Flask, school: SeededSchool, number: int = 1) -> ApiClient:
    client = ApiClient(app.test_client())
    client.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert (
        client.login_student(school.class_code, number, school.student_codes[number]).status_code
        == 200
    )
    return client


def windows_url(school: SeededSchool) -> str:
    return f"/api/v1/administrations/{school.administration_id}/start-windows"


def test_a_class_held_back_starts_at_its_time(app: Flask, school: SeededSchool) -> None:
    staff = operator(app)
    later = (utcnow() + dt.timedelta(minutes=10)).replace(microsecond=0)
    reply = staff.client.put(
        windows_url(school),
        json={
            "start_windows": [{"classroom_id": school.classroom_id, "starts_at": later.isoformat()}]
        },
        headers={"X-CSRF-Token": staff.csrf},
    )
    assert reply.status_code == 200, reply.get_json()
    listed = staff.get(windows_url(school)).get_json()
    assert listed["start_windows"] == [
        {
            "school_id": None,
            "classroom_id": school.classroom_id,
            "starts_at": listed["start_windows"][0]["starts_at"],
        }
    ]
    assert {c["id"] for c in listed["classrooms"]} == {
        school.classroom_id,
        school.other_classroom_id,
    }

    pupil = student(app, school)
    refused = pupil.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "not_started_yet"
    assert dt.datetime.fromisoformat(error["details"]["starts_at"]) == later
    assert 0 < error["details"]["seconds_to_start"] <= 600
    assert "starts this test later" in error["message"]

    # the other class is not held back
    other = ApiClient(app.test_client())
    assert (
        other.login_student(school.other_class_code, 1, school.other_student_code).status_code
        == 200
    )
    assert (
        other.post(f"/api/v1/administrations/{school.administration_id}/sessions").status_code
        == 200
    )

    # a school-wide window later than the class's own: the class's wins
    earlier = utcnow() - dt.timedelta(minutes=1)
    classroom = db.session.get(Classroom, school.classroom_id)
    reply = staff.client.put(
        windows_url(school),
        json={
            "start_windows": [
                {"classroom_id": school.classroom_id, "starts_at": earlier.isoformat()},
                {"school_id": classroom.school_id, "starts_at": later.isoformat()},
            ]
        },
        headers={"X-CSRF-Token": staff.csrf},
    )
    assert reply.status_code == 200
    assert (
        pupil.post(f"/api/v1/administrations/{school.administration_id}/sessions").status_code
        == 200
    )


def test_a_school_window_holds_back_every_class_of_the_school(
    app: Flask, school: SeededSchool
) -> None:
    staff = operator(app)
    classroom = db.session.get(Classroom, school.classroom_id)
    later = utcnow() + dt.timedelta(hours=1)
    reply = staff.client.put(
        windows_url(school),
        json={
            "start_windows": [{"school_id": classroom.school_id, "starts_at": later.isoformat()}]
        },
        headers={"X-CSRF-Token": staff.csrf},
    )
    assert reply.status_code == 200
    for code, number, login in (
        (school.class_code, 1, school.student_codes[1]),
        (school.other_class_code, 1, school.other_student_code),
    ):
        pupil = ApiClient(app.test_client())
        assert pupil.login_student(code, number, login).status_code == 200
        refused = pupil.post(f"/api/v1/administrations/{school.administration_id}/sessions")
        assert refused.get_json()["error"]["code"] == "not_started_yet"


@pytest.mark.parametrize(
    "entry",
    [
        {"starts_at": "2026-12-01T09:00:00+09:00"},  # neither school nor class
        {"school_id": 1, "classroom_id": 1, "starts_at": "2026-12-01T09:00:00+09:00"},
        {"classroom_id": 99999, "starts_at": "2026-12-01T09:00:00+09:00"},  # not given the test
        {"classroom_id": "1", "starts_at": "2026-12-01T09:00:00+09:00"},
        {"classroom_id": None, "school_id": 424242, "starts_at": "2026-12-01T09:00:00+09:00"},
        {"classroom_id": 1, "starts_at": "2026-12-01T09:00:00"},  # no zone
        {"classroom_id": 1, "starts_at": 5},
        "not an object",
    ],
)
def test_bad_windows_are_refused_whole(app: Flask, school: SeededSchool, entry) -> None:
    staff = operator(app)
    reply = staff.client.put(
        windows_url(school),
        json={"start_windows": [entry]},
        headers={"X-CSRF-Token": staff.csrf},
    )
    assert reply.status_code == 422, reply.get_json()
    assert staff.get(windows_url(school)).get_json()["start_windows"] == []


def test_a_twice_listed_class_is_refused(app: Flask, school: SeededSchool) -> None:
    staff = operator(app)
    entry = {"classroom_id": school.classroom_id, "starts_at": "2026-12-01T09:00:00+09:00"}
    reply = staff.client.put(
        windows_url(school),
        json={"start_windows": [entry, entry]},
        headers={"X-CSRF-Token": staff.csrf},
    )
    assert reply.status_code == 422
