"""Marking through the API: blind tasks, single and double marking, adjudication, scope, the
final-mark rule, agreement statistics and scores reaching results."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.db import db
from cbt.models import AuditEvent, Role, User
from cbt.service import create_staff_user
from delivery.models import ExamSession, ItemResponse, Result, ResultRevision
from marking import drawn_for_double_marking, final_mark
from marking.models import Mark
from scoring import rater_agreement
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, row_count, seed_essay_school
from tests.unit.delivery.test_rescoring import sit

OPERATOR_EMAIL = "operator@test.example"


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_essay_school()
    create_staff_user(OPERATOR_EMAIL, "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    for number in (1, 2, 3):
        sit(app, school, number)
    return school


def staff(app: Flask, email: str) -> ApiClient:
    client = ApiClient(app.test_client())
    assert client.login_staff(email, TEACHER_PASSWORD).status_code == 200
    return client


def essay(school: SeededSchool) -> int:
    return school.item_version_ids[-1]


def next_url(school: SeededSchool) -> str:
    return f"/api/v1/marking/administrations/{school.administration_id}/items/{essay(school)}/next"


def set_plan(app: Flask, school: SeededSchool, share: float, tolerance: int = 0) -> None:
    operator = staff(app, OPERATOR_EMAIL)
    done = operator.client.put(
        f"/api/v1/marking/administrations/{school.administration_id}/plan",
        json={"double_marking_share": share, "tolerance": tolerance},
        headers=operator._headers(),
    )
    assert done.status_code == 200, done.get_json()


def mark(client: ApiClient, task: dict, points: int):
    return client.post(
        f"/api/v1/marking/responses/{task['response_id']}/marks",
        {"points": points, "stage": task["stage"]},
    )


def theta_of(response_id: int) -> float:
    session_id = db.session.get(ItemResponse, response_id).exam_session_id
    return db.session.execute(
        select(Result.theta).where(Result.exam_session_id == session_id)
    ).scalar_one()


def test_the_task_is_blind_and_carries_the_item_the_answer_and_the_rubric(
    app: Flask, school: SeededSchool
) -> None:
    teacher = staff(app, school.teacher_email)
    reply = teacher.get(next_url(school))
    assert reply.status_code == 200
    body = reply.get_json()
    task = body["task"]
    assert body["progress"] == {"n_responses": 3, "n_final": 0, "for_you": 3}
    assert task["stage"] == "first"
    assert task["code"].startswith("R-")
    assert task["item"]["item_type"] == "extended_text"
    assert "三角形" in task["item"]["stem"]
    assert task["response_text"] == "平行線の錯角が等しいから。"
    assert [level["points"] for level in task["rubric"]] == [0, 1, 2]
    text = reply.get_data(as_text=True)
    students = db.session.scalars(select(User).where(User.role == Role.STUDENT)).all()
    for student in students:
        assert student.display_name not in text
        assert student.pseudonym not in text
    response = db.session.get(ItemResponse, task["response_id"])
    assert response.exam_session_id not in text
    assert "marking.view_response" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_single_mark_is_final_and_reaches_the_result_and_history(
    app: Flask, school: SeededSchool
) -> None:
    set_plan(app, school, 0.0)
    teacher = staff(app, school.teacher_email)
    task = teacher.get(next_url(school)).get_json()["task"]
    before = theta_of(task["response_id"])
    reply = mark(teacher, task, 2)
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["status"] == "final"
    assert theta_of(task["response_id"]) > before
    assert row_count(ResultRevision) == 1
    # The teacher's answer history shows the rater's score.
    session_id = db.session.get(ItemResponse, task["response_id"]).exam_session_id
    student_id = db.session.get(ExamSession, session_id).student_id
    history = teacher.get(f"/api/v1/students/{student_id}/history").get_json()
    answers = [a for s in history["sessions"] for a in s["answers"] if a["human_scored"]]
    assert answers[0]["score"] == 2.0
    assert answers[0]["score_source"] == "rater"
    # Nothing more to mark on that response for anyone.
    assert mark(teacher, task, 1).status_code == 409


def test_an_unmarked_essay_is_awaiting_marking_not_wrong(app: Flask, school: SeededSchool) -> None:
    teacher = staff(app, school.teacher_email)
    task = teacher.get(next_url(school)).get_json()["task"]
    session_id = db.session.get(ItemResponse, task["response_id"]).exam_session_id
    student_id = db.session.get(ExamSession, session_id).student_id
    history = teacher.get(f"/api/v1/students/{student_id}/history").get_json()
    (essay_answer,) = [a for s in history["sessions"] for a in s["answers"] if a["human_scored"]]
    assert essay_answer["awaiting_marking"] is True
    assert essay_answer["score"] is None
    assert essay_answer["is_correct"] is None
    # The 個人票 leaves it out of the curriculum areas until a rater has scored it.
    report = teacher.get(f"/api/v1/students/{student_id}/report").get_json()["session"]
    scored = [a for a in report["answers"] if not a["awaiting_marking"]]
    assert sum(area["n_items"] for area in report["areas"]) == sum(
        len(a["curriculum_codes"]) for a in scored
    )
    assert teacher.get(f"/api/v1/students/{student_id}/report.pdf").status_code == 200
    set_plan(app, school, 0.0)
    assert mark(teacher, task, 1).status_code == 200
    history = teacher.get(f"/api/v1/students/{student_id}/history").get_json()
    (essay_answer,) = [a for s in history["sessions"] for a in s["answers"] if a["human_scored"]]
    assert essay_answer["awaiting_marking"] is False
    assert essay_answer["score"] == 1.0


def test_the_dashboard_rates_an_essay_by_its_marks_and_counts_what_awaits(
    app: Flask, school: SeededSchool
) -> None:
    teacher = staff(app, school.teacher_email)
    url = f"/api/v1/classes/{school.classroom_id}/dashboard?charts=0"

    def essay_row() -> dict:
        items = teacher.get(url).get_json()["items"]
        (row,) = [i for i in items if i["item_version_id"] == essay(school)]
        return row

    before = essay_row()
    assert (before["n"], before["n_awaiting_marking"]) == (0, 3)  # not three zeros
    set_plan(app, school, 0.0)
    task = teacher.get(next_url(school)).get_json()["task"]
    assert mark(teacher, task, 2).status_code == 200
    after = essay_row()
    assert (after["n"], after["n_awaiting_marking"]) == (1, 2)
    assert after["rate"] == 1.0
    assert after["n_correct"] == 1
    assert after["scores"] == [{"score": 2.0, "n": 1, "share": 1.0}]


def test_double_marking_is_blind_and_a_disagreement_is_adjudicated(
    app: Flask, school: SeededSchool
) -> None:
    set_plan(app, school, 1.0, tolerance=0)
    operator = staff(app, OPERATOR_EMAIL)
    assigned = operator.post(
        f"/api/v1/marking/administrations/{school.administration_id}/assignments",
        {"email": school.other_teacher_email},
    )
    assert assigned.status_code == 200, assigned.get_json()
    first_rater = staff(app, school.teacher_email)
    second_rater = staff(app, school.other_teacher_email)
    task = first_rater.get(next_url(school)).get_json()["task"]
    before = theta_of(task["response_id"])
    assert mark(first_rater, task, 2).get_json()["status"] == "awaiting_second"
    assert theta_of(task["response_id"]) == before
    # The first rater is not offered the same response again.
    again = first_rater.get(next_url(school)).get_json()["task"]
    assert again["response_id"] != task["response_id"]
    # The second rater gets it as a second mark, without the first mark.
    offered = second_rater.get(next_url(school)).get_json()["task"]
    assert offered["response_id"] == task["response_id"]
    assert offered["stage"] == "second"
    assert "marks" not in offered
    assert mark(second_rater, offered, 0).get_json()["status"] == "awaiting_adjudication"
    assert theta_of(task["response_id"]) == before
    # Neither rater adjudicates; the operator does, seeing both marks.
    assert all(
        t is None or t["response_id"] != task["response_id"]
        for t in (first_rater.get(next_url(school)).get_json()["task"],
                  second_rater.get(next_url(school)).get_json()["task"])
    )  # fmt: skip
    decide = operator.get(next_url(school)).get_json()["task"]
    assert decide["stage"] == "adjudication"
    assert decide["response_id"] == task["response_id"]
    assert sorted(m["points"] for m in decide["marks"]) == [0, 2]
    assert mark(operator, decide, 1).get_json()["status"] == "final"
    assert theta_of(task["response_id"]) != before
    stages = db.session.scalars(
        select(Mark.stage).where(Mark.item_response_id == task["response_id"])
    ).all()
    assert sorted(stages) == ["adjudication", "first", "second"]


def test_marks_within_the_tolerance_settle_on_their_mean_rounded_half_up(
    app: Flask, school: SeededSchool
) -> None:
    set_plan(app, school, 1.0, tolerance=1)
    operator = staff(app, OPERATOR_EMAIL)
    teacher = staff(app, school.teacher_email)
    task = teacher.get(next_url(school)).get_json()["task"]
    mark(teacher, task, 1)
    second = operator.get(next_url(school)).get_json()["task"]
    assert second["response_id"] == task["response_id"]
    assert mark(operator, second, 2).get_json()["status"] == "final"
    from delivery.service.rescoring import effective_scores

    session_id = db.session.get(ItemResponse, task["response_id"]).exam_session_id
    assert effective_scores([session_id])[(session_id, essay(school))].score == 2.0


def test_the_final_mark_rule() -> None:
    assert final_mark({}, drawn=True, tolerance=0) == ("unmarked", None)
    assert final_mark({"first": 1}, drawn=False, tolerance=0) == ("final", 1)
    assert final_mark({"first": 1}, drawn=True, tolerance=0) == ("awaiting_second", None)
    assert final_mark({"first": 1, "second": 1}, drawn=True, tolerance=0) == ("final", 1)
    assert final_mark({"first": 0, "second": 1}, drawn=True, tolerance=1) == ("final", 1)
    assert final_mark({"first": 1, "second": 4}, drawn=True, tolerance=2) == (
        "awaiting_adjudication", None)  # fmt: skip
    assert final_mark({"first": 1, "second": 4, "adjudication": 3}, drawn=True,
                      tolerance=0) == ("final", 3)  # fmt: skip


def test_the_double_marking_draw_follows_the_share() -> None:
    ids = range(1, 20_001)
    fifth = {i for i in ids if drawn_for_double_marking(i, 0.2)}
    half = {i for i in ids if drawn_for_double_marking(i, 0.5)}
    assert 0.19 < len(fifth) / 20_000 < 0.21
    assert fifth <= half  # raising the share only adds responses
    assert all(drawn_for_double_marking(i, 1.0) for i in range(1, 50))
    assert not any(drawn_for_double_marking(i, 0.0) for i in range(1, 50))


def test_scope_other_classes_researchers_and_students_may_not_mark(
    app: Flask, school: SeededSchool
) -> None:
    task = staff(app, school.teacher_email).get(next_url(school)).get_json()["task"]
    other = staff(app, school.other_teacher_email)  # teaches class B only, not assigned
    assert other.get(next_url(school)).get_json()["task"] is None
    assert other.get("/api/v1/marking/administrations").get_json() == {"administrations": []}
    assert mark(other, task, 1).status_code == 404
    researcher = staff(app, school.researcher_email)
    assert researcher.get(next_url(school)).status_code == 403
    assert mark(researcher, task, 1).status_code == 403
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    assert mark(student, task, 1).status_code == 403
    assert row_count(Mark) == 0


def test_bad_marks_are_refused_without_writing(app: Flask, school: SeededSchool) -> None:
    teacher = staff(app, school.teacher_email)
    task = teacher.get(next_url(school)).get_json()["task"]
    url = f"/api/v1/marking/responses/{task['response_id']}/marks"
    for body, status in (
        ({"points": 3, "stage": "first"}, 422),  # beyond the rubric
        ({"points": -1, "stage": "first"}, 422),
        ({"points": "2", "stage": "first"}, 422),
        ({"points": True, "stage": "first"}, 422),
        ({"points": 1, "stage": "final"}, 422),
        ({"points": 1}, 422),
        ({"points": 1, "stage": "second"}, 409),  # not what the response waits for
    ):
        reply = teacher.post(url, body)
        assert reply.status_code == status, (body, reply.get_json())
        assert set(reply.get_json()["error"]) == {"code", "message", "details"}
    assert teacher.post("/api/v1/marking/responses/999999/marks",
                        {"points": 1, "stage": "first"}).status_code == 404  # fmt: skip
    # A choice item's response is not rater-scored.
    choice = db.session.scalar(
        select(ItemResponse.id).where(ItemResponse.item_version_id != essay(school)).limit(1)
    )
    assert teacher.post(f"/api/v1/marking/responses/{choice}/marks",
                        {"points": 1, "stage": "first"}).status_code == 404  # fmt: skip
    operator = staff(app, OPERATOR_EMAIL)
    plan_url = f"/api/v1/marking/administrations/{school.administration_id}/plan"
    for body in ({"double_marking_share": 1.5, "tolerance": 0},
                 {"double_marking_share": 0.5, "tolerance": -1},
                 {"double_marking_share": "all", "tolerance": 0}):  # fmt: skip
        reply = operator.client.put(plan_url, json=body, headers=operator._headers())
        assert reply.status_code == 422
    assert operator.post(
        f"/api/v1/marking/administrations/{school.administration_id}/assignments",
        {"email": "nobody@test.example"},
    ).status_code == 422  # fmt: skip
    assert row_count(Mark) == 0


def test_agreement_per_item_and_per_rater(app: Flask, school: SeededSchool) -> None:
    set_plan(app, school, 1.0, tolerance=2)
    operator = staff(app, OPERATOR_EMAIL)
    teacher = staff(app, school.teacher_email)
    given = []
    for first, second in ((2, 2), (1, 2), (0, 0)):
        task = teacher.get(next_url(school)).get_json()["task"]
        mark(teacher, task, first)
        offered = operator.get(next_url(school)).get_json()["task"]
        assert offered["response_id"] == task["response_id"]
        mark(operator, offered, second)
        given.append((first, second))
    stats = operator.get(
        f"/api/v1/marking/administrations/{school.administration_id}/agreement"
    ).get_json()
    expected = rater_agreement([a for a, _ in given], [b for _, b in given], n_categories=3)
    (item,) = stats["items"]
    assert item["n_pairs"] == 3
    assert item["n_final"] == 3
    assert item["exact_agreement"] == pytest.approx(expected.exact, abs=1e-4)
    assert item["adjacent_agreement"] == pytest.approx(1.0)
    assert item["quadratic_weighted_kappa"] == pytest.approx(expected.kappa, abs=1e-4)
    by_name = {r["display_name"]: r for r in stats["raters"]}
    assert by_name["Teacher"]["n_marks"] == 3
    assert by_name["Teacher"]["exact_agreement"] == pytest.approx(2 / 3, abs=1e-4)
    assert by_name["Operator"]["mean_difference"] == pytest.approx(1 / 3, abs=1e-4)
    assert teacher.get(
        f"/api/v1/marking/administrations/{school.administration_id}/agreement"
    ).status_code == 403  # fmt: skip


def test_marks_export_and_import_as_csv(app: Flask, school: SeededSchool, tmp_path) -> None:
    set_plan(app, school, 0.0)
    teacher = staff(app, school.teacher_email)
    task = teacher.get(next_url(school)).get_json()["task"]
    mark(teacher, task, 1)
    runner = app.test_cli_runner()
    from marking.cli import marking_group

    exported = runner.invoke(
        marking_group, ["export", "--administration", str(school.administration_id)]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["code"], r["stage"], r["points"]) for r in rows] == [(task["code"], "first", "1")]
    pending = [
        r for r in db.session.scalars(
            select(ItemResponse.id).where(ItemResponse.item_version_id == essay(school))
        ) if r != task["response_id"]
    ]  # fmt: skip
    upload = tmp_path / "marks.csv"
    upload.write_text(
        "response_id,rater_email,stage,points\n"
        + "".join(f"{r},{school.teacher_email},first,2\n" for r in pending),
        encoding="utf-8",
    )
    imported = runner.invoke(marking_group, ["import", str(upload)])
    assert imported.exit_code == 0, imported.output
    assert row_count(Mark) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text(f"response_id,rater_email,stage,points\n{pending[0]},x@y.z,first,2\n")
    refused = runner.invoke(marking_group, ["import", str(bad)])
    assert refused.exit_code != 0
    assert row_count(Mark) == 3
