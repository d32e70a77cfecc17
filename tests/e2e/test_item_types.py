"""A student answers one item of every type in the test player; every answer is recorded."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Classroom
from delivery.definitions import create_administration, create_test_definition
from delivery.models import ItemResponse
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool
from item_bank.types import ITEM_TYPES
from tests.e2e.conftest import LiveServer, start_test


def give_all_types_to_class_2b(server: LiveServer) -> list[str]:
    with server.app.app_context():
        keys, version_ids = [], []
        for type_id, kind in sorted(ITEM_TYPES.items()):
            content, scoring = kind.example()
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
                }
            },
            provenance={"source": "test"},
            status=ParameterSetStatus.PUBLISHED,
        )
        create_pool(
            name="types", item_version_ids=version_ids, active_parameter_set_id=parameters.id
        )
        definition = create_test_definition(
            key="all-types",
            title="Every item type",
            pool="types",
            parameter_set="types",
            parameter_set_version=None,
            settings={"sections": [{"kind": "linear", "forms": [keys], "navigation": "forward"}]},
            scale={"slope": 100, "intercept": 500},
        )
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == "DEMO-2B")
        ).one()
        create_administration(
            test_definition_id=definition.id,
            name="Types",
            classroom_ids=[classroom.id],
            status="open",
        )
        db.session.commit()
        return sorted(ITEM_TYPES)


def answer_whatever_is_shown(page: Page) -> None:
    item = page.locator("[data-item]")
    options = item.locator("label.option")
    if options.count():
        options.first.click()
        if item.locator("input[type=checkbox]").count() > 1:
            options.nth(1).click()
    for index in range(item.locator("select").count()):
        item.locator("select").nth(index).select_option(index=1)
    for index in range(item.locator("input.answer").count()):
        item.locator("input.answer").nth(index).fill("12")
    if item.locator("textarea").count():
        item.locator("textarea").fill("Because the angles of a triangle add up to 180 degrees.")


def test_every_item_type_can_be_answered(page: Page, live_server: LiveServer) -> None:
    types = give_all_types_to_class_2b(live_server)
    class_code, number, _, code = live_server.logins.students[40]
    assert class_code == "DEMO-2B"
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("test").filter(has_text="Every item type").get_by_role("link").click()
    start_test(page)
    for position in range(1, len(types) + 1):
        expect(page.locator("[data-progress]")).to_have_text(re.compile(f"Question {position}"))
        answer_whatever_is_shown(page)
        page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="You have finished the test")).to_be_visible()
    with live_server.app.app_context():
        responses = db.session.scalars(
            select(ItemResponse)
            .where(ItemResponse.idempotency_key.isnot(None))
            .order_by(ItemResponse.id.desc())
            .limit(len(types))
        ).all()
        shapes = {tuple(sorted(r.response)) for r in responses}
    assert len(responses) == len(types)
    assert ("choice",) in shapes
    assert ("choices",) in shapes
    assert ("text",) in shapes
