"""Fixtures for the item bank: staff clients, a small bank with one item of every type."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask

from cbt.audit import Actor
from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from item_bank.service import create_item
from item_bank.types import ITEM_TYPES
from tests.helpers import ApiClient

PASSWORD = "staff-password-1"
CODE = "8350213111200000"
OTHER_CODE = "8350223311100000"


@pytest.fixture
def staff(app: Flask) -> dict[str, int]:
    """One user of each staff role (and a student-less school is enough here)."""
    users = {
        role: create_staff_user(f"{role}@bank.example", f"{role} user", role, PASSWORD)
        for role in (Role.OPERATOR, Role.RESEARCHER, Role.TEACHER)
    }
    db.session.commit()
    return {str(role): user.id for role, user in users.items()}


def login(api: ApiClient, role: str) -> ApiClient:
    response = api.login_staff(f"{role}@bank.example", PASSWORD)
    assert response.status_code == 200, response.get_json()
    return api


@pytest.fixture
def operator(api: ApiClient, staff: dict[str, int]) -> ApiClient:
    return login(api, "operator")


@pytest.fixture
def researcher(app: Flask, staff: dict[str, int]) -> ApiClient:
    return login(ApiClient(app.test_client()), "researcher")


@pytest.fixture
def teacher(app: Flask, staff: dict[str, int]) -> ApiClient:
    return login(ApiClient(app.test_client()), "teacher")


def example(type_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    content, scoring = ITEM_TYPES[type_id].example()
    return copy.deepcopy(content), copy.deepcopy(scoring)


def make_item(type_id: str, key: str | None = None, **overrides: Any):
    content, scoring = example(type_id)
    fields: dict[str, Any] = {
        "key": key or f"ex-{type_id}",
        "item_type": type_id,
        "content": content,
        "scoring": scoring,
        "curriculum_codes": [CODE],
        "language": "ja",
        "actor": Actor(),
    }
    fields.update(overrides)
    return create_item(**fields)


@pytest.fixture
def every_type(app: Flask) -> dict[str, int]:
    """One item of each registered type; type id -> item version id."""
    ids = {type_id: make_item(type_id).id for type_id in ITEM_TYPES}
    db.session.commit()
    return ids
