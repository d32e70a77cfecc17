"""Students sitting a test, over HTTP only (locust).

Against a demo server (``cbt demo`` writes instance/demo-logins.csv; ``cbt seed-load`` writes
as many students as wanted in the same format)::

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 \
        --logins instance/demo-logins.csv --headless -u 50 -r 10 -t 2m

Each simulated student logs in with a class-issued code, starts (or resumes) the first open test
(or the one ``--administration-id`` names: a CAT or a linear administration), answers with a
think time (``--think-min`` to ``--think-max`` seconds, 20 to 40 by default, as in a real
sitting), resends an answer with the same idempotency key when the network fails, and logs out
at the end screen. A 429 or 503 with Retry-After (the waiting room at login and start, a
rate limit, an outage) is waited out as told, as the player does. Requests are named by route,
so locust's table shows the submit path ("POST /sessions/[id]/responses") on its own line.

The other scenarios are separate files to combine with this one (``-f a.py,b.py``):
loadtest/storm.py (a login storm) and loadtest/teachers.py (teachers polling live progress);
scripts/loadtest.sh runs them headless and distributed, with HTML and CSV reports.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import threading
import uuid

from locust import HttpUser, between, events, task
from locust.exception import StopUser

_logins: list[dict[str, str]] = []
_next_login = itertools.count()
_lock = threading.Lock()
TICKET_HEADER = "X-Admission-Ticket"  # cbt.admission.TICKET_HEADER; locust imports no app code


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--logins", default="instance/demo-logins.csv", help="demo-logins.csv")
    parser.add_argument("--think-min", type=float, default=20.0, help="seconds per answer, min")
    parser.add_argument("--think-max", type=float, default=40.0, help="seconds per answer, max")
    parser.add_argument(
        "--administration-id", type=int, default=0, help="the administration to sit (0: first open)"
    )


@events.test_start.add_listener
def _load_logins(environment, **_) -> None:
    if environment.runner is not None and type(environment.runner).__name__ == "MasterRunner":
        return  # the master runs no users
    with open(environment.parsed_options.logins, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Distributed runs: worker i of n (CBT_LOADTEST_SLICE="i/n", set by scripts/loadtest.sh)
    # takes every n-th student, so no two workers ever sign in as the same student.
    index, _, count = os.environ.get("CBT_LOADTEST_SLICE", "0/1").partition("/")
    _logins.extend(rows[int(index) :: int(count)])
    if not _logins:
        raise SystemExit("no logins in the file given with --logins")


def send(user: HttpUser, method: str, path: str, name: str, body=None, headers=None):
    """One request as the player sends it; the reply when it is 2xx, else the user stops.

    A 429 or 503 with Retry-After (the waiting room, a rate limit, an outage) is waited out as
    told and sent again with the waiting room's ticket, counted under "<name> (told to wait)"
    and not as a failure. A lost connection or another 5xx counts as a failure and is resent
    after a short pause: every write the player makes is idempotent (answers carry their
    idempotency key).
    """
    headers = dict(headers or {})
    for attempt in range(60):
        with user.client.request(
            method, path, json=body, headers=headers, name=name, catch_response=True
        ) as reply:
            if reply.status_code in (429, 503) and "Retry-After" in reply.headers:
                reply.success()  # admission control doing its job
                if TICKET_HEADER in reply.headers:  # keeps the place in line, as the player does
                    headers[TICKET_HEADER] = reply.headers[TICKET_HEADER]
                user.environment.events.request.fire(
                    request_type="WAIT",
                    name=f"{name} (told to wait)",
                    response_time=0,
                    response_length=0,
                    exception=None,
                    context={},
                )
                _pause(min(30.0, float(reply.headers["Retry-After"] or 1)))
                continue
            if reply.status_code == 0 or reply.status_code >= 500:
                reply.failure(f"{reply.status_code}: resending")
                _pause(min(8.0, 0.5 * 2**attempt))
                continue
            if not 200 <= reply.status_code < 300:
                reply.failure(f"{reply.status_code}: {reply.text[:200]}")
                raise StopUser()
            return reply
    raise StopUser()


def _pause(seconds: float) -> None:
    import gevent

    gevent.sleep(seconds)


class Student(HttpUser):
    """One student: log in, take the test to the end, log out."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        with _lock:
            index = next(_next_login)
        if index >= len(_logins):
            # Every student has had a turn. Never simulate one student twice at once: the
            # server would rightly treat the second as another device taking the test over.
            while True:
                self._sleep(60)
        login = _logins[index]
        self.think = (
            self.environment.parsed_options.think_min,
            self.environment.parsed_options.think_max,
        )
        csrf = send(self, "GET", "/api/v1/auth/csrf", "GET /auth/csrf").json()["csrf_token"]
        self.headers = {"X-CSRF-Token": csrf}
        body = {
            "class_code": login["class_code"],
            "student_number": int(login["student_number"]),
            "login_code": login["login_code"],
        }
        response = send(
            self,
            "POST",
            "/api/v1/auth/student-login",
            "POST /auth/student-login",
            body,
            self.headers,
        )
        self.headers["X-CSRF-Token"] = response.json()["csrf_token"]

    @task
    def take_test(self) -> None:
        tests = send(self, "GET", "/api/v1/me/administrations", "GET /me/administrations").json()
        open_tests = [
            t for t in tests["administrations"] if t["session_status"] in (None, "active", "paused")
        ]
        wanted = self.environment.parsed_options.administration_id
        if wanted:
            open_tests = [t for t in open_tests if t["administration_id"] == wanted]
        if not open_tests:
            raise StopUser()
        administration = open_tests[0]["administration_id"]
        view = send(
            self,
            "POST",
            f"/api/v1/administrations/{administration}/sessions",
            "POST /administrations/[id]/sessions",
            None,
            self.headers,
        ).json()
        headers = {**self.headers, "X-Device-Token": view["session"].get("device_token", "")}
        while not view["finished"] and view["item"]:
            self._sleep(random.uniform(*self.think))
            item = view["item"]
            body = {
                "item": item["handle"],
                "response": {"choice": random.choice(item["options"])["id"]},
                "idempotency_key": uuid.uuid4().hex,
            }
            view = send(  # a lost answer is resent with the same idempotency key
                self,
                "POST",
                f"/api/v1/sessions/{view['session']['id']}/responses",
                "POST /sessions/[id]/responses",
                body,
                headers,
            ).json()
        send(self, "POST", "/api/v1/auth/logout", "POST /auth/logout", None, self.headers)
        raise StopUser()

    def _sleep(self, seconds: float) -> None:
        _pause(seconds)
