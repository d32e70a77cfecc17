"""GET /api/v1/sessions/<id>/status: the light poll the player uses to see a teacher's pause,
resume, extra time or reset, and the end of a part on time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from cbt.db import utcnow
from delivery.models import SessionStatus
from tests.helpers import SeededSchool, seed_school
from tests.unit.delivery.test_sessions import (
    answer,
    error_code,
    staff_client,
    start,
    student_client,
)

FIELDS = {
    "id",
    "status",
    "paused",
    "finished",
    "revision",
    "n_answered",
    "section",
    "remaining_seconds",
    "extra_seconds",
    "server_time",
}


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(time_limit_seconds=600)


def status_url(view: dict) -> str:
    return f"/api/v1/sessions/{view['session']['id']}/status"


def test_status_is_small_and_follows_pause_resume_extra_time_and_reset(
    app: Flask, school: SeededSchool
) -> None:
    student = student_client(app, school)
    view = start(student, school)
    url = status_url(view)
    first = student.get(url)
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == FIELDS  # no item, no payload
    assert body["status"] == SessionStatus.ACTIVE
    assert body["paused"] is False
    assert body["finished"] is False
    assert body["section"] == 1
    assert body["n_answered"] == 0
    assert 590 <= body["remaining_seconds"] <= 600

    teacher = staff_client(app, school.teacher_email)
    session_id = view["session"]["id"]
    assert (
        teacher.post(f"/api/v1/sessions/{session_id}/pause", {"reason": "drill"}).status_code == 200
    )
    paused = student.get(url).get_json()
    assert paused["paused"] is True
    assert paused["status"] == SessionStatus.PAUSED
    assert paused["revision"] > body["revision"]

    assert teacher.post(f"/api/v1/sessions/{session_id}/resume", {}).status_code == 200
    assert student.get(url).get_json()["paused"] is False

    extra = {"seconds": 120, "reason": "support"}
    assert teacher.post(f"/api/v1/sessions/{session_id}/extra-time", extra).status_code == 200
    granted = student.get(url).get_json()
    assert 710 <= granted["remaining_seconds"] <= 720
    assert granted["extra_seconds"] == 120

    assert answer(student, view).status_code == 200
    assert student.get(url).get_json()["n_answered"] == 1

    reset = teacher.post(f"/api/v1/sessions/{session_id}/reset", {"reason": "wrong student"})
    assert reset.status_code == 200
    ended = student.get(url).get_json()
    assert ended["status"] == SessionStatus.RESET
    assert ended["finished"] is True


def test_status_ends_a_part_whose_time_ran_out(
    app: Flask, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = student_client(app, school)
    view = start(student, school)
    later = utcnow() + timedelta(seconds=601)
    monkeypatch.setattr("delivery.api.utcnow", lambda: later)
    body = student.get(status_url(view)).get_json()
    assert body["status"] == SessionStatus.EXPIRED
    assert body["finished"] is True
    assert body["remaining_seconds"] == 0


def test_status_is_refused_to_another_device_and_other_students(
    app: Flask, school: SeededSchool
) -> None:
    laptop = student_client(app, school)
    view = start(laptop, school)
    tablet = student_client(app, school)
    start(tablet, school)  # the tablet takes the session over
    stale = laptop.get(status_url(view))
    assert stale.status_code == 409
    assert error_code(stale) == "session_taken_over"

    classmate = student_client(app, school, 2)
    assert classmate.get(status_url(view)).status_code == 404
    teacher = staff_client(app, school.teacher_email)
    assert teacher.get(status_url(view)).status_code == 403
    assert student_client(app, school).get("/api/v1/sessions/nope/status").status_code == 404
