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
