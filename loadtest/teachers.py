"""Teachers watching live progress: each polls the monitor of their class's test (locust).

    locust -f loadtest/locustfile.py,loadtest/teachers.py --host http://127.0.0.1:8000 \\
        --logins logins.csv --teachers teachers.csv --headless -u 220 -r 20 -t 10m

``teachers.csv`` is what ``cbt seed-load --teachers-out`` writes (one teacher per class, with
the administrations assigned to it). Each teacher logs in with e-mail and password and fetches
``GET /api/v1/administrations/<id>/monitor`` every ``--poll-seconds`` (10 s by default, what
the live-progress page does). Combined with locustfile.py, one simulated user in 31 is a
teacher (``Student.weight`` is set to 30 here).
"""

from __future__ import annotations

import csv
import itertools
import threading

import locustfile
from locust import HttpUser, constant_pacing, events, task
from locust.exception import StopUser

# Combined with locustfile.py: one teacher watching for every 30 students sitting.
locustfile.Student.weight = 30

_teachers: list[dict[str, str]] = []
_next_teacher = itertools.count()
_lock = threading.Lock()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--teachers", default="teachers.csv", help="cbt seed-load --teachers-out")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="monitor poll interval")


@events.test_start.add_listener
def _load_teachers(environment, **_) -> None:
    if type(environment.runner).__name__ == "MasterRunner":
        return
    with open(environment.parsed_options.teachers, newline="", encoding="utf-8") as handle:
        _teachers.extend(row for row in csv.DictReader(handle) if row["administration_ids"])


class Teacher(HttpUser):
    """Log in, then poll one administration's live progress."""

    weight = 1

    def wait_time(self) -> float:
        return constant_pacing(self.environment.parsed_options.poll_seconds)(self)

    def on_start(self) -> None:
        with _lock:
            index = next(_next_teacher)
        if index >= len(_teachers):
            raise StopUser()
        teacher = _teachers[index % len(_teachers)]
        csrf = self.client.get("/api/v1/auth/csrf", name="GET /auth/csrf").json()["csrf_token"]
        reply = self.client.post(
            "/api/v1/auth/staff-login",
            json={"email": teacher["email"], "password": teacher["password"]},
            headers={"X-CSRF-Token": csrf},
            name="POST /auth/staff-login",
        )
        if reply.status_code != 200:
            raise StopUser()
        self.administration = int(teacher["administration_ids"].split()[0])

    @task
    def poll(self) -> None:
        self.client.get(
            f"/api/v1/administrations/{self.administration}/monitor",
            name="GET /administrations/[id]/monitor",
        )
