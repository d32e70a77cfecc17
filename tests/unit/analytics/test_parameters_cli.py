"""``cbt parameters``: bank parameter sets out to PARAMS.json and back in, whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from analytics.researchio import read_params_json
from cbt.cli import cli
from cbt.db import db
from cbt.models import AuditEvent
from item_bank.models import ParameterSet, ParameterSetStatus
from item_bank.service import parameter_set_detail
from tests.helpers import SeededSchool, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(n_items=6)
    db.session.commit()
    return school


def _seeded_set_id() -> int:
    return db.session.scalar(select(ParameterSet.id).where(ParameterSet.name == "test-set"))


def _n_sets() -> int:
    return db.session.scalar(select(func.count()).select_from(ParameterSet))


def _values(detail: dict) -> dict:
    fields = ("model", "discrimination", "difficulty", "guessing", "thresholds", "se")
    return {item["item_version_id"]: {k: item.get(k) for k in fields} for item in detail["items"]}


def test_export_then_import_keeps_every_value(school: SeededSchool, runner, tmp_path: Path) -> None:
    out = tmp_path / "operational.json"
    result = runner.invoke(cli, ["parameters", "export", str(_seeded_set_id()), "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = read_params_json(out)  # what cbt score, cbt link and --anchors read
    assert sorted(document.params.item_ids) == sorted(str(v) for v in school.item_version_ids)
    assert json.loads(out.read_text())["provenance"]["parameter_set"]["name"] == "test-set"

    result = runner.invoke(cli, ["parameters", "import", str(out), "--name", "copy"])
    assert result.exit_code == 0, result.output
    assert "draft parameter set 'copy' version 1" in result.output
    db.session.remove()
    copy = db.session.scalars(select(ParameterSet).where(ParameterSet.name == "copy")).one()
    assert copy.status == ParameterSetStatus.DRAFT
    assert copy.provenance["source"] == "import"
    assert copy.provenance["file"] == "operational.json"
    assert len(copy.provenance["sha256"]) == 64
    assert _values(parameter_set_detail(copy.id)) == _values(parameter_set_detail(_seeded_set_id()))
    audited = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(copy.id))
    ).all()
    assert "parameter_set_created" in audited


def test_import_by_key_with_standard_errors_and_publish(
    school: SeededSchool, runner, tmp_path: Path
) -> None:
    path = tmp_path / "linked.json"
    items = [
        {
            "item_id": f"t-{k:03d}",
            "model": "2pl",
            "discrimination": 1.0 + 0.1 * k,
            "difficulty": -1.0 + 0.4 * k,
            "se": {"discrimination": 0.05, "difficulty": 0.08},
        }
        for k in range(6)
    ]
    document = {"model": "2pl", "items": items, "linking": {"method": "stocking_lord", "A": 1.1}}
    path.write_text(json.dumps(document))
    result = runner.invoke(
        cli,
        ["parameters", "import", str(path), "--name", "linked", "--item-ids", "key", "--publish"],
    )
    assert result.exit_code == 0, result.output
    db.session.remove()
    linked = db.session.scalars(select(ParameterSet).where(ParameterSet.name == "linked")).one()
    assert linked.status == ParameterSetStatus.PUBLISHED
    assert linked.provenance["document"]["linking"] == {"method": "stocking_lord", "A": 1.1}
    detail = parameter_set_detail(linked.id)
    by_key = {item["item_key"]: item for item in detail["items"]}
    assert by_key["t-003"]["discrimination"] == pytest.approx(1.3)
    assert by_key["t-003"]["difficulty"] == pytest.approx(0.2)
    assert by_key["t-003"]["se"] == {"discrimination": 0.05, "difficulty": 0.08}


def test_a_second_import_is_the_next_version(school: SeededSchool, runner, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    runner.invoke(cli, ["parameters", "export", str(_seeded_set_id()), "--out", str(out)])
    for _ in range(2):
        assert runner.invoke(cli, ["parameters", "import", str(out), "--name", "x"]).exit_code == 0
    db.session.remove()
    versions = db.session.scalars(select(ParameterSet.version).where(ParameterSet.name == "x"))
    assert sorted(versions) == [1, 2]


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("{not json", [], "not valid JSON at line 1"),
        ('{"items": []}', [], "'items' must be a non-empty list"),
        (
            '{"items": [{"item_id": "t-000", "model": "2pl", "discrimination": 1, '
            '"difficulty": 0}]}',
            [],
            "item_id 't-000' is not an item version id",
        ),
        (
            '{"items": [{"item_id": "999999", "model": "2pl", "discrimination": 1, '
            '"difficulty": 0}]}',
            [],
            "Unknown item versions.",
        ),
        (
            '{"items": [{"item_id": "t-000", "model": "2pl", "discrimination": -1, '
            '"difficulty": 0}]}',
            ["--item-ids", "key"],
            "discrimination",
        ),
        (
            '{"items": [{"item_id": "t-000", "model": "gpcm", "discrimination": 1, '
            '"thresholds": [0, 1]}]}',
            ["--item-ids", "key"],
            "scores 0 to 1; a gpcm record needs 1 thresholds",
        ),
        (
            '{"items": [{"item_id": "nope", "model": "2pl", "discrimination": 1, '
            '"difficulty": 0}]}',
            ["--item-ids", "key"],
            "No item 'nope'",
        ),
        (
            '{"items": [{"item_id": "t-000", "model": "2pl", "discrimination": 1, '
            '"difficulty": 0, "se": [1]}]}',
            ["--item-ids", "key"],
            "'se' must be an object",
        ),
    ],
)
def test_bad_files_are_refused_and_write_nothing(
    school: SeededSchool, runner, tmp_path: Path, content: str, options: list, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    before = _n_sets()
    result = runner.invoke(cli, ["parameters", "import", str(path), "--name", "bad", *options])
    assert result.exit_code == 1, result.output
    assert message in result.output
    db.session.remove()
    assert _n_sets() == before


def test_publish_list_and_unknown_sets(school: SeededSchool, runner, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    runner.invoke(cli, ["parameters", "export", str(_seeded_set_id()), "--out", str(out)])
    runner.invoke(cli, ["parameters", "import", str(out), "--name", "draft"])
    db.session.remove()
    draft_id = db.session.scalar(select(ParameterSet.id).where(ParameterSet.name == "draft"))
    listing = runner.invoke(cli, ["parameters", "list"])
    assert listing.exit_code == 0
    assert "test-set" in listing.output
    assert "draft" in listing.output
    as_json = json.loads(runner.invoke(cli, ["parameters", "list", "--json"]).output)
    assert {entry["name"] for entry in as_json} == {"test-set", "draft"}

    result = runner.invoke(cli, ["parameters", "publish", str(draft_id)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, ["parameters", "publish", str(draft_id)])
    assert again.exit_code == 1
    assert "already published" in again.output
    for command in (["publish", "999"], ["export", "999", "--out", str(tmp_path / "n.json")]):
        result = runner.invoke(cli, ["parameters", *command])
        assert result.exit_code == 1
        assert "No such parameter set" in result.output
    assert not (tmp_path / "n.json").exists()
