"""Free navigation in linear sections: any order, revisions, flags, the review submit, time-outs,
and the rebuild of all of it from the database."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from cbt.db import db, utcnow
from delivery.models import ExamSession, ItemResponse, Result, SessionStatus, latest_revisions
from delivery.schemas import SpecError, TestSpec
from tests.helpers import ApiClient, SeededSchool, cat_settings, row_count, seed_school
from tests.unit.delivery.test_sessions import error_code, start, student_client

FORM = ["t-000", "t-001", "t-002", "t-003"]  # correct answers A, B, C, D


def linear(navigation: str | None = None, **extra) -> dict:
    section = {"key": "common", "title": "Part A", "kind": "linear", "forms": [FORM], **extra}
    if navigation is not None:
        section["navigation"] = navigation
    return section


def sections(*parts: dict) -> dict:
    return {"sections": list(parts)}


def cat_part() -> dict:
    return {**cat_settings()["sections"][0], "key": "adaptive", "title": "Part B"}


def items_of(view: dict) -> list[dict]:
    return view["section"]["items"]


def send(client: ApiClient, view: dict, number: int, choice: str, key: str | None = None):
    handle = items_of(view)[number - 1]["handle"]
    return client.post(
        f"/api/v1/sessions/{view['session']['id']}/responses",
        {
            "item": handle,
            "response": {"choice": choice},
            "idempotency_key": key or uuid.uuid4().hex,
        },
    )


def flag(client: ApiClient, view: dict, number: int, flagged: bool = True):
    handle = items_of(view)[number - 1]["handle"]
    return client.put(
        f"/api/v1/sessions/{view['session']['id']}/flags", {"item": handle, "flagged": flagged}
    )


def submit(client: ApiClient, view: dict, key: str = "submit-1"):
    return client.post(
        f"/api/v1/sessions/{view['session']['id']}/section/submit", {"idempotency_key": key}
    )


def section_items(client: ApiClient, view: dict):
    return client.get(f"/api/v1/sessions/{view['session']['id']}/section/items")


@pytest.fixture
def one_part(app: Flask) -> SeededSchool:
    return seed_school(n_items=8, settings=sections(linear(time_limit_seconds=300)))


def test_linear_and_loft_default_to_free_and_cat_is_forward_only() -> None:
    spec = TestSpec.from_dict(sections(linear(), linear("forward", key="b"), cat_part()))
    assert [s.navigation for s in spec.sections] == ["free", "forward", "forward"]
    loft = TestSpec.from_dict(sections({"kind": "loft", "counts": {"x": 1}}))
    assert loft.sections[0].navigation == "free"
    with pytest.raises(SpecError) as refused:
        TestSpec.from_dict(sections({**cat_part(), "navigation": "free"}))
    assert refused.value.details["where"] == "sections[0].navigation"
    with pytest.raises(SpecError):
        TestSpec.from_dict(sections(linear("sideways")))


def test_answers_in_any_order_do_not_move_the_student_on(
    app: Flask, one_part: SeededSchool
) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    section = view["section"]
    assert section == view["session"]["section"]
    assert (section["key"], section["navigation"], section["kind"]) == ("common", "free", "linear")
    assert [(i["number"], i["answered"], i["flagged"]) for i in items_of(view)] == [
        (n, False, False) for n in range(1, 5)
    ]
    assert view["item"]["handle"] == items_of(view)[0]["handle"]  # the first unanswered
    reply = send(client, view, 3, "C")
    assert reply.status_code == 200, reply.get_json()
    view = reply.get_json()
    assert view["accepted"] == {"sequence": 1, "replayed": False}
    assert [i["answered"] for i in items_of(view)] == [False, False, True, False]
    assert view["item"]["number"] == 1
    view = send(client, view, 1, "A").get_json()
    assert view["item"]["number"] == 2
    assert not view["finished"]
    assert view["session"]["n_answered"] == 2


def test_a_new_key_revises_an_answer_and_the_latest_counts(
    app: Flask, one_part: SeededSchool
) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    for number, choice in enumerate("ABCD", start=1):
        view = send(client, view, number, choice).get_json()  # all right
    view = send(client, view, 2, "A", key="change-2").get_json()  # now wrong
    assert view["accepted"] == {"sequence": 5, "replayed": False}
    assert view["session"]["n_answered"] == 4
    again = send(client, view, 2, "A", key="change-2")  # a resend writes nothing
    assert again.get_json()["accepted"] == {"sequence": 5, "replayed": True}
    assert row_count(ItemResponse) == 5
    conflict = send(client, view, 2, "B", key="change-2")
    assert error_code(conflict) == "idempotency_key_conflict"
    reused = send(client, view, 3, "A", key="change-2")
    assert error_code(reused) == "idempotency_key_reused"
    revisions = db.session.execute(
        select(ItemResponse.revision, ItemResponse.is_correct)
        .where(ItemResponse.item_version_id == one_part.item_version_ids[1])
        .order_by(ItemResponse.sequence)
    ).all()
    assert [tuple(r) for r in revisions] == [(0, True), (1, False)]
    assert db.session.scalar(
        select(func.count()).select_from(ItemResponse).where(latest_revisions())
    ) == 4  # fmt: skip

    finished = submit(client, view).get_json()
    assert finished["finished"] is True
    result = db.session.execute(select(Result)).scalar_one()
    assert result.n_items == 4
    assert sorted(result.item_version_ids) == sorted(one_part.item_version_ids[:4])
    # The same final answers given straight away score the same: the first answer to item 2
    # (right) no longer counts.
    other = student_client(app, one_part, 2)
    straight = start(other, one_part)
    for number, choice in enumerate("AACD", start=1):
        straight = send(other, straight, number, choice).get_json()
    submit(other, straight)
    results = db.session.scalars(select(Result).order_by(Result.id)).all()
    assert results[1].theta == pytest.approx(results[0].theta)
    assert results[1].scale_score == pytest.approx(results[0].scale_score)
    service = app.extensions["cbt.delivery"]
    replay = service.replay_session(finished["session"]["id"])
    assert replay["items_match"] is True
    assert replay["result_match"] is True


def test_flags_are_saved_on_the_session_row(app: Flask, one_part: SeededSchool) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    reply = flag(client, view, 2)
    assert reply.status_code == 200, reply.get_json()
    assert [i["flagged"] for i in items_of(reply.get_json())] == [False, True, False, False]
    assert flag(client, view, 2).status_code == 200  # setting it twice is harmless
    row = db.session.execute(select(ExamSession)).scalar_one()
    assert row.state["flagged"] == [one_part.item_version_ids[1]]
    view = flag(client, view, 2, False).get_json()
    assert not any(i["flagged"] for i in items_of(view))
    unknown = client.put(
        f"/api/v1/sessions/{view['session']['id']}/flags", {"item": "nope", "flagged": True}
    )
    assert error_code(unknown) == "item_not_presented"
    bad = client.put(
        f"/api/v1/sessions/{view['session']['id']}/flags",
        {"item": items_of(view)[0]["handle"], "flagged": "yes"},
    )
    assert bad.status_code == 422


def test_section_items_are_sanitised_with_saved_answers_and_flags(
    app: Flask, one_part: SeededSchool
) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    send(client, view, 1, "B")
    send(client, view, 1, "C")  # revised
    flag(client, view, 4)
    reply = section_items(client, view)
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    text = json.dumps(body)
    assert "correct" not in text
    assert "<script" not in text
    assert "scoring" not in text
    assert [i["number"] for i in body["items"]] == [1, 2, 3, 4]
    assert [i["handle"] for i in body["items"]] == [i["handle"] for i in items_of(view)]
    assert body["items"][0]["response"] == {"choice": "C"}
    assert [i["response"] for i in body["items"][1:]] == [None, None, None]
    assert [i["flagged"] for i in body["items"]] == [False, False, False, True]
    assert body["media"] == []
    assert body["items"][0]["options"][0]["id"] == "A"


def test_submit_moves_to_the_next_section_once(app: Flask) -> None:
    school = seed_school(n_items=12, settings=sections(linear(), cat_part()))
    client = student_client(app, school)
    view = start(client, school)
    send(client, view, 2, "B")
    assert section_items(client, view).status_code == 200
    first = submit(client, view, "submit-part-a")
    assert first.status_code == 200, first.get_json()
    moved = first.get_json()
    assert moved["submitted"] == {"section": 1, "replayed": False}
    assert moved["section"]["kind"] == "cat"
    assert moved["section"]["navigation"] == "forward"
    assert "items" not in moved["section"]
    assert moved["item"] is not None
    again = submit(client, view, "submit-part-a").get_json()
    assert again["submitted"] == {"section": 1, "replayed": True}
    assert again["section"]["index"] == 2
    assert again["item"] == moved["item"]
    # An adaptive section refuses every free-navigation request.
    for response in (
        section_items(client, moved),
        submit(client, moved, "submit-part-b"),
        client.put(
            f"/api/v1/sessions/{view['session']['id']}/flags",
            {"item": moved["item"]["handle"], "flagged": True},
        ),
    ):
        assert response.status_code == 409
        assert error_code(response) == "navigation_forward"
    # A late answer to Part A is refused; what was saved there stays.
    late = send(client, view, 3, "C")
    assert late.status_code == 409
    assert row_count(ItemResponse) == 1


def test_submitting_the_last_section_finishes_with_unanswered_items_not_answered(
    app: Flask, one_part: SeededSchool
) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    send(client, view, 1, "A")
    done = submit(client, view).get_json()
    assert done["finished"] is True
    assert done["session"]["status"] == SessionStatus.FINISHED
    result = db.session.execute(select(Result)).scalar_one()
    assert (result.n_items, result.finish_reason) == (1, "completed")
    assert submit(client, view).get_json()["submitted"]["replayed"] is True
    assert row_count(Result) == 1
    assert error_code(submit(client, view, "another")) == "session_not_active"


def test_time_out_in_a_free_section_keeps_what_was_saved(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = seed_school(n_items=12, settings=sections(linear(time_limit_seconds=60), cat_part()))
    client = student_client(app, school)
    view = start(client, school)
    send(client, view, 1, "A")
    send(client, view, 1, "B")
    flag(client, view, 3)
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr("delivery.api.utcnow", lambda: later)
    late = send(client, view, 2, "B")
    assert late.status_code == 409
    assert error_code(late) == "time_expired"
    for response in (flag(client, view, 2), submit(client, view)):
        assert response.status_code == 409
    now = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert now["section"]["index"] == 2
    assert now["section"]["kind"] == "cat"
    assert row_count(ItemResponse) == 2
    state = db.session.execute(select(ExamSession.state)).scalar_one()
    assert state["flagged"] == []
    assert len(state["timed_out"]) == 4


def test_time_out_of_the_last_free_section_scores_the_saved_answers(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = seed_school(n_items=8, settings=sections(linear(time_limit_seconds=60)))
    client = student_client(app, school)
    view = start(client, school)
    send(client, view, 4, "D")
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr("delivery.api.utcnow", lambda: later)
    now = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert now["finished"] is True
    result = db.session.execute(select(Result)).scalar_one()
    assert (result.n_items, result.finish_reason) == (1, "time_expired")


def test_everything_is_rebuilt_from_the_database_after_the_store_is_emptied(
    app: Flask, one_part: SeededSchool
) -> None:
    client = student_client(app, one_part)
    view = start(client, one_part)
    send(client, view, 2, "B", key="k-1")
    send(client, view, 2, "C", key="k-2")
    send(client, view, 4, "D", key="k-3")
    flag(client, view, 1)
    before = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    app.extensions["cbt.state"].clear()
    after = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert after["section"] == before["section"]
    assert [i["answered"] for i in items_of(after)] == [False, True, False, True]
    assert [i["flagged"] for i in items_of(after)] == [True, False, False, False]
    app.extensions["cbt.state"].clear()
    assert send(client, view, 2, "C", key="k-2").get_json()["accepted"]["replayed"] is True
    app.extensions["cbt.state"].clear()
    saved = section_items(client, view).get_json()["items"]
    assert [i["response"] for i in saved] == [None, {"choice": "C"}, None, {"choice": "D"}]
    app.extensions["cbt.state"].clear()
    submit(client, view)
    app.extensions["cbt.state"].clear()
    assert submit(client, view).get_json()["submitted"]["replayed"] is True
    assert row_count(ItemResponse) == 3
    assert row_count(Result) == 1


def test_a_forward_section_is_unchanged(app: Flask) -> None:
    school = seed_school(n_items=8, settings=sections(linear("forward")))
    client = student_client(app, school)
    view = start(client, school)
    assert view["section"]["navigation"] == "forward"
    assert "items" not in view["section"]
    first = view["item"]["handle"]
    post = f"/api/v1/sessions/{view['session']['id']}/responses"
    view = client.post(
        post, {"item": first, "response": {"choice": "A"}, "idempotency_key": "a"}
    ).get_json()
    back = client.post(post, {"item": first, "response": {"choice": "B"}, "idempotency_key": "b"})
    assert error_code(back) == "already_answered"
    assert error_code(section_items(client, view)) == "navigation_forward"
    assert error_code(submit(client, view)) == "navigation_forward"
    while not view["finished"]:
        view = client.post(
            post,
            {"item": view["item"]["handle"], "response": {"choice": "A"},
             "idempotency_key": uuid.uuid4().hex},
        ).get_json()  # fmt: skip
    assert row_count(ItemResponse) == 4


def test_a_student_cannot_reach_another_students_section(
    app: Flask, one_part: SeededSchool
) -> None:
    mine = student_client(app, one_part, 1)
    view = start(mine, one_part)
    other = student_client(app, one_part, 2)
    start(other, one_part)
    assert section_items(other, view).status_code == 404
    assert flag(other, view, 1).status_code == 404
    assert submit(other, view).status_code == 404


@pytest.mark.parametrize(
    ("end_screen", "shown"),
    [
        (None, None),
        ({"show_score": True}, {"scale_score", "scale_se"}),
        ({"show_band": True}, {"band"}),
        ({"show_score": True, "show_band": True}, {"scale_score", "scale_se", "band"}),
    ],
)
def test_the_end_screen_shows_what_the_definition_allows(
    app: Flask, end_screen: dict | None, shown: set | None
) -> None:
    settings = sections(linear())
    if end_screen is not None:
        settings["end_screen"] = end_screen
    school = seed_school(n_items=8, settings=settings)
    client = student_client(app, school)
    view = start(client, school)
    assert "result" not in view
    send(client, view, 1, "A")
    done = submit(client, view).get_json()
    if shown is None:
        assert "result" not in done
        return
    assert set(done["result"]) == shown
    result = db.session.execute(select(Result)).scalar_one()
    if "scale_score" in shown:
        assert done["result"]["scale_score"] == pytest.approx(result.scale_score)
    again = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert again["result"] == done["result"]
