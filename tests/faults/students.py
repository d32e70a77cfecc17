"""Simulated students: they log in and answer through the HTTP API exactly as the test player
(frontend/static/js/take_test.js) does, and keep a ledger of what the server acknowledged.

One answer keeps its idempotency key until the server acknowledges it: a lost connection, a
timeout or a 5xx is resent with the same key after a short pause (the page's retries; then the
student pressing Next again). ``already_answered`` drops the answer and reopens the session;
``session_taken_over`` reopens it on this device and resends the pending answer if its item is
still on screen, as the page does after a reload.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

# A resend waits a little longer each time, up to this; the whole answer gives up after
# RESEND_BUDGET seconds (a fault that lasts longer than that is a failed test, not a hang).
MAX_PAUSE = 1.0
RESEND_BUDGET = 90.0
REQUEST_TIMEOUT = 15.0


@dataclass(frozen=True)
class Ack:
    """One answer the server acknowledged: the student may forget it."""

    session_id: str
    key: str
    sequence: int
    replayed: bool


@dataclass
class Ledger:
    """Everything the students saw, shared by their threads."""

    acks: list[Ack] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # "POST responses 500 internal_error"
    lock: threading.Lock = field(default_factory=threading.Lock)
    progress: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.progress = threading.Condition(self.lock)

    def acknowledged(self, ack: Ack) -> None:
        with self.progress:
            self.acks.append(ack)
            self.progress.notify_all()

    def saw(self, what: str) -> None:
        with self.lock:
            self.statuses[what] += 1

    def wait_for(self, n_acks: int, timeout: float) -> bool:
        with self.progress:
            return self.progress.wait_for(lambda: len(self.acks) >= n_acks, timeout)


class Reply:
    def __init__(self, status: int, body: Any, headers: Any = None) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.headers = dict(headers or {})

    @property
    def code(self) -> str:
        return str((self.body.get("error") or {}).get("code", ""))


class Device:
    """One browser: its own cookie jar, CSRF token and device token."""

    def __init__(self, base_url: str, ledger: Ledger, name: str = "") -> None:
        self.base_url = base_url
        self.ledger = ledger
        self.name = name
        self.http = requests.Session()
        self.csrf = ""
        self.device_token = ""
        self.view: dict[str, Any] = {}

    def request(self, method: str, path: str, body: Any = None, label: str = "") -> Reply:
        """One attempt; a lost connection or timeout is status 0."""
        headers = {"Accept": "application/json", "X-Device-Token": self.device_token}
        if method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        try:
            response = self.http.request(
                method, self.base_url + path, json=body, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException:
            self.ledger.saw(f"{label or path} connection lost")
            return Reply(0, None)
        try:
            data = response.json()
        except ValueError:
            data = None
        reply = Reply(response.status_code, data, response.headers)
        self.ledger.saw(f"{label or path} {reply.status} {reply.code}".rstrip())
        if reply.status == 200 and reply.body.get("csrf_token"):
            self.csrf = reply.body["csrf_token"]
        return reply

    def until_answered(self, method: str, path: str, body: Any = None, label: str = "") -> Reply:
        """Repeat while the server is unreachable or failing (status 0 or 5xx) or busy."""
        deadline = time.monotonic() + RESEND_BUDGET
        pause = 0.05
        while True:
            reply = self.request(method, path, body, label)
            busy = reply.status == 409 and reply.code == "conflict"
            if not (reply.status == 0 or reply.status >= 500 or busy):
                return reply
            if time.monotonic() > deadline:
                raise AssertionError(f"{label or path}: no answer within {RESEND_BUDGET:.0f} s")
            time.sleep(pause)
            pause = min(MAX_PAUSE, pause * 2)

    def login(self, class_code: str, number: int, login_code: str) -> None:
        reply = self.until_answered("GET", "/api/v1/auth/csrf", label="GET csrf")
        self.csrf = reply.body["csrf_token"]
        reply = self.until_answered(
            "POST",
            "/api/v1/auth/student-login",
            {"class_code": class_code, "student_number": number, "login_code": login_code},
            label="POST login",
        )
        assert reply.status == 200, (reply.status, reply.body)

    def open(self, administration_id: int) -> dict[str, Any]:
        """Start or resume: this device now holds the session."""
        reply = self.until_answered(
            "POST", f"/api/v1/administrations/{administration_id}/sessions", label="POST sessions"
        )
        assert reply.status == 200, (reply.status, reply.body)
        self.device_token = reply.body["session"].get("device_token") or self.device_token
        self.view = reply.body
        return reply.body

    def refresh(self) -> dict[str, Any]:
        reply = self.until_answered(
            "GET", f"/api/v1/sessions/{self.view['session']['id']}", label="GET session"
        )
        assert reply.status == 200, (reply.status, reply.body)
        self.view = reply.body
        return reply.body

    def send(self, handle: str, response: dict[str, Any], key: str) -> Reply:
        """Send one answer until the server decides it (acknowledges it or refuses it)."""
        session_id = self.view["session"]["id"]
        reply = self.until_answered(
            "POST",
            f"/api/v1/sessions/{session_id}/responses",
            {"item": handle, "response": response, "idempotency_key": key},
            label="POST responses",
        )
        if reply.status == 200:
            accepted = reply.body["accepted"]
            self.ledger.acknowledged(
                Ack(session_id, key, int(accepted["sequence"]), bool(accepted["replayed"]))
            )
            self.view = reply.body
        return reply


def choose(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A single-choice answer, as the page's renderer would read it."""
    return {"choice": rng.choice([option["id"] for option in item["options"]])}


def sit(
    device: Device,
    administration_id: int,
    rng: random.Random,
    think: tuple[float, float] = (0.0, 0.05),
) -> None:
    """Answer until the test ends, recovering from every refusal the way the page does."""
    view = device.open(administration_id)
    while not view["finished"]:
        item = view["item"]
        pending = (item["handle"], choose(item, rng), uuid.uuid4().hex)
        time.sleep(rng.uniform(*think))
        view = _deliver(device, administration_id, pending)


def _deliver(device: Device, administration_id: int, pending: tuple[str, dict, str]) -> dict:
    handle, response, key = pending
    for _attempt in range(50):
        reply = device.send(handle, response, key)
        if reply.status == 200:
            return reply.body
        if reply.code == "session_taken_over":
            time.sleep(random.uniform(0.0, 0.1))  # a person reloading the page, not a loop
            view = device.open(administration_id)
            if view["finished"] or view["item"] is None or view["item"]["handle"] != handle:
                return view  # the other device moved on; this answer was never recorded
            continue  # the same item is still on screen: resend, same key
        if reply.code == "already_answered":
            return device.open(administration_id)
        if reply.code == "session_not_active":
            return device.refresh()
        raise AssertionError(f"unexpected reply {reply.status}: {reply.body}")
    raise AssertionError("the session kept being taken over")
