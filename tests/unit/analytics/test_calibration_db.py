"""Calibration from the database: pseudonymised responses in, a draft ParameterSet out."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, select

from analytics.calibration import (
    calibrate_administrations,
    load_administration_responses,
    response_data_hash,
)
from cbt.cli import cli
from cbt.db import db
from cbt.errors import NotFound
from cbt.models import User
from delivery.models import Administration, ExamSession, SessionStatus
from item_bank.models import ItemParameter, ParameterSet, ParameterSetStatus
from item_bank.service import create_parameter_set
from scoring import MMLCalibrator
from tests.helpers import SeededSchool, seed_school, seed_school_parameters, sit_sessions

N_ITEMS = 16


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(n_items=N_ITEMS)
    sit_sessions(school.item_version_ids, school.administration_id, 400, np.random.default_rng(1))
    db.session.commit()
    return school


def test_responses_are_pseudonymised_and_reset_sessions_left_out(school: SeededSchool) -> None:
    rng = np.random.default_rng(2)
    reset = sit_sessions(
        school.item_version_ids, school.administration_id, 5, rng, status=SessionStatus.RESET
    )
    loaded = load_administration_responses([school.administration_id])
    data = loaded.data
    assert data.n_persons == 400
    assert data.n_responses == 400 * N_ITEMS
    pseudonyms = set(db.session.scalars(select(User.pseudonym)))
    names = set(db.session.scalars(select(User.display_name)))
    assert set(data.person_ids) <= pseudonyms
    assert not set(data.person_ids) & names
    reset_pseudonyms = set(db.session.scalars(select(User.pseudonym).where(User.id.in_(reset))))
    assert not set(data.person_ids) & reset_pseudonyms
    assert set(data.item_ids) == {str(v) for v in school.item_version_ids}
    assert loaded.item_keys[str(school.item_version_ids[0])] == "t-000 v1"
    assert loaded.administrations[0]["name"] == "Spring"
    assert len(response_data_hash(data)) == 64


def test_a_later_answer_replaces_an_earlier_one(school: SeededSchool) -> None:
    rng = np.random.default_rng(3)
    second = Administration(
        test_definition_id=school.test_definition_id, name="Autumn", status="open"
    )
    db.session.add(second)
    db.session.flush()
    first_students = db.session.scalars(
        select(ExamSession.student_id).where(
            ExamSession.administration_id == school.administration_id
        )
    ).all()[:10]
    sit_sessions(
        school.item_version_ids,
        second.id,
        0,
        rng,
        students=list(first_students),
        when=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    )
    loaded = load_administration_responses([school.administration_id, second.id])
    assert loaded.n_duplicates == 10 * N_ITEMS
    assert loaded.data.n_persons == 400
    assert np.sum(loaded.administration_of_person == second.id) == 10


def test_calibrate_administrations_writes_a_draft_with_provenance(school: SeededSchool) -> None:
    cal = MMLCalibrator("2pl")
    parameter_set, cal, _ = calibrate_administrations(
        [school.administration_id], parameter_set_name="research-2026", calibrator=cal, seed=7
    )
    db.session.commit()
    assert parameter_set.status == ParameterSetStatus.DRAFT
    assert parameter_set.version == 1
    prov = parameter_set.provenance
    for key in (
        "data_sha256",
        "settings",
        "software",
        "seed",
        "started_at",
        "administrations",
        "fit",
        "n_persons",
        "n_responses",
        "item_keys",
    ):
        assert key in prov, key
    assert prov["seed"] == 7
    assert prov["administrations"][0]["id"] == school.administration_id
    assert prov["fit"]["converged"] is True
    rows = db.session.scalars(
        select(ItemParameter).where(ItemParameter.parameter_set_id == parameter_set.id)
    ).all()
    assert {r.item_version_id for r in rows} == set(school.item_version_ids)
    by_version = {r.item_version_id: r for r in rows}
    estimated = np.array([by_version[v].difficulty for v in school.item_version_ids])
    assert np.corrcoef(estimated, seed_school_parameters(N_ITEMS)[1])[0, 1] > 0.97
    assert set(rows[0].standard_errors) == {"discrimination", "difficulty"}
    again, _, _ = calibrate_administrations(
        [school.administration_id],
        parameter_set_name="research-2026",
        calibrator=MMLCalibrator("2pl", se_method=None),
    )
    assert again.version == 2
    assert again.provenance["data_sha256"] == prov["data_sha256"]


def test_unknown_administration(app: Flask) -> None:
    with pytest.raises(NotFound):
        load_administration_responses([999])


def test_cli_calibrates_from_the_database(school: SeededSchool, runner, tmp_path: Path) -> None:
    out, scores = tmp_path / "params.json", tmp_path / "scores.csv"
    result = runner.invoke(
        cli,
        [
            "calibrate",
            "--administration",
            str(school.administration_id),
            "--model",
            "2pl",
            "--parameter-set",
            "spring-2026",
            "--out",
            str(out),
            "--scores",
            str(scores),
            "--seed",
            "11",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "draft parameter set 'spring-2026' version 1" in result.output
    db.session.remove()
    stored = db.session.scalars(select(ParameterSet).where(ParameterSet.name == "spring-2026"))
    stored = stored.one()
    assert stored.status == ParameterSetStatus.DRAFT
    assert stored.provenance["seed"] == 11
    doc = json.loads(out.read_text())
    assert {i["item_id"] for i in doc["items"]} == {str(v) for v in school.item_version_ids}
    assert doc["provenance"]["data_sha256"] == stored.provenance["data_sha256"]
    ids = [row[0] for row in csv.reader(scores.read_text().splitlines()[1:])]
    assert set(ids) <= set(db.session.scalars(select(User.pseudonym)))


def test_cli_anchor_set_and_groups_by_administration(
    school: SeededSchool, runner, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    later = Administration(test_definition_id=school.test_definition_id, name="Year 2")
    db.session.add(later)
    db.session.flush()
    sit_sessions(school.item_version_ids, later.id, 400, rng, mean=0.7)
    a, b = seed_school_parameters(N_ITEMS)
    anchors = create_parameter_set(
        name="operational",
        parameters={
            v: {"model": "2pl", "discrimination": float(a[k]), "difficulty": float(b[k])}
            for k, v in enumerate(school.item_version_ids[:8])
        },
        provenance={"source": "test"},
    )
    db.session.commit()
    out = tmp_path / "p.json"
    result = runner.invoke(
        cli,
        [
            "calibrate",
            "--administration",
            str(school.administration_id),
            "--administration",
            str(later.id),
            "--model",
            "2pl",
            "--parameter-set",
            "linked",
            "--anchor-set",
            str(anchors.id),
            "--group-by-administration",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["fixed_items"] == [str(v) for v in school.item_version_ids[:8]]
    groups = {g["label"]: g for g in doc["groups"]}
    assert groups[str(later.id)]["mean"] - groups[str(school.administration_id)]["mean"] == (
        pytest.approx(0.7, abs=0.15)
    )


def test_cli_database_errors_write_nothing(school: SeededSchool, runner, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = runner.invoke(
        cli,
        [
            "calibrate",
            "--administration",
            "999",
            "--model",
            "2pl",
            "--parameter-set",
            "x",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 1
    assert "No such administration" in result.output
    assert not out.exists()
    assert db.session.scalar(select(func.count()).select_from(ParameterSet)) == 1  # seeded
    result = runner.invoke(
        cli, ["calibrate", "--administration", str(school.administration_id), "--model", "2pl"]
    )
    assert result.exit_code == 2
    assert "--parameter-set NAME is required" in result.output
