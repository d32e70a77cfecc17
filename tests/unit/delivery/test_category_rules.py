"""Delivery feeds theta the category an item's own SCORE-to-category rule gives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import SYSTEM
from cbt.db import db
from cbt.errors import ValidationError
from delivery.models import ItemResponse, Result, TestDefinition
from delivery.service.rescoring import rescore_sessions
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import (
    create_item,
    create_parameter_set,
    set_pool_members,
    set_pool_parameter_set,
)
from tests.helpers import ApiClient, SeededSchool, seed_school

STEM = "<p>2(x + 3) と等しい式はどれですか。</p>"
OPTIONS = [
    {"id": "A", "text": "2x + 6"},
    {"id": "B", "text": "2x + 3"},
    {"id": "C", "text": "x + 6"},
]


def school_with(scoring: dict[str, Any], parameters: dict[str, Any]) -> SeededSchool:
    """A linear form of one partial-credit item (key ``pc-1``) with ``scoring`` and
    ``parameters``, after one 2PL item (answered first)."""
    settings = {
        "sections": [
            {"key": "main", "kind": "linear", "navigation": "forward", "forms": [["t-000", "pc-1"]]}
        ]
    }
    school = seed_school(n_items=6, settings=settings)
    definition = db.session.get(TestDefinition, school.test_definition_id)
    assert definition is not None
    version = create_item(
        key="pc-1",
        item_type="partial_credit",
        content={"stem": STEM, "options": OPTIONS},
        scoring=scoring,
        curriculum_codes=["83H1203111200000"],
        content_area="algebra",
        grade=7,
        language="ja",
        status=ItemStatus.OPERATIONAL,
    )
    records = {
        v: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}
        for v in school.item_version_ids
    }
    records[version.id] = parameters
    parameter_set = create_parameter_set(
        name="rule-set", parameters=records, provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )  # fmt: skip
    set_pool_members(definition.pool_id, [*school.item_version_ids, version.id], actor=SYSTEM)
    set_pool_parameter_set(definition.pool_id, parameter_set.id, actor=SYSTEM)
    definition.parameter_set_id = parameter_set.id
    db.session.commit()
    return school


def sit(app: Flask, school: SeededSchool, choice: str) -> tuple[str, list[ItemResponse]]:
    client = ApiClient(app.test_client())
    assert client.login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    reply = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    view = reply.get_json()
    assert reply.status_code in (200, 201), view
    session_id = view["session"]["id"]
    while not view["finished"]:
        answer = choice if view["item"]["item_type"] == "partial_credit" else "A"
        view = client.post(
            f"/api/v1/sessions/{session_id}/responses",
            {"item": view["item"]["handle"], "response": {"choice": answer},
             "idempotency_key": uuid.uuid4().hex},
        ).get_json()  # fmt: skip
    rows = db.session.scalars(
        select(ItemResponse).where(ItemResponse.exam_session_id == session_id)
        .order_by(ItemResponse.sequence)
    ).all()  # fmt: skip
    return session_id, list(rows)


def theta_of(session_id: str) -> float:
    return db.session.scalars(
        select(Result.theta).where(Result.exam_session_id == session_id)
    ).one()


TWO_POINTS = {"scores": {"A": 2, "B": 1, "C": 0}}
TWO_PL = {"model": "2pl", "discrimination": 1.3, "difficulty": 0.2}


@pytest.mark.parametrize(("choice", "correct"), [("A", True), ("B", True), ("C", False)])
def test_a_two_point_item_with_threshold_one_is_correct_at_one_point(
    app: Flask, choice: str, correct: bool
) -> None:
    # Without its rule a 2-point item cannot take 2PL parameters at all (full marks only would
    # waste the partial credit); with it, 1 point is category 1.
    school = school_with({**TWO_POINTS, "irt_category": {"threshold": 1}}, TWO_PL)
    session_id, rows = sit(app, school, choice)
    assert rows[-1].score == {"A": 2.0, "B": 1.0, "C": 0.0}[choice]
    assert rows[-1].is_correct is correct
    report = rescore_sessions([session_id], actor_id=None, reason="check")
    assert report["sessions"][0]["changed"] is False
    assert report["sessions"][0]["new"]["theta"] == theta_of(session_id)


def test_a_two_point_item_without_a_rule_cannot_take_2pl_parameters(app: Flask) -> None:
    with pytest.raises(ValidationError):
        school_with(TWO_POINTS, TWO_PL)


TABLE = {
    "table": [
        {"min_score": 0, "category": 0},
        {"min_score": 1, "category": 1},
        {"min_score": 2, "category": 2},
    ]
}
GPCM = {"model": "gpcm", "discrimination": 1.1, "thresholds": [-0.4, 0.6]}


@pytest.mark.parametrize(("choice", "correct"), [("A", True), ("B", False), ("C", False)])
def test_a_gpcm_item_takes_its_category_from_the_table(
    app: Flask, choice: str, correct: bool
) -> None:
    school = school_with({**TWO_POINTS, "irt_category": TABLE}, GPCM)
    session_id, rows = sit(app, school, choice)
    assert rows[-1].is_correct is correct
    # Rescoring under the same set reproduces the recorded result bit for bit.
    report = rescore_sessions([session_id], actor_id=None, reason="check")
    assert report["sessions"][0]["changed"] is False
    assert report["sessions"][0]["new"]["theta"] == theta_of(session_id)


def test_a_rule_that_does_not_fit_the_model_is_refused_with_the_parameter_set(
    app: Flask,
) -> None:
    with pytest.raises(ValidationError) as raised:
        school_with({**TWO_POINTS, "irt_category": {"threshold": 1}}, GPCM)
    assert raised.value.params["mapped"] == 2
    assert raised.value.params["model"] == 3
