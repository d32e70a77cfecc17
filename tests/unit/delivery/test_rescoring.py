"""Rescoring: set scores take precedence over the automatic ones, results are recomputed and their
history kept, and nothing is written when any part of a rescore fails."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.errors import Conflict, DomainError, NotFound, ValidationError
from cbt.models import AuditEvent
from delivery.models import ExamSession, ItemResponse, ItemScoreEntry, Result, ResultRevision
from delivery.service.rescoring import effective_scores, rescore_sessions, set_item_score
from item_bank.models import ParameterSetStatus
from item_bank.service import create_parameter_set
from tests.helpers import ApiClient, SeededSchool, row_count, seed_essay_school


def sit(app: Flask, school: SeededSchool, number: int = 1, *, finish: bool = True) -> str:
    """Student ``number`` sits the form (choice items answered "A", essays written)."""
    client = ApiClient(app.test_client())
    assert client.login_student(
        school.class_code, number, school.student_codes[number]
    ).status_code == 200  # fmt: skip
    view = client.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    session_id = view["session"]["id"]
    while not view["finished"]:
        kind = view["item"]["item_type"]
        response = {"text": "平行線の錯角が等しいから。"} if kind == "extended_text" else {
            "choice": "A"}  # fmt: skip
        view = client.post(
            f"/api/v1/sessions/{session_id}/responses",
            {"item": view["item"]["handle"], "response": response,
             "idempotency_key": uuid.uuid4().hex},
        ).get_json()  # fmt: skip
        if not finish:
            break
    return session_id


def essay_version(school: SeededSchool) -> int:
    return school.item_version_ids[-1]


def result_of(session_id: str) -> Result:
    return db.session.execute(
        select(Result).where(Result.exam_session_id == session_id)
    ).scalar_one()


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_essay_school()


def test_an_unchanged_parameter_set_reproduces_the_recorded_result(
    app: Flask, school: SeededSchool
) -> None:
    session_id = sit(app, school)
    recorded = result_of(session_id)
    before = (recorded.theta, recorded.se, recorded.scale_score, recorded.band)
    report = rescore_sessions([session_id], actor_id=None, reason="check")
    row = report["sessions"][0]
    assert row["changed"] is False
    assert row["new"]["theta"] == pytest.approx(before[0], abs=1e-12)
    assert row["new"]["se"] == pytest.approx(before[1], abs=1e-12)
    assert row["new"]["band"] == before[3]
    assert row["new"]["subscores"] == recorded.subscores
    assert report["summary"]["n_changed"] == 0
    assert row_count(ResultRevision) == 0


def test_a_rater_score_counts_and_a_raised_score_raises_theta(
    app: Flask, school: SeededSchool
) -> None:
    session_id = sit(app, school)
    essay = essay_version(school)
    # Delivered essays are recorded at 0 and left out of theta.
    response = db.session.execute(
        select(ItemResponse).where(ItemResponse.item_version_id == essay)
    ).scalar_one()
    assert (response.score, response.is_operational) == (0.0, False)
    original = result_of(session_id).theta

    thetas = []
    for points in (0, 1, 2):
        set_item_score(session_id, essay, points, source="rater", actor_id=None)
        report = rescore_sessions([session_id], actor_id=None, reason=f"marked {points}")
        assert report["sessions"][0]["changed"] is True
        thetas.append(result_of(session_id).theta)
    assert thetas[0] < original < thetas[2]  # a zero counts against, full marks for
    assert thetas[0] < thetas[1] < thetas[2]
    # The response row is never updated; the latest entry wins.
    db.session.refresh(response)
    assert response.score == 0.0
    assert effective_scores([session_id])[(session_id, essay)].score == 2.0
    assert row_count(ItemScoreEntry) == 3
    # The history keeps each replaced result, in order, with its reason.
    revisions = db.session.scalars(select(ResultRevision).order_by(ResultRevision.revision)).all()
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert revisions[0].theta == pytest.approx(original)
    assert [r.reason for r in revisions] == ["marked 0", "marked 1", "marked 2"]
    assert revisions[1].theta == pytest.approx(thetas[0])
    assert revisions[1].scored_at == revisions[0].created_at
    # Subscores now count the essay.
    subscores = result_of(session_id).subscores
    assert sum(s["n_items"] for s in subscores) == 5
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("item_score.set") == 3
    assert actions.count("result.rescore") == 3


def test_a_corrected_automatic_score_overrides_the_response(
    app: Flask, school: SeededSchool
) -> None:
    session_id = sit(app, school)
    wrong = db.session.execute(
        select(ItemResponse).where(
            ItemResponse.exam_session_id == session_id, ItemResponse.score == 0.0,
            ItemResponse.is_operational.is_(True),
        ).limit(1)
    ).scalar_one()  # fmt: skip
    before = result_of(session_id).theta
    set_item_score(session_id, wrong.item_version_id, 1.0, source="operator", actor_id=None)
    rescore_sessions([session_id], actor_id=None, reason="key corrected")
    assert result_of(session_id).theta > before


def test_rescoring_twice_changes_nothing_the_second_time(app: Flask, school: SeededSchool) -> None:
    session_id = sit(app, school)
    set_item_score(session_id, essay_version(school), 2, source="rater", actor_id=None)
    first = rescore_sessions([session_id], actor_id=None, reason="marked")
    db.session.commit()
    again = rescore_sessions([session_id, session_id], actor_id=None, reason="marked")
    assert first["summary"]["n_changed"] == 1
    assert again["summary"] == {**again["summary"], "n_sessions": 1, "n_changed": 0}
    assert again["sessions"][0]["new"]["theta"] == pytest.approx(
        first["sessions"][0]["new"]["theta"]
    )
    assert row_count(ResultRevision) == 1


def test_an_unfinished_session_is_refused_and_nothing_is_written(
    app: Flask, school: SeededSchool
) -> None:
    done = sit(app, school, 1)
    running = sit(app, school, 2, finish=False)
    assert db.session.get(ExamSession, running).status == "active"
    set_item_score(done, essay_version(school), 2, source="rater", actor_id=None)
    db.session.commit()
    before = result_of(done).theta
    with pytest.raises(Conflict) as refused:
        rescore_sessions([done, running], actor_id=None, reason="batch")
    assert refused.value.status == 409
    assert refused.value.details["session_id"] == running
    assert result_of(done).theta == before
    assert row_count(ResultRevision) == 0
    with pytest.raises(NotFound):
        rescore_sessions([done, "no-such-session"], actor_id=None, reason="batch")
    assert row_count(ResultRevision) == 0


def test_rescoring_under_another_published_set_records_both_sets(
    app: Flask, school: SeededSchool
) -> None:
    session_id = sit(app, school)
    result = result_of(session_id)
    old_set = result.parameter_set_id
    shifted = create_parameter_set(
        name="essay-set",
        parameters={
            vid: {"model": "2pl", "discrimination": 1.0, "difficulty": 1.0}
            for vid in school.item_version_ids[:-1]
        },
        provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )
    report = rescore_sessions(
        [session_id], parameter_set_id=shifted.id, actor_id=None, reason="new calibration"
    )
    assert report["sessions"][0]["changed"] is True
    assert result_of(session_id).parameter_set_id == shifted.id
    revision = db.session.scalars(select(ResultRevision)).one()
    assert (revision.parameter_set_id, revision.new_parameter_set_id) == (old_set, shifted.id)
    draft = create_parameter_set(
        name="draft", parameters={school.item_version_ids[0]: {"model": "2pl",
        "discrimination": 1.0, "difficulty": 0.0}}, provenance={"source": "test"},
    )  # fmt: skip
    with pytest.raises(DomainError) as refused:
        rescore_sessions([session_id], parameter_set_id=draft.id, actor_id=None, reason="x")
    assert refused.value.code == "parameter_set_not_published"


@pytest.mark.parametrize(
    ("score", "source"),
    [(3, "rater"), (-1, "rater"), (float("nan"), "rater"), (True, "rater"), ("2", "rater"),
     (1, ""), (1, "x" * 33)],
)  # fmt: skip
def test_bad_set_scores_are_refused(
    app: Flask, school: SeededSchool, score: object, source: str
) -> None:
    session_id = sit(app, school)
    with pytest.raises(ValidationError):
        set_item_score(session_id, essay_version(school), score, source=source, actor_id=None)  # type: ignore[arg-type]
    assert row_count(ItemScoreEntry) == 0


def test_bad_rescore_requests_are_refused(app: Flask, school: SeededSchool) -> None:
    session_id = sit(app, school)
    with pytest.raises(NotFound):
        set_item_score(session_id, 999_999, 1, source="rater", actor_id=None)
    for ids, reason in (([], "r"), ("abc", "r"), ([1], "r"), ([session_id], ""),
                        ([session_id], "x" * 501)):  # fmt: skip
        with pytest.raises(ValidationError):
            rescore_sessions(ids, actor_id=None, reason=reason)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        rescore_sessions([session_id], parameter_set_id=999_999, actor_id=None, reason="r")


@pytest.mark.parametrize("final_method", ["eap", "mle"])
def test_an_adaptive_sitting_is_reproduced(app: Flask, final_method: str) -> None:
    from tests.helpers import cat_settings, seed_school

    school = seed_school(settings=cat_settings(min_items=5, max_items=5,
                                               final_method=final_method))  # fmt: skip
    session_id = sit(app, school)
    recorded = result_of(session_id)
    row = rescore_sessions([session_id], actor_id=None, reason="check")["sessions"][0]
    assert row["changed"] is False
    assert row["new"]["theta"] == pytest.approx(recorded.theta, abs=1e-12)
    assert row["new"]["subscores"] == recorded.subscores
