"""Hostile or malformed input gets a 4xx with the usual error JSON and writes nothing."""

from __future__ import annotations

import pytest
from flask import Flask

from cbt.db import db
from cbt.models import AuditEvent, Role
from cbt.service import create_staff_user
from item_bank.models import Item
from tests.helpers import ApiClient, row_count

PASSWORD = "staff-password-1"


@pytest.fixture
def operator(api: ApiClient) -> ApiClient:
    create_staff_user("op@bad.example", "Operator", Role.OPERATOR, PASSWORD)
    db.session.commit()
    assert api.login_staff("op@bad.example", PASSWORD).status_code == 200
    return api


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_deeply_nested_json_is_refused_before_login(api: ApiClient) -> None:
    deep = b'{"class_code": ' + b"[" * 4096 + b"]" * 4096 + b"}"
    response = api.post(
        "/api/v1/auth/student-login", data=deep, headers={"Content-Type": "application/json"}
    )
    _error(response, 422)
    nested = {"a": 1}
    for _ in range(40):
        nested = {"a": nested}
    response = api.post("/api/v1/auth/student-login", nested)
    assert _error(response, 422)["details"] == {"max_depth": 32}


def test_oversized_json_body_is_413(api: ApiClient) -> None:
    body = b'{"class_code": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    response = api.post(
        "/api/v1/auth/student-login", data=body, headers={"Content-Type": "application/json"}
    )
    assert _error(response, 413)["code"] == "payload_too_large"


def test_nan_is_not_json(api: ApiClient) -> None:
    response = api.post(
        "/api/v1/auth/staff-login",
        data=b'{"email": NaN, "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert _error(response, 400)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("number", "status"),
    [
        (2**70, 422),  # beyond 64 bits: refused as bad JSON numbers are
        (-(2**40), 422),  # an integer outside int32, as the schema says
        (str(2**40), 401),  # digits that fit the field but no column: a wrong detail
        ("9" * 16, 401),
        (str(2**70), 422),  # longer than the schema's 16 characters
    ],
)
def test_student_numbers_beyond_the_column_fail_like_wrong_details(
    api: ApiClient, number: int | str, status: int
) -> None:
    response = api.login_student("NOCLASS", number, "ABCD-EFGH-0001")  # type: ignore[arg-type]
    _error(response, status)


def test_integers_beyond_64_bits_in_a_body_are_422(api: ApiClient) -> None:
    response = api.post("/api/v1/auth/staff-login", {"email": "a@b.c", "password": 2**64})
    assert _error(response, 422)["code"] == "validation_failed"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/items/99999999999999999999999",
        "/api/v1/items/2147483648",
        "/api/v1/items/1/versions/166380070305988444160",
        "/api/v1/parameter-sets/18446744073709551616",
        "/api/v1/pools/9223372036854775808",
    ],
)
def test_ids_beyond_32_bits_are_not_found(operator: ApiClient, path: str) -> None:
    assert _error(operator.get(path), 404)["code"] == "not_found"


def test_body_ids_beyond_32_bits_are_422(operator: ApiClient) -> None:
    response = operator.post(
        "/api/v1/pools", {"name": "p", "active_parameter_set_id": 2**40, "item_version_ids": []}
    )
    error = _error(response, 422)
    assert error["details"]["field"] == "active_parameter_set_id"


def test_query_integers_beyond_32_bits_are_422(operator: ApiClient, app: Flask) -> None:
    response = operator.get("/api/v1/items?limit=99999999999999999999")
    assert _error(response, 422)["details"]["field"] == "limit"
    create_staff_user("r@bad.example", "Researcher", Role.RESEARCHER, PASSWORD)
    db.session.commit()
    researcher = ApiClient(app.test_client())
    assert researcher.login_staff("r@bad.example", PASSWORD).status_code == 200
    for value in ("-77333373353386", "2147483648"):
        response = researcher.get(f"/api/v1/research/groups.csv?administration={value}")
        assert _error(response, 422)["details"]["field"] == "administration"


def test_nul_in_strings_is_refused_and_nothing_is_written(operator: ApiClient) -> None:
    audits = row_count(AuditEvent)
    response = operator.post(
        "/api/v1/items",
        {"key": "nul\x00key", "item_type": "single_choice", "content": {}, "scoring": {}},
    )
    assert _error(response, 422)["code"] == "validation_failed"
    assert row_count(Item) == 0
    assert row_count(AuditEvent) == audits
    assert _error(operator.get("/api/v1/items?q=a%00b"), 422)["code"] == "validation_failed"
    assert _error(operator.get("/api/v1/curriculum-codes/83%00"), 422)


def test_nul_in_login_fields_is_422(api: ApiClient) -> None:
    response = api.post("/api/v1/auth/staff-login", {"email": "a\x00@b.c", "password": "x"})
    _error(response, 422)


def test_405_carries_allow(client) -> None:
    response = client.get("/api/v1/auth/student-login")
    assert _error(response, 405)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"POST"}


def test_mastery_prefix_length_takes_ascii_digits_only(operator: ApiClient, app: Flask) -> None:
    response = operator.get("/api/v1/classes/1/mastery?prefix_length=%C2%B2")
    assert response.status_code in (403, 404, 422), response.get_data(as_text=True)
