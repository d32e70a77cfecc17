"""The answer history and the class answers CSV describe every item type's response as text."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent
from delivery.definitions import create_administration, create_test_definition
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.rendering import plain_text
from item_bank.service import create_item, create_parameter_set, create_pool
from item_bank.types import ITEM_TYPES, get_item_type
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(1)">\nsecond line'

# type id -> (response to the type's example item, response_text, correct_text, score)
ANSWERS: dict[str, tuple[dict[str, Any], str, str, float]] = {
    "single_choice": ({"choice": "C"}, "8", "7", 0.0),
    "multiple_response": ({"choices": ["C"]}, "7", "2; 7", 0.5),
    "text_entry": ({"text": SCRIPT}, SCRIPT, "とうきょう", 0.0),
    "numeric": ({"value": "700", "unit": "cm"}, "700 cm", "7 m", 1.0),
    "ordering": ({"order": ["C", "A", "B"]}, "1/2 → 1/3 → 0.4", "1/3 → 0.4 → 1/2", 0.0),
    "matching": (
        {"pairs": [["S1", "T3"], ["S2", "T3"]]},
        "triangle → 3; pentagon → 3",
        "triangle → 3; pentagon → 5",
        0.5,
    ),
    "inline_choice": (
        {"gaps": {"g1": "a", "g2": "d"}},
        "3 × 4 is [12], and 12 is [odd].",
        "3 × 4 is [12], and 12 is [even].",
        0.5,
    ),
    "gap_match": (
        {"gaps": {"G1": "W0", "G2": "W50"}},
        "Water freezes at [0] °C and boils at [50] °C.",
        "Water freezes at [0] °C and boils at [100] °C.",
        0.5,
    ),
    "hottext": (
        {"choices": ["h2"]},
        "The dog [ran] across the road and jumped over the fence.",
        "The dog [ran] across the road and [jumped] over the fence.",
        0.5,
    ),
    "extended_text": (
        {"text": IMAGE},
        IMAGE,
        "2: Complete argument with alternate angles.\n"
        "1: Uses parallel lines, reasoning incomplete.\n"
        "0: No relevant reasoning.",
        0.0,
    ),
    "partial_credit": ({"choice": "B"}, "2x + 3", "2x + 6 (2); 2x + 3 (1); x + 6 (0)", 1.0),
}


def _clean_example(type_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = get_item_type(type_id)
    content, scoring = kind.example()
    content = kind.clean_content(content)
    return content, kind.validate_scoring(content, scoring)


def test_every_item_type_is_described() -> None:
    assert set(ANSWERS) == set(ITEM_TYPES)


@pytest.mark.parametrize("type_id", sorted(ANSWERS))
def test_describe_response(type_id: str) -> None:
    response, answered, key, _ = ANSWERS[type_id]
    content, scoring = _clean_example(type_id)
    assert get_item_type(type_id).describe_response(content, scoring, response) == {
        "response_text": answered,
        "correct_text": key,
    }


def test_option_markup_becomes_text_and_an_empty_option_its_id() -> None:
    kind = get_item_type("single_choice")
    content = kind.clean_content(
        {
            "stem": "<p>Pick</p>",
            "options": [
                {"id": "A", "text": "<b>x</b> &lt; 2 &amp; y"},
                {"id": "B", "text": '<img src="https://example.org/a.png">'},
            ],
        }
    )
    described = kind.describe_response(content, {"correct": "B"}, {"choice": "A"})
    assert described == {"response_text": "x < 2 & y", "correct_text": "[B]"}


def test_a_stored_response_that_does_not_fit_is_shown_as_json() -> None:
    content, scoring = _clean_example("ordering")
    described = get_item_type("ordering").describe_response(content, scoring, {"odd": 1})
    assert described["response_text"] == '{"odd": 1}'


def test_key_text_of_tolerances_and_partial_answers() -> None:
    numeric = get_item_type("numeric")
    assert numeric.key_text({}, {"value": 7.5, "tolerance": 0.1, "units": []}) == "7.5 ± 0.1"
    relative = {"value": 2, "tolerance": 0.05, "tolerance_mode": "relative", "units": []}
    assert numeric.key_text({}, relative) == "2 ± 5%"
    text = get_item_type("text_entry")
    answers = [{"value": "a+", "score": 1.0}, {"value": "b", "score": 0.5}]
    assert text.key_text({}, {"match": "regex", "answers": answers}) == "/a+/ / /b/ (0.5)"


def test_plain_text_drops_script_bodies() -> None:
    assert plain_text("<p>a</p><script>alert(1)</script><p>&lt;b&gt;</p>") == "a <b>"


# --------------------------------------------------------------------------- through the API


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


def _give_every_type(school: SeededSchool) -> int:
    keys, version_ids = [], []
    for type_id in sorted(ITEM_TYPES):
        content, scoring = get_item_type(type_id).example()
        version = create_item(
            key=f"types-{type_id}",
            item_type=type_id,
            content=content,
            scoring=scoring,
            curriculum_codes=["8350213111200000"],
            status=ItemStatus.OPERATIONAL,
        )
        keys.append(f"types-{type_id}")
        version_ids.append(version.id)
    parameters = create_parameter_set(
        name="types",
        parameters={
            version_ids[keys.index("types-single_choice")]: {
                "model": "2pl",
                "discrimination": 1.0,
                "difficulty": 0.0,
            },
        },
        provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )
    create_pool(name="types", item_version_ids=version_ids, active_parameter_set_id=parameters.id)
    definition = create_test_definition(
        key="all-types",
        title="Every item type",
        pool="types",
        parameter_set="types",
        parameter_set_version=None,
        settings={"sections": [{"kind": "linear", "forms": [keys], "navigation": "forward"}]},
        scale={"slope": 100, "intercept": 500},
    )
    administration = create_administration(
        test_definition_id=definition.id,
        name="Types",
        classroom_ids=[school.classroom_id],
        status="open",
    )
    db.session.commit()
    return administration.id


@pytest.fixture
def answered(app: Flask, school: SeededSchool) -> None:
    """Student 1 answers the items of every type with ANSWERS' responses, in order."""
    administration_id = _give_every_type(school)
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    view = student.post(f"/api/v1/administrations/{administration_id}/sessions").get_json()
    for type_id in sorted(ITEM_TYPES):
        assert not view["finished"]
        reply = student.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": ANSWERS[type_id][0],
                "idempotency_key": uuid.uuid4().hex,
            },
        )
        assert reply.status_code == 200, (type_id, reply.get_json())
        view = reply.get_json()
    assert view["finished"]


