"""The demo's marking practice: an essay item (記述式) with a rubric, a short linear test that
ends with it, and six finished sittings of class 2 whose essays wait for a rater.

The sittings are taken through the delivery service exactly as a student's browser takes them
(start, answer each item), so their results are real; the administration is closed afterwards,
so students do not see it in their list. Content: ``data/essays.json``. Idempotent: nothing is
created when the test exists.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select

from cbt.db import db, utcnow
from cbt.demo.content import DATA_DIR
from cbt.models import Classroom, Enrollment, Role
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    TestDefinition,
)
from item_bank.models import ItemParameter, ItemStatus, ParameterSetStatus
from item_bank.service import (
    create_item,
    create_parameter_set,
    create_pool,
    find_item,
    parameter_record,
)

ESSAY_KEY = "demo-essay-triangle"
TEST_KEY = "demo-essay-linear"
NAME = "demo-essay"


def essay_content() -> dict[str, Any]:
    return json.loads((DATA_DIR / "essays.json").read_text(encoding="utf-8"))


def seed_essay_practice(
    language: str, classroom: Classroom, scale: dict[str, Any], bank_parameter_set_id: int
) -> int | None:
    """Create the essay test and its sittings; return the administration id (None: already
    there). The choice items keep their parameters of the bank's set. Needs the app (the
    delivery service takes the sittings)."""
    if (
        db.session.execute(
            select(TestDefinition.id).where(TestDefinition.key == TEST_KEY)
        ).scalar_one_or_none()
        is not None
    ):
        return None
    data = essay_content()
    text = data[language]
    essay = find_item(ESSAY_KEY)
    version = essay.versions[-1] if essay is not None else create_item(
        key=ESSAY_KEY,
        item_type="extended_text",
        content={"stem": text["stem"], "expected_lines": 6},
        scoring={"rubric": text["rubric"]},
        curriculum_codes=[data["curriculum_code"]],
        content_area="geometry",
        grade=data["grade"],
        status=ItemStatus.OPERATIONAL,
        language=language,
        title=text["title"],
    )  # fmt: skip
    choices = []
    for key in data["choice_items"]:
        item = find_item(key)
        assert item is not None, key
        choices.append(item.versions[-1])
    parameters: dict[int, dict[str, Any]] = {version.id: data["parameters"]}
    for choice in choices:
        record = db.session.execute(
            select(ItemParameter).where(
                ItemParameter.item_version_id == choice.id,
                ItemParameter.parameter_set_id == bank_parameter_set_id,
            )
        ).scalar_one()
        parameters[choice.id] = parameter_record(record)
    parameter_set = create_parameter_set(
        name=NAME,
        parameters=parameters,
        provenance={"source": "demo seed", "note": "essay parameters set by hand, not calibrated"},
        status=ParameterSetStatus.PUBLISHED,
    )
    pool = create_pool(
        name=NAME,
        item_version_ids=[c.id for c in choices] + [version.id],
        active_parameter_set_id=parameter_set.id,
    )
    keys = [*data["choice_items"], ESSAY_KEY]
    definition = TestDefinition(
        key=TEST_KEY,
        title=text["test_title"],
        mode="linear",
        pool_id=pool.id,
        parameter_set_id=parameter_set.id,
        settings={
            "sections": [
                {"key": "main", "kind": "linear", "navigation": "forward", "forms": [keys]}
            ]
        },
        scale=scale,
    )
    db.session.add(definition)
    db.session.flush()
    administration = Administration(
        test_definition_id=definition.id,
        name=text["administration"],
        status=AdministrationStatus.OPEN,
    )
    db.session.add(administration)
    db.session.flush()
    db.session.add(
        AdministrationClassroom(administration_id=administration.id, classroom_id=classroom.id)
    )
    db.session.flush()
    students = list(
        db.session.scalars(
            select(Enrollment.user_id)
            .where(Enrollment.classroom_id == classroom.id, Enrollment.role == Role.STUDENT)
            .order_by(Enrollment.student_number)
            .limit(len(text["answers"]))
        )
    )
    correct = [c.scoring["correct"] for c in choices]
    service = current_app.extensions["cbt.delivery"]
    for number, (student_id, answer) in enumerate(zip(students, text["answers"], strict=False)):
        now = utcnow()
        view = service.start_session(student_id, administration.id, now)
        token = view["session"]["device_token"]
        position = 0
        while not view["finished"]:
            if view["item"]["item_type"] == "extended_text":
                response: dict[str, Any] = {"text": answer}
            else:  # the better essays come with more right answers
                right = position < 3 - number // 2
                response = {"choice": correct[position] if right else _wrong(correct[position])}
            view = service.record_response(
                student_id, view["session"]["id"], token, view["item"]["handle"], response,
                uuid.uuid4().hex, now,
            )  # fmt: skip
            position += 1
    administration.status = AdministrationStatus.CLOSED
    db.session.flush()
    return administration.id


def _wrong(correct: str) -> str:
    return "B" if correct == "A" else "A"
