"""The researcher's closed loop through the API: calibrate chosen administrations as a job with
the operational anchors held fixed, review fit, drift and linking, compare with the current set,
publish, and promote the pretest items. Pseudonyms only; every step audited."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, User
from item_bank.models import ItemParameter, ItemStatus, ItemVersion, ParameterSet
from item_bank.service import create_parameter_set
from jobs.runners import stop_thread_worker
from tests.helpers import (
    TEACHER_PASSWORD,
    ApiClient,
    SeededSchool,
    seed_school,
    seed_school_parameters,
    sit_sessions,
)

N_ITEMS = 16
N_ANCHORS = 12


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"JOBS_RUNNER": "thread"}


@pytest.fixture
def school(app: Flask) -> Iterator[SeededSchool]:
    yield seed_school(n_items=N_ITEMS)
    stop_thread_worker(app)


@pytest.fixture
def sat(school: SeededSchool) -> SeededSchool:
    """1,500 students sat the test (enough to recover the pretest items)."""
    sit_sessions(school.item_version_ids, school.administration_id, 1500, np.random.default_rng(5))
    db.session.commit()
    return school


def _anchor_set(school: SeededSchool, shift: dict[int, float] | None = None) -> int:
    """The operational values of the first N_ANCHORS items (published); the rest are pretest."""
    a, b = seed_school_parameters(N_ITEMS)
    shift = shift or {}
    parameters = {
        version: {
            "model": "2pl",
            "discrimination": float(a[k]),
            "difficulty": float(b[k]) + shift.get(k, 0.0),
        }
        for k, version in enumerate(school.item_version_ids[:N_ANCHORS])
    }
    anchor = create_parameter_set(
        name="operational",
        parameters=parameters,
        provenance={"source": "test"},
        status="published",
    )
    for version in school.item_version_ids[N_ANCHORS:]:
        db.session.get(ItemVersion, version).status = ItemStatus.PRETEST
    db.session.commit()
    return anchor.id


@pytest.fixture
def researcher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.researcher_email, TEACHER_PASSWORD).status_code == 200
    return api


def _wait(api: ApiClient, job_id: int, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        job = api.get(f"/api/v1/research/jobs/{job_id}").get_json()
        seen.add(round(job["progress"], 2))
        if job["status"] in ("succeeded", "failed"):
            job["seen_progress"] = seen
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _calibrate(api: ApiClient, school: SeededSchool, anchor_id: int, **extra: Any) -> dict:
    response = api.post(
        "/api/v1/research/calibrations",
        {
            "administration_ids": [school.administration_id],
            "name": "grade7-2026",
            "anchor_parameter_set_id": anchor_id,
            **extra,
        },
    )
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["status"] == "queued"
    return _wait(api, job["id"])


def _sit(app: Flask, school: SeededSchool, number: int) -> str:
    """Student ``number`` sits the CAT through the player's API (a session with a result)."""
    client = ApiClient(app.test_client())
    login = client.login_student(school.class_code, number, school.student_codes[number])
    assert login.status_code == 200
    view = client.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    session_id = view["session"]["id"]
    while not view["finished"]:
        view = client.post(
            f"/api/v1/sessions/{session_id}/responses",
            {
                "item": view["item"]["handle"],
                "response": {"choice": "A"},
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()
    return session_id


def test_the_loop_from_calibration_to_promotion(
    app: Flask, researcher: ApiClient, sat: SeededSchool
) -> None:
    school = sat
    sat_sessions = [_sit(app, school, number) for number in (1, 2, 3)]
    anchor_id = _anchor_set(school)
    job = _calibrate(researcher, school, anchor_id)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["n_anchor_items"] == N_ANCHORS
    assert result["n_pretest_items"] == N_ITEMS - N_ANCHORS
    assert result["n_drift_flagged"] == 0
    new_id = result["parameter_set_id"]

    # Anchors stayed exactly at their bank values; pretest items landed near the truth.
    stored = {
        row.item_version_id: row
        for row in db.session.scalars(
            select(ItemParameter).where(ItemParameter.parameter_set_id == new_id)
        )
    }
    a, b = seed_school_parameters(N_ITEMS)
    for k, version in enumerate(school.item_version_ids):
        if k < N_ANCHORS:
            assert stored[version].discrimination == float(a[k])
            assert stored[version].difficulty == float(b[k])
            assert stored[version].standard_errors == {"fixed": True}
        else:
            assert abs(stored[version].difficulty - b[k]) < 0.35
    new_set = db.session.get(ParameterSet, new_id)
    assert new_set.status == "draft"
    assert new_set.provenance["data_sha256"]
    assert new_set.provenance["administrations"][0]["id"] == school.administration_id

    review = researcher.get(f"/api/v1/research/parameter-sets/{new_id}/review").get_json()
    body = review["review"]
    assert body["anchor_parameter_set_id"] == anchor_id
    assert len(body["drift"]) == N_ANCHORS
    assert abs(body["linking"]["slope"] - 1) < 0.15
    assert abs(body["linking"]["intercept"]) < 0.15
    assert body["pretest_check"]["max_location_difference"] < 0.2
    assert len(body["fit"]) == N_ITEMS
    assert not [f for f in body["fit"] if f["flagged"]], body["fit"]
    assert all(0.8 < f["infit"] < 1.2 for f in body["fit"]), body["fit"]

    comparison = researcher.get(
        f"/api/v1/research/parameter-sets/{new_id}/comparison?against={anchor_id}"
    ).get_json()
    assert comparison["n_common_items"] == N_ANCHORS
    assert len(comparison["new_items"]) == N_ITEMS - N_ANCHORS
    assert comparison["max_location_shift"] == 0.0
    assert comparison["curves"]["new_tcc"] == comparison["curves"]["current_tcc"]
    for chart in ("scatter", "tcc", "information"):
        svg = researcher.get(
            f"/api/v1/research/parameter-sets/{new_id}/charts/{chart}.svg?against={anchor_id}"
        )
        assert svg.status_code == 200
        assert svg.mimetype == "image/svg+xml"
        text = svg.get_data(as_text=True)
        assert '<title id="chart-title">' in text
        assert "<desc" in text

    # Rescore the past sessions with the new set (published first), with a report.
    rescore = {"parameter_set_id": new_id, "session_ids": sat_sessions, "reason": "recalibrated"}
    assert researcher.post("/api/v1/research/rescorings", rescore).status_code == 409
    assert researcher.post(f"/api/v1/parameter-sets/{new_id}/publish").status_code == 200
    started = researcher.post("/api/v1/research/rescorings", rescore)
    assert started.status_code == 202, started.get_json()
    rescored = _wait(researcher, started.get_json()["id"])
    assert rescored["status"] == "succeeded", rescored
    report = rescored["result"]
    assert report["summary"]["n_sessions"] == 3
    assert {r["session_id"] for r in report["sessions"]} == set(sat_sessions)
    pseudonyms = set(db.session.scalars(select(User.pseudonym)))
    assert {r["pseudonym"] for r in report["sessions"]} <= pseudonyms
    assert "student_id" not in report["sessions"][0]
    for row in report["sessions"]:
        assert set(row["old"]) == set(row["new"]) == {"theta", "se", "scale_score", "band"}
    # The pretest items got new values, so sessions that met them changed.
    assert report["summary"]["n_changed"] >= 1
    by_administration = researcher.post(
        "/api/v1/research/rescorings",
        {"parameter_set_id": new_id, "administration_ids": [9999], "reason": "x"},
    )
    assert by_administration.status_code == 422

    # Promotion needs published values; then the pretest items become operational.
    draft = researcher.post(f"/api/v1/research/parameter-sets/{anchor_id}/promote")
    assert draft.status_code == 200  # published, but its items hold no pretest version
    assert draft.get_json()["promoted"] == []
    promoted = researcher.post(f"/api/v1/research/parameter-sets/{new_id}/promote").get_json()
    assert promoted["promoted"] == school.item_version_ids[N_ANCHORS:]
    db.session.expire_all()
    statuses = {db.session.get(ItemVersion, v).status for v in school.item_version_ids}
    assert statuses == {ItemStatus.OPERATIONAL}

    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {
        "research_calibration_started",
        "research_calibration_finished",
        "parameter_set_published",
        "item_status_changed",
        "research_pretest_items_promoted",
        "research_rescoring_started",
        "research_rescoring_finished",
        "result.rescore",
    } <= actions


def test_a_drifted_anchor_is_flagged(researcher: ApiClient, sat: SeededSchool) -> None:
    school = sat
    anchor_id = _anchor_set(school, shift={3: 1.0})
    job = _calibrate(researcher, school, anchor_id)
    assert job["status"] == "succeeded", job
    review = researcher.get(
        f"/api/v1/research/parameter-sets/{job['result']['parameter_set_id']}/review"
    ).get_json()["review"]
    flagged = [d["item_id"] for d in review["drift"] if d["flagged"]]
    assert flagged == [str(school.item_version_ids[3])], review["drift"]


def test_a_job_that_cannot_run_says_why(researcher: ApiClient, school: SeededSchool) -> None:
    anchor_id = _anchor_set(school)
    empty = seed_empty_administration(school)
    response = researcher.post(
        "/api/v1/research/calibrations",
        {"administration_ids": [empty], "name": "x", "anchor_parameter_set_id": anchor_id},
    )
    job = _wait(researcher, response.get_json()["id"])
    assert job["status"] == "failed"
    assert job["error"] == "The chosen administrations have no responses."


def seed_empty_administration(school: SeededSchool) -> int:
    from delivery.models import Administration

    administration = Administration(
        test_definition_id=school.test_definition_id, name="Empty", status="open"
    )
    db.session.add(administration)
    db.session.commit()
    return administration.id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x"}, 422),
        ({"administration_ids": [], "name": "x"}, 422),
        ({"administration_ids": ["1"], "name": "x"}, 422),
        ({"administration_ids": [1], "name": ""}, 422),
        ({"administration_ids": [1], "name": "x", "model": "4pl"}, 422),
        ({"administration_ids": [1], "name": "x", "anchor_parameter_set_id": 999}, 404),
        ({"administration_ids": [1], "name": "x", "drift_threshold": -1}, 422),
        ({"administration_ids": [1], "name": "x", "max_iter": True}, 422),
    ],
)
def test_bad_calibration_requests_are_4xx(researcher: ApiClient, body, status) -> None:
    response = researcher.post("/api/v1/research/calibrations", body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"]


def test_bad_review_requests_are_4xx(researcher: ApiClient, school: SeededSchool) -> None:
    anchor_id = _anchor_set(school)
    base = f"/api/v1/research/parameter-sets/{anchor_id}"
    assert researcher.get(f"{base}/comparison").status_code == 422
    assert researcher.get(f"{base}/comparison?against=x").status_code == 422
    assert researcher.get(f"{base}/charts/pie.svg?against={anchor_id}").status_code == 404
    assert researcher.get("/api/v1/research/parameter-sets/9999/review").status_code == 404
    assert researcher.get("/api/v1/research/jobs/9999").status_code == 404
    draft = create_parameter_set(
        name="d",
        parameters={
            school.item_version_ids[0]: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0}
        },
        provenance={"source": "test"},
    )
    db.session.commit()
    response = researcher.post(
        "/api/v1/research/calibrations",
        {"administration_ids": [1], "name": "x", "anchor_parameter_set_id": draft.id},
    )
    assert response.status_code == 422
    rescoring = researcher.post(
        "/api/v1/research/rescorings",
        {"parameter_set_id": draft.id, "session_ids": ["a" * 32], "reason": "x"},
    )
    assert rescoring.status_code == 409
    assert researcher.post(f"/api/v1/research/parameter-sets/{draft.id}/promote").status_code == 409
    bad_ids = {"parameter_set_id": anchor_id, "session_ids": ["no spaces"], "reason": "x"}
    assert researcher.post("/api/v1/research/rescorings", bad_ids).status_code == 422
    both = {"parameter_set_id": anchor_id, "reason": "x"}
    assert researcher.post("/api/v1/research/rescorings", both).status_code == 422