@pytest.fixture
def teacher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    return api


def test_history_describes_every_type_as_text(
    teacher: ApiClient, school: SeededSchool, answered: None
) -> None:
    reply = teacher.get(f"/api/v1/students/{school.student_ids[1]}/history")
    [session] = [s for s in reply.get_json()["sessions"] if s["administration"] == "Types"]
    rows = {answer["item_type"]: answer for answer in session["answers"]}
    assert set(rows) == set(ITEM_TYPES)
    for type_id, (response, answered_text, key, score) in ANSWERS.items():
        row = rows[type_id]
        assert row["response"] == response, type_id
        assert row["response_text"] == answered_text, type_id
        assert row["correct_text"] == key, type_id
        if row["human_scored"]:  # no rater has marked it: no score yet, not 0
            assert row["awaiting_marking"] is True
            assert row["score"] is None
        else:
            assert row["score"] == pytest.approx(score), type_id
        assert row["time_taken_ms"] >= 0
    assert rows["partial_credit"]["max_score"] == 2
    assert rows["extended_text"]["human_scored"] is True
    # The JSON carries the hostile answers as the very characters typed, for textContent.
    assert '"response_text":"<script>alert(1)</script>"' in reply.get_data(as_text=True)


def test_class_answers_csv_has_a_row_per_answer(
    teacher: ApiClient, school: SeededSchool, answered: None
) -> None:
    reply = teacher.get(f"/api/v1/classes/{school.classroom_id}/answers.csv")
    assert reply.status_code == 200
    assert reply.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True).lstrip("\ufeff"))))
    by_type = {row["item_type"]: row for row in rows}
    assert len(rows) == len(ITEM_TYPES)
    for type_id, (_, answered_text, key, score) in ANSWERS.items():
        assert by_type[type_id]["response"] == answered_text
        assert by_type[type_id]["correct_answer"] == key
        if ITEM_TYPES[type_id].human_scored:
            assert by_type[type_id]["score"] == ""  # awaiting marking: an empty cell, not 0
        else:
            assert float(by_type[type_id]["score"]) == pytest.approx(score)
    assert {row["student"] for row in rows} == {"Student 1"}
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "export_class_answers")
    ).scalar_one()
    assert event.target_id == str(school.classroom_id)


def test_class_answers_of_another_class_are_forbidden(
    teacher: ApiClient, school: SeededSchool
) -> None:
    assert (
        teacher.get(f"/api/v1/classes/{school.other_classroom_id}/answers.csv").status_code == 403
    )
