"""Hostile input to the school, roster, LTI, audit and administration routes of issue 13.

Every operation of these packages in the OpenAPI document gets each bad-input class the
[integrity] issue lists: JSON nested deeply, integers beyond 64 bits in the path and the body,
NUL in strings, an oversized body and the wrong content type. Each gets a 4xx with the usual
error JSON and writes nothing (no table gains or loses a row). The roster import also gets a
zip bomb and a multipart upload.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from cbt.db import Base, db
from cbt.models import Classroom, Role, User
from cbt.service import create_staff_user
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school

# The packages of issue 13 (and the administration routes added with them), by operationId.
PREFIXES = ("schools_api_", "school_cards_", "roster_api_", "lti_api_", "audit_api_")
DELIVERY = {
    "delivery_api_set_administration_classrooms",
    "delivery_api_republish_administration",
    "delivery_api_create_administration",
}
BEYOND_64_BITS = 2**70
DEEP = b'{"name": ' + b"[" * 4096 + b"]" * 4096 + b"}"
OVERSIZED = b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}'


def _document(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _operations(app: Flask) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation this file probes."""
    found = []
    for path, item in _document(app)["paths"].items():
        for method, operation in item.items():
            name = operation["operationId"]
            if name.startswith(PREFIXES) or name in DELIVERY:
                found.append((method, path, operation))
    return found


@pytest.fixture
def world(app: Flask) -> SeededSchool:
    school = seed_school(n_items=4, n_students=2)
    classroom = db.session.get(Classroom, school.classroom_id)
    create_staff_user("op@bad.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    create_staff_user(
        "admin@bad.example", "Admin", Role.SCHOOL_ADMIN, TEACHER_PASSWORD, school=classroom.school
    )
    db.session.commit()
    return school


def _signed_in(app: Flask, email: str) -> ApiClient:
    api = ApiClient(app.test_client())
    api.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert api.login_staff(email, TEACHER_PASSWORD).status_code == 200
    return api


@pytest.fixture(params=["op@bad.example", "admin@bad.example"], ids=["operator", "school_admin"])
def staff(request: pytest.FixtureRequest, app: Flask, world: SeededSchool) -> ApiClient:
    return _signed_in(app, request.param)


def _path_values(world: SeededSchool) -> dict[str, int]:
    teacher = db.session.scalar(select(User.id).where(User.email == world.teacher_email))
    return {
        "school_id": db.session.get(Classroom, world.classroom_id).school_id,
        "classroom_id": world.classroom_id,
        "student_id": world.student_ids[1],
        "user_id": teacher,
        "administration_id": world.administration_id,
    }


def _url(path: str, values: dict[str, Any]) -> str:
    return "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _json_body(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(document, content["application/json"]["schema"])


