"""Teacher reports: scoped, audited, complete."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


@pytest.fixture
def finished(app: Flask, school: SeededSchool) -> dict:
    """Student 1 takes the whole test; returns the final view."""
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    view = student.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    while not view["finished"]:
        view = student.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": {"choice": "A"},
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()
    return view


@pytest.fixture
def teacher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    return api


def test_teacher_lists_own_classes_only(teacher: ApiClient, school: SeededSchool) -> None:
    classes = teacher.get("/api/v1/classes").get_json()["classes"]
    assert [c["id"] for c in classes] == [school.classroom_id]
    assert classes[0]["n_students"] == 3


def test_class_results_show_each_students_result(
    teacher: ApiClient, school: SeededSchool, finished: dict
) -> None:
    report = teacher.get(f"/api/v1/classes/{school.classroom_id}/results").get_json()
    assert [s["student_number"] for s in report["students"]] == [1, 2, 3]
    administration = str(school.administration_id)
    first = report["students"][0]["sessions"][administration]
    assert first["status"] == "finished"
    assert first["n_answered"] == 5
    result = first["result"]
    assert set(result) == {"theta", "se", "scale_score", "scale_se", "band", "n_items", "subscores"}
    assert result["band"] in {"Low", "Middle", "High"}
    assert report["students"][1]["sessions"][administration] is None


def test_answer_history_lists_every_answer(
    teacher: ApiClient, school: SeededSchool, finished: dict
) -> None:
    history = teacher.get(f"/api/v1/students/{school.student_ids[1]}/history").get_json()
    [session] = history["sessions"]
    assert [a["sequence"] for a in session["answers"]] == [1, 2, 3, 4, 5]
    for answer in session["answers"]:
        assert answer["response"] == {"choice": "A"}
        assert answer["response_text"].startswith("A: ")
        assert answer["is_correct"] == answer["correct_text"].startswith("A: ")
        assert answer["time_taken_ms"] >= 0
        assert len(answer["curriculum_codes"][0]) == 16
        assert "<script>" not in answer["stem"]


def test_viewing_history_is_audited(
    teacher: ApiClient, school: SeededSchool, finished: dict
) -> None:
    teacher.get(f"/api/v1/students/{school.student_ids[1]}/history")
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "view_answer_history")
    ).scalar_one()
    assert event.target_id == str(school.student_ids[1])
    assert event.actor_role == "teacher"


def test_teacher_cannot_see_another_class(teacher: ApiClient, school: SeededSchool) -> None:
    assert teacher.get(f"/api/v1/classes/{school.other_classroom_id}/results").status_code == 403
    response = teacher.get(f"/api/v1/students/{school.other_student_id}/history")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_researcher_cannot_see_named_student_data(api: ApiClient, school: SeededSchool) -> None:
    api.login_staff(school.researcher_email, TEACHER_PASSWORD)
    assert api.get(f"/api/v1/students/{school.student_ids[1]}/history").status_code == 403
    assert api.get(f"/api/v1/classes/{school.classroom_id}/results").status_code == 403


def test_csv_export(teacher: ApiClient, school: SeededSchool, finished: dict) -> None:
    response = teacher.get(f"/api/v1/classes/{school.classroom_id}/results.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.get_data().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    lines = response.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("student_number,student,administration,status")
    assert len(lines) == 4
    assert ",finished,5," in lines[1]
    assert ",not_started,0," in lines[2]


def test_unknown_student_is_404_for_operator(
    api: ApiClient, app: Flask, school: SeededSchool
) -> None:
    from cbt.models import Role
    from cbt.service import create_staff_user

    create_staff_user("op@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    api.login_staff("op@test.example", TEACHER_PASSWORD)
    assert api.get("/api/v1/students/99999/history").status_code == 404


def test_mastery_by_curriculum_code(
    teacher: ApiClient, school: SeededSchool, finished: dict
) -> None:
    from delivery.models import ItemResponse

    report = teacher.get(f"/api/v1/classes/{school.classroom_id}/mastery").get_json()
    assert report["prefix_length"] == 8
    [code] = report["codes"]  # the seeded items share their first eight characters
    assert code["curriculum_prefix"] == "83H12031"
    responses = db.session.scalars(select(ItemResponse)).all()
    assert code["n_answers"] == len(responses)
    assert code["n_correct"] == sum(r.is_correct for r in responses)
    assert code["n_students"] == 1
    finer = teacher.get(f"/api/v1/classes/{school.classroom_id}/mastery?prefix_length=16")
    assert sum(c["n_answers"] for c in finer.get_json()["codes"]) == len(responses)
    for bad in ("0", "17", "x", "-1"):
        response = teacher.get(f"/api/v1/classes/{school.classroom_id}/mastery?prefix_length={bad}")
        assert response.status_code == 422, bad


def test_subscores_reach_the_history(
    teacher: ApiClient, school: SeededSchool, finished: dict
) -> None:
    history = teacher.get(f"/api/v1/students/{school.student_ids[1]}/history").get_json()
    subscores = history["sessions"][0]["result"]["subscores"]
    assert sum(s["n_items"] for s in subscores) == 5


def test_mastery_of_another_class_is_forbidden(teacher: ApiClient, school: SeededSchool) -> None:
    response = teacher.get(f"/api/v1/classes/{school.other_classroom_id}/mastery")
    assert response.status_code == 403
