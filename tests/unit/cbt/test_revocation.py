"""Logout on one worker ends the login on every worker within the refresh interval, and a
student's answers do not pay a state-store lookup each for it (cbt.security).

Two workers are two ``VerifiedCookieSessions`` over one app and one state store (Redis with
``CBT_TEST_REDIS_URL``, else the in-process twin); the clock is moved by hand.
"""

from __future__ import annotations

import time

import pytest
from flask import Flask
from itsdangerous import BadSignature

from cbt import security
from cbt.db import db
from cbt.models import Role
from cbt.security import VerifiedCookieSessions
from cbt.service import create_staff_user
from tests.helpers import ApiClient

PASSWORD = "staff-password-1"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(security, "time", clock)
    return clock


class Counting:
    """The app's store, counting the calls the revocation check makes."""

    def __init__(self, store) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def get(self, key: str):
        self.calls.append("get")
        return self.store.get(key)

    def log_read(self, key: str, after):
        self.calls.append("log_read")
        return self.store.log_read(key, after)


def _login(app: Flask, email: str = "t@revoke.example") -> tuple[ApiClient, str]:
    create_staff_user(email, "Teacher", Role.TEACHER, PASSWORD)
    db.session.commit()
    api = ApiClient(app.test_client())
    assert api.login_staff(email, PASSWORD).status_code == 200
    return api, api.client.get_cookie("cbt_session").value


def _me(app: Flask, worker: VerifiedCookieSessions, cookie: str) -> int:
    app.session_interface = worker
    client = app.test_client()
    client.set_cookie("cbt_session", cookie)
    return client.get("/api/v1/me").status_code


def test_logout_on_one_worker_ends_the_login_on_another_within_the_interval(
    app: Flask, clock: Clock
) -> None:
    worker_a = app.session_interface
    worker_b = VerifiedCookieSessions()
    api, cookie = _login(app)
    assert _me(app, worker_b, cookie) == 200  # worker B now holds the login as live
    app.session_interface = worker_a
    assert api.post("/api/v1/auth/logout").status_code == 200
    assert _me(app, worker_a, cookie) == 401  # the worker that logged out: at once
    clock.offset += VerifiedCookieSessions.refresh_seconds + 0.1
    assert _me(app, worker_b, cookie) == 401  # the other: by its next refresh
    # and a worker that never saw the login refuses it on its first look
    assert _me(app, VerifiedCookieSessions(), cookie) == 401


def test_ending_all_of_a_persons_logins_reaches_other_workers(app: Flask, clock: Clock) -> None:
    from cbt.auth import revoke_user_logins

    worker_b = VerifiedCookieSessions()
    _, cookie = _login(app)
    assert _me(app, worker_b, cookie) == 200
    with app.test_request_context():
        user_id = db.session.execute(db.text("SELECT id FROM users")).scalar_one()
        assert revoke_user_logins(user_id) == 1
    clock.offset += VerifiedCookieSessions.refresh_seconds + 0.1
    assert _me(app, worker_b, cookie) == 401


def test_answers_pay_one_log_read_per_interval_not_a_lookup_per_login(
    app: Flask, clock: Clock
) -> None:
    counting = Counting(app.extensions["cbt.state"])
    app.extensions["cbt.state"] = counting
    worker = VerifiedCookieSessions()
    cookies = [_login(app, f"t{i}@revoke.example")[1] for i in range(3)]
    for cookie in cookies:
        assert _me(app, worker, cookie) == 200
    assert counting.calls == ["log_read", "get", "get", "get"]  # each login looked up once
    counting.calls.clear()
    for _ in range(4):  # think time longer than the interval: still no lookup per login
        clock.offset += VerifiedCookieSessions.refresh_seconds + 0.1
        for cookie in cookies:
            assert _me(app, worker, cookie) == 200
    assert counting.calls == ["log_read"] * 4


def test_a_worker_that_missed_the_log_for_long_looks_every_login_up_again(
    app: Flask, clock: Clock
) -> None:
    counting = Counting(app.extensions["cbt.state"])
    app.extensions["cbt.state"] = counting
    worker = VerifiedCookieSessions()
    _, cookie = _login(app)
    assert _me(app, worker, cookie) == 200
    counting.calls.clear()
    clock.offset += VerifiedCookieSessions.log_keep_seconds  # the log may have been trimmed
    assert _me(app, worker, cookie) == 200
    assert counting.calls == ["log_read", "get"]


def test_the_log_reads_only_what_is_new(app: Flask) -> None:
    store = app.extensions["cbt.state"]
    key = store.keys.revocations()
    store.log_append(key, ["old"], 60)
    position, entries = store.log_read(key, None)
    assert entries == []
    store.log_append(key, ["a", "b"], 60)
    position, entries = store.log_read(key, position)
    assert entries == ["a", "b"]
    assert store.log_read(key, position) == (position, [])


def test_the_signing_serializer_is_built_once_per_secret(app: Flask) -> None:
    worker = VerifiedCookieSessions()
    first = worker.get_signing_serializer(app)
    assert worker.get_signing_serializer(app) is first
    old_secret = app.secret_key
    app.config["SECRET_KEY"] = "another-secret-key-0123456789abcdef"
    try:
        other = worker.get_signing_serializer(app)
        assert other is not first
        # a cookie signed under the old secret is not accepted under the new one
        assert other.loads(other.dumps({"a": 1})) == {"a": 1}
        with pytest.raises(BadSignature):
            other.loads(first.dumps({"a": 1}))
    finally:
        app.config["SECRET_KEY"] = old_secret


def test_a_logout_read_from_the_log_during_a_first_lookup_is_not_lost(
    app: Flask, clock: Clock
) -> None:
    """The lookup of a login this worker has not seen races a logout and a refresh of the log
    by another thread: the refresh finds nothing to forget, so the lookup must not cache the
    login as live afterwards."""
    worker = VerifiedCookieSessions()
    _, cookie = _login(app)
    store = app.extensions["cbt.state"]
    racing = Counting(store)
    assert _me(app, VerifiedCookieSessions(), cookie) == 200  # log position known to the store
    worker._refresh(store, security.time.time())  # this worker's log position: before the end

    def get_then_race(key: str):
        value = store.get(key)  # not ended yet at this moment
        with app.test_request_context():
            from flask import session

            app.session_interface = worker
            session.update({"sid": key.rsplit(":", 1)[1], "exp": int(clock.time()) + 600})
            security.revoke_login_session()
        clock.offset += VerifiedCookieSessions.refresh_seconds + 0.1
        worker._refresh(store, clock.time())  # another thread reads the end from the log
        return value

    racing.get = get_then_race  # type: ignore[method-assign]
    app.extensions["cbt.state"] = racing
    assert _me(app, worker, cookie) == 200  # the lookup itself answered "live"...
    app.extensions["cbt.state"] = store
    assert _me(app, worker, cookie) == 401  # ...but did not cache it: refused from now on
