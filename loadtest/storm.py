"""A login storm: every simulated student logs in and starts the test once, then waits (locust).

    locust -f loadtest/storm.py --host http://127.0.0.1:8000 --logins logins.csv \\
        --headless -u 5000 -r 1000 -t 60s      # 5,000 students arriving within 5 s

``-u`` students arrive at ``-r`` a second (N students in T seconds: ``-u N -r N/T``). Each
fetches a CSRF token, logs in, lists its tests and starts (or resumes) the first open one, as
the player does when the bell rings, and then stays signed in without further requests.
Failures are any non-2xx reply; a 429 or 503 with Retry-After (the waiting room or an outage)
is waited out and retried, as the player does, and counted under its own name.
"""

from __future__ import annotations

import time

from locust import HttpUser, constant, task
from locust.exception import StopUser
from locustfile import _lock, _logins, _next_login, send  # --logins, the CSV, waiting


class StormStudent(HttpUser):
    """Log in and start, once."""

    wait_time = constant(3600)

    def on_start(self) -> None:
        with _lock:
            index = next(_next_login)
        if index >= len(_logins):
            raise StopUser()  # never the same student twice
        login = _logins[index]
        started = time.monotonic()
        csrf = self._send("GET", "/api/v1/auth/csrf", "GET /auth/csrf").json()["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        body = {
            "class_code": login["class_code"],
            "student_number": int(login["student_number"]),
            "login_code": login["login_code"],
        }
        reply = self._send(
            "POST", "/api/v1/auth/student-login", "POST /auth/student-login", body, headers
        )
        headers["X-CSRF-Token"] = reply.json()["csrf_token"]
        listed = self._send("GET", "/api/v1/me/administrations", "GET /me/administrations")
        open_tests = [
            t
            for t in listed.json()["administrations"]
            if t["session_status"] in (None, "active", "paused")
        ]
        if not open_tests:
            raise StopUser()
        administration = open_tests[0]["administration_id"]
        self._send(
            "POST",
            f"/api/v1/administrations/{administration}/sessions",
            "POST /administrations/[id]/sessions",
            None,
            headers,
        )
        self.environment.events.request.fire(
            request_type="STORM",
            name="login to first item",
            response_time=(time.monotonic() - started) * 1000,
            response_length=0,
            exception=None,
            context={},
        )

    def _send(self, method: str, path: str, name: str, body=None, headers=None):
        return send(self, method, path, name, body, headers)

    @task
    def stay(self) -> None:
        """Signed in, sitting: no more requests in this scenario."""
