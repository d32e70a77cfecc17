"""The operator's test-definition and administration pages, and the API they add: changing the
classes of a scheduled administration and re-publishing its form. Teachers and students are
refused; bad input gets 4xx and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db, utcnow
from cbt.models import AuditEvent, Classroom, Role
from cbt.service import create_staff_user
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    FormSnapshot,
    TestDefinition,
)
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, row_count, seed_school

OPERATOR_EMAIL = "operator@test.example"
SCALE = {"slope": 100, "intercept": 500, "cut_scores": [450, 550], "band_labels": ["L", "M", "H"]}


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(status=AdministrationStatus.SCHEDULED)
    create_staff_user(OPERATOR_EMAIL, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    return school


@pytest.fixture
def operator(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(OPERATOR_EMAIL, TEACHER_PASSWORD).status_code == 200
    return api


@pytest.fixture
def teacher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    return api


@pytest.fixture
def student(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    return api


def put(api: ApiClient, path: str, body: Any):
    return api.client.put(path, json=body, headers=api._headers())


def classroom_ids(administration_id: int) -> list[int]:
    return sorted(
        db.session.scalars(
            select(AdministrationClassroom.classroom_id).where(
                AdministrationClassroom.administration_id == administration_id
            )
        )
    )


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# -- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/operator/tests", "/operator/administrations"])
def test_the_pages_are_for_operators(api: ApiClient, school: SeededSchool, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/login")
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    assert api.client.get(path).status_code == 403
    api.post("/api/v1/auth/logout")
    assert api.login_staff(OPERATOR_EMAIL, TEACHER_PASSWORD).status_code == 200
    html = api.client.get(path).get_data(as_text=True)
    assert 'id="delivery-constants"' in html
    assert "<script>" not in html  # strict CSP: no inline script, only JSON data blocks
    assert 'aria-current="page"' in html


def test_the_tests_page_labels_every_field(operator: ApiClient) -> None:
    html = operator.client.get("/operator/tests").get_data(as_text=True)
    fields = ("t-key", "t-title", "t-pool", "t-parameters", "t-min", "t-max", "t-time", "p-name")
    for field in fields:
        assert f'<label for="{field}">' in html
        assert f'id="{field}-error"' in html or f'id="{field}"' in html
    assert "Only a published parameter set can score students" in html


def test_the_administrations_page_says_what_opening_and_republishing_do(
    operator: ApiClient,
) -> None:
    html = operator.client.get("/operator/administrations").get_data(as_text=True)
    assert "Opening publishes the form" in html
    assert "Sittings already started keep the snapshot they started with" in html
    assert "<dialog" in html


def test_the_pages_are_in_japanese_by_default(api: ApiClient, school: SeededSchool) -> None:
    api.client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    assert api.login_staff(OPERATOR_EMAIL, TEACHER_PASSWORD).status_code == 200
    html = api.client.get("/operator/administrations").get_data(as_text=True)
    assert 'lang="ja"' in html
    assert "実施" in html
    html = api.client.get("/operator/tests").get_data(as_text=True)
    assert "テスト定義" in html


# -- the list ----------------------------------------------------------------------------------


def test_the_list_names_classes_and_form_revision(
    operator: ApiClient, school: SeededSchool
) -> None:
    listed = operator.get("/api/v1/administrations").get_json()["administrations"]
    row = next(a for a in listed if a["id"] == school.administration_id)
    assert [c["id"] for c in row["classes"]] == sorted(
        [school.classroom_id, school.other_classroom_id]
    )
    assert row["classes"][0]["class_code"].startswith("TEST-")
    assert row["form_revision"] is None
    assert row["test"]["id"] == school.test_definition_id
    assert (
        operator.post(f"/api/v1/administrations/{school.administration_id}/open").status_code == 200
    )
    listed = operator.get("/api/v1/administrations").get_json()["administrations"]
    assert listed[0]["form_revision"] == 1


def test_a_teacher_sees_only_their_own_classes_of_an_administration(
    teacher: ApiClient, school: SeededSchool
) -> None:
    listed = teacher.get("/api/v1/administrations").get_json()["administrations"]
    assert [c["id"] for c in listed[0]["classes"]] == [school.classroom_id]


# -- changing the classes ----------------------------------------------------------------------


def test_operator_changes_the_classes_before_opening(
    operator: ApiClient, school: SeededSchool
) -> None:
    path = f"/api/v1/administrations/{school.administration_id}/classrooms"
    response = put(operator, path, {"classroom_ids": [school.other_classroom_id]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["classroom_ids"] == [school.other_classroom_id]
    assert classroom_ids(school.administration_id) == [school.other_classroom_id]
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "set_administration_classrooms")
    ).scalar_one()
    assert event.details == {"classroom_ids": [school.other_classroom_id]}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"classroom_ids": []}, 422),
        ({"classroom_ids": ["1"]}, 422),
        ({"classroom_ids": [True]}, 422),
        ({"classroom_ids": [2**40]}, 422),
        ({"classroom_ids": "1"}, 422),
        ({}, 422),
        ({"classroom_ids": [999_999]}, 404),
    ],
)
def test_bad_classes_are_refused_and_write_nothing(
    operator: ApiClient, school: SeededSchool, body: dict, status: int
) -> None:
    before = classroom_ids(school.administration_id)
    events = audit_actions()
    response = put(operator, f"/api/v1/administrations/{school.administration_id}/classrooms", body)
    assert response.status_code == status, response.get_json()
    assert "error" in response.get_json()
    assert classroom_ids(school.administration_id) == before
    assert audit_actions() == events


def test_an_archived_class_cannot_be_given_a_test(
    operator: ApiClient, school: SeededSchool
) -> None:
    archived = db.session.get(Classroom, school.other_classroom_id)
    archived.archived_at = utcnow()
    db.session.commit()
    path = f"/api/v1/administrations/{school.administration_id}/classrooms"
    response = put(operator, path, {"classroom_ids": [school.other_classroom_id]})
    assert response.status_code == 404
    assert response.get_json()["error"]["details"] == {"classroom_ids": [school.other_classroom_id]}
    before = row_count(Administration)
    response = operator.post(
        "/api/v1/administrations",
        {"test": "test-cat", "name": "Later", "classroom_ids": [school.other_classroom_id]},
    )
    assert response.status_code == 404
    assert row_count(Administration) == before


def test_classes_are_fixed_once_the_administration_opened(
    operator: ApiClient, school: SeededSchool
) -> None:
    assert (
        operator.post(f"/api/v1/administrations/{school.administration_id}/open").status_code == 200
    )
    before = classroom_ids(school.administration_id)
    response = put(
        operator,
        f"/api/v1/administrations/{school.administration_id}/classrooms",
        {"classroom_ids": [school.classroom_id]},
    )
    assert response.status_code == 409
    assert classroom_ids(school.administration_id) == before


def test_unknown_administration_is_404(operator: ApiClient, school: SeededSchool) -> None:
    response = put(operator, "/api/v1/administrations/999999/classrooms", {"classroom_ids": [1]})
    assert response.status_code == 404
    response = operator.post("/api/v1/administrations/999999/republish", {"reason": "x"})
    assert response.status_code == 404


# -- re-publishing -----------------------------------------------------------------------------


def test_operator_republishes_with_a_reason(operator: ApiClient, school: SeededSchool) -> None:
    assert (
        operator.post(f"/api/v1/administrations/{school.administration_id}/open").status_code == 200
    )
    response = operator.post(
        f"/api/v1/administrations/{school.administration_id}/republish",
        {"reason": "Two items corrected"},
    )
    assert response.status_code == 200, response.get_json()
    published = response.get_json()
    assert published["revision"] == 2
    assert published["n_items"] == len(school.item_version_ids)
    assert row_count(FormSnapshot) == 2
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "administration_republished")
    ).scalar_one()
    assert event.details["reason"] == "Two items corrected"
    assert event.actor_role == Role.OPERATOR


@pytest.mark.parametrize("body", [{}, {"reason": "  "}, {"reason": 5}, {"reason": "x" * 501}])
def test_a_republish_without_a_good_reason_writes_nothing(
    operator: ApiClient, school: SeededSchool, body: dict
) -> None:
    assert (
        operator.post(f"/api/v1/administrations/{school.administration_id}/open").status_code == 200
    )
    events = audit_actions()
    response = operator.post(f"/api/v1/administrations/{school.administration_id}/republish", body)
    assert response.status_code == 422, response.get_json()
    assert row_count(FormSnapshot) == 1
    assert audit_actions() == events


# -- teachers and students are refused -----------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_teachers_and_students_cannot_change_or_republish(
    request: pytest.FixtureRequest, school: SeededSchool, who: str
) -> None:
    client: ApiClient = request.getfixturevalue(who)
    db.session.get(Administration, school.administration_id).status = AdministrationStatus.OPEN
    db.session.commit()
    before = classroom_ids(school.administration_id)
    events = audit_actions()
    response = put(
        client,
        f"/api/v1/administrations/{school.administration_id}/classrooms",
        {"classroom_ids": [school.classroom_id]},
    )
    assert response.status_code == 403
    response = client.post(
        f"/api/v1/administrations/{school.administration_id}/republish", {"reason": "mine"}
    )
    assert response.status_code == 403
    assert classroom_ids(school.administration_id) == before
    assert row_count(FormSnapshot) == 0
    assert audit_actions() == events


# -- what the tests page sends ---------------------------------------------------------------------


def page_definition(key: str, section: dict) -> dict:
    """The body operator_tests.js builds for POST /api/v1/test-definitions."""
    return {
        "key": key,
        "title": "Page test",
        "pool": "test-pool",
        "parameter_set": "test-set",
        "parameter_set_version": 1,
        "settings": {"sections": [{"key": "main", "title": "Page test", **section}]},
        "scale": SCALE,
    }


CAT_SECTION = {
    "kind": "cat",
    "shuffle_options": False,
    "time_limit_seconds": 1200,
    "areas": "content_area",
    "selection": [
        {"rule": "content_limits", "limits": {"geometry": {"min": 1, "max": 3}}},
        {"rule": "max_information"},
        {"rule": "randomesque", "k": 3},
    ],
    "stopping": [
        {"rule": "min_length", "n": 3},
        {"rule": "max_length", "n": 6},
        {"rule": "se_target", "se": 0.35},
    ],
    "exposure": {"max_rate": 0.5},
}


@pytest.mark.parametrize(
    "section",
    [
        CAT_SECTION,
        {"kind": "loft", "areas": "content_area", "counts": {"geometry": 2, "arithmetic": 2},
         "difficulty": {"mean": 0, "sd": 1}, "shuffle_options": True},
        {"kind": "linear", "forms": [["t-000", "t-001"], ["t-002", "t-003"]],
         "assignment": "rotate", "shuffle_items": True, "shuffle_options": False},
    ],
)  # fmt: skip
def test_the_page_definitions_are_accepted(
    operator: ApiClient, school: SeededSchool, section: dict
) -> None:
    body = page_definition(f"page-{section['kind']}", section)
    response = operator.post("/api/v1/test-definitions", body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["mode"] == section["kind"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"time_limit_seconds": 0}, "sections[0].time_limit_seconds"),
        ({"exposure": {"max_rate": 2}}, "sections[0].exposure"),
        ({"stopping": [{"rule": "min_length", "n": 3}]}, "sections[0]"),
    ],
)
def test_a_bad_definition_names_where_it_is_wrong_and_writes_nothing(
    operator: ApiClient, school: SeededSchool, change: dict, where: str
) -> None:
    before = row_count(TestDefinition)
    response = operator.post(
        "/api/v1/test-definitions", page_definition("bad", {**CAT_SECTION, **change})
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["where"] == where
    assert row_count(TestDefinition) == before
