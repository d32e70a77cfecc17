"""results.superseded: exactly one current result per (student, administration) after a reset,
a retake and a rescore, kept by the one function every writer calls; the dashboard's figures,
filtered on the flag, equal the definition it replaced (a join to the sittings and a GROUP BY)."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from analytics.dashboard import (
    administration_summaries,
    band_counts,
    class_dashboard,
    class_trend,
    latest_results,
)
from analytics.research_loop import session_ids_of
from cbt.db import db
from delivery.models import ExamSession, Result, SessionStatus
from delivery.service import refresh_superseded, superseded_now
from delivery.service.rescoring import rescore_sessions
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


def sit(app: Flask, school: SeededSchool, number: int, choice: str = "A") -> str:
    """Student ``number`` starts (or resumes) and finishes the test; returns the sitting id."""
    client = ApiClient(app.test_client())
    client.login_student(school.class_code, number, school.student_codes[number])
    view = client.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    while not view["finished"]:
        view = client.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": {"choice": choice},
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()
    return view["session"]["id"]


def reset(app: Flask, school: SeededSchool, session_id: str) -> None:
    teacher = ApiClient(app.test_client())
    assert teacher.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    reply = teacher.post(f"/api/v1/sessions/{session_id}/reset", {"reason": "wrong student"})
    assert reply.status_code == 200


def old_definition():
    """What the dashboard used before the flag: each pair's highest result id among sittings
    not reset (a join to the sittings and a GROUP BY)."""
    return Result.id.in_(
        select(func.max(Result.id))
        .join(ExamSession, ExamSession.id == Result.exam_session_id)
        .where(ExamSession.status != SessionStatus.RESET)
        .group_by(Result.student_id, Result.administration_id)
    )


def current_per_pair() -> dict[tuple[int, int], int]:
    """(student, administration) -> how many results are not superseded, for every pair."""
    counts: dict[tuple[int, int], int] = {}
    for student, administration, superseded in db.session.execute(
        select(Result.student_id, Result.administration_id, Result.superseded)
    ):
        counts.setdefault((student, administration), 0)
        counts[(student, administration)] += 0 if superseded else 1
    return counts


def assert_flag_matches_the_old_definition() -> None:
    db.session.expire_all()
    flagged = set(db.session.scalars(select(Result.id).where(latest_results())))
    assert flagged == set(db.session.scalars(select(Result.id).where(old_definition())))
    # And the stored flag is what the definition computes now, row by row.
    assert all(
        bool(stored) == bool(computed)
        for stored, computed in db.session.execute(select(Result.superseded, superseded_now()))
    )
    new = db.session.execute(administration_summaries(latest_results())).all()
    old = db.session.execute(administration_summaries(old_definition())).all()
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert tuple(a) == pytest.approx(tuple(b))
    new_bands = sorted(map(tuple, db.session.execute(band_counts(latest_results()))))
    assert new_bands == sorted(map(tuple, db.session.execute(band_counts(old_definition()))))


def test_a_finished_sitting_is_current(app: Flask, school: SeededSchool) -> None:
    for number in (1, 2, 3):
        sit(app, school, number, "AB"[number % 2])
    assert current_per_pair() == {
        (school.student_ids[n], school.administration_id): 1 for n in (1, 2, 3)
    }
    assert_flag_matches_the_old_definition()


def test_reset_retake_and_rescore_leave_one_current_result(
    app: Flask, school: SeededSchool
) -> None:
    first = sit(app, school, 1, "A")
    sit(app, school, 2, "B")
    pair = (school.student_ids[1], school.administration_id)

    reset(app, school, first)  # the finished sitting is voided: no current result for the pair
    assert db.session.scalar(select(Result.superseded).where(Result.exam_session_id == first))
    assert current_per_pair()[pair] == 0
    assert_flag_matches_the_old_definition()
    summary = {r.administration_id: r.n for r in db.session.execute(
        administration_summaries(latest_results()))}  # fmt: skip
    assert summary == {school.administration_id: 1}

    retake = sit(app, school, 1, "B")  # a new sitting and a new result for the same pair
    assert retake != first
    counts = current_per_pair()
    assert counts[pair] == 1
    assert set(counts.values()) == {1}
    current = db.session.scalar(select(Result.exam_session_id).where(
        Result.student_id == pair[0], latest_results()))  # fmt: skip
    assert current == retake
    assert_flag_matches_the_old_definition()
    # The teacher's page counts the retake once, with its score.
    (point,) = class_trend(school.classroom_id)
    assert point["n"] == 2
    dashboard = class_dashboard(school.classroom_id, None, "en")
    retake_score = db.session.scalar(
        select(Result.scale_score).where(Result.exam_session_id == retake)
    )
    assert len(dashboard["students"]) == 2
    assert retake_score in [s["scale_score"] for s in dashboard["students"]]
    assert sum(band["n_observed"] for band in dashboard["bands"]) == 2

    report = rescore_sessions([retake], actor_id=None, reason="key check")
    assert report["sessions"][0]["session_id"] == retake
    assert set(current_per_pair().values()) == {1}
    assert_flag_matches_the_old_definition()
    assert sorted(session_ids_of([school.administration_id])) == sorted(
        db.session.scalars(select(Result.exam_session_id).where(Result.exam_session_id != first))
    )


def test_resetting_a_retake_leaves_none_and_a_running_reset_touches_nothing(
    app: Flask, school: SeededSchool
) -> None:
    first = sit(app, school, 1)
    reset(app, school, first)
    retake = sit(app, school, 1)
    reset(app, school, retake)
    pair = (school.student_ids[1], school.administration_id)
    assert current_per_pair()[pair] == 0
    assert_flag_matches_the_old_definition()

    sit(app, school, 2)
    client = ApiClient(app.test_client())
    client.login_student(school.class_code, 3, school.student_codes[3])
    running = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    reset(app, school, running.get_json()["session"]["id"])  # no result: nothing changes
    assert current_per_pair()[(school.student_ids[2], school.administration_id)] == 1
    assert_flag_matches_the_old_definition()


def test_refresh_recomputes_the_flag_and_changes_only_wrong_rows(
    app: Flask, school: SeededSchool
) -> None:
    first = sit(app, school, 1)
    reset(app, school, first)
    sit(app, school, 1)
    sit(app, school, 2)
    db.session.commit()
    students = [school.student_ids[1], school.student_ids[2]]
    administrations = [school.administration_id]
    assert refresh_superseded(students, administrations) == 0  # already right: no write
    db.session.execute(update(Result).values(superseded=False))  # a flag left wrong by hand
    assert refresh_superseded(students, administrations) == 1
    assert_flag_matches_the_old_definition()
    assert refresh_superseded([], administrations) == 0
