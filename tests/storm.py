"""A login storm: many students log in and start at once through the waiting room.

Shared by the in-process test (tests/api/test_waiting_room.py), the Redis Cluster test
(tests/scale/) and benchmarks/bench_login_storm.py. Each student is one client that sends
its request again with its ticket while the reply is 429 ``waiting_room``; ``Storm`` records
every status, every ticket drawn and the order in which tickets were let in.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TICKET_HEADER = "X-Admission-Ticket"

# (method, path, json body, headers) -> (status, json body)
Send = Callable[[str, str, Any, dict[str, str]], tuple[int, Any]]


@dataclass
class Storm:
    """What the students saw, shared by their threads."""

    statuses: Counter = field(default_factory=Counter)
    admitted: list[tuple[str, int, float]] = field(default_factory=list)  # queue, ticket, when
    waited: Counter = field(default_factory=Counter)  # queue -> requests that drew a ticket
    lock: threading.Lock = field(default_factory=threading.Lock)

    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)

    def order_correlation(self, queue: str) -> float:
        """Spearman's rank correlation of ticket number and the moment each ticket got in.

        Tickets are granted strictly in order, but each holder comes back at its own next poll,
        so the moments a client sees are close to, not exactly, ticket order: 1 is perfect
        order, about 0 would be a lottery."""
        from scipy.stats import spearmanr

        pairs = [(ticket, when) for q, ticket, when in self.admitted if q == queue and ticket]
        if len(pairs) < 3:
            return 1.0
        tickets, moments = zip(*pairs, strict=True)
        return float(spearmanr(tickets, moments).statistic)

    def out_of_order(self, queue: str, slack: float) -> list[tuple[int, int]]:
        """Pairs of tickets where the later one got in more than ``slack`` s before the
        earlier one (a poll round's width: both were let in, the earlier asked later)."""
        times = sorted((ticket, when) for q, ticket, when in self.admitted if q == queue and ticket)
        late = []
        latest_earlier = float("-inf")
        previous = 0
        for ticket, when in times:
            if when + slack < latest_earlier:
                late.append((previous, ticket))
            if when > latest_earlier:
                latest_earlier, previous = when, ticket
        return late


def through_waiting_room(
    storm: Storm, send: Send, queue: str, method: str, path: str, body: Any, poll: float | None
) -> Any:
    """Send until let in; returns the reply body. ``poll``: seconds between tries (None: the
    server's Retry-After, as the pages do)."""
    ticket = ""
    number = 0
    while True:
        headers = {TICKET_HEADER: ticket} if ticket else {}
        sent = time.monotonic()  # the server decides first thing: this is when it let us in
        status, data = send(method, path, body, headers)
        with storm.lock:
            storm.statuses[status] += 1
        error = (data or {}).get("error") if isinstance(data, dict) else None
        if status == 429 and error and error.get("code") == "waiting_room":
            details = error["details"]
            if not ticket:
                with storm.lock:
                    storm.waited[queue] += 1
            ticket = details["ticket"]
            number = _ticket_number(ticket)
            time.sleep(poll if poll is not None else details["retry_after_seconds"])
            continue
        if status >= 500 or status == 0:
            time.sleep(0.5)  # counted as an error; the student tries again like the page
            continue
        with storm.lock:
            storm.admitted.append((queue, number, sent))
        return status, data


def _ticket_number(ticket: str) -> int:
    """The ticket's place number (the signed payload is readable, only not forgeable)."""
    import base64
    import json

    payload = ticket.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(data[1])


def storm_in_app(app: Any, school: Any, n_students: int, poll: float = 0.02) -> Storm:
    """Every student of ``school``'s class 1 logs in and starts at once, one thread each,
    through the Flask test client (``app`` runs the waiting room); polls every ``poll`` s."""
    from tests.helpers import ApiClient

    storm = Storm()
    failures: list[BaseException] = []

    def student(number: int) -> None:
        client = ApiClient(app.test_client())

        def send(method: str, path: str, body: Any, headers: dict[str, str]):
            reply = client.post(path, body, headers=headers)
            return reply.status_code, reply.get_json(silent=True)

        try:
            status, body = through_waiting_room(
                storm, send, "login", "POST", "/api/v1/auth/student-login",
                {"class_code": school.class_code, "student_number": number,
                 "login_code": school.student_codes[number]},
                poll,
            )  # fmt: skip
            assert status == 200, body
            status, body = through_waiting_room(
                storm, send, "start", "POST",
                f"/api/v1/administrations/{school.administration_id}/sessions", None, poll,
            )  # fmt: skip
            assert status == 200, body
            assert body["item"] is not None, body
        except BaseException as error:
            failures.append(error)

    # The first start publishes the form (a snapshot row): done once, by the other class's
    # student, before the storm, as an administration is opened before the bell rings.
    warm = ApiClient(app.test_client())

    def warm_send(method: str, path: str, body: Any, headers: dict[str, str]):
        reply = warm.post(path, body, headers=headers)
        return reply.status_code, reply.get_json(silent=True)

    login = {"class_code": school.other_class_code, "student_number": 1,
             "login_code": school.other_student_code}  # fmt: skip
    through_waiting_room(Storm(), warm_send, "login", "POST", "/api/v1/auth/student-login",
                         login, poll)  # fmt: skip
    through_waiting_room(Storm(), warm_send, "start", "POST",
                         f"/api/v1/administrations/{school.administration_id}/sessions", None,
                         poll)  # fmt: skip

    threads = [threading.Thread(target=student, args=(n,)) for n in range(1, n_students + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if failures:
        raise failures[0]
    return storm
