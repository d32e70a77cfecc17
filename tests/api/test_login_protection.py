"""Login protection: failures counted per account and per address, a lock a teacher can lift,
a school behind one NAT, trusted proxies, Retry-After on every 429."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from cbt.config import SETTINGS
from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from tests.conftest import TEST_REDIS_URL
from tests.helpers import TEACHER_PASSWORD, ApiClient, seed_school

DEFAULTS = {s.name: s.default for s in SETTINGS}


@pytest.fixture
def app_config() -> dict[str, Any]:
    # The shipped limits, not the test suite's generous one.
    return {
        "LOGIN_RATE_LIMIT": DEFAULTS["LOGIN_RATE_LIMIT"],
        "ACCOUNT_LOGIN_LIMIT": DEFAULTS["ACCOUNT_LOGIN_LIMIT"],
    }


def _client(app: Flask, address: str = "203.0.113.7", **environ: str) -> ApiClient:
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, **environ})
    return ApiClient(client)


def _is_429(response) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


def test_a_class_of_40_logs_in_within_a_minute_from_one_address(app: Flask) -> None:
    school = seed_school(n_items=4, n_students=40)
    db.session.commit()
    statuses = []
    for number, code in school.student_codes.items():
        if number % 8 == 0:  # a few typos along the way
            _client(app).login_student(school.class_code, number, "WRONG-CODE-0000")
        statuses.append(_client(app).login_student(school.class_code, number, code).status_code)
    assert statuses == [200] * 40


def test_an_account_locks_after_repeated_failures_and_a_teacher_lifts_it(app: Flask) -> None:
    school = seed_school(n_items=4, n_students=2)
    db.session.commit()
    limit = int(DEFAULTS["ACCOUNT_LOGIN_LIMIT"].split()[0])
    guesser = _client(app, "198.51.100.1")
    for _ in range(limit):
        assert guesser.login_student(school.class_code, 1, "GUESS-GUES-GUES").status_code == 401
    # Locked: even the right code, even from another address.
    _is_429(_client(app).login_student(school.class_code, 1, school.student_codes[1]))
    # Other students are not affected.
    assert (
        _client(app).login_student(school.class_code, 2, school.student_codes[2]).status_code == 200
    )

    other = _client(app)
    assert other.login_staff(school.other_teacher_email, TEACHER_PASSWORD).status_code == 200
    body = {"class_code": school.class_code.lower(), "student_number": 1}
    assert other.post("/api/v1/auth/unlock", body).status_code == 403
    teacher = _client(app)
    assert teacher.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    assert teacher.post("/api/v1/auth/unlock", body).status_code == 200
    assert (
        _client(app).login_student(school.class_code, 1, school.student_codes[1]).status_code == 200
    )


def test_a_staff_account_locks_and_an_operator_lifts_it(app: Flask) -> None:
    school = seed_school(n_items=4, n_students=1)
    create_staff_user("op@lock.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    limit = int(DEFAULTS["ACCOUNT_LOGIN_LIMIT"].split()[0])
    for n in range(limit):
        _client(app, f"192.0.2.{n}").login_staff(school.teacher_email, "wrong-password")
    _is_429(_client(app).login_staff(school.teacher_email, TEACHER_PASSWORD))
    operator = _client(app)
    assert operator.login_staff("op@lock.example", TEACHER_PASSWORD).status_code == 200
    reply = operator.post("/api/v1/auth/unlock", {"email": school.teacher_email.upper()})
    assert reply.status_code == 200, reply.get_json()
    assert _client(app).login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "app_config", [{"LOGIN_RATE_LIMIT": "3 per minute", "TRUSTED_PROXY_HOPS": 1}]
)
def test_behind_a_trusted_proxy_each_client_has_its_own_address_budget(app: Flask) -> None:
    proxy = "10.0.0.1"
    first = _client(app, proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")
    for n in range(3):
        assert first.login_staff(f"nobody{n}@x.example", "wrong-password").status_code == 401
    _is_429(first.login_staff("nobody9@x.example", "wrong-password"))
    second = _client(app, proxy, HTTP_X_FORWARDED_FOR="203.0.113.11")
    assert second.login_staff("nobody9@x.example", "wrong-password").status_code == 401


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_without_trusted_proxies_forwarded_headers_are_ignored(app: Flask) -> None:
    for n in range(3):
        spoofed = _client(app, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert spoofed.login_staff(f"nobody{n}@x.example", "wrong-password").status_code == 401
    _is_429(_client(app, HTTP_X_FORWARDED_FOR="203.0.113.99").login_staff("a@x.example", "pw"))


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs CBT_TEST_REDIS_URL")
def test_limit_state_lives_in_redis(app: Flask) -> None:
    import redis

    _client(app).login_staff("nobody@x.example", "wrong-password")
    prefix = app.extensions["cbt.state"].keys.rate_limit_prefix()
    found = list(redis.Redis.from_url(TEST_REDIS_URL).scan_iter(match=f"*{prefix}*"))
    assert found
