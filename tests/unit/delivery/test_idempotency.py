"""Resends: the same key and answer is a replay, the same key with another answer is refused,
and an answer that was committed is reported as recorded even if the state store then fails."""

from __future__ import annotations

import uuid

import pytest
import redis
from flask import Flask

from delivery.models import ItemResponse
from tests.helpers import ApiClient, SeededSchool, row_count, seed_school
from tests.unit.delivery.test_api import answer, start


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    return seed_school()


@pytest.fixture
def student(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    return api


def test_same_key_with_another_answer_is_409(student: ApiClient, school: SeededSchool) -> None:
    view = start(student, school)
    key = uuid.uuid4().hex
    assert answer(student, view, "A", key).status_code == 200
    same = answer(student, view, "A", key)
    assert same.status_code == 200
    assert same.get_json()["accepted"]["replayed"] is True
    other = answer(student, view, "B", key)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_conflict"
    assert row_count(ItemResponse) == 1


def test_same_key_with_another_answer_after_a_flush_is_409(
    student: ApiClient, school: SeededSchool, app: Flask
) -> None:
    view = start(student, school)
    key = uuid.uuid4().hex
    assert answer(student, view, "A", key).status_code == 200
    app.extensions["cbt.state"].clear()
    other = answer(student, view, "C", key)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_conflict"


def test_a_committed_answer_is_recorded_even_if_the_store_write_fails(
    student: ApiClient, school: SeededSchool, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis goes away between the commit and the cache write (a fault injected into our
    store adapter): the student is told the answer was recorded, and a resend replays it."""
    view = start(student, school)
    store = app.extensions["cbt.state"]

    def unreachable(ops):
        raise redis.exceptions.ConnectionError("Connection refused")

    key = uuid.uuid4().hex
    with monkeypatch.context() as patch:
        patch.setattr(store, "batch", unreachable)
        response = answer(student, view, "A", key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["accepted"] == {"sequence": 1, "replayed": False}
    assert row_count(ItemResponse) == 1
    again = answer(student, view, "A", key)  # the cache missed the write: the row decides
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["accepted"] == {"sequence": 1, "replayed": True}
    assert row_count(ItemResponse) == 1
    following = answer(student, again.get_json(), "B")
    assert following.status_code == 200
    assert row_count(ItemResponse) == 2
