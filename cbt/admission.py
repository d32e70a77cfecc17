"""The waiting room: admission control for the synchronised start (docs/scale.md).

When a whole country's bell rings at once, student logins and test starts are let through at
``CBT_ADMISSION_RATE`` per second (a token bucket with ``CBT_ADMISSION_BURST``, one per
queue), shared by every worker and node through the state store: one Lua script on one key in
Redis or Redis Cluster, the same step under a lock in process. Over the rate a request is not
an error page: the reply is 429 ``waiting_room`` with Retry-After and a signed ticket that
holds the student's place; the page shows the place and the wait and sends the request again
with the ticket (frontend/static/js/api.js), and tickets are let in strictly in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import Flask, current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from cbt.errors import DomainError, ErrorCode
from cbt.state import Admission, StateStore

TICKET_HEADER = "X-Admission-Ticket"
LOGIN, START = "login", "start"
QUEUES = (LOGIN, START)
# For @openapi(headers=...) on the routes behind the waiting room.
TICKET_HEADER_DOC = (
    (
        TICKET_HEADER,
        "The ticket of an earlier 429 waiting_room reply (its details.ticket): keeps the "
        "place in line. Without it a request joins the end of the line when one has formed.",
    ),
)
# A ticket holds its place this long; a student who comes back later draws a new one.
TICKET_MAX_AGE = 3600
# The queue's counters outlive a quiet hour (then a new queue, and a new epoch, begins).
QUEUE_TTL = 6 * 3600
# Polls are spread out for those far back in line, so waiting costs the store little.
MIN_POLL, MAX_POLL = 1, 15


@dataclass(frozen=True)
class Place:
    """Where one waiting request stands: what the reply and the page show."""

    queue: str
    ticket: str  # signed; opaque to the client
    position: int  # 1: next in line
    wait_seconds: int
    retry_after: int


class WaitingRoom:
    """Token buckets with first-come-first-served lines, one per queue (``login``, ``start``)."""

    def __init__(self, store: StateStore, rate: float, burst: int, secret: str) -> None:
        self.store = store
        self.rate = rate
        self.burst = burst
        self._tickets = URLSafeTimedSerializer(secret, salt="cbt.admission")

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _read(self, queue: str, raw: str | None) -> tuple[int, str]:
        """(ticket number, epoch) of a ticket for this queue; (0, "") when absent or forged."""
        if not raw:
            return 0, ""
        try:
            data = self._tickets.loads(raw, max_age=TICKET_MAX_AGE)
        except BadData:
            return 0, ""
        if not isinstance(data, list) or len(data) != 3 or data[0] != queue:
            return 0, ""
        number, epoch = data[1], data[2]
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            return 0, ""
        if not isinstance(epoch, str):
            return 0, ""
        return number, epoch

    def enter(self, queue: str, raw_ticket: str | None) -> Place | None:
        """None: go ahead. Otherwise the request waits at the returned place."""
        if not self.enabled:
            return None
        number, epoch = self._read(queue, raw_ticket)
        decision = self.store.admit(
            self.store.keys.admission(queue), self.rate, self.burst, number, epoch, QUEUE_TTL
        )
        if decision.admitted:
            return None
        return self._place(queue, decision)

    def _place(self, queue: str, decision: Admission) -> Place:
        position = max(1, decision.position)
        wait = math.ceil(position / self.rate)
        # the front of the line asks again soon; those far back poll at half their wait
        retry = max(MIN_POLL, min(MAX_POLL, math.ceil(wait / 2)))
        if position <= self.burst:
            retry = MIN_POLL
        ticket = self._tickets.dumps([queue, decision.ticket, decision.epoch])
        return Place(queue, ticket, position, wait, retry)

    def length(self, queue: str) -> int:
        """Tickets drawn and not yet let through (for monitoring): a read, not a step."""
        return self.store.admission_length(self.store.keys.admission(queue))


def waiting_room() -> WaitingRoom:
    return current_app.extensions["cbt.waiting_room"]


def admit_or_wait(queue: str) -> None:
    """Let this request through, or refuse it with its place in line (429, not an error page)."""
    place = waiting_room().enter(queue, request.headers.get(TICKET_HEADER))
    if place is None:
        return
    raise DomainError(
        "Many students are signing in at once. You are in line and will be let in "
        "automatically; keep this page open.",
        code=ErrorCode.WAITING_ROOM,
        status=429,
        details={
            "queue": place.queue,
            "ticket": place.ticket,
            "position": place.position,
            "wait_seconds": place.wait_seconds,
            "retry_after_seconds": place.retry_after,
        },
        headers={"Retry-After": str(place.retry_after), TICKET_HEADER: place.ticket},
    )


def init_admission(app: Flask) -> None:
    settings = app.extensions["cbt.settings"]
    app.extensions["cbt.waiting_room"] = WaitingRoom(
        app.extensions["cbt.state"],
        settings["ADMISSION_RATE"],
        settings["ADMISSION_BURST"],
        app.config["SECRET_KEY"],
    )
