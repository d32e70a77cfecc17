"""Operators create tests and administrations (API and CLI), simulate and replay."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.cli import cli
from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from delivery.models import Administration, TestDefinition
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, row_count, seed_school

DEFINITION = {
    "key": "spring-cat",
    "title": "Spring adaptive test",
    "pool": "test-pool",
    "parameter_set": "test-set",
    "settings": {
        "sections": [
            {
                "key": "main",
                "kind": "cat",
                "time_limit_seconds": 900,
                "selection": [
                    {"rule": "content_limits", "limits": {"geometry": {"min": 2}}},
                    {"rule": "max_information"},
                ],
                "stopping": [{"rule": "min_length", "n": 4}, {"rule": "max_length", "n": 6}],
                "exposure": {"max_rate": 0.4},
            }
        ]
    },
    "scale": {"slope": 50, "intercept": 250, "cut_scores": [250], "band_labels": ["A", "B"]},
}


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


@pytest.fixture
def operator(app: Flask, school: SeededSchool) -> ApiClient:
    create_staff_user("op@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    client = ApiClient(app.test_client())
    assert client.login_staff("op@test.example", TEACHER_PASSWORD).status_code == 200
    return client


def test_operator_creates_a_test_and_gives_it_to_a_class(
    operator: ApiClient, school: SeededSchool, app: Flask
) -> None:
    created = operator.post("/api/v1/test-definitions", DEFINITION)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["mode"] == "cat"
    administration = operator.post(
        "/api/v1/administrations",
        {
            "test": "spring-cat",
            "name": "Spring window",
            "classroom_ids": [school.classroom_id],
            "opens_at": "2026-01-01T09:00:00+09:00",
            "closes_at": "2099-01-01T09:00:00Z",
            "status": "open",
        },
    )
    assert administration.status_code == 201, administration.get_json()
    listed = operator.get("/api/v1/administrations").get_json()["administrations"]
    assert listed[0]["test"]["key"] == "spring-cat"
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    titles = [
        a["title"] for a in student.get("/api/v1/me/administrations").get_json()["administrations"]
    ]
    assert "Spring adaptive test" in titles


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"settings": {"sections": [{"kind": "cat", "colour": 1}]}}, 422, "validation_failed"),
        (
            {"settings": {"sections": [{"kind": "linear", "forms": [["zzz"]]}]}},
            422,
            "validation_failed",
        ),
        ({"pool": "no-such-pool"}, 404, "not_found"),
        ({"parameter_set": "no-such-set"}, 404, "not_found"),
        (
            {"scale": {"slope": 100, "cut_scores": [1, 2], "band_labels": ["x"]}},
            422,
            "validation_failed",
        ),
        ({"settings": "cat"}, 422, "validation_failed"),
        ({"key": ""}, 422, "validation_failed"),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_written(
    operator: ApiClient, school: SeededSchool, change: dict, status: int, code: str
) -> None:
    before = row_count(TestDefinition)
    response = operator.post("/api/v1/test-definitions", {**DEFINITION, **change})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert row_count(TestDefinition) == before


def test_duplicate_key_is_409(operator: ApiClient, school: SeededSchool) -> None:
    assert operator.post("/api/v1/test-definitions", DEFINITION).status_code == 201
    assert operator.post("/api/v1/test-definitions", DEFINITION).status_code == 409


def test_teachers_cannot_author(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    assert api.post("/api/v1/test-definitions", DEFINITION).status_code == 403
    assert api.post("/api/v1/administrations", {}).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"opens_at": "tomorrow"}, 422, "opens_at"),
        ({"opens_at": "2026-01-01T09:00:00"}, 422, "opens_at"),  # no zone
        (
            {"opens_at": "2026-02-01T00:00:00Z", "closes_at": "2026-01-01T00:00:00Z"},
            422,
            "closes_at",
        ),
        ({"classroom_ids": []}, 422, "classroom_ids"),
        ({"classroom_ids": ["1"]}, 422, "classroom_ids"),
        ({"status": "closed"}, 422, "status"),
    ],
)
def test_bad_administrations_are_refused(
    operator: ApiClient, school: SeededSchool, body: dict, status: int, field: str
) -> None:
    before = row_count(Administration)
    request = {"test": "test-cat", "name": "x", "classroom_ids": [school.classroom_id], **body}
    response = operator.post("/api/v1/administrations", request)
    assert response.status_code == status
    assert response.get_json()["error"]["details"]["field"] == field
    assert row_count(Administration) == before


def test_unknown_classrooms_and_tests_are_404(operator: ApiClient, school: SeededSchool) -> None:
    response = operator.post(
        "/api/v1/administrations", {"test": "test-cat", "name": "x", "classroom_ids": [999]}
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["details"] == {"classroom_ids": [999]}
    response = operator.post(
        "/api/v1/administrations", {"test": "nope", "name": "x", "classroom_ids": [1]}
    )
    assert response.status_code == 404


# -- CLI --------------------------------------------------------------------------------------


def test_cli_creates_tests_and_administrations(
    runner, school: SeededSchool, tmp_path: Path
) -> None:
    path = tmp_path / "test.json"
    path.write_text(json.dumps(DEFINITION))
    result = runner.invoke(cli, ["tests", "create", str(path)])
    assert result.exit_code == 0, result.output
    assert "created test spring-cat" in result.output
    result = runner.invoke(
        cli,
        [
            "administrations",
            "create",
            "--test",
            "spring-cat",
            "--name",
            "Autumn",
            "--class",
            "test-1a",
            "--class",
            "TEST-1B",
            "--open",
        ],
    )
    assert result.exit_code == 0, result.output
    administration = db.session.scalars(
        select(Administration).where(Administration.name == "Autumn")
    ).one()
    assert administration.status == "open"
    result = runner.invoke(cli, ["administrations", "close", str(administration.id)])
    assert result.exit_code == 0
    assert "is closed, 0 running sessions ended" in result.output
    listing = runner.invoke(cli, ["administrations", "list"])
    assert "Autumn" in listing.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ("[]", "must hold a JSON object"),
        (json.dumps({"key": "x"}), "lacks title, pool, parameter_set, settings, scale"),
        (json.dumps({**DEFINITION, "pool": "missing"}), "No such item pool."),
        (
            json.dumps(
                {**DEFINITION, "settings": {"sections": [{"kind": "loft", "counts": {"x": 99}}]}}
            ),
            "too few items for the LOFT counts",
        ),
    ],
)
def test_cli_rejects_bad_definition_files(
    runner, school: SeededSchool, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(cli, ["tests", "create", str(path)])
    assert result.exit_code != 0
    assert message in result.output
    assert row_count(TestDefinition) == 1  # only the seeded one


def test_cli_rejects_unknown_classes_and_bad_times(runner, school: SeededSchool) -> None:
    result = runner.invoke(
        cli, ["administrations", "create", "--test", "test-cat", "--name", "x", "--class", "NOPE"]
    )
    assert result.exit_code != 0
    assert "unknown class code(s): NOPE" in result.output
    result = runner.invoke(
        cli,
        [
            "administrations",
            "create",
            "--test",
            "test-cat",
            "--name",
            "x",
            "--class",
            "TEST-1A",
            "--opens-at",
            "soon",
        ],
    )
    assert result.exit_code != 0
    assert "ISO 8601" in result.output


def test_cli_simulate_writes_a_report(runner, school: SeededSchool, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = runner.invoke(
        cli,
        ["simulate", "--test", "test-cat", "--examinees", "60", "--seed", "3", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["n_examinees"] == 60
    assert report["length"]["min"] >= 3
    assert report["length"]["max"] <= 5
    assert {"bias", "rmse", "by_theta"} <= set(report["accuracy"])
    assert 0 < report["exposure"]["max_rate"] <= 1
    assert "RMSE" in result.output
    unknown = runner.invoke(
        cli, ["simulate", "--test", "nope", "--examinees", "5", "--out", str(out)]
    )
    assert unknown.exit_code != 0
    assert "No such test definition." in unknown.output


def test_cli_replays_a_session(runner, app: Flask, school: SeededSchool) -> None:
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    view = student.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    while not view["finished"]:
        view = student.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": {"choice": "D"},
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()
    result = runner.invoke(cli, ["sessions", "replay", view["session"]["id"]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items_match"] is True
    missing = runner.invoke(cli, ["sessions", "replay", "nope"])
    assert missing.exit_code != 0
    assert "No such session." in missing.output
