"""Published forms: a sitting runs on the form it started with, through pool edits, new
parameter sets, fresh workers and a flushed state store; drafts never reach students."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import SYSTEM
from cbt.db import db
from cbt.errors import DomainError
from cbt.models import AuditEvent
from delivery import definitions, engine
from delivery.models import Administration, ExamSession, FormSnapshot, Result, TestDefinition
from delivery.service import DeliveryService
from item_bank.models import ItemPool, ParameterSetStatus
from item_bank.service import create_parameter_set, set_pool_members
from tests.helpers import cat_settings, seed_school, seed_school_parameters
from tests.unit.delivery.test_sessions import answer, start, student_client

SHUFFLED = cat_settings(max_items=6, shuffle_options=True)


def fresh_worker(app: Flask) -> DeliveryService:
    """A newly started worker after Redis lost everything: no compiled test, no cached state."""
    app.extensions["cbt.state"].clear()
    service = DeliveryService(
        app.extensions["cbt.state"], app.config["SECRET_KEY"], app.config["STATE_TTL_SECONDS"]
    )
    app.extensions["cbt.delivery"] = service
    return service


def edit_pool(school, keep: list[int]) -> None:
    pool = db.session.execute(select(ItemPool)).scalar_one()
    set_pool_members(pool.id, keep, actor=SYSTEM)
    db.session.commit()


def test_a_pool_edit_changes_nothing_a_live_student_sees(app: Flask) -> None:
    school = seed_school(settings=SHUFFLED)
    client = student_client(app, school)
    view = answer(client, start(client, school)).get_json()
    on_screen = view["item"]
    # The operator drops the item on screen, and half the pool, from the pool.
    shown = db.session.scalar(select(ExamSession.current_item_version_id))
    edit_pool(school, [v for v in school.item_version_ids[::2] if v != shown])
    fresh_worker(app)
    again = client.get(f"/api/v1/sessions/{view['session']['id']}")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["item"] == on_screen  # same item, same option order
    # And the sitting carries on and finishes on its own form.
    view = again.get_json()
    while not view["finished"]:
        response = answer(client, view)
        assert response.status_code == 200, response.get_json()
        view = response.get_json()


def test_a_new_parameter_set_changes_nothing_a_live_sitting_uses(app: Flask) -> None:
    school = seed_school(settings=SHUFFLED)
    client = student_client(app, school)
    view = start(client, school)
    _, b = seed_school_parameters(len(school.item_version_ids))
    other = create_parameter_set(
        name="test-set",
        parameters={
            v: {"model": "2pl", "discrimination": 2.0, "difficulty": float(-b[i])}
            for i, v in enumerate(school.item_version_ids)
        },
        provenance={"source": "recalibration"},
        status=ParameterSetStatus.PUBLISHED,
    )
    definition = db.session.get(TestDefinition, school.test_definition_id)
    definition.parameter_set_id = other.id  # even a definition pointed elsewhere
    db.session.commit()
    fresh_worker(app)
    again = client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()
    assert again["item"] == view["item"]
    snapshot = db.session.execute(select(FormSnapshot)).scalar_one()
    assert snapshot.parameter_set_id != other.id


def test_opening_publishes_a_form_with_its_provenance(app: Flask) -> None:
    school = seed_school(status="scheduled")
    service = app.extensions["cbt.delivery"]
    assert db.session.scalar(select(FormSnapshot.id)) is None
    service.set_administration_status(school.administration_id, "open", _now(), SYSTEM)
    db.session.commit()
    snapshot = db.session.execute(select(FormSnapshot)).scalar_one()
    assert snapshot.revision == 1
    assert sorted(snapshot.item_version_ids) == sorted(school.item_version_ids)
    assert snapshot.engine_version == engine.ENGINE_VERSION
    assert snapshot.seed_rule == engine.SEED_RULE
    assert snapshot.settings == db.session.get(TestDefinition, school.test_definition_id).settings
    # Closing and opening again keeps the form.
    service.set_administration_status(school.administration_id, "closed", _now(), SYSTEM)
    service.set_administration_status(school.administration_id, "open", _now(), SYSTEM)
    assert db.session.scalar(select(db.func.count()).select_from(FormSnapshot)) == 1


def test_republish_is_audited_and_only_new_sittings_use_it(app: Flask) -> None:
    school = seed_school(settings=SHUFFLED, n_students=2)
    first = student_client(app, school, 1)
    view = start(first, school)
    edit_pool(school, school.item_version_ids[:20])
    service = app.extensions["cbt.delivery"]
    with pytest.raises(DomainError):
        service.republish(school.administration_id, " ", SYSTEM)
    published = service.republish(school.administration_id, "Items 21-30 retired", SYSTEM)
    db.session.commit()
    assert published["revision"] == 2
    assert published["n_items"] == 20
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "administration_republished")
    ).scalar_one()
    assert event.details["reason"] == "Items 21-30 retired"
    second = start(student_client(app, school, 2), school)
    snapshots = dict(db.session.execute(select(ExamSession.id, ExamSession.snapshot_id)).all())
    assert snapshots[second["session"]["id"]] == published["id"]
    assert snapshots[view["session"]["id"]] != published["id"]
    assert (
        first.get(f"/api/v1/sessions/{view['session']['id']}").get_json()["item"] == (view["item"])
    )


def test_replay_runs_on_the_form_and_records_the_engine_version(app: Flask) -> None:
    school = seed_school(settings=SHUFFLED)
    client = student_client(app, school)
    view = start(client, school)
    while not view["finished"]:
        view = answer(client, view, "B").get_json()
    edit_pool(school, school.item_version_ids[:3])
    service = fresh_worker(app)
    replay = service.replay_session(view["session"]["id"])
    assert replay["items_match"] is True
    assert replay["result_match"] is True
    result = db.session.execute(select(Result)).scalar_one()
    assert replay["replayed"]["theta"] == result.theta  # bit for bit
    assert replay["replayed"]["se"] == result.se
    assert result.engine_version == engine.ENGINE_VERSION
    assert result.snapshot_id == db.session.scalar(select(ExamSession.snapshot_id))
    assert replay["engine_version"] == engine.ENGINE_VERSION


def test_a_draft_parameter_set_never_reaches_students(app: Flask) -> None:
    school = seed_school()
    draft = create_parameter_set(
        name="draft-set",
        parameters={
            v: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}
            for v in school.item_version_ids
        },
        provenance={"source": "researcher"},
        status=ParameterSetStatus.DRAFT,
    )
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        definitions.create_test_definition(
            key="drafted", title="Drafted", pool="test-pool", parameter_set="draft-set",
            parameter_set_version=None, settings=cat_settings(), scale=_scale(),
        )  # fmt: skip
    assert refused.value.code == "parameter_set_not_published"
    assert 400 <= refused.value.status < 500
    with pytest.raises(DomainError) as named:
        definitions.create_test_definition(
            key="drafted", title="Drafted", pool="test-pool", parameter_set="draft-set",
            parameter_set_version=draft.version, settings=cat_settings(), scale=_scale(),
        )  # fmt: skip
    assert named.value.code == "parameter_set_not_published"
    # A definition stored with a draft (before this check existed) cannot open for students.
    definition = db.session.get(TestDefinition, school.test_definition_id)
    definition.parameter_set_id = draft.id
    db.session.commit()
    client = student_client(app, school)
    response = client.post(f"/api/v1/administrations/{school.administration_id}/sessions")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "parameter_set_not_published"
    assert db.session.scalar(select(ExamSession.id)) is None
    assert db.session.get(Administration, school.administration_id) is not None


def _scale() -> dict:
    return {"slope": 100.0, "intercept": 500.0, "cut_scores": [500.0], "band_labels": ["L", "H"]}


def _now():
    from cbt.db import utcnow

    return utcnow()


def test_a_pool_edit_reaches_the_next_simulation_but_no_form(app: Flask) -> None:
    """The item bank's signals have a receiver: compiled definitions follow the pool."""
    school = seed_school()
    service = app.extensions["cbt.delivery"]
    client = student_client(app, school)
    view = start(client, school)
    before = service.compiled_test(school.test_definition_id)
    assert len(before) == 30
    edit_pool(school, school.item_version_ids[:12])
    after = service.compiled_test(school.test_definition_id)
    assert len(after) == 12
    form = service.form_test(db.session.scalar(select(ExamSession.snapshot_id)))
    assert len(form) == 30
    assert (
        client.get(f"/api/v1/sessions/{view['session']['id']}").get_json()["item"] == (view["item"])
    )


def test_the_engine_loads_no_web_or_storage_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, delivery.engine, delivery.simulation; "
        "print(sorted(m for m in ('flask', 'sqlalchemy', 'cbt', 'cbt.errors', 'redis') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_republishes_with_a_reason(runner, app: Flask) -> None:
    from cbt.cli import cli

    school = seed_school()
    edit_pool(school, school.item_version_ids[:10])
    missing = runner.invoke(cli, ["administrations", "republish", str(school.administration_id)])
    assert missing.exit_code != 0
    result = runner.invoke(
        cli,
        ["administrations", "republish", str(school.administration_id), "--reason", "retired"],
    )
    assert result.exit_code == 0, result.output
    assert "revision 1 (10 items)" in result.output
    unknown = runner.invoke(cli, ["administrations", "republish", "999", "--reason", "x"])
    assert unknown.exit_code != 0
    assert "Traceback" not in unknown.output
