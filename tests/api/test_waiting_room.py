"""The waiting room in process (the embedded default): a login storm gets no 5xx, everyone is
let in, in ticket order; over the rate the reply is 429 ``waiting_room`` with a place in line."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.helpers import ApiClient, SeededSchool, seed_school
from tests.storm import storm_in_app

N_STUDENTS = 24


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ADMISSION_RATE": 5.0, "ADMISSION_BURST": 5}


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school(n_items=6, n_students=N_STUDENTS)


def test_over_the_rate_a_login_waits_in_line_with_its_place(app: Flask, school) -> None:
    app.extensions["cbt.waiting_room"].rate = 0.001  # nobody is let in after the burst
    replies = [
        ApiClient(app.test_client()).login_student(
            school.class_code, number, school.student_codes[number]
        )
        for number in range(1, 9)
    ]
    assert [r.status_code for r in replies] == [200] * 5 + [429] * 3
    waiting = replies[5].get_json()["error"]
    assert waiting["code"] == "waiting_room"
    assert waiting["details"]["position"] == 1
    assert replies[7].get_json()["error"]["details"]["position"] == 3
    assert int(replies[7].headers["Retry-After"]) >= 1
    assert (
        replies[7].headers["X-Admission-Ticket"]
        == replies[7].get_json()["error"]["details"]["ticket"]
    )
    # a forged ticket is no ticket: it joins the end of the line
    forged = ApiClient(app.test_client()).post(
        "/api/v1/auth/student-login",
        {"class_code": school.class_code, "student_number": 1, "login_code": "x"},
        headers={"X-Admission-Ticket": "1.forged"},
    )
    assert forged.get_json()["error"]["details"]["position"] == 4


def test_a_login_storm_is_let_in_whole_and_in_order(app: Flask, school) -> None:
    storm = storm_in_app(app, school, N_STUDENTS)
    assert storm.server_errors() == 0, storm.statuses
    assert set(storm.statuses) <= {200, 429}
    assert len([a for a in storm.admitted if a[0] == "login"]) == N_STUDENTS
    assert len([a for a in storm.admitted if a[0] == "start"]) == N_STUDENTS
    assert storm.waited["login"] > 0, "the storm never reached the waiting room"
    for queue in ("login", "start"):
        # granted in ticket order; seen by clients polling every 20 ms on a busy machine
        assert storm.order_correlation(queue) > 0.8, storm.admitted
