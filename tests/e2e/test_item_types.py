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
from item_bank.types import ITEM_TYPES, get_item_type
from tests.e2e.axe import assert_accessible
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
    hottexts = item.locator("button.hottext")
    if hottexts.count():
        hottexts.nth(1).click()
    options = item.locator("label.option")
    if options.count():
        options.first.click()
        if item.locator("input[type=checkbox]").count() > 1:
            options.nth(1).click()
    for index in range(item.locator("select").count()):
        select = item.locator("select").nth(index)
        # The first word still offered (a gap match word used up elsewhere is disabled).
        offered = select.locator("option:not([disabled]):not([value=''])").first
        select.select_option(offered.get_attribute("value"))
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


def give_hottext_items_to_class_2b(server: LiveServer) -> None:
    """Two hottext items, one taking up to two choices (the type's example), one taking one;
    and the gap match example."""
    with server.app.app_context():
        gap_content, gap_scoring = get_item_type("gap_match").example()
        content, scoring = get_item_type("hottext").example()
        one = {
            "stem": "<p>Choose the word that is spelt wrongly.</p>",
            "text": "<p>I {{a}} a {{b}} at the {{c}}.</p>",
            "hottexts": [
                {"id": "a", "text": "saw"},
                {"id": "b", "text": "kat"},
                {"id": "c", "text": "park"},
            ],
            "max_choices": 1,
        }
        versions = [
            create_item(
                key=key,
                item_type="gap_match" if key == "gap-match" else "hottext",
                content=item_content,
                scoring=item_scoring,
                curriculum_codes=["8350213111200000"],
                status=ItemStatus.OPERATIONAL,
            )
            for key, item_content, item_scoring in (
                ("hottext-two", content, scoring),
                ("hottext-one", one, {"correct": ["b"]}),
                ("gap-match", gap_content, gap_scoring),
            )
        ]
        parameters = create_parameter_set(
            name="hottext",
            parameters={versions[0].id: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}},
            provenance={"source": "test"},
            status=ParameterSetStatus.PUBLISHED,
        )
        create_pool(
            name="hottext",
            item_version_ids=[v.id for v in versions],
            active_parameter_set_id=parameters.id,
        )
        definition = create_test_definition(
            key="hottext",
            title="Hottext items",
            pool="hottext",
            parameter_set="hottext",
            parameter_set_version=None,
            settings={
                "sections": [
                    {
                        "kind": "linear",
                        "forms": [["hottext-two", "hottext-one", "gap-match"]],
                        "navigation": "forward",
                    }
                ]
            },
            scale={"slope": 100, "intercept": 500},
        )
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == "DEMO-2B")
        ).one()
        create_administration(
            test_definition_id=definition.id,
            name="Hottext",
            classroom_ids=[classroom.id],
            status="open",
        )
        db.session.commit()


def test_hottext_and_gap_match_answered_by_mouse_and_by_keyboard(
    page: Page, live_server: LiveServer
) -> None:
    give_hottext_items_to_class_2b(live_server)
    class_code, number, _, code = next(
        s for s in reversed(live_server.logins.students) if s[0] == "DEMO-2B"
    )
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("test").filter(has_text="Hottext items").get_by_role("link").click()
    start_test(page)
    item = page.locator("[data-item]")
    next_button = page.get_by_role("button", name="Next")

    # By mouse: up to two of the four words; a third press is refused, politely.
    expect(item.get_by_text("Choose up to 2 of the underlined parts of the text.")).to_be_visible()
    words = {w: item.get_by_role("button", name=w, exact=True) for w in ("dog", "ran", "jumped")}
    for word in words.values():
        expect(word).to_have_attribute("aria-pressed", "false")
    expect(next_button).to_be_disabled()
    words["ran"].click()
    words["jumped"].click()
    words["dog"].click()
    expect(words["dog"]).to_have_attribute("aria-pressed", "false")
    expect(item.get_by_role("status")).to_have_text(re.compile("at most 2"))
    assert_accessible(page, where="hottext, two chosen and a third refused")
    words["dog"].click()  # refused again; "ran" pressed again unchooses it
    words["ran"].click()
    expect(words["ran"]).to_have_attribute("aria-pressed", "false")
    words["ran"].click()
    expect(words["ran"]).to_have_attribute("aria-pressed", "true")
    next_button.click()

    # By keyboard: the first span has the focus; Space chooses, Tab moves, Enter moves the choice.
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 2"))
    saw = item.get_by_role("button", name="saw", exact=True)
    kat = item.get_by_role("button", name="kat", exact=True)
    saw.focus()
    expect(saw).to_be_focused()
    page.keyboard.press("Space")
    expect(saw).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    expect(kat).to_be_focused()
    page.keyboard.press("Enter")
    expect(kat).to_have_attribute("aria-pressed", "true")
    expect(saw).to_have_attribute("aria-pressed", "false")  # one choice: the press moved it
    assert_accessible(page, where="hottext, one chosen by keyboard")
    next_button.click()

    # Gap match: each gap a list of the words; by mouse for the first, keyboard for the second.
    expect(page.locator("[data-progress]")).to_have_text(re.compile("Question 3"))
    first, second = item.get_by_label("Gap 1"), item.get_by_label("Gap 2")
    first.select_option(label="0")
    # "0" fills one gap only: the other gap no longer offers it, so the arrow keys pass it by.
    expect(second.locator("option", has_text=re.compile("^0$"))).to_be_disabled()
    assert_accessible(page, where="gap match, one gap filled")
    second.focus()
    values = []
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # a closed select changes with the arrow keys
        values.append(second.input_value())
    assert "W0" not in values
    expect(second).to_have_value("W100")
    expect(first).to_have_value("W0")  # nothing was taken from gap 1
    next_button.click()
    expect(page.get_by_role("heading", name="You have finished the test")).to_be_visible()

    with live_server.app.app_context():
        responses = db.session.scalars(
            select(ItemResponse).order_by(ItemResponse.id.desc()).limit(3)
        ).all()
        got = sorted((str(r.response), r.score) for r in responses)
    assert got == sorted(
        [
            (str({"choices": ["b"]}), 1.0),
            (str({"choices": ["h2", "h3"]}), 1.0),
            (str({"gaps": {"G1": "W0", "G2": "W100"}}), 1.0),
        ]
    )