def _sample(schema: dict[str, Any]) -> Any:
    """A plain value of the schema's type (not necessarily one the server accepts)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if kind == "boolean":
        return True
    return "x"


def _rows() -> dict[str, int]:
    db.session.rollback()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def _refused(response, statuses: tuple[int, ...] = ()) -> dict[str, Any]:
    text = response.get_data().decode(errors="replace")
    assert 400 <= response.status_code < 500, text[:500]
    if statuses:
        assert response.status_code in statuses, text[:500]
    assert response.mimetype == "application/json", text[:500]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def _send(api: ApiClient, method: str, url: str, **kwargs: Any):
    return api.client.open(url, method=method.upper(), headers=api._headers(), **kwargs)


def _cases(document, method, operation) -> Iterator[tuple[str, dict[str, Any], tuple[int, ...]]]:
    """(name, request keyword arguments, allowed statuses) of each bad request."""
    schema = _json_body(document, operation)
    if schema is None:
        return
    properties = schema.get("properties", {})
    base = {name: _sample(properties[name]) for name in schema.get("required", [])}
    json_type = {"content_type": "application/json"}
    yield "deep", {"data": DEEP, **json_type}, (400, 403, 422)
    yield "oversized", {"data": OVERSIZED, **json_type}, (403, 413)
    yield "text/plain", {"data": b'{"name": "x"}', "content_type": "text/plain"}, (403, 415)
    yield "not an object", {"data": b"[1, 2]", **json_type}, (403, 422)
    for name, field in properties.items():
        field = _resolve(document, field)
        if field.get("type") == "integer":
            body = {**base, name: BEYOND_64_BITS}
            yield f"{name}=2**70", {"json": body}, (403, 422)
            body = {**base, name: 2**40}
            yield f"{name}=2**40", {"json": body}, (403, 404, 422)
        elif field.get("type") == "string" and "enum" not in field:
            yield f"{name} with NUL", {"json": {**base, name: "a\x00b"}}, (403, 422)
        elif field.get("type") == "array":
            items = _resolve(document, field.get("items", {}))
            value = BEYOND_64_BITS if items.get("type") == "integer" else "a\x00b"
            yield f"{name}[0]", {"json": {**base, name: [value]}}, (403, 422)


def test_every_probed_operation_is_in_the_document(app: Flask) -> None:
    names = {operation["operationId"] for _, _, operation in _operations(app)}
    assert len(names) >= 30
    assert names >= DELIVERY


def test_bad_bodies_are_refused_and_write_nothing(app: Flask, staff: ApiClient, world) -> None:
    document, values = _document(app), _path_values(world)
    failures, sent = [], 0
    for method, path, operation in _operations(app):
        for name, kwargs, statuses in _cases(document, method, operation):
            before = _rows()
            response = _send(staff, method, _url(path, values), **kwargs)
            sent += 1
            try:
                _refused(response, statuses)
                assert _rows() == before, "a row was written"
            except AssertionError as error:
                failures.append(f"{method.upper()} {path} [{name}]: {str(error)[:300]}")
    assert sent > 100
    assert not failures, "\n".join(failures)


def test_path_ids_beyond_32_bits_are_404(app: Flask, staff: ApiClient, world) -> None:
    """Whatever the method: werkzeug would otherwise answer 405 for an id no rule matches."""
    document = _document(app)
    failures = []
    for method, path, operation in _operations(app):
        if "{" not in path:
            continue
        body = _json_body(document, operation) or {}
        json = {name: _sample(schema) for name, schema in body.get("properties", {}).items()}
        for value in (2**31, 2**63, BEYOND_64_BITS, "9" * 40):
            before = _rows()
            names = re.findall(r"\{(\w+)\}", path)
            url = _url(path, dict.fromkeys(names, value))
            response = _send(staff, method, url, json=json)
            try:
                assert _refused(response, (404,))["code"] == "not_found"
                assert _rows() == before
            except AssertionError as error:
                failures.append(f"{method.upper()} {url}: {str(error)[:300]}")
    assert not failures, "\n".join(failures)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_bombs_and_bad_roster_uploads_are_refused(app: Flask, staff: ApiClient) -> None:
    bomb = _zip({"users.csv": b"0" * (64 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    cases: list[tuple[dict[str, Any], int]] = [
        ({"data": bomb, "content_type": "application/zip"}, 422),
        ({"data": {"package": (io.BytesIO(bomb), "roster.zip")}}, 422),
        ({"data": b"not a zip", "content_type": "application/zip"}, 422),
        ({"data": b"", "content_type": "application/zip"}, 422),
        ({"data": b"\x00" * 100, "content_type": "application/zip"}, 422),
        ({"data": b'{"a": 1}', "content_type": "application/json"}, 415),
        ({"data": b"PK", "content_type": "text/plain"}, 415),
        ({"data": {"other": (io.BytesIO(b"PK"), "roster.zip")}}, 422),
        ({"data": {"package": (io.BytesIO(b"\x00" * 100), "roster.zip")}}, 422),
    ]
    before = _rows()
    for number, (kwargs, status) in enumerate(cases):
        response = _send(staff, "post", "/api/v1/roster/import", **kwargs)
        error = _refused(response, (status,))
        if number < 2:
            assert "zip bomb" in str(error), error
    assert _rows() == before


# -- what schemathesis found: the document and the server now agree ---------------------------


def _operation(app: Flask, method: str, path: str) -> dict[str, Any]:
    return _document(app)["paths"][path][method]


def test_every_string_a_client_sends_is_declared_without_nul(app: Flask) -> None:
    document = _document(app)
    for method, path, operation in _operations(app):
        for parameter in operation["parameters"]:
            schema = parameter["schema"]
            if parameter["in"] != "header" and schema.get("type") == "string":
                assert "pattern" in schema or "enum" in schema, (method, path, parameter)
        body = _json_body(document, operation) or {}
        for name, field in body.get("properties", {}).items():
            if field.get("type") == "string" and "enum" not in field:
                assert not re.search(field["pattern"], "a\x00b"), (method, path, name)


def test_undeclared_fields_are_ignored_and_declared_ones_checked(
    app: Flask, staff: ApiClient, world
) -> None:
    """A field the body does not declare is never read, so NUL or a huge number in it is not
    refused (the document allows any extra field); the same in a declared field is a 422."""
    school_id = _path_values(world)["school_id"]
    url = f"/api/v1/schools/{school_id}/classes"
    good = {"name": "3-A", "grade": 9, "academic_year": 2026}
    extra = {"x\x00": "a\x00b", "n": BEYOND_64_BITS, "deep": [[[1]]]}
    reply = staff.post(url, {**good, **extra})
    assert reply.status_code == 201, reply.get_json()
    assert "x\x00" not in reply.get_json()
    before = _rows()
    _refused(staff.post(url, {**good, "name": "a\x00b"}), (422,))
    _refused(staff.post(url, {**good, "grade": BEYOND_64_BITS}), (422,))
    assert _rows() == before


def test_blank_names_are_declared_and_refused(app: Flask, staff: ApiClient, world) -> None:
    school_id = _path_values(world)["school_id"]
    schema = _operation(app, "post", "/schools/{school_id}/classes")["requestBody"]
    name = schema["content"]["application/json"]["schema"]["properties"]["name"]
    assert name["minLength"] == 1
    assert not re.search(name["pattern"], "   ")
    assert re.search(name["pattern"], " 3-A ")
    before = _rows()
    for blank in ("", "   "):
        body = {"name": blank, "grade": 9, "academic_year": 2026}
        _refused(staff.post(f"/api/v1/schools/{school_id}/classes", body), (422,))
    assert _rows() == before


def test_an_edit_that_changes_nothing_answers_the_record_and_writes_nothing(
    app: Flask, staff: ApiClient, world
) -> None:
    values = _path_values(world)
    before = _rows()
    for url in (
        f"/api/v1/schools/{values['school_id']}",
        f"/api/v1/classes/{values['classroom_id']}",
        f"/api/v1/students/{values['student_id']}",
    ):
        for body in ({}, {"name": None}, {"unknown": 1}):
            reply = _send(staff, "patch", url, json=body)
            assert reply.status_code == 200, (url, body, reply.get_json())
    assert _rows() == before


def test_refusing_yourself_is_403(app: Flask, world) -> None:
    admin = _signed_in(app, "admin@bad.example")
    me = admin.get("/api/v1/me").get_json()["user"]["id"]
    before = _rows()
    for action in ("archive", "password-reset"):
        assert _refused(admin.post(f"/api/v1/staff/{me}/{action}"), (403,))["code"] == "forbidden"
    wrong = {"current_password": "not-the-password", "new_password": "a-new-password-1"}
    assert _refused(admin.post("/api/v1/me/password", wrong), (403,))["code"] == "forbidden"
    assert _rows() == before


def test_roles_and_upload_types_are_declared(app: Flask) -> None:
    document = _document(app)
    roles = document["components"]["schemas"]["User"]["properties"]["role"]["enum"]
    assert "school_admin" in roles
    assert "school_admin" in _operation(app, "get", "/me")["description"]
    # A school administrator may do what a teacher may (cbt.auth.role_allowed).
    assert "school_admin" in _operation(app, "get", "/administrations")["description"]
    content = _operation(app, "post", "/roster/import")["requestBody"]["content"]
    assert content["multipart/form-data"]["schema"]["properties"]["package"]["format"] == "binary"
    assert "application/octet-stream" in content
    cards = _operation(app, "post", "/classes/{classroom_id}/login-cards")["responses"]["200"]
    assert list(cards["content"]) == ["application/pdf"]
    problem = document["components"]["schemas"]["RosterProblem"]["properties"]
    assert problem["line"] == {"type": "integer", "nullable": True}


def test_refusals_that_depend_on_the_data_are_409(app: Flask, world) -> None:
    """Well-formed requests the state refuses are conflicts, not schema errors (422)."""
    admin = _signed_in(app, "admin@bad.example")
    values = _path_values(world)
    researcher = db.session.scalar(select(User.id).where(User.email == world.researcher_email))
    before = _rows()
    url = f"/api/v1/classes/{values['classroom_id']}"
    _refused(admin.post(f"{url}/teachers", {"user_id": researcher}), (403, 409))
    _refused(
        admin.post(f"{url}/login-cards.json", {"student_ids": [world.other_student_id]}), (409,)
    )
    _refused(admin.post(f"{url}/login-cards", {"student_ids": []}), (422,))
    move = f"/api/v1/students/{values['student_id']}/move"
    _refused(admin.post(move, {"classroom_id": values["classroom_id"]}), (409,))
    assert _rows() == before
