"""The researcher API: administrations to choose from, their responses and groups as the files
the research commands read, and parameter sets as PARAMS.json. Pseudonyms only; audited."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, select

from analytics.researchio import read_long_responses, read_params_json
from cbt.cli import cli
from cbt.db import db
from cbt.models import AuditEvent, User
from delivery.models import ExamSession, ItemResponse, SessionStatus
from item_bank.models import ParameterSet
from tests.helpers import (
    TEACHER_PASSWORD,
    ApiClient,
    SeededSchool,
    row_count,
    seed_school,
    sit_sessions,
)

N_ITEMS = 16


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(n_items=N_ITEMS)
    rng = np.random.default_rng(3)
    sit_sessions(school.item_version_ids, school.administration_id, 300, rng)
    reset = SessionStatus.RESET
    sit_sessions(school.item_version_ids, school.administration_id, 5, rng, status=reset)
    db.session.commit()
    return school


@pytest.fixture
def researcher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.researcher_email, TEACHER_PASSWORD).status_code == 200
    return api


def _rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # the BOM Excel needs; cbt calibrate reads past it
    return list(csv.reader(io.StringIO(text[1:])))


def _live_responses() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ItemResponse)
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .where(ExamSession.status != SessionStatus.RESET)
    )


def test_administrations_list_counts_without_reset_sessions(
    researcher: ApiClient, school: SeededSchool
) -> None:
    response = researcher.get("/api/v1/research/administrations")
    assert response.status_code == 200
    (listed,) = response.get_json()["administrations"]
    assert listed["id"] == school.administration_id
    assert listed["n_sessions"] == 300
    assert listed["n_responses"] == 300 * N_ITEMS
    assert listed["test_key"]


def test_responses_csv_is_pseudonymised_long_format_and_audited(
    researcher: ApiClient, school: SeededSchool, tmp_path: Path
) -> None:
    url = f"/api/v1/research/responses.csv?administration={school.administration_id}"
    response = researcher.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert rows[0] == ["person_id", "item_id", "score"]
    assert len(rows) - 1 == _live_responses() == 300 * N_ITEMS
    pseudonyms = set(db.session.scalars(select(User.pseudonym)))
    names = set(db.session.scalars(select(User.display_name)))
    assert {row[0] for row in rows[1:]} <= pseudonyms
    assert not {row[0] for row in rows[1:]} & names
    assert {row[1] for row in rows[1:]} == {str(v) for v in school.item_version_ids}
    assert {row[2] for row in rows[1:]} == {"0", "1"}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "research_responses_downloaded")
    ).all()
    assert len(events) == 1
    assert events[0].details["n_responses"] == 300 * N_ITEMS

    # What was downloaded is what the research commands read: calibrate it, import the result.
    path = tmp_path / "responses.csv"
    path.write_bytes(response.get_data())
    assert read_long_responses(path).scores.size == 300 * N_ITEMS


def test_downloaded_files_close_the_calibration_loop(
    researcher: ApiClient, school: SeededSchool, runner, tmp_path: Path
) -> None:
    query = f"administration={school.administration_id}"
    responses, groups = tmp_path / "responses.csv", tmp_path / "groups.csv"
    responses.write_bytes(researcher.get(f"/api/v1/research/responses.csv?{query}").get_data())
    group_rows = _rows(researcher.get(f"/api/v1/research/groups.csv?{query}"))
    assert group_rows[0] == ["person_id", "group", "conditions"]
    assert {row[1] for row in group_rows[1:]} == {str(school.administration_id)}
    assert len(group_rows) - 1 == 300
    groups.write_text("\n".join(",".join(row) for row in group_rows) + "\n")
    anchors = tmp_path / "operational.json"
    set_id = db.session.scalar(select(ParameterSet.id).where(ParameterSet.name == "test-set"))
    anchors.write_bytes(researcher.get(f"/api/v1/parameter-sets/{set_id}/params.json").get_data())
    out = tmp_path / "new.json"
    result = runner.invoke(
        cli,
        [
            "calibrate",
            "--model",
            "2pl",
            "--responses",
            str(responses),
            "--format",
            "long",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        ["link", "--source", str(out), "--target", str(anchors), "--out", str(tmp_path / "l.json")],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["parameters", "import", str(tmp_path / "l.json"), "--name", "spring-linked"]
    )
    assert result.exit_code == 0, result.output
    assert "draft parameter set 'spring-linked' version 1" in result.output


def test_params_json_download(researcher: ApiClient, school: SeededSchool, tmp_path: Path) -> None:
    set_id = db.session.scalar(select(ParameterSet.id).where(ParameterSet.name == "test-set"))
    response = researcher.get(f"/api/v1/parameter-sets/{set_id}/params.json")
    assert response.status_code == 200
    assert 'filename="test-set-v1.json"' in response.headers["Content-Disposition"]
    path = tmp_path / "p.json"
    path.write_bytes(response.get_data())
    document = read_params_json(path)
    assert sorted(document.params.item_ids) == sorted(str(v) for v in school.item_version_ids)
    by_key = json.loads(
        researcher.get(f"/api/v1/parameter-sets/{set_id}/params.json?item_ids=key").get_data()
    )
    assert {item["item_id"] for item in by_key["items"]} == {f"t-{k:03d}" for k in range(N_ITEMS)}
    bad = researcher.get(f"/api/v1/parameter-sets/{set_id}/params.json?item_ids=names")
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"] == {"field": "item_ids"}
    assert researcher.get("/api/v1/parameter-sets/999/params.json").status_code == 404


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 422, "validation_failed"),
        ("?administration=x", 422, "validation_failed"),
        ("?administration=999", 404, "not_found"),
    ],
)
def test_bad_requests_write_nothing(
    researcher: ApiClient, school: SeededSchool, query: str, status: int, code: str
) -> None:
    for path in ("responses.csv", "groups.csv"):
        response = researcher.get(f"/api/v1/research/{path}{query}")
        assert response.status_code == status
        assert response.get_json()["error"]["code"] == code
    research = select(func.count()).where(AuditEvent.action.startswith("research_"))
    assert db.session.scalar(research) == 0


def test_only_researchers(api: ApiClient, school: SeededSchool) -> None:
    query = f"?administration={school.administration_id}"
    assert api.get(f"/api/v1/research/responses.csv{query}").status_code == 401
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    for path in ("administrations", f"responses.csv{query}", f"groups.csv{query}"):
        response = api.get(f"/api/v1/research/{path}")
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
    set_id = db.session.scalar(select(ParameterSet.id))
    assert api.get(f"/api/v1/parameter-sets/{set_id}/params.json").status_code == 403


def _upload(client: ApiClient, content: bytes, **form: str):
    data = {"file": (io.BytesIO(content), "linked.json"), **form}
    return client.post("/api/v1/parameter-sets/import", data=data)


def test_import_params_file_over_the_api(researcher: ApiClient, school: SeededSchool) -> None:
    version = school.item_version_ids[0]
    document = {
        "model": "2pl",
        "items": [{"item_id": str(version), "discrimination": 0.9, "difficulty": -0.2}],
        "linking": {"method": "stocking-lord"},
    }
    response = _upload(researcher, json.dumps(document).encode(), name="linked")
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert (created["name"], created["version"], created["status"]) == ("linked", 1, "draft")
    assert created["provenance"]["file"] == "linked.json"
    assert created["provenance"]["document"]["linking"] == {"method": "stocking-lord"}
    assert created["items"][0]["item_version_id"] == version
    by_key = {"items": [{"item_id": "t-001", "model": "2pl", "discrimination": 1, "difficulty": 0}]}
    response = _upload(researcher, json.dumps(by_key).encode(), name="linked", item_ids="key")
    assert response.status_code == 201
    assert response.get_json()["version"] == 2


@pytest.mark.parametrize(
    ("content", "form", "message"),
    [
        (b"{not json", {"name": "x"}, "linked.json: not valid JSON at line 1"),
        (b'{"items": []}', {"name": "x"}, "'items' must be a non-empty list"),
        (b'{"items": [{"item_id": "t-000"}]}', {"name": "x"}, "is not an item version id"),
        (b'{"items": [{"item_id": "999999", "model": "2pl"}]}', {"name": "x"}, "Unknown item"),
        (b'{"items": [{"item_id": "1", "model": "2pl"}]}', {"name": "x", "item_ids": "n"}, "'key'"),
        (b"\xff\xfe", {"name": "x"}, "not a UTF-8 text file"),
    ],
)
def test_bad_params_files_are_refused_and_write_nothing(
    researcher: ApiClient, school: SeededSchool, content: bytes, form: dict, message: str
) -> None:
    before = row_count(ParameterSet)
    response = _upload(researcher, content, **form)
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["error"]["message"]
    missing = researcher.post("/api/v1/parameter-sets/import", data={"name": "x"})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"] == {"field": "file"}
    assert row_count(ParameterSet) == before


def test_teachers_cannot_import_params_files(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.teacher_email, TEACHER_PASSWORD)
    response = _upload(api, b'{"items": []}', name="x")
    assert response.status_code == 403
