"""The student delivery API: start, answer, next item, finish, and every rejection."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db, utcnow
from delivery.models import ExamSession, ItemResponse, Result, SessionStatus
from tests.helpers import ApiClient, SeededSchool, row_count, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


@pytest.fixture
def student(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    return api


def start(api: ApiClient, school: SeededSchool) -> dict:
    response = api.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def answer(api: ApiClient, view: dict, choice: str = "A", key: str | None = None):
    return api.post(
        f"/api/v1/sessions/{view['session']['id']}/responses",
        {
            "item": view["item"]["handle"],
            "response": {"choice": choice},
            "idempotency_key": key or uuid.uuid4().hex,
        },
    )


def correct_choice(school: SeededSchool, view: dict) -> str:
    """The key for the item on screen, found from the database as a grader would."""
    session = db.session.get(ExamSession, view["session"]["id"])
    db.session.refresh(session)
    return school.keys[session.current_item_version_id]


def test_student_sees_open_tests(student: ApiClient, school: SeededSchool) -> None:
    listed = student.get("/api/v1/me/administrations").get_json()["administrations"]
    assert [a["administration_id"] for a in listed] == [school.administration_id]
    assert listed[0]["session_status"] is None


def test_full_adaptive_test_to_the_end(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    assert view["session"]["status"] == SessionStatus.ACTIVE
    assert view["item"]["sequence"] == 1
    sequences = []
    while not view["finished"]:
        sequences.append(view["item"]["sequence"])
        response = answer(student, view, correct_choice(school, view))
        assert response.status_code == 200, response.get_json()
        view = response.get_json()
    assert sequences == [1, 2, 3, 4, 5]  # max_items = 5, no SE target
    assert view["item"] is None
    assert view["session"]["n_answered"] == 5
    result = db.session.execute(select(Result)).scalar_one()
    assert result.n_items == 5
    assert result.theta > 0  # all correct
    assert result.scale_score == round(500 + 100 * result.theta)
    assert result.band in {"Middle", "High"}
    assert result.engine_settings["sections"][0]["kind"] == "cat"
    assert result.finish_reason == "max_length"
    assert result.subscores[0]["n_items"] >= 1
    assert sum(s["n_items"] for s in result.subscores) == 5
    assert len(result.item_version_ids) == 5
    assert row_count(ItemResponse) == 5
    listed = student.get("/api/v1/me/administrations").get_json()["administrations"]
    assert listed[0]["session_status"] == SessionStatus.FINISHED


def test_adaptive_selection_follows_the_answers(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    first_item = view["item"]["handle"]
    wrong = next(c for c in "ABCD" if c != correct_choice(school, view))
    view = answer(student, view, wrong).get_json()
    responses = db.session.scalars(select(ItemResponse)).all()
    assert responses[0].is_correct is False
    assert responses[0].theta_after < 0
    assert view["item"]["handle"] != first_item


def test_item_payload_carries_no_key_and_no_internal_id(
    student: ApiClient, school: SeededSchool
) -> None:
    view = start(student, school)
    item = view["item"]
    assert set(item) == {"handle", "sequence", "item_type", "stem", "options"}
    text = json.dumps(view)
    assert "correct" not in text
    assert "scoring" not in text
    assert "<script>" not in item["stem"]  # sanitised
    for version_id in school.item_version_ids:
        assert f'"{version_id}"' not in text


def test_resume_returns_the_same_item_and_session(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    view = answer(student, view).get_json()
    again = start(student, school)
    assert again["session"]["id"] == view["session"]["id"]
    assert again["item"]["handle"] == view["item"]["handle"]
    assert again["session"]["n_answered"] == 1
    assert row_count(ExamSession) == 1


def test_repeat_with_same_key_returns_first_result_and_writes_nothing(
    student: ApiClient, school: SeededSchool
) -> None:
    view = start(student, school)
    key = uuid.uuid4().hex
    first = answer(student, view, "B", key)
    assert first.status_code == 200
    repeat = answer(student, view, "B", key)
    assert repeat.status_code == 200
    body = repeat.get_json()
    assert body["accepted"] == {"sequence": 1, "replayed": True}
    assert body["item"]["handle"] == first.get_json()["item"]["handle"]
    assert row_count(ItemResponse) == 1


def test_second_answer_with_new_key_is_409_and_writes_nothing(
    student: ApiClient, school: SeededSchool
) -> None:
    view = start(student, school)
    assert answer(student, view, "A").status_code == 200
    response = answer(student, view, "C")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_answered"
    assert row_count(ItemResponse) == 1


def test_answer_to_an_item_not_presented_is_409(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    view["item"]["handle"] = "0" * 20
    response = answer(student, view)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "item_not_presented"
    assert row_count(ItemResponse) == 0


def test_key_reused_for_another_item_is_409(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    key = uuid.uuid4().hex
    second = answer(student, view, "A", key).get_json()
    response = answer(student, second, "A", key)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert row_count(ItemResponse) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"response": {"choice": "A"}, "idempotency_key": "k"}, "item"),
        ({"item": "h", "idempotency_key": "k"}, "response"),
        ({"item": "h", "response": {"choice": "A"}}, "idempotency_key"),
        ({"item": "h", "response": "A", "idempotency_key": "k"}, "response"),
        (
            {"item": "h", "response": {"choice": "A"}, "idempotency_key": "k" * 65},
            "idempotency_key",
        ),
    ],
)
def test_malformed_submit_is_422(
    student: ApiClient, school: SeededSchool, body: dict, field: str
) -> None:
    view = start(student, school)
    response = student.post(f"/api/v1/sessions/{view['session']['id']}/responses", body)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["field"] == field
    assert row_count(ItemResponse) == 0


@pytest.mark.parametrize("choice", ["E", "", "a"])
def test_choice_outside_the_options_is_422(
    student: ApiClient, school: SeededSchool, choice: str
) -> None:
    view = start(student, school)
    response = answer(student, view, choice)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["field"] == "response.choice"
    assert row_count(ItemResponse) == 0


def test_malformed_json_submit_is_400(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    response = student.client.post(
        f"/api/v1/sessions/{view['session']['id']}/responses",
        data=b"{not json",
        headers={"Content-Type": "application/json", "X-CSRF-Token": student.csrf},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert row_count(ItemResponse) == 0


def test_unknown_test_is_404(student: ApiClient, school: SeededSchool) -> None:
    response = student.post("/api/v1/administrations/9999/sessions")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert row_count(ExamSession) == 0


def test_unknown_session_is_404(student: ApiClient, school: SeededSchool) -> None:
    response = student.post(
        "/api/v1/sessions/nope/responses",
        {"item": "h", "response": {"choice": "A"}, "idempotency_key": "k"},
    )
    assert response.status_code == 404


def test_another_students_session_is_404(api: ApiClient, app: Flask, school: SeededSchool) -> None:
    api.login_student(school.class_code, 1, school.student_codes[1])
    view = start(api, school)
    other = ApiClient(app.test_client())
    other.login_student(school.class_code, 2, school.student_codes[2])
    response = answer(other, view)
    assert response.status_code == 404
    assert other.get(f"/api/v1/sessions/{view['session']['id']}").status_code == 404
    assert row_count(ItemResponse) == 0


def test_teacher_cannot_start_a_session(api: ApiClient, school: SeededSchool) -> None:
    from tests.helpers import TEACHER_PASSWORD

    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    response = api.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 403


def test_answer_after_finishing_is_409(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    last = view
    while not view["finished"]:
        last = view
        view = answer(student, view).get_json()
    response = answer(student, last, "B")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] in {"session_not_active", "already_answered"}
    assert row_count(ItemResponse) == 5


def test_closed_administration_cannot_be_started(app: Flask, api: ApiClient) -> None:
    school = seed_school(status="closed")
    api.login_student(school.class_code, 1, school.student_codes[1])
    response = api.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "administration_not_open"
    assert row_count(ExamSession) == 0


def test_state_store_flush_loses_nothing(
    student: ApiClient, school: SeededSchool, app: Flask
) -> None:
    view = start(student, school)
    view = answer(student, view, "A").get_json()
    view = answer(student, view, "B").get_json()
    theta_before = db.session.get(ExamSession, view["session"]["id"]).theta
    app.extensions["cbt.state"].clear()  # as if Redis were flushed or restarted
    resumed = start(student, school)
    assert resumed["item"]["handle"] == view["item"]["handle"]
    assert resumed["session"]["n_answered"] == 2
    after = answer(student, resumed, "C")
    assert after.status_code == 200
    assert after.get_json()["session"]["n_answered"] == 3
    responses = db.session.scalars(select(ItemResponse).order_by(ItemResponse.sequence)).all()
    assert [r.sequence for r in responses] == [1, 2, 3]
    assert responses[1].theta_after == pytest.approx(theta_before)


def test_replay_after_flush_is_still_idempotent(
    student: ApiClient, school: SeededSchool, app: Flask
) -> None:
    view = start(student, school)
    key = uuid.uuid4().hex
    assert answer(student, view, "A", key).status_code == 200
    app.extensions["cbt.state"].clear()
    repeat = answer(student, view, "A", key)
    assert repeat.status_code == 200
    assert repeat.get_json()["accepted"]["replayed"] is True
    assert row_count(ItemResponse) == 1


def test_an_answer_that_fails_later_in_its_request_is_kept_or_dropped_whole(
    student: ApiClient, school: SeededSchool, app: Flask
) -> None:
    """On PostgreSQL an answer that does not finish the test is written by one autocommitted
    statement, so it stands even if the rest of its request fails (here the request's
    transaction rolls back, and with it the cache write); elsewhere the rollback takes it away.
    Either way a retry with the same key ends consistent: replayed, or accepted once."""
    view = start(student, school)
    session_id = view["session"]["id"]
    key = uuid.uuid4().hex
    service = app.extensions["cbt.delivery"]
    db.session.commit()
    service.record_response(
        school.student_ids[1],
        session_id,
        view["session"]["device_token"],
        view["item"]["handle"],
        {"choice": "A"},
        key,
        utcnow(),
    )
    db.session.rollback()
    kept = db.engine.dialect.name == "postgresql"
    assert row_count(ItemResponse) == (1 if kept else 0)
    retry = answer(student, view, "A", key)
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["accepted"] == {"sequence": 1, "replayed": kept}
    assert row_count(ItemResponse) == 1
    assert db.session.get(ExamSession, session_id).n_answered == 1


def test_stale_state_is_detected_and_repaired(
    student: ApiClient, school: SeededSchool, app: Flask
) -> None:
    """A state store that missed a write must not let an old item be answered again."""
    store = app.extensions["cbt.state"]
    view = start(student, school)
    session_id = view["session"]["id"]
    stale = store.get(store.keys.session_state(session_id))
    assert answer(student, view, "A").status_code == 200
    store.set(store.keys.session_state(session_id), stale, 60)  # roll the cache back
    response = answer(student, view, "B")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_answered"
    assert row_count(ItemResponse) == 1


class TestTimeLimit:
    @pytest.fixture
    def school(self, app: Flask) -> SeededSchool:
        return seed_school(time_limit_seconds=600)

    def test_answer_after_time_out_is_409_and_the_session_ends(
        self, student: ApiClient, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        view = start(student, school)
        assert 590 <= view["session"]["remaining_seconds"] <= 600
        assert answer(student, view).status_code == 200
        view = student.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
        later = utcnow() + timedelta(seconds=601)
        monkeypatch.setattr("delivery.api.utcnow", lambda: later)
        response = answer(student, view)
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "time_expired"
        assert row_count(ItemResponse) == 1
        ended = student.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
        assert ended["finished"] is True
        assert ended["session"]["status"] == SessionStatus.EXPIRED
        result = db.session.execute(select(Result)).scalar_one()
        assert result.finish_reason == "time_expired"
        assert result.n_items == 1

    def test_a_retry_of_the_late_answer_is_still_time_expired(
        self, student: ApiClient, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        view = start(student, school)
        later = utcnow() + timedelta(seconds=700)
        monkeypatch.setattr("delivery.api.utcnow", lambda: later)
        for _ in range(2):
            response = answer(student, view, key="same-key")
            assert response.get_json()["error"]["code"] == "time_expired"
        assert row_count(ItemResponse) == 0

    def test_remaining_time_survives_a_resume(
        self, student: ApiClient, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        view = start(student, school)
        later = utcnow() + timedelta(seconds=200)
        monkeypatch.setattr("delivery.api.utcnow", lambda: later)
        resumed = start(student, school)
        assert 395 <= resumed["session"]["remaining_seconds"] <= 400
        assert resumed["item"]["handle"] == view["item"]["handle"]


def test_submit_uses_few_queries(
    student: ApiClient,
    school: SeededSchool,
    count_queries: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from delivery.service import persistence as service

    alone: list[dict] = []
    write = service._write_answer_alone
    monkeypatch.setattr(
        service,
        "_write_answer_alone",
        lambda parameters: alone.append(parameters) or write(parameters),
    )
    view = start(student, school)
    db.session.commit()  # as between two requests: nothing begun
    count_queries.clear()
    assert answer(student, view).status_code == 200
    statements = [" ".join(s.split()[:2]).upper() for s in count_queries]
    if db.engine.dialect.name == "postgresql":
        # The guarded UPDATE and the INSERT travel as one statement (a data-modifying CTE),
        # on the driver in autocommit: SQLAlchemy runs nothing.
        assert statements == []
        assert len(alone) == 1
        assert alone[0]["r_sequence"] == 1
    else:
        assert statements == ["UPDATE EXAM_SESSIONS", "INSERT INTO"]
    # No reads: hot state and the compiled test come from memory, and nothing was re-read
    # because of a stale state.
