"""Sessions through the API: takeover, proctor controls, sections, pretest and replay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db, utcnow
from cbt.models import AuditEvent, User
from delivery.models import ExamSession, ItemResponse, Result, SessionStatus
from tests.helpers import (
    TEACHER_PASSWORD,
    ApiClient,
    SeededSchool,
    cat_settings,
    row_count,
    seed_school,
)


def student_client(app: Flask, school: SeededSchool, number: int = 1) -> ApiClient:
    client = ApiClient(app.test_client())
    assert (
        client.login_student(school.class_code, number, school.student_codes[number]).status_code
        == 200
    )
    return client


def staff_client(app: Flask, email: str) -> ApiClient:
    client = ApiClient(app.test_client())
    assert client.login_staff(email, TEACHER_PASSWORD).status_code == 200
    return client


def start(client: ApiClient, school: SeededSchool) -> dict:
    response = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def answer(client: ApiClient, view: dict, choice: str = "A", key: str | None = None):
    return client.post(
        f"/api/v1/sessions/{view['session']['id']}/responses",
        {"item": view["item"]["handle"], "response": {"choice": choice},
         "idempotency_key": key or uuid.uuid4().hex},
    )  # fmt: skip


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(time_limit_seconds=600)


# -- takeover -------------------------------------------------------------------------------


def test_second_device_takes_over_and_first_gets_409(app: Flask, school: SeededSchool) -> None:
    laptop = student_client(app, school)
    view = start(laptop, school)
    assert answer(laptop, view).status_code == 200
    tablet = student_client(app, school)
    resumed = start(tablet, school)
    assert resumed["session"]["id"] == view["session"]["id"]
    assert resumed["session"]["n_answered"] == 1
    assert resumed["session"]["device_token"] != laptop.device
    stale = laptop.get(f"/api/v1/sessions/{view['session']['id']}")
    assert stale.status_code == 409
    assert error_code(stale) == "session_taken_over"
    response = answer(laptop, resumed)
    assert response.status_code == 409
    assert error_code(response) == "session_taken_over"
    assert row_count(ItemResponse) == 1
    assert answer(tablet, resumed).status_code == 200


def test_missing_device_token_is_409(app: Flask, school: SeededSchool) -> None:
    client = student_client(app, school)
    view = start(client, school)
    client.device = ""
    response = answer(client, view)
    assert response.status_code == 409
    assert error_code(response) == "session_taken_over"


# -- proctor controls -------------------------------------------------------------------------


def test_pause_stops_answers_and_the_clock(
    app: Flask, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = student_client(app, school)
    view = start(student, school)
    teacher = staff_client(app, school.teacher_email)
    session_id = view["session"]["id"]
    paused = teacher.post(f"/api/v1/sessions/{session_id}/pause", {"reason": "fire drill"})
    assert paused.status_code == 200
    assert paused.get_json()["status"] == SessionStatus.PAUSED
    response = answer(student, view)
    assert response.status_code == 409
    assert error_code(response) == "session_paused"
    status = student.get(f"/api/v1/sessions/{session_id}").get_json()
    assert status["session"]["status"] == SessionStatus.PAUSED
    assert status["item"] is None  # nothing to answer while paused

    later = utcnow() + timedelta(seconds=900)  # longer than the whole limit
    monkeypatch.setattr("delivery.api.utcnow", lambda: later)
    resumed = teacher.post(f"/api/v1/sessions/{session_id}/resume", {"reason": "back"})
    assert resumed.status_code == 200
    assert 590 <= resumed.get_json()["remaining_seconds"] <= 600  # no time was lost
    assert answer(student, view).status_code == 200
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "pause_session" in actions
    assert "resume_session" in actions


def test_extra_time_extends_the_deadline(app: Flask, school: SeededSchool) -> None:
    view = start(student_client(app, school), school)
    teacher = staff_client(app, school.teacher_email)
    url = f"/api/v1/sessions/{view['session']['id']}/extra-time"
    granted = teacher.post(url, {"seconds": 300, "reason": "reading support"})
    assert granted.status_code == 200
    assert 890 <= granted.get_json()["remaining_seconds"] <= 900
    assert granted.get_json()["extra_seconds"] == 300
    for bad in ({"seconds": 0}, {"seconds": True}, {"seconds": "300"}, {"seconds": 10**6}, {}):
        response = teacher.post(url, bad)
        assert response.status_code == 422, bad
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "grant_extra_time")
    ).scalar_one()
    assert event.details == {"seconds": 300, "reason": "reading support"}


def test_accommodation_stretches_the_time_limit(app: Flask, school: SeededSchool) -> None:
    student = db.session.get(User, school.student_ids[2])
    student.extra_time_factor = 1.5
    db.session.commit()
    view = start(student_client(app, school, 2), school)
    assert 890 <= view["session"]["remaining_seconds"] <= 900


def test_reset_needs_a_reason_and_lets_the_student_start_again(
    app: Flask, school: SeededSchool
) -> None:
    student = student_client(app, school)
    view = start(student, school)
    assert answer(student, view).status_code == 200
    teacher = staff_client(app, school.teacher_email)
    url = f"/api/v1/sessions/{view['session']['id']}/reset"
    missing = teacher.post(url, {})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"] == {"field": "reason"}
    assert teacher.post(url, {"reason": "wrong student logged in"}).status_code == 200
    assert teacher.post(url, {"reason": "again"}).status_code == 409
    fresh = start(student, school)
    assert fresh["session"]["id"] != view["session"]["id"]
    assert fresh["session"]["n_answered"] == 0
    statuses = set(db.session.scalars(select(ExamSession.status)))
    assert statuses == {SessionStatus.RESET, SessionStatus.ACTIVE}
    assert row_count(ItemResponse) == 1  # the voided answers stay on record


def test_closing_ends_running_sessions_and_blocks_new_ones(
    app: Flask, school: SeededSchool
) -> None:
    running = student_client(app, school, 1)
    view = start(running, school)
    assert answer(running, view).status_code == 200
    operator_setup(app)
    operator = staff_client(app, "operator@test.example")
    closed = operator.post(f"/api/v1/administrations/{school.administration_id}/close")
    assert closed.status_code == 200
    assert closed.get_json()["sessions_closed"] == 1
    result = db.session.execute(select(Result)).scalar_one()
    assert result.finish_reason == "administration_closed"
    assert result.n_items == 1
    late = student_client(app, school, 2)
    response = late.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 409
    assert error_code(response) == "administration_not_open"
    assert (
        operator.post(f"/api/v1/administrations/{school.administration_id}/open").status_code == 200
    )
    assert start(late, school)["session"]["status"] == SessionStatus.ACTIVE


def operator_setup(app: Flask) -> None:
    from cbt.models import Role
    from cbt.service import create_staff_user

    create_staff_user("operator@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()


def test_teachers_act_only_on_their_own_students(app: Flask, school: SeededSchool) -> None:
    view = start(student_client(app, school), school)
    other = staff_client(app, school.other_teacher_email)
    for action, body in (
        ("pause", {}),
        ("extra-time", {"seconds": 60}),
        ("reset", {"reason": "x"}),
    ):
        response = other.post(f"/api/v1/sessions/{view['session']['id']}/{action}", body)
        assert response.status_code == 403, action
    # The administration spans both classes: neither teacher alone may close it for all.
    response = other.post(f"/api/v1/administrations/{school.administration_id}/close")
    assert response.status_code == 403
    student = student_client(app, school, 2)
    assert student.post(f"/api/v1/sessions/{view['session']['id']}/pause").status_code == 403
    assert row_count(AuditEvent) == 3  # the three logins, nothing else


def test_monitor_shows_live_progress_of_own_classes(app: Flask, school: SeededSchool) -> None:
    student = student_client(app, school)
    view = start(student, school)
    answer(student, view)
    teacher = staff_client(app, school.teacher_email)
    report = teacher.get(f"/api/v1/administrations/{school.administration_id}/monitor").get_json()
    assert [s["student_number"] for s in report["students"]] == [1, 2, 3]
    first = report["students"][0]["session"]
    assert first["status"] == SessionStatus.ACTIVE
    assert first["n_answered"] == 1
    assert 0 < first["remaining_seconds"] <= 600
    assert report["counts"]["active"] == 1
    assert report["counts"]["not_started"] == 2
    unknown = teacher.get("/api/v1/administrations/9999/monitor")
    assert unknown.status_code == 404


def test_proctor_actions_on_unknown_sessions_are_404(app: Flask, school: SeededSchool) -> None:
    teacher = staff_client(app, school.teacher_email)
    assert teacher.post("/api/v1/sessions/nope/pause", {}).status_code == 404
    malformed = teacher.client.post(
        "/api/v1/sessions/nope/pause",
        data=b"{oops",
        headers={"Content-Type": "application/json", "X-CSRF-Token": teacher.csrf},
    )
    assert malformed.status_code in (400, 404)


# -- sections, pretest and replay through the service -----------------------------------------


def test_pretest_answers_are_recorded_unscored_and_sessions_replay(app: Flask) -> None:
    settings = cat_settings(
        min_items=6,
        max_items=6,
        selection=[{"rule": "max_information"}, {"rule": "randomesque", "k": 3}],
        exposure={"max_rate": 0.5},
        pretest={"items": ["t-028", "t-029"], "positions": [2]},
    )
    school = seed_school(settings=settings)
    client = student_client(app, school)
    view = start(client, school)
    while not view["finished"]:
        view = answer(client, view, "B").get_json()
    responses = db.session.scalars(select(ItemResponse).order_by(ItemResponse.sequence)).all()
    assert len(responses) == 7
    assert [r.is_operational for r in responses] == [True, False, True, True, True, True, True]
    result = db.session.execute(select(Result)).scalar_one()
    assert result.n_items == 7

    service = app.extensions["cbt.delivery"]
    replay = service.replay_session(view["session"]["id"])
    assert replay["items_match"] is True
    assert replay["result_match"] is True
    assert replay["replayed"]["theta"] == pytest.approx(result.theta)


def test_a_drifted_parameter_is_caught_by_replay(app: Flask) -> None:
    school = seed_school()
    client = student_client(app, school)
    view = start(client, school)
    while not view["finished"]:
        view = answer(client, view, "C").get_json()
    result = db.session.execute(select(Result)).scalar_one()
    result.theta += 0.1  # as if the stored score had been computed differently
    db.session.commit()
    replay = app.extensions["cbt.delivery"].replay_session(view["session"]["id"])
    assert replay["items_match"] is True
    assert replay["result_match"] is False


def test_two_sections_through_the_api(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {
        "sections": [
            {"key": "common", "title": "Part A", "kind": "linear", "time_limit_seconds": 120,
             "forms": [["t-000", "t-001", "t-002"]], "shuffle_options": True},
            {"key": "adaptive", "title": "Part B", **cat_settings()["sections"][0]},
        ]
    }  # fmt: skip
    settings["sections"][1]["key"] = "adaptive"
    school = seed_school(settings=settings)
    client = student_client(app, school)
    view = start(client, school)
    section = dict(view["session"]["section"])
    assert len(section.pop("items")) == 3  # free navigation: the navigator's list
    assert section == {
        "index": 1,
        "count": 2,
        "key": "common",
        "title": "Part A",
        "kind": "linear",  # the player says a CAT part is forward-only
        "navigation": "free",
    }
    assert view["session"]["max_items"] == 8
    view = answer(client, view).get_json()
    # Part A runs out of time with one item unanswered: Part B begins.
    later = utcnow() + timedelta(seconds=121)
    monkeypatch.setattr("delivery.api.utcnow", lambda: later)
    response = answer(client, view)
    assert error_code(response) == "time_expired"
    view = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert view["session"]["section"]["index"] == 2
    assert view["session"]["section"]["kind"] == "cat"
    assert view["session"]["remaining_seconds"] is None
    while not view["finished"]:
        view = answer(client, view).get_json()
    sections = db.session.scalars(
        select(ItemResponse.section_index).order_by(ItemResponse.sequence)
    )
    assert list(sections) == [0, 1, 1, 1, 1, 1]
    replay = app.extensions["cbt.delivery"].replay_session(view["session"]["id"])
    assert replay["items_match"] is True
    assert replay["result_match"] is True
