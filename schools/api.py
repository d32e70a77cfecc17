"""School management API under /api/v1: schools, classes, students, teachers, staff passwords.

Operators manage every school; a school administrator (学校管理者) only their own
(``users.school_id``); a teacher may read the classes they teach and nothing else here. Every
change is audited in the transaction that makes it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from cbt.audit import record_audit
from cbt.auth import (
    CurrentUser,
    ensure_manages_school,
    ensure_teacher_sees_classroom,
    password_changed,
    require_user,
    revoke_user_logins,
    school_scope,
    teacher_classroom_ids,
)
from cbt.db import db
from cbt.errors import Forbidden, NotFound, ValidationError
from cbt.http import INT32_MAX, get_field, json_body, request_actor
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.openapi import openapi, register_schemas, register_tags
from cbt.security import login_guard, staff_account
from schools import service

blueprint = Blueprint("schools_api", __name__, url_prefix="/api/v1")

SCHOOLS = "Schools"
register_tags(
    {
        SCHOOLS: "Schools, classes, students and teachers: operators manage every school, a "
        "school administrator their own; teachers read their own classes. Changes are audited."
    }
)

MANAGERS = (Role.SCHOOL_ADMIN, Role.OPERATOR)
READERS = (Role.TEACHER, Role.SCHOOL_ADMIN, Role.OPERATOR)
STAFF = (Role.TEACHER, Role.SCHOOL_ADMIN, Role.RESEARCHER, Role.OPERATOR)
_MANAGER_NAMES = ["school_admin", "operator"]
_READER_NAMES = ["teacher", "school_admin", "operator"]

_ID = {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX}
# Text the server requires: something besides spaces, and no NUL.
_SOME_TEXT = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


def _text(max_length: int, *, nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": _SOME_TEXT,
    }
    if nullable:
        schema["nullable"] = True  # null, like an absent field, changes nothing
    return schema


_NAME = {"type": "string", "maxLength": 100, "nullable": True}
_KANA = {
    "type": "string",
    "maxLength": 100,
    "nullable": True,
    "description": "Hiragana or katakana; empty clears it.",
    "pattern": "^[\\s\u3040-\u309f\u30a0-\u30ff\uff66-\uff9f\u3000 ・ー]*$",
}
_SCHOOL_CODE = {
    "type": "string",
    "maxLength": 32,
    "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{0,31}\\s*$",
}
_PERSON_NAMES = {
    "family_name": _NAME,
    "given_name": _NAME,
    "family_name_kana": _KANA,
    "given_name_kana": _KANA,
}
_NUMBER = {"type": "integer", "format": "int32", "minimum": 1, "maximum": 99_999}
_GRADE = {"type": "integer", "format": "int32", "minimum": 1, "maximum": 12}
_YEAR = {"type": "integer", "format": "int32", "minimum": 2000, "maximum": 2100}
_ARCHIVED = [("archived", {"type": "string", "enum": ["0", "1"]}, "1: include archived rows.")]

register_schemas(
    {
        "School": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "code": {"type": "string"},
                "name": {"type": "string"},
                "archived_at": {"type": "string", "nullable": True},
                "n_classes": {"type": "integer"},
            },
        },
        "Classroom": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "school_id": {"type": "integer"},
                "name": {"type": "string"},
                "grade": {"type": "integer"},
                "academic_year": {"type": "integer"},
                "class_code": {"type": "string"},
                "archived_at": {"type": "string", "nullable": True},
                "n_students": {"type": "integer"},
            },
        },
        "Student": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "enrollment_id": {"type": "integer"},
                "classroom_id": {"type": "integer"},
                "student_number": {"type": "integer", "nullable": True},
                "display_name": {"type": "string"},
                "kana": {"type": "string", "nullable": True},
                "is_active": {"type": "boolean"},
                "archived_at": {"type": "string", "nullable": True},
            },
        },
        "Staff": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "role": {"type": "string"},
                "display_name": {"type": "string"},
                "email": {"type": "string", "nullable": True},
                "school_id": {"type": "integer", "nullable": True},
                "is_active": {"type": "boolean"},
                "classroom_ids": {"type": "array", "items": {"type": "integer"}},
            },
        },
    }
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _include_archived() -> bool:
    return request.args.get("archived", "0") == "1"


def _optional_text(data: dict[str, Any], name: str, max_length: int) -> str | None:
    return get_field(data, name, str, default=None, max_length=max_length)


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    return get_field(data, name, int, default=None)


def _person_names(data: dict[str, Any]) -> dict[str, str | None]:
    """The name fields the body carries (null clears one); absent fields stay as they are."""
    return {
        name: get_field(data, name, str, default=None, max_length=100)
        for name in _PERSON_NAMES
        if name in data
    }


def _nothing_to_change(data: dict[str, Any], allowed: tuple[str, ...]) -> bool:
    """True when the body changes none of ``allowed``: the reply is the record as it is."""
    return not any(data.get(name) is not None for name in allowed)


# -- scope: which school, class, student or staff member this caller may act on -----------------


def _managed_school(user: CurrentUser, school_id: int) -> School:
    ensure_manages_school(user, school_id)
    return service.get_school(school_id)


def _managed_classroom(user: CurrentUser, classroom_id: int) -> Classroom:
    scope = school_scope(user)
    classroom = db.session.get(Classroom, classroom_id)
    if scope is not None and (classroom is None or classroom.school_id != scope):
        raise Forbidden("You do not manage this class.", details={"classroom_id": classroom_id})
    if classroom is None:
        raise NotFound("No class has this id.", details={"classroom_id": classroom_id})
    return classroom


def _readable_classroom(user: CurrentUser, classroom_id: int) -> Classroom:
    if user.role == Role.TEACHER:
        ensure_teacher_sees_classroom(user, classroom_id)
        return service.get_classroom(classroom_id)
    return _managed_classroom(user, classroom_id)


def _managed_student(user: CurrentUser, student_id: int) -> Enrollment:
    scope = school_scope(user)
    try:
        enrollment = service.student_enrollment(student_id)
    except NotFound:
        if scope is None:
            raise
        enrollment = None
    if scope is not None and (enrollment is None or enrollment.classroom.school_id != scope):
        raise Forbidden("You do not manage this student.", details={"student_id": student_id})
    assert enrollment is not None
    return enrollment


def _managed_staff(user: CurrentUser, user_id: int) -> User:
    scope = school_scope(user)
    target = db.session.get(User, user_id)
    if scope is not None and (
        target is None
        or target.role not in service.STAFF_OF_A_SCHOOL
        or scope not in service.staff_school_ids(target)
    ):
        raise Forbidden("You do not manage this staff member.", details={"user_id": user_id})
    return service.get_staff(user_id)


def _not_yourself(user: CurrentUser, target: User) -> None:
    if user.id == target.id:
        raise Forbidden("You cannot do this to your own account.", details={"user_id": target.id})


# -- schools -----------------------------------------------------------------------------------


@blueprint.get("/schools")
@openapi(
    summary="Schools the user manages (an operator: all; a school administrator: their own).",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    query=_ARCHIVED,
    response={
        "type": "object",
        "properties": {"schools": {"type": "array", "items": _ref("School")}},
    },
)
def list_schools() -> Response:
    user = require_user(*MANAGERS)
    return jsonify({"schools": service.list_schools(school_scope(user), _include_archived())})


@blueprint.post("/schools")
@openapi(
    summary="Create a school (operators).",
    tags=[SCHOOLS],
    roles=["operator"],
    body={
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": _SCHOOL_CODE, "name": _text(200)},
    },
    response=_ref("School"),
    status=201,
)
def create_school() -> tuple[Response, int]:
    user = require_user(Role.OPERATOR)
    data = json_body()
    school = service.create_school(
        get_field(data, "code", str, max_length=32), get_field(data, "name", str, max_length=200)
    )
    record_audit(request_actor(user), "create_school", "school", school.id, {"code": school.code})
    return jsonify(service.school_view(school)), 201


@blueprint.get("/schools/<int:school_id>")
@openapi(summary="One school.", tags=[SCHOOLS], roles=_MANAGER_NAMES, response=_ref("School"))
def get_school(school_id: int) -> Response:
    user = require_user(*MANAGERS)
    return jsonify(service.school_view(_managed_school(user, school_id)))


@blueprint.patch("/schools/<int:school_id>")
@openapi(
    summary="Rename a school (its code: operators only).",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "properties": {
            "code": {**_SCHOOL_CODE, "nullable": True},
            "name": _text(200, nullable=True),
        },
    },
    response=_ref("School"),
)
def update_school(school_id: int) -> Response:
    user = require_user(*MANAGERS)
    school = _managed_school(user, school_id)
    data = json_body()
    if _nothing_to_change(data, ("code", "name")):
        return jsonify(service.school_view(school))
    code = _optional_text(data, "code", 32)
    if code is not None and user.role != Role.OPERATOR and code != school.code:
        raise Forbidden("Only an operator can change a school's code.")
    changes = service.update_school(school, code=code, name=_optional_text(data, "name", 200))
    record_audit(request_actor(user), "update_school", "school", school.id, changes)
    return jsonify(service.school_view(school))


@blueprint.post("/schools/<int:school_id>/archive")
@openapi(
    summary="Archive a school: nobody of it signs in any more; results stay (operators).",
    tags=[SCHOOLS],
    roles=["operator"],
    response=_ref("School"),
)
def archive_school(school_id: int) -> Response:
    user = require_user(Role.OPERATOR)
    school = service.get_school(school_id)
    service.archive_school(school)
    record_audit(request_actor(user), "archive_school", "school", school.id)
    return jsonify(service.school_view(school))


# -- classes -----------------------------------------------------------------------------------


@blueprint.get("/schools/<int:school_id>/classes")
@openapi(
    summary="Classes of a school (a teacher: only the ones they teach).",
    tags=[SCHOOLS],
    roles=_READER_NAMES,
    query=_ARCHIVED,
    response={
        "type": "object",
        "properties": {"classes": {"type": "array", "items": _ref("Classroom")}},
    },
)
def list_classes(school_id: int) -> Response:
    user = require_user(*READERS)
    if user.role == Role.TEACHER:
        mine = teacher_classroom_ids(user.id)
        classes = service.list_classrooms(
            school_id, only_ids=mine, include_archived=_include_archived()
        )
        if not classes:
            raise Forbidden("You teach no class of this school.", details={"school_id": school_id})
        return jsonify({"classes": classes})
    _managed_school(user, school_id)
    return jsonify(
        {"classes": service.list_classrooms(school_id, include_archived=_include_archived())}
    )


@blueprint.post("/schools/<int:school_id>/classes")
@openapi(
    summary="Create a class; its class code is generated (unique, easy to type).",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "required": ["name", "grade", "academic_year"],
        "properties": {"name": _text(100), "grade": _GRADE, "academic_year": _YEAR},
    },
    response=_ref("Classroom"),
    status=201,
)
def create_class(school_id: int) -> tuple[Response, int]:
    user = require_user(*MANAGERS)
    school = _managed_school(user, school_id)
    data = json_body()
    classroom = service.create_classroom(
        school,
        get_field(data, "name", str, max_length=100),
        get_field(data, "grade", int),
        get_field(data, "academic_year", int),
    )
    record_audit(
        request_actor(user),
        "create_classroom",
        "classroom",
        classroom.id,
        {"school_id": school.id, "class_code": classroom.class_code},
    )
    return jsonify(service.classroom_view(classroom, 0)), 201


@blueprint.get("/classes/<int:classroom_id>")
@openapi(
    summary="One class with its school and teachers.",
    tags=[SCHOOLS],
    roles=_READER_NAMES,
    response={
        "allOf": [
            _ref("Classroom"),
            {
                "type": "object",
                "properties": {
                    "school": _ref("School"),
                    "teachers": {"type": "array", "items": _ref("Staff")},
                },
            },
        ]
    },
)
def get_class(classroom_id: int) -> Response:
    user = require_user(*READERS)
    classroom = _readable_classroom(user, classroom_id)
    view = service.classroom_view(classroom)
    view["school"] = service.school_view(classroom.school)
    view["teachers"] = service.classroom_teachers(classroom.id)
    return jsonify(view)


@blueprint.patch("/classes/<int:classroom_id>")
@openapi(
    summary="Edit a class's name, grade or academic year.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "properties": {
            "name": _text(100, nullable=True),
            "grade": {**_GRADE, "nullable": True},
            "academic_year": {**_YEAR, "nullable": True},
        },
    },
    response=_ref("Classroom"),
)
def update_class(classroom_id: int) -> Response:
    user = require_user(*MANAGERS)
    classroom = _managed_classroom(user, classroom_id)
    data = json_body()
    if _nothing_to_change(data, ("name", "grade", "academic_year")):
        return jsonify(service.classroom_view(classroom))
    changes = service.update_classroom(
        classroom,
        name=_optional_text(data, "name", 100),
        grade=_optional_int(data, "grade"),
        academic_year=_optional_int(data, "academic_year"),
    )
    record_audit(request_actor(user), "update_classroom", "classroom", classroom.id, changes)
    return jsonify(service.classroom_view(classroom))


@blueprint.post("/classes/<int:classroom_id>/archive")
@openapi(
    summary="Archive a class: it leaves the lists and its students cannot sign in; results stay.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    response=_ref("Classroom"),
)
def archive_class(classroom_id: int) -> Response:
    user = require_user(*MANAGERS)
    classroom = _managed_classroom(user, classroom_id)
    service.archive_classroom(classroom)
    record_audit(request_actor(user), "archive_classroom", "classroom", classroom.id)
    return jsonify(service.classroom_view(classroom))


# -- students ----------------------------------------------------------------------------------


@blueprint.get("/classes/<int:classroom_id>/students")
@openapi(
    summary="Students of a class (number, name, kana); audited as a read of student data.",
    tags=[SCHOOLS],
    roles=_READER_NAMES,
    query=_ARCHIVED,
    response={
        "type": "object",
        "properties": {"students": {"type": "array", "items": _ref("Student")}},
    },
)
def list_students(classroom_id: int) -> Response:
    user = require_user(*READERS)
    classroom = _readable_classroom(user, classroom_id)
    students = service.list_students(classroom.id, _include_archived())
    record_audit(request_actor(user), "view_class_roster", "classroom", classroom.id)
    return jsonify({"students": students})


@blueprint.post("/classes/<int:classroom_id>/students")
@openapi(
    summary="Add a student to a class; the reply holds the login code, shown this once.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "required": ["student_number"],
        "properties": {
            "student_number": _NUMBER,
            "display_name": {"type": "string", "maxLength": 200, "nullable": True},
            **_PERSON_NAMES,
        },
    },
    response={
        "allOf": [
            _ref("Student"),
            {"type": "object", "properties": {"login_code": {"type": "string"}}},
        ]
    },
    status=201,
)
def create_student(classroom_id: int) -> tuple[Response, int]:
    user = require_user(*MANAGERS)
    classroom = _managed_classroom(user, classroom_id)
    data = json_body()
    created = service.create_student(
        classroom,
        current_app.config["SECRET_KEY"],
        student_number=get_field(data, "student_number", int),
        display_name=_optional_text(data, "display_name", 200),
        names=_person_names(data),
    )
    enrollment = created.enrollment
    record_audit(
        request_actor(user),
        "create_student",
        "student",
        enrollment.user_id,
        {"classroom_id": classroom.id, "student_number": enrollment.student_number},
    )
    view = service.student_view(enrollment, enrollment.user)
    view["login_code"] = created.login_code
    return jsonify(view), 201


@blueprint.patch("/students/<int:student_id>")
@openapi(
    summary="Edit a student's names or number.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "properties": {
            "student_number": {**_NUMBER, "nullable": True},
            "display_name": _text(200, nullable=True),
            **_PERSON_NAMES,
        },
    },
    response=_ref("Student"),
)
def update_student(student_id: int) -> Response:
    user = require_user(*MANAGERS)
    enrollment = _managed_student(user, student_id)
    data = json_body()
    if _nothing_to_change(data, ("student_number", "display_name")) and not _person_names(data):
        return jsonify(service.student_view(enrollment, enrollment.user))
    changes = service.update_student(
        enrollment,
        display_name=_optional_text(data, "display_name", 200),
        student_number=_optional_int(data, "student_number"),
        names=_person_names(data),
    )
    record_audit(
        request_actor(user), "update_student", "student", student_id, {"fields": sorted(changes)}
    )
    return jsonify(service.student_view(enrollment, enrollment.user))


@blueprint.post("/students/<int:student_id>/move")
@openapi(
    summary="Move a student to another class of the same school (results stay theirs).",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "required": ["classroom_id"],
        "properties": {"classroom_id": _ID, "student_number": _NUMBER},
    },
    response=_ref("Student"),
)
def move_student(student_id: int) -> Response:
    user = require_user(*MANAGERS)
    enrollment = _managed_student(user, student_id)
    data = json_body()
    target = _managed_classroom(user, get_field(data, "classroom_id", int, minimum=0))
    moved = service.move_student(enrollment, target, _optional_int(data, "student_number"))
    record_audit(request_actor(user), "move_student", "student", student_id, moved)
    return jsonify(service.student_view(enrollment, enrollment.user))


@blueprint.post("/students/<int:student_id>/archive")
@openapi(
    summary="Archive a student: they cannot sign in and leave the class list; results stay.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    response=_ref("Student"),
)
def archive_student(student_id: int) -> Response:
    user = require_user(*MANAGERS)
    enrollment = _managed_student(user, student_id)
    service.archive_student(enrollment)
    revoke_user_logins(student_id)
    record_audit(
        request_actor(user),
        "archive_student",
        "student",
        student_id,
        {"classroom_id": enrollment.classroom_id},
    )
    return jsonify(service.student_view(enrollment, enrollment.user))


# -- teachers ----------------------------------------------------------------------------------


@blueprint.get("/schools/<int:school_id>/teachers")
@openapi(
    summary="Teachers and school administrators of a school, with the classes each teaches.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    query=_ARCHIVED,
    response={
        "type": "object",
        "properties": {"teachers": {"type": "array", "items": _ref("Staff")}},
    },
)
def list_teachers(school_id: int) -> Response:
    user = require_user(*MANAGERS)
    _managed_school(user, school_id)
    return jsonify({"teachers": service.list_staff(school_id, _include_archived())})


@blueprint.post("/schools/<int:school_id>/teachers")
@openapi(
    summary="Create a teacher or school administrator; without a password one is generated "
    "and returned this once.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "required": ["email", "display_name", "role"],
        "properties": {
            "email": {
                "type": "string",
                "maxLength": 254,
                "pattern": "^\\s*[^@\\s\\x00-\\x20\\x7f-\\x9f]+@[^@\\s\\x00-\\x20\\x7f-\\x9f]+"
                "\\.[^@\\s\\x00-\\x20\\x7f-\\x9f]+\\s*$",
            },
            "display_name": _text(200),
            "role": {"type": "string", "enum": ["teacher", "school_admin"]},
            "password": {"type": "string", "minLength": 10, "maxLength": 1024},
        },
    },
    response={
        "type": "object",
        "properties": {
            "teacher": _ref("Staff"),
            "initial_password": {"type": "string", "nullable": True},
        },
    },
    status=201,
)
def create_teacher(school_id: int) -> tuple[Response, int]:
    user = require_user(*MANAGERS)
    school = _managed_school(user, school_id)
    data = json_body()
    role = get_field(data, "role", str, max_length=16)
    if role not in (Role.TEACHER, Role.SCHOOL_ADMIN):
        raise ValidationError(
            "The role must be teacher or school_admin.",
            details={"field": "role", "allowed": ["teacher", "school_admin"]},
        )
    teacher, generated = service.create_staff(
        school,
        email=get_field(data, "email", str, max_length=254),
        display_name=get_field(data, "display_name", str, max_length=200),
        role=Role(role),
        password=get_field(data, "password", str, default=None, max_length=1024),
    )
    record_audit(
        request_actor(user),
        "create_staff",
        "user",
        teacher.id,
        {"role": role, "school_id": school.id, "email": teacher.email},
    )
    return jsonify({"teacher": service.staff_view(teacher), "initial_password": generated}), 201


@blueprint.patch("/staff/<int:user_id>")
@openapi(
    summary="Rename a teacher or school administrator.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={
        "type": "object",
        "required": ["display_name"],
        "properties": {"display_name": _text(200)},
    },
    response=_ref("Staff"),
)
def update_staff(user_id: int) -> Response:
    user = require_user(*MANAGERS)
    target = _managed_staff(user, user_id)
    data = json_body()
    name = get_field(data, "display_name", str, max_length=200)
    target.display_name = " ".join(name.split())
    if not target.display_name:
        raise ValidationError("'display_name' is required.", details={"field": "display_name"})
    record_audit(
        request_actor(user),
        "update_staff",
        "user",
        target.id,
        {"display_name": target.display_name},
    )
    return jsonify(service.staff_view(target))


@blueprint.post("/classes/<int:classroom_id>/teachers")
@openapi(
    summary="Assign a teacher of the school to a class.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    body={"type": "object", "required": ["user_id"], "properties": {"user_id": _ID}},
    response={
        "type": "object",
        "properties": {"teachers": {"type": "array", "items": _ref("Staff")}},
    },
)
def assign_teacher(classroom_id: int) -> Response:
    user = require_user(*MANAGERS)
    classroom = _managed_classroom(user, classroom_id)
    data = json_body()
    teacher = _managed_staff(user, get_field(data, "user_id", int, minimum=0))
    service.assign_teacher(classroom, teacher)
    record_audit(
        request_actor(user), "assign_teacher", "classroom", classroom.id, {"user_id": teacher.id}
    )
    return jsonify({"teachers": service.classroom_teachers(classroom.id)})


@blueprint.delete("/classes/<int:classroom_id>/teachers/<int:user_id>")
@openapi(
    summary="Take a teacher off a class.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    response={
        "type": "object",
        "properties": {"teachers": {"type": "array", "items": _ref("Staff")}},
    },
)
def unassign_teacher(classroom_id: int, user_id: int) -> Response:
    user = require_user(*MANAGERS)
    classroom = _managed_classroom(user, classroom_id)
    teacher = _managed_staff(user, user_id)
    service.unassign_teacher(classroom, teacher)
    record_audit(
        request_actor(user), "unassign_teacher", "classroom", classroom.id, {"user_id": teacher.id}
    )
    return jsonify({"teachers": service.classroom_teachers(classroom.id)})


@blueprint.post("/staff/<int:user_id>/archive")
@openapi(
    summary="Archive a staff account: it cannot sign in, its logins end, its classes are "
    "unassigned.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    response=_ref("Staff"),
)
def archive_staff(user_id: int) -> Response:
    user = require_user(*MANAGERS)
    target = _managed_staff(user, user_id)
    _not_yourself(user, target)
    service.archive_staff(target)
    revoke_user_logins(target.id)
    record_audit(request_actor(user), "archive_staff", "user", target.id)
    return jsonify(service.staff_view(target))


@blueprint.post("/staff/<int:user_id>/password-reset")
@openapi(
    summary="Give a staff member a temporary password (shown this once); their logins end.",
    tags=[SCHOOLS],
    roles=_MANAGER_NAMES,
    response={"type": "object", "properties": {"temporary_password": {"type": "string"}}},
)
def reset_password(user_id: int) -> Response:
    user = require_user(*MANAGERS)
    target = _managed_staff(user, user_id)
    _not_yourself(user, target)
    temporary = service.reset_password(target)
    revoke_user_logins(target.id)
    if target.email:
        login_guard().unlock(staff_account(target.email))
    record_audit(request_actor(user), "reset_password", "user", target.id)
    return jsonify({"temporary_password": temporary})


@blueprint.post("/me/password")
@openapi(
    summary="Change my password (staff): the current one, then the new one (10 characters or "
    "more). My other logins end.",
    tags=[SCHOOLS],
    roles=["teacher", "school_admin", "researcher", "operator"],
    body={
        "type": "object",
        "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string", "maxLength": 1024},
            "new_password": {"type": "string", "minLength": 10, "maxLength": 1024},
        },
    },
    response={"type": "object", "properties": {"changed": {"type": "boolean"}}},
)
def change_my_password() -> Response:
    user = require_user(*STAFF)
    data = json_body()
    current = get_field(data, "current_password", str, max_length=1024)
    new = get_field(data, "new_password", str, max_length=1024)
    me = db.session.get(User, user.id)
    if me is None or not me.email:
        raise Forbidden("This account has no password.")
    guard, address, account = (
        login_guard(),
        request.remote_addr or "unknown",
        staff_account(me.email),
    )
    guard.check(address, account)
    if not service.change_password(me, current, new):
        guard.failed(address, account)
        raise Forbidden("The current password is not right.", details={"field": "current_password"})
    ended = revoke_user_logins(me.id, keep_current=True)
    password_changed()
    record_audit(request_actor(user), "change_password", "user", me.id, {"logins_ended": ended})
    return jsonify({"changed": True})
