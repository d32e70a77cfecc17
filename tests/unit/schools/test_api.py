"""The school management API: every route's happy path, its scope, and bad input writing nothing."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from cbt.db import db
from cbt.models import AuditEvent, Classroom, Enrollment, School, User
from tests.helpers import TEACHER_PASSWORD, ApiClient
from tests.unit.schools.school_helpers import (
    ADMIN,
    OTHER_ADMIN,
    RESEARCHER,
    TEACHER,
    Schools,
    send,
    signed_in,
)

pytest_plugins = ["tests.unit.schools.school_fixtures"]


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# -- schools -----------------------------------------------------------------------------------


def test_operator_lists_creates_edits_and_archives_schools(operator: ApiClient) -> None:
    listed = operator.get("/api/v1/schools").get_json()["schools"]
    assert [s["code"] for s in listed] == ["SCH-A", "SCH-B"]
    created = operator.post("/api/v1/schools", {"code": "SCH-C", "name": "Kaede Elementary"})
    assert created.status_code == 201
    school_id = created.get_json()["id"]
    edited = send(operator, "PATCH", f"/api/v1/schools/{school_id}", {"code": "SCH-K"})
    assert edited.status_code == 200
    assert edited.get_json()["code"] == "SCH-K"
    archived = operator.post(f"/api/v1/schools/{school_id}/archive")
    assert archived.status_code == 200
    assert archived.get_json()["archived_at"]
    codes = [s["code"] for s in operator.get("/api/v1/schools").get_json()["schools"]]
    assert "SCH-K" not in codes
    everything = operator.get("/api/v1/schools?archived=1").get_json()["schools"]
    assert "SCH-K" in [s["code"] for s in everything]
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "create_school",
        "update_school",
        "archive_school",
    }


def test_school_admin_sees_and_edits_only_their_school(admin: ApiClient, schools: Schools) -> None:
    listed = admin.get("/api/v1/schools").get_json()["schools"]
    assert [s["id"] for s in listed] == [schools.school_id]
    assert admin.get(f"/api/v1/schools/{schools.school_id}").status_code == 200
    assert admin.get(f"/api/v1/schools/{schools.other_school_id}").status_code == 403
    renamed = send(admin, "PATCH", f"/api/v1/schools/{schools.school_id}", {"name": "桜中学校"})
    assert renamed.get_json()["name"] == "桜中学校"
    other = send(admin, "PATCH", f"/api/v1/schools/{schools.other_school_id}", {"name": "x"})
    assert other.status_code == 403
    code = send(admin, "PATCH", f"/api/v1/schools/{schools.school_id}", {"code": "NEW"})
    assert code.status_code == 403
    assert admin.post("/api/v1/schools", {"code": "X", "name": "X"}).status_code == 403
    assert admin.post(f"/api/v1/schools/{schools.school_id}/archive").status_code == 403
    assert db.session.get(School, schools.other_school_id).name == "Momiji Junior High"


def test_bad_school_input_is_refused_and_writes_nothing(operator: ApiClient) -> None:
    before = _count(School)
    for body in (
        {"code": "", "name": "x"},
        {"code": "has space", "name": "x"},
        {"code": "SCH-A", "name": "duplicate"},
        {"code": "OK", "name": "   "},
        {"code": 5, "name": "x"},
        {"name": "no code"},
    ):
        reply = operator.post("/api/v1/schools", body)
        assert 400 <= reply.status_code < 500, body
        assert reply.get_json()["error"]["code"]
    assert _count(School) == before
    assert operator.get("/api/v1/schools/999999").status_code == 404


def test_teachers_researchers_and_students_cannot_manage_schools(
    app: Flask, teacher: ApiClient, schools: Schools
) -> None:
    researcher = signed_in(app, RESEARCHER)
    for api in (teacher, researcher):
        assert api.get("/api/v1/schools").status_code == 403
        assert api.post("/api/v1/schools", {"code": "Z", "name": "Z"}).status_code == 403
        assert api.get(f"/api/v1/schools/{schools.school_id}/teachers").status_code == 403
    student = ApiClient(app.test_client())
    reply = student.login_student(schools.class_code, 1, schools.student_code)
    assert reply.status_code == 200
    assert student.get("/api/v1/schools").status_code == 403
    assert student.get(f"/api/v1/classes/{schools.class_id}/students").status_code == 403
    anonymous = ApiClient(app.test_client())
    assert anonymous.get("/api/v1/schools").status_code == 401


# -- classes -----------------------------------------------------------------------------------


def test_school_admin_creates_edits_and_archives_a_class(
    admin: ApiClient, schools: Schools
) -> None:
    created = admin.post(
        f"/api/v1/schools/{schools.school_id}/classes",
        {"name": "2-A", "grade": 8, "academic_year": 2026},
    )
    assert created.status_code == 201
    body = created.get_json()
    code = body["class_code"]
    assert len(code) == 6
    assert not set(code) & set("01OILU")
    class_id = body["id"]
    edited = send(admin, "PATCH", f"/api/v1/classes/{class_id}", {"name": "2-B", "grade": 9})
    assert edited.get_json()["name"] == "2-B"
    assert edited.get_json()["grade"] == 9
    detail = admin.get(f"/api/v1/classes/{class_id}").get_json()
    assert detail["school"]["id"] == schools.school_id
    assert detail["teachers"] == []
    assert admin.post(f"/api/v1/classes/{class_id}/archive").status_code == 200
    listed = admin.get(f"/api/v1/schools/{schools.school_id}/classes").get_json()["classes"]
    assert class_id not in [c["id"] for c in listed]
    with_archived = admin.get(f"/api/v1/schools/{schools.school_id}/classes?archived=1")
    assert class_id in [c["id"] for c in with_archived.get_json()["classes"]]
    # an archived class takes no changes
    again = send(admin, "PATCH", f"/api/v1/classes/{class_id}", {"name": "x"})
    assert again.status_code == 409


def test_class_scope_and_bad_input(
    admin: ApiClient, other_admin: ApiClient, teacher: ApiClient, schools: Schools
) -> None:
    before = _count(Classroom)
    good = {"name": "3-A", "grade": 9, "academic_year": 2026}
    assert other_admin.post(f"/api/v1/schools/{schools.school_id}/classes", good).status_code == 403
    assert teacher.post(f"/api/v1/schools/{schools.school_id}/classes", good).status_code == 403
    for bad in (
        {**good, "grade": 0},
        {**good, "grade": 13},
        {**good, "academic_year": 1999},
        {**good, "name": ""},
        {**good, "grade": "7"},
        {"name": "x"},
    ):
        reply = admin.post(f"/api/v1/schools/{schools.school_id}/classes", bad)
        assert reply.status_code == 422, bad
    assert _count(Classroom) == before
    assert other_admin.get(f"/api/v1/classes/{schools.class_id}").status_code == 403
    assert other_admin.get("/api/v1/classes/999999").status_code == 403  # no existence probe
    assert (
        send(other_admin, "PATCH", f"/api/v1/classes/{schools.class_id}", {"name": "x"}).status_code
        == 403
    )
    assert other_admin.post(f"/api/v1/classes/{schools.class_id}/archive").status_code == 403
    # An empty edit changes nothing and answers the class as it is (the schema allows it).
    unchanged = send(admin, "PATCH", f"/api/v1/classes/{schools.class_id}", {})
    assert unchanged.status_code == 200
    assert unchanged.get_json()["name"] == db.session.get(Classroom, schools.class_id).name
    assert db.session.get(Classroom, schools.class_id).archived_at is None


def test_teacher_reads_only_their_own_classes(teacher: ApiClient, schools: Schools) -> None:
    listed = teacher.get(f"/api/v1/schools/{schools.school_id}/classes").get_json()["classes"]
    assert [c["id"] for c in listed] == [schools.class_id]
    assert teacher.get(f"/api/v1/classes/{schools.class_id}").status_code == 200
    students = teacher.get(f"/api/v1/classes/{schools.class_id}/students").get_json()["students"]
    assert [s["id"] for s in students] == [schools.student_id]
    assert teacher.get(f"/api/v1/classes/{schools.second_class_id}").status_code == 403
    assert teacher.get(f"/api/v1/classes/{schools.other_class_id}/students").status_code == 403
    assert teacher.get(f"/api/v1/schools/{schools.other_school_id}/classes").status_code == 403
    assert (
        send(teacher, "PATCH", f"/api/v1/classes/{schools.class_id}", {"name": "x"}).status_code
        == 403
    )
    assert teacher.post(f"/api/v1/classes/{schools.class_id}/archive").status_code == 403
    assert _audited("view_class_roster")


# -- students ----------------------------------------------------------------------------------


def test_add_edit_move_and_archive_students(app: Flask, admin: ApiClient, schools: Schools) -> None:
    created = admin.post(
        f"/api/v1/classes/{schools.class_id}/students",
        {
            "student_number": 2,
            "family_name": "佐藤",
            "given_name": "太郎",
            "family_name_kana": "サトウ",
            "given_name_kana": "タロウ",
        },
    )
    assert created.status_code == 201
    student = created.get_json()
    assert student["display_name"] == "佐藤 太郎"
    assert student["kana"] == "サトウ タロウ"
    code = student["login_code"]
    # the new student can sign in with the code shown once
    pupil = ApiClient(app.test_client())
    class_code = db.session.get(Classroom, schools.class_id).class_code
    assert pupil.login_student(class_code, 2, code).status_code == 200

    edited = send(
        admin,
        "PATCH",
        f"/api/v1/students/{student['id']}",
        {"student_number": 3, "given_name_kana": None},
    )
    assert edited.status_code == 200
    assert edited.get_json()["student_number"] == 3
    assert edited.get_json()["given_name_kana"] is None
    clash = send(admin, "PATCH", f"/api/v1/students/{student['id']}", {"student_number": 1})
    assert clash.status_code == 409

    moved = admin.post(
        f"/api/v1/students/{student['id']}/move", {"classroom_id": schools.second_class_id}
    )
    assert moved.status_code == 200
    assert moved.get_json()["classroom_id"] == schools.second_class_id
    in_second = admin.get(f"/api/v1/classes/{schools.second_class_id}/students").get_json()
    assert [s["id"] for s in in_second["students"]] == [student["id"]]
    # the login now goes through the new class's code
    second_code = db.session.get(Classroom, schools.second_class_id).class_code
    assert ApiClient(app.test_client()).login_student(second_code, 3, code).status_code == 200
    assert ApiClient(app.test_client()).login_student(class_code, 3, code).status_code == 401

    archived = admin.post(f"/api/v1/students/{student['id']}/archive")
    assert archived.status_code == 200
    assert archived.get_json()["is_active"] is False
    assert admin.get(f"/api/v1/classes/{schools.second_class_id}/students").get_json() == {
        "students": []
    }
    listed = admin.get(f"/api/v1/classes/{schools.second_class_id}/students?archived=1")
    assert [s["id"] for s in listed.get_json()["students"]] == [student["id"]]
    assert ApiClient(app.test_client()).login_student(second_code, 3, code).status_code == 401
    # the archived student's open session ended too
    assert pupil.get("/api/v1/me").status_code == 401
    actions = {e.action for e in db.session.scalars(select(AuditEvent))}
    assert {"create_student", "update_student", "move_student", "archive_student"} <= actions


def test_move_checks_school_and_number(
    admin: ApiClient, operator: ApiClient, schools: Schools
) -> None:
    admin.post(
        f"/api/v1/classes/{schools.second_class_id}/students",
        {"student_number": 1, "display_name": "Taken"},
    )
    clash = admin.post(
        f"/api/v1/students/{schools.student_id}/move", {"classroom_id": schools.second_class_id}
    )
    assert clash.status_code == 409
    renumbered = admin.post(
        f"/api/v1/students/{schools.student_id}/move",
        {"classroom_id": schools.second_class_id, "student_number": 7},
    )
    assert renumbered.status_code == 200
    assert renumbered.get_json()["student_number"] == 7
    # into another school: a school admin may not see it, an operator is told why not
    assert (
        admin.post(
            f"/api/v1/students/{schools.student_id}/move", {"classroom_id": schools.other_class_id}
        ).status_code
        == 403
    )
    across = operator.post(
        f"/api/v1/students/{schools.student_id}/move", {"classroom_id": schools.other_class_id}
    )
    assert across.status_code == 409
    same = operator.post(
        f"/api/v1/students/{schools.student_id}/move", {"classroom_id": schools.second_class_id}
    )
    assert same.status_code == 409
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == schools.student_id)
    )
    db.session.refresh(enrollment)
    assert enrollment.classroom_id == schools.second_class_id


def test_bad_student_input_writes_nothing(admin: ApiClient, schools: Schools) -> None:
    before = (_count(User), _count(Enrollment))
    path = f"/api/v1/classes/{schools.class_id}/students"
    for bad in (
        {"student_number": 1, "display_name": "Duplicate number"},
        {"student_number": 0, "display_name": "Zero"},
        {"student_number": 100000, "display_name": "Too big"},
        {"student_number": "2", "display_name": "String"},
        {"student_number": 2},
        {"student_number": 2, "display_name": "x", "family_name_kana": "Yamada"},
        {"student_number": 2, "display_name": "x" * 201},
        {"display_name": "No number"},
    ):
        reply = admin.post(path, bad)
        assert 400 <= reply.status_code < 500, bad
    assert (_count(User), _count(Enrollment)) == before
    bad_edit = send(
        admin, "PATCH", f"/api/v1/students/{schools.student_id}", {"given_name_kana": "abc"}
    )
    assert bad_edit.status_code == 422
    assert db.session.get(User, schools.student_id).given_name_kana is None


def test_students_of_another_school_are_out_of_reach(
    other_admin: ApiClient, teacher: ApiClient, schools: Schools
) -> None:
    sid = schools.student_id
    assert other_admin.get(f"/api/v1/classes/{schools.class_id}/students").status_code == 403
    assert (
        other_admin.post(
            f"/api/v1/classes/{schools.class_id}/students",
            {"student_number": 9, "display_name": "x"},
        ).status_code
        == 403
    )
    assert (
        send(other_admin, "PATCH", f"/api/v1/students/{sid}", {"display_name": "x"}).status_code
        == 403
    )
    assert (
        other_admin.post(
            f"/api/v1/students/{sid}/move", {"classroom_id": schools.second_class_id}
        ).status_code
        == 403
    )
    assert other_admin.post(f"/api/v1/students/{sid}/archive").status_code == 403
    assert other_admin.post("/api/v1/students/999999/archive").status_code == 403
    assert teacher.post(f"/api/v1/students/{sid}/archive").status_code == 403
    assert db.session.get(User, sid).is_active


# -- teachers ----------------------------------------------------------------------------------


def test_create_assign_unassign_and_archive_teachers(
    app: Flask, admin: ApiClient, schools: Schools
) -> None:
    created = admin.post(
        f"/api/v1/schools/{schools.school_id}/teachers",
        {"email": "New@A.example", "display_name": "New Teacher", "role": "teacher"},
    )
    assert created.status_code == 201
    body = created.get_json()
    password = body["initial_password"]
    teacher_id = body["teacher"]["id"]
    assert body["teacher"]["email"] == "new@a.example"
    assert len(password) >= 10
    newcomer = signed_in(app, "new@a.example", password)

    assigned = admin.post(
        f"/api/v1/classes/{schools.second_class_id}/teachers", {"user_id": teacher_id}
    )
    assert [t["id"] for t in assigned.get_json()["teachers"]] == [teacher_id]
    # the assignment gives the teacher the class's results
    assert newcomer.get(f"/api/v1/classes/{schools.second_class_id}/results").status_code == 200
    listed = admin.get(f"/api/v1/schools/{schools.school_id}/teachers").get_json()["teachers"]
    by_id = {t["id"]: t for t in listed}
    assert by_id[teacher_id]["classroom_ids"] == [schools.second_class_id]
    assert set(by_id) == {schools.admin_id, schools.teacher_id, teacher_id}

    removed = send(
        admin, "DELETE", f"/api/v1/classes/{schools.second_class_id}/teachers/{teacher_id}"
    )
    assert removed.get_json()["teachers"] == []
    assert newcomer.get(f"/api/v1/classes/{schools.second_class_id}/results").status_code == 403
    again = send(
        admin, "DELETE", f"/api/v1/classes/{schools.second_class_id}/teachers/{teacher_id}"
    )
    assert again.status_code == 404

    renamed = send(admin, "PATCH", f"/api/v1/staff/{teacher_id}", {"display_name": "Renamed"})
    assert renamed.get_json()["display_name"] == "Renamed"
    archived = admin.post(f"/api/v1/staff/{teacher_id}/archive")
    assert archived.status_code == 200
    assert archived.get_json()["is_active"] is False
    assert newcomer.get("/api/v1/me").status_code == 401  # the login ended
    refused = ApiClient(app.test_client()).login_staff("new@a.example", password)
    assert refused.status_code == 401
    assert admin.post(f"/api/v1/staff/{schools.admin_id}/archive").status_code == 403  # yourself


def test_teacher_management_scope_and_bad_input(
    admin: ApiClient, other_admin: ApiClient, teacher: ApiClient, schools: Schools
) -> None:
    before = _count(User)
    path = f"/api/v1/schools/{schools.school_id}/teachers"
    good = {"email": "x@a.example", "display_name": "X", "role": "teacher"}
    assert other_admin.post(path, good).status_code == 403
    assert teacher.post(path, good).status_code == 403
    for bad in (
        {**good, "role": "operator"},
        {**good, "role": "student"},
        {**good, "email": "not-an-address"},
        {**good, "email": TEACHER},
        {**good, "password": "short"},
        {**good, "display_name": ""},
    ):
        reply = admin.post(path, bad)
        assert 400 <= reply.status_code < 500, bad
    assert _count(User) == before
    # another school's teacher can be neither assigned, renamed, reset nor archived here
    other = schools.other_teacher_id
    assert (
        admin.post(f"/api/v1/classes/{schools.class_id}/teachers", {"user_id": other}).status_code
        == 403
    )
    assert send(admin, "PATCH", f"/api/v1/staff/{other}", {"display_name": "x"}).status_code == 403
    assert admin.post(f"/api/v1/staff/{other}/password-reset").status_code == 403
    assert admin.post(f"/api/v1/staff/{other}/archive").status_code == 403
    assert other_admin.get(f"/api/v1/schools/{schools.school_id}/teachers").status_code == 403
    assert teacher.post(f"/api/v1/staff/{schools.admin_id}/archive").status_code == 403
    # a student is not a teacher
    assert (
        admin.post(
            f"/api/v1/classes/{schools.class_id}/teachers", {"user_id": schools.student_id}
        ).status_code
        == 403
    )
    assert db.session.get(User, other).is_active


def test_operator_creates_a_school_admin(app: Flask, operator: ApiClient, schools: Schools) -> None:
    reply = operator.post(
        f"/api/v1/schools/{schools.other_school_id}/teachers",
        {
            "email": "head@b.example",
            "display_name": "教頭",
            "role": "school_admin",
            "password": "a-long-password",
        },
    )
    assert reply.status_code == 201
    assert reply.get_json()["initial_password"] is None
    head = signed_in(app, "head@b.example", "a-long-password")
    assert [s["id"] for s in head.get("/api/v1/schools").get_json()["schools"]] == [
        schools.other_school_id
    ]


# -- the school administrator on the teacher routes --------------------------------------------


def test_school_admin_sees_results_of_their_school_only(admin: ApiClient, schools: Schools) -> None:
    assert admin.get(f"/api/v1/classes/{schools.class_id}/results").status_code == 200
    assert admin.get(f"/api/v1/classes/{schools.second_class_id}/results").status_code == 200
    assert admin.get(f"/api/v1/classes/{schools.other_class_id}/results").status_code == 403
    assert admin.get(f"/api/v1/students/{schools.student_id}/history").status_code == 200
    assert admin.get(f"/api/v1/students/{schools.other_student_id}/history").status_code == 403
    listed = {c["id"] for c in admin.get("/api/v1/classes").get_json()["classes"]}
    assert listed == {schools.class_id, schools.second_class_id}
    assert admin.get("/api/v1/administrations").status_code == 200


def test_school_admin_pages(app: Flask, admin: ApiClient, schools: Schools) -> None:
    client = admin.client
    home = client.get("/")
    assert home.status_code == 302
    assert home.headers["Location"].endswith("/school")
    page = client.get("/school")
    assert page.status_code == 200
    assert b'data-page="school-home"' in page.data
    assert client.get(f"/school/classes/{schools.class_id}").status_code == 200
    assert (
        b'href="/school/classes/%d/cards"' % schools.class_id
        in client.get(f"/school/classes/{schools.class_id}").data
    )
    assert client.get("/staff/password").status_code == 200
    assert client.get("/teacher").status_code == 200
    assert client.get("/researcher").status_code == 403  # the forbidden page links home


def test_pages_for_other_roles(app: Flask, operator: ApiClient, teacher: ApiClient) -> None:
    assert b'data-page="school-list"' in operator.client.get("/school").data
    assert teacher.client.get("/school").status_code == 403
    assert teacher.client.get("/staff/password").status_code == 200
    assert app.test_client().get("/school").status_code == 302


def test_teacher_cannot_manage_students_or_teachers(teacher: ApiClient, schools: Schools) -> None:
    assert (
        teacher.post(
            f"/api/v1/classes/{schools.class_id}/students",
            {"student_number": 5, "display_name": "x"},
        ).status_code
        == 403
    )
    assert (
        teacher.post(
            f"/api/v1/classes/{schools.class_id}/teachers", {"user_id": schools.teacher_id}
        ).status_code
        == 403
    )
    assert (
        send(
            teacher, "DELETE", f"/api/v1/classes/{schools.class_id}/teachers/{schools.teacher_id}"
        ).status_code
        == 403
    )
    assert teacher.post(f"/api/v1/staff/{schools.teacher_id}/password-reset").status_code == 403
    assert TEACHER_PASSWORD
    assert ADMIN
    assert OTHER_ADMIN
