"""Delivery services: start or resume, answer, finish, and the proctor's controls. Plain values in
and out; they flush, the request boundary commits.

The submit path reads hot state with one store round trip, scores from the in-memory compiled
test, moves theta in O(nodes), selects the next item in one vectorised pass, writes the response
and the session row (two Core statements; on PostgreSQL one, which commits by itself when it is
the request's only write), and refreshes the store only after the commit.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc, on_commit, transaction_list
from cbt.errors import Conflict, DomainError, ErrorCode, NotFound, ValidationError
from cbt.models import Classroom, Enrollment, Role, User
from cbt.signals import parameter_set_published, pool_changed
from cbt.state import StateStore
from delivery import engine
from delivery.engine import BankItem, CompiledTest, SessionState
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    FormSnapshot,
    ItemResponse,
    Result,
    SessionStatus,
    TestDefinition,
)
from delivery.schemas import CatSectionSpec, SpecError, TestSpec
from item_bank.models import ParameterSet
from item_bank.service import (
    PoolItem,
    is_published,
    load_items,
    load_pool_items,
    pool_enemy_pairs,
    score_response,
    student_view,
)

_log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 64
MAX_EXTRA_SECONDS = 4 * 3600
_LIVE = (SessionStatus.ACTIVE, SessionStatus.PAUSED)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class ExposureCounters:
    """How often each item of a test was presented, shared by every worker via the state store.

    Counted by item version (so every published form of a test shares them) per test
    definition. Increments go to the store after commit; each process reads a snapshot of the
    rates at most every ``refresh_seconds`` (one round trip), so the hot path does not wait on
    the counters. The database is the record: a hash without its ``counted`` mark (Redis
    flushed, restarted or never filled) is rebuilt from the sessions and responses first.
    """

    _MARK = "counted"

    def __init__(self, store: StateStore, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._snapshots: dict[tuple[int, int | None], tuple[float, np.ndarray]] = {}

    def _key(self, test_definition_id: int) -> str:
        return f"{self.store.keys.exposure_counts(test_definition_id)}:by-version"

    def rates(self, test: CompiledTest) -> np.ndarray:
        cache_key = (test.test_definition_id, test.snapshot_id)
        cached = self._snapshots.get(cache_key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1]
        fields = self.snapshot(test.test_definition_id, test)
        counts = np.zeros(test.n_operational)
        for position in range(test.n_operational):
            counts[position] = fields.get(str(int(test.item_version_ids[position])), 0)
        rates = counts / max(1, fields.get("sessions", 0))
        self._snapshots[cache_key] = (now, rates)
        return rates

    def count_session(self, test_definition_id: int) -> None:
        store_after_commit(self.store, ("incr", self._key(test_definition_id), "sessions", 1))

    def count_presentation(self, test_definition_id: int, item_version_id: int) -> None:
        store_after_commit(
            self.store, ("incr", self._key(test_definition_id), str(item_version_id), 1)
        )

    def snapshot(self, test_definition_id: int, test: CompiledTest | None = None) -> dict[str, int]:
        """The counts (``sessions`` and one per item version id), rebuilt first if lost."""
        key = self._key(test_definition_id)
        fields = self.store.get_fields(key)
        if fields.get(self._MARK):
            return fields
        if test is None:
            return self.rebuild(test_definition_id, sections=None, current=fields)
        counted = {
            index
            for index, section in enumerate(test.sections)
            if isinstance(section.spec, CatSectionSpec)
            and section.spec.max_exposure_rate is not None
        }
        return self.rebuild(test_definition_id, sections=counted, current=fields)

    def rebuild(
        self, test_definition_id: int, *, sections: set[int] | None, current: dict[str, int]
    ) -> dict[str, int]:
        """Counts from the database: every session of the test, and every presentation in an
        exposure-controlled section (answered, or on screen now). Written back as the
        difference from what the store holds, so increments that raced the flush stay."""
        truth = exposure_from_database(test_definition_id, sections)
        lock = f"{self._key(test_definition_id)}:rebuild"
        if self.store.acquire_lock(lock, 10.0):
            try:
                ops = [
                    ("incr", self._key(test_definition_id), name, value - current.get(name, 0))
                    for name, value in truth.items()
                ]
                ops.append(("incr", self._key(test_definition_id), self._MARK, 1))
                self.store.batch(ops)
            finally:
                self.store.release_lock(lock)
        return {**truth, self._MARK: 1}


def exposure_from_database(test_definition_id: int, sections: set[int] | None) -> dict[str, int]:
    """``sessions`` and presentations per item version, for one test, from the durable rows."""
    sessions = select(ExamSession.id).where(
        ExamSession.administration_id.in_(
            select(Administration.id).where(Administration.test_definition_id == test_definition_id)
        )
    )
    counts: dict[str, int] = {
        "sessions": db.session.scalar(select(func.count()).select_from(sessions.subquery())) or 0
    }
    answered = (
        select(ItemResponse.item_version_id, func.count())
        .where(ItemResponse.exam_session_id.in_(sessions), ItemResponse.is_operational)
        .group_by(ItemResponse.item_version_id)
    )
    on_screen = (
        select(ExamSession.current_item_version_id, func.count())
        .where(
            ExamSession.id.in_(sessions),
            ExamSession.status.in_(_LIVE),
            ExamSession.current_item_version_id.is_not(None),
        )
        .group_by(ExamSession.current_item_version_id)
    )
    if sections is not None:
        answered = answered.where(ItemResponse.section_index.in_(sections))
        on_screen = on_screen.where(ExamSession.section_index.in_(sections))
    for query in (answered, on_screen):
        for version_id, count in db.session.execute(query):
            counts[str(version_id)] = counts.get(str(version_id), 0) + count
    return counts


class DeliveryService:
    """Per-app delivery service: the compiled-test cache, exposure counters and the state store."""

    def __init__(self, store: StateStore, secret_key: str, state_ttl_seconds: int) -> None:
        self.store = store
        self.exposure = ExposureCounters(store)
        self._handle_key = hashlib.sha256(b"item-handle:" + secret_key.encode()).digest()
        self._state_ttl = state_ttl_seconds
        self._tests: dict[int, CompiledTest] = {}
        self._forms: dict[int, CompiledTest] = {}
        self._tests_lock = threading.Lock()
        # Compiled definitions (what simulations run on) follow the pool and its parameters;
        # published forms never do.
        pool_changed.connect(self._on_bank_change)
        parameter_set_published.connect(self._on_bank_change)

    # -- compiled tests (the in-memory key cache) --------------------------------------------

    def compiled_test(self, test_definition_id: int) -> CompiledTest:
        """A definition compiled on its pool as it is now (simulations; never a sitting)."""
        test = self._tests.get(test_definition_id)
        if test is not None:
            return test
        with self._tests_lock:
            test = self._tests.get(test_definition_id)
            if test is None:
                test = compile_definition(test_definition_id)
                self._tests[test_definition_id] = test
        return test

    def form_test(self, snapshot_id: int) -> CompiledTest:
        """A published form, compiled once per process (it never changes, so neither does
        any position in it: every worker, now or after a restart, builds the same arrays)."""
        test = self._forms.get(snapshot_id)
        if test is not None:
            return test
        with self._tests_lock:
            test = self._forms.get(snapshot_id)
            if test is None:
                test = compile_snapshot(snapshot_id)
                self._forms[snapshot_id] = test
        return test

    def forget_compiled(self, test_definition_id: int | None = None) -> None:
        """Drop compiled definitions (all, or one) so the next simulation sees the pool as it
        is now. Published forms stay: they cannot change."""
        with self._tests_lock:
            if test_definition_id is None:
                self._tests.clear()
            else:
                self._tests.pop(test_definition_id, None)

    def _on_bank_change(self, sender: Any, **_: Any) -> None:
        self.forget_compiled()

    def session_test(self, state: SessionState) -> CompiledTest:
        """The published form a sitting runs on (a sitting older than forms gets its
        administration's first form, which is then recorded on its row)."""
        if state.snapshot_id is None:
            state.snapshot_id = self._attach_form(state.session_id, state.administration_id)
        return self.form_test(state.snapshot_id)

    def _attach_form(self, session_id: str, administration_id: int) -> int:
        snapshot_id = db.session.scalar(
            select(ExamSession.snapshot_id).where(ExamSession.id == session_id)
        )
        if snapshot_id is None:
            snapshot_id = ensure_snapshot(administration_id).id
            db.session.execute(
                update(ExamSession)
                .where(ExamSession.id == session_id, ExamSession.snapshot_id.is_(None))
                .values(snapshot_id=snapshot_id)
            )
        return snapshot_id

    def item_handle(self, session_id: str, item_version_id: int) -> str:
        """An opaque per-session name for an item, so no internal id reaches the browser."""
        message = f"{session_id}:{item_version_id}".encode()
        return hmac.new(self._handle_key, message, hashlib.sha256).hexdigest()[:20]

    def _rates(self, test: CompiledTest) -> Callable[[int], np.ndarray | None]:
        def rates(section_index: int) -> np.ndarray | None:
            spec = test.sections[section_index].spec
            if isinstance(spec, CatSectionSpec) and spec.max_exposure_rate is not None:
                return self.exposure.rates(test)
            return None

        return rates

    # -- listing ------------------------------------------------------------------------------

    def list_student_administrations(self, student_id: int, now: datetime) -> list[dict[str, Any]]:
        """Administrations open now for the student's classrooms, with the student's progress."""
        rows = db.session.execute(
            select(Administration, TestDefinition)
            .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
            .where(
                Administration.status == AdministrationStatus.OPEN,
                Administration.id.in_(_assigned_administrations(student_id)),
            )
            .order_by(Administration.id)
        ).all()
        sessions = {
            row.administration_id: row
            for row in db.session.execute(
                select(ExamSession.administration_id, ExamSession.status, ExamSession.n_answered)
                .where(
                    ExamSession.student_id == student_id,
                    ExamSession.status != SessionStatus.RESET,
                )
                .order_by(ExamSession.started_at)
            )
        }
        listed = []
        for administration, definition in rows:
            if not _window_open(administration, now):
                continue
            spec = TestSpec.from_dict(definition.settings)
            limits = [s.time_limit_seconds for s in spec.sections]
            session = sessions.get(administration.id)
            listed.append(
                {
                    "administration_id": administration.id,
                    "name": administration.name,
                    "title": definition.title,
                    "mode": definition.mode,
                    "max_items": spec.max_items,
                    "n_sections": len(spec.sections),
                    "time_limit_seconds": sum(limits) if all(limits) else None,
                    "closes_at": iso_utc(administration.closes_at),
                    "session_status": session.status if session else None,
                    "n_answered": session.n_answered if session else 0,
                }
            )
        return listed

    # -- start and resume ---------------------------------------------------------------------

    def start_session(self, student_id: int, administration_id: int, now: datetime) -> dict:
        """Start the student's session, or resume the live one exactly where it was.

        Every call hands out a new device token: the device that calls last holds the session,
        and any other device gets 409 ``session_taken_over`` on its next request.
        """
        administration = db.session.get(Administration, administration_id)
        if administration is None or not _student_assigned(student_id, administration_id):
            raise NotFound(
                "No such test for you.", details={"administration_id": administration_id}
            )
        existing = db.session.execute(
            select(ExamSession)
            .where(
                ExamSession.administration_id == administration_id,
                ExamSession.student_id == student_id,
                ExamSession.status != SessionStatus.RESET,
            )
            .order_by(ExamSession.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if existing is not None:
            return self._resume(existing.id, now)
        if administration.status != AdministrationStatus.OPEN or not _window_open(
            administration, now
        ):
            raise DomainError(
                "This test is not open now.",
                code=ErrorCode.ADMINISTRATION_NOT_OPEN,
                status=409,
                details={"administration_id": administration_id},
            )
        snapshot = ensure_snapshot(administration_id)
        test = self.form_test(snapshot.id)
        student = db.session.get(User, student_id)
        assert student is not None
        state = SessionState(
            session_id=uuid.uuid4().hex,
            student_id=student_id,
            administration_id=administration_id,
            test_definition_id=test.test_definition_id,
            status=SessionStatus.ACTIVE,
            seed=secrets.randbits(62),
            snapshot_id=snapshot.id,
            device_token=secrets.token_urlsafe(16),
            time_factor=float(student.extra_time_factor or 1.0),
        )
        engine.start(test, state, now.timestamp(), self._rates(test))
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(ExamSession).values(
                        id=state.session_id,
                        administration_id=administration_id,
                        student_id=student_id,
                        status=state.status,
                        seed=state.seed,
                        snapshot_id=snapshot.id,
                        engine_settings=test.settings,
                        state=engine.state_to_row(test, state),
                        revision=0,
                        started_at=now,
                        updated_at=now,
                        **self._row_values(test, state),
                    )
                )
        except IntegrityError:
            # Another device started the same session a moment ago: resume that one.
            return self.start_session(student_id, administration_id, now)
        self.exposure.count_session(test.test_definition_id)
        self._count_presentation(test, state)
        self._cache_on_commit(test, state, revision=0)
        return self._view(test, state, now, include_token=True)

    def _resume(self, session_id: str, now: datetime) -> dict:
        state = self._load_state(session_id)
        for _attempt in range(3):
            test = self.session_test(state)
            if state.status not in _LIVE:
                return self._view(test, state, now)
            self._apply_clock(test, state, now)
            if state.status in _LIVE:
                state.device_token = secrets.token_urlsafe(16)
            try:
                self._persist(test, state, now)
            except _StaleState:
                # Another device resumed at the same moment: take over from where it left it.
                state = self._read_row_state(session_id)
                continue
            return self._view(test, state, now, include_token=state.status in _LIVE)
        raise Conflict("The session is busy; try again.", details={"session_id": session_id})

    def get_session(
        self, student_id: int, session_id: str, device_token: str, now: datetime
    ) -> dict:
        def read(state: SessionState) -> dict:
            test = self.session_test(state)
            if state.status in _LIVE:
                self._check_device(state, device_token)
                if self._apply_clock(test, state, now):
                    self._persist(test, state, now)
            return self._view(test, state, now)

        return self._on_fresh_state(self._owned_state(student_id, session_id), read)

    # -- submit -------------------------------------------------------------------------------

    def record_response(
        self,
        student_id: int,
        session_id: str,
        device_token: str,
        item_handle: str,
        response: Any,
        idempotency_key: str,
        now: datetime,
    ) -> dict:
        """Score and durably record one answer, then present the next item or finish.

        A repeat with the same idempotency key returns the first outcome and writes nothing.
        """
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise ValidationError(
                f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
                details={"field": "idempotency_key"},
            )

        def submit(state: SessionState) -> dict:
            test = self.session_test(state)
            if idempotency_key not in state.idempotency_keys and self._time_ran_out(
                test, state, now
            ):
                # The section (or the test) ended before this answer: record that, and refuse
                # the answer.
                self._check_device(state, device_token)
                self._apply_clock(test, state, now)
                self._persist(test, state, now)
                raise DomainError(
                    "Time is up for this part of the test; the answer was not recorded.",
                    code=ErrorCode.TIME_EXPIRED,
                    status=409,
                    commit=True,
                )
            outcome = self._replay_or_reject(
                test, state, device_token, item_handle, idempotency_key, now, response
            )
            if outcome is not None:
                return outcome
            return self._accept(test, state, response, idempotency_key, now)

        return self._on_fresh_state(self._owned_state(student_id, session_id), submit)

    def _on_fresh_state(self, state: SessionState, action: Callable[[SessionState], dict]) -> dict:
        """Run ``action`` on the cached state; if it refuses or finds the row moved on, run it
        once more on the state read from the row.

        The cache may lag the row by a moment (it is written behind the reply, and another
        request may have just won a race). Decisions that refuse or fail the revision guard are
        therefore taken again on the truth; the common path costs no database read.
        """
        try:
            return action(state)
        except DomainError as error:
            if error.commit:
                raise  # a decision already recorded (time ran out) stands
            session_id = state.session_id
        return action(self._read_row_state(session_id))

    def _accept(
        self,
        test: CompiledTest,
        state: SessionState,
        response: Any,
        idempotency_key: str,
        now: datetime,
    ) -> dict:
        index = state.current
        assert index is not None
        score = score_response(
            test.item_types[index], test.contents[index], test.scorings[index], response
        )
        presented_at = _from_epoch(state.presented_at) or now
        operational = state.current_operational
        selection = dict(state.current_selection)
        if "exposure_blocked" in selection:  # recorded by item version, like everything else
            selection["exposure_blocked_ids"] = [
                int(test.item_version_ids[i]) for i in selection.pop("exposure_blocked")
            ]
        presentation = {"option_order": engine.option_order(test, state, index)}
        section_index = state.section_index
        engine.record_answer(test, state, engine.irt_category(test, index, score), idempotency_key)
        engine.choose_next(test, state, now.timestamp(), self._rates(test))
        sequence = state.n_answered
        posterior = state.posterior(test)
        item_version_id = int(test.item_version_ids[index])
        if state.current is None:
            self._finish(test, state)
        self._persist(
            test,
            state,
            now,
            response={
                "exam_session_id": state.session_id,
                "sequence": sequence,
                "item_version_id": item_version_id,
                "idempotency_key": idempotency_key,
                "section_index": section_index,
                "is_operational": operational,
                "response": response,
                "presentation": presentation,
                "selection": selection,
                "score": score,
                "is_correct": bool(score >= test.max_scores[index]),
                "presented_at": presented_at,
                "answered_at": now,
                "time_taken_ms": max(0, int((now - presented_at).total_seconds() * 1000)),
                "theta_after": float(posterior.theta),
                "se_after": float(posterior.se),
            },
        )
        self._count_presentation(test, state)
        return self._view(test, state, now, accepted_sequence=sequence)

    def _replay_or_reject(
        self,
        test: CompiledTest,
        state: SessionState,
        device_token: str,
        item_handle: str,
        idempotency_key: str,
        now: datetime,
        response: Any = None,
    ) -> dict | None:
        """None for a new, acceptable answer; the first outcome for a repeat; otherwise raise."""
        if idempotency_key in state.idempotency_keys:
            sequence = state.idempotency_keys.index(idempotency_key) + 1
            answered = int(test.item_version_ids[state.items[sequence - 1]])
            if self.item_handle(state.session_id, answered) != item_handle:
                raise DomainError(
                    "This idempotency key was already used for another item.",
                    code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    status=409,
                    details={"idempotency_key": idempotency_key},
                )
            # A resend must carry the answer it first carried (a repeat is rare: one read).
            recorded = db.session.scalar(
                select(ItemResponse.response).where(
                    ItemResponse.exam_session_id == state.session_id,
                    ItemResponse.idempotency_key == idempotency_key,
                )
            )
            if recorded is not None and recorded != response:
                raise DomainError(
                    "This idempotency key was already used with a different answer.",
                    code=ErrorCode.IDEMPOTENCY_KEY_CONFLICT,
                    status=409,
                    details={"idempotency_key": idempotency_key},
                )
            return self._view(test, state, now, accepted_sequence=sequence, replayed=True)
        if state.status in _LIVE:
            self._check_device(state, device_token)
        if state.status == SessionStatus.PAUSED:
            raise DomainError(
                "Your teacher has paused this test. Wait until it is resumed.",
                code=ErrorCode.SESSION_PAUSED,
                status=409,
            )
        if state.status != SessionStatus.ACTIVE:
            if item_handle in {self._handle_of(test, state, i) for i in state.timed_out}:
                raise DomainError(
                    "Time is up for this test; the answer was not recorded.",
                    code=ErrorCode.TIME_EXPIRED,
                    status=409,
                )
            raise DomainError(
                "This test has ended; no more answers are accepted.",
                code=ErrorCode.SESSION_NOT_ACTIVE,
                status=409,
                details={"status": state.status},
            )
        current = state.current
        if current is not None and item_handle == self._handle_of(test, state, current):
            return None  # the item on screen: the common case, decided with one HMAC
        deadline = state.section_deadline
        timed_out = {self._handle_of(test, state, i) for i in state.timed_out}
        if item_handle in timed_out or (deadline is not None and now.timestamp() >= deadline):
            raise DomainError(
                "Time is up for this part of the test; the answer was not recorded.",
                code=ErrorCode.TIME_EXPIRED,
                status=409,
                details={"deadline_at": iso_utc(_from_epoch(deadline))},
            )
        if item_handle in {self._handle_of(test, state, i) for i in state.items}:
            raise DomainError(
                "This item was already answered; an answer cannot be changed.",
                code=ErrorCode.ALREADY_ANSWERED,
                status=409,
                details={"item": item_handle},
            )
        raise DomainError(
            "That item is not the one presented in this session.",
            code=ErrorCode.ITEM_NOT_PRESENTED,
            status=409,
            details={"item": item_handle},
        )

    def _handle_of(self, test: CompiledTest, state: SessionState, index: int) -> str:
        return self.item_handle(state.session_id, int(test.item_version_ids[index]))

    def _check_device(self, state: SessionState, device_token: str) -> None:
        if not device_token or not hmac.compare_digest(device_token, state.device_token):
            raise DomainError(
                "This test was opened on another device. Continue there, or open it again here.",
                code=ErrorCode.SESSION_TAKEN_OVER,
                status=409,
            )

    # -- time -----------------------------------------------------------------------------------

    @staticmethod
    def _time_ran_out(test: CompiledTest, state: SessionState, now: datetime) -> bool:
        return (
            state.status == SessionStatus.ACTIVE
            and state.section_deadline is not None
            and now.timestamp() >= state.section_deadline
        )

    def _apply_clock(self, test: CompiledTest, state: SessionState, now: datetime) -> bool:
        changed = False
        while (
            state.status == SessionStatus.ACTIVE
            and state.section_deadline is not None
            and now.timestamp() >= state.section_deadline
        ):
            engine.expire_section(test, state, state.section_deadline, self._rates(test))
            if state.current is None:
                self._finish(test, state)
            else:
                self._count_presentation(test, state)
            changed = True
        return changed

    # -- finishing ------------------------------------------------------------------------------

    def _finish(self, test: CompiledTest, state: SessionState) -> None:
        """End the session: its result is computed now and recorded by the next ``_persist``."""
        expired = state.finish_reason in {"time_expired", "administration_closed"}
        state.status = SessionStatus.EXPIRED if expired else SessionStatus.FINISHED
        state._final = engine.final_result(test, state)

    def _record_result(self, test: CompiledTest, state: SessionState, now: datetime) -> None:
        result = state._final
        assert result is not None
        state._final = None
        db.session.execute(
            insert(Result).values(
                exam_session_id=state.session_id,
                administration_id=state.administration_id,
                student_id=state.student_id,
                test_definition_id=test.test_definition_id,
                theta=result.theta,
                se=result.se,
                scale_score=result.scale_score,
                scale_se=result.scale_se,
                band=result.band,
                n_items=result.n_items,
                subscores=result.subscores,
                finish_reason=state.finish_reason or "completed",
                parameter_set_id=test.parameter_set_id,
                item_version_ids=[int(test.item_version_ids[i]) for i in state.items],
                engine_settings=test.settings,
                seed=state.seed,
                snapshot_id=test.snapshot_id,
                engine_version=engine.ENGINE_VERSION,
                created_at=now,
            )
        )

    # -- proctor controls -----------------------------------------------------------------------

    def set_administration_status(
        self, administration_id: int, status: str, now: datetime, actor: Actor
    ) -> dict[str, Any]:
        """Open or close an administration; closing ends and scores the sessions still running."""
        administration = self.get_administration(administration_id)
        if status not in (AdministrationStatus.OPEN, AdministrationStatus.CLOSED):
            raise ValidationError("status must be 'open' or 'closed'.", details={"field": "status"})
        previous = administration.status
        administration.status = status
        if status == AdministrationStatus.OPEN:
            ensure_snapshot(administration_id)
        closed = 0
        if status == AdministrationStatus.CLOSED:
            live = db.session.scalars(
                select(ExamSession.id).where(
                    ExamSession.administration_id == administration_id,
                    ExamSession.status.in_(_LIVE),
                )
            ).all()
            for session_id in live:
                state = self._read_row_state(session_id)
                test = self.session_test(state)
                state.current = None
                state.presented_at = None
                state.paused_at = None
                state.finish_reason = "administration_closed"
                self._finish(test, state)
                self._persist(test, state, now)
                closed += 1
        db.session.flush()
        record_audit(actor, f"administration_{status}", "administration", administration_id,
               {"from": previous, "sessions_closed": closed})  # fmt: skip
        return {"id": administration_id, "status": status, "sessions_closed": closed}

    def republish(self, administration_id: int, reason: str, actor: Actor) -> dict[str, Any]:
        """Publish a new form for an administration (the pool or parameters changed on
        purpose). Sittings already started stay on the form they started with."""
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("A re-publish needs a reason.", details={"field": "reason"})
        self.get_administration(administration_id)
        previous = current_snapshot(administration_id)
        snapshot = publish_snapshot(
            administration_id, reason=reason.strip(), created_by_id=actor.id
        )
        record_audit(actor, "administration_republished", "administration", administration_id,
               {"reason": reason.strip(), "snapshot_id": snapshot.id,
                "revision": snapshot.revision,
                "previous_snapshot_id": None if previous is None else previous.id})  # fmt: skip
        return snapshot_dict(snapshot)

    def get_administration(self, administration_id: int) -> Administration:
        administration = db.session.get(Administration, administration_id)
        if administration is None:
            raise NotFound(
                "No such administration.", details={"administration_id": administration_id}
            )
        return administration

    def pause_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        state, test = self._live_state(session_id)
        if state.status == SessionStatus.PAUSED:
            raise Conflict("The session is already paused.", details={"session_id": session_id})
        self._apply_clock(test, state, now)
        if state.status not in _LIVE:
            return self._proctor_view(test, state, now)
        state.status = SessionStatus.PAUSED
        state.paused_at = now.timestamp()
        self._persist(test, state, now)
        record_audit(actor, "pause_session", "exam_session", session_id, {"reason": reason})
        return self._proctor_view(test, state, now)

    def resume_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        state, test = self._live_state(session_id)
        if state.status != SessionStatus.PAUSED or state.paused_at is None:
            raise Conflict("The session is not paused.", details={"session_id": session_id})
        paused = now.timestamp() - state.paused_at
        # The clock stood still while paused: push the deadline and the item's start forward.
        if state.section_deadline is not None:
            state.section_deadline += paused
        if state.presented_at is not None:
            state.presented_at += paused
        state.paused_at = None
        state.status = SessionStatus.ACTIVE
        self._persist(test, state, now)
        record_audit(actor, "resume_session", "exam_session", session_id,
               {"reason": reason, "paused_seconds": round(paused, 1)})  # fmt: skip
        return self._proctor_view(test, state, now)

    def grant_extra_time(
        self, session_id: str, seconds: int, reason: str, now: datetime, actor: Actor
    ) -> dict:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not 0 < seconds <= MAX_EXTRA_SECONDS
        ):
            raise ValidationError(
                f"seconds must be an integer from 1 to {MAX_EXTRA_SECONDS}.",
                details={"field": "seconds"},
            )
        state, test = self._live_state(session_id)
        self._apply_clock(test, state, now)
        if state.status not in _LIVE:
            raise Conflict("The session has already ended.", details={"session_id": session_id})
        if state.section_deadline is None:
            raise Conflict(
                "This part of the test has no time limit.", details={"session_id": session_id}
            )
        state.section_deadline += seconds
        state.extra_seconds += seconds
        self._persist(test, state, now)
        record_audit(
            actor,
            "grant_extra_time",
            "exam_session",
            session_id,
            {"seconds": seconds, "reason": reason},
        )
        return self._proctor_view(test, state, now)

    def reset_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        """Void a session (its answers stay on record); the student may then start afresh."""
        if not reason.strip():
            raise ValidationError("A reset needs a reason.", details={"field": "reason"})
        session = db.session.get(ExamSession, session_id)
        if session is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        if session.status == SessionStatus.RESET:
            raise Conflict("The session was already reset.", details={"session_id": session_id})
        state = self._read_row_state(session_id)
        test = self.session_test(state)
        previous = state.status
        state.status = SessionStatus.RESET
        state.current = None
        state.presented_at = None
        self._persist(test, state, now)
        record_audit(
            actor, "reset_session", "exam_session", session_id, {"reason": reason, "from": previous}
        )
        return self._proctor_view(test, state, now)

    def session_student(self, session_id: str) -> int:
        student_id = db.session.scalar(
            select(ExamSession.student_id).where(ExamSession.id == session_id)
        )
        if student_id is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        return student_id

    def monitor(
        self, administration_id: int, classroom_ids: list[int] | None, now: datetime
    ) -> dict:
        """Live progress of an administration: every assigned student and their session."""
        administration = self.get_administration(administration_id)
        definition = db.session.get(TestDefinition, administration.test_definition_id)
        assert definition is not None
        classrooms = select(AdministrationClassroom.classroom_id).where(
            AdministrationClassroom.administration_id == administration_id
        )
        query = (
            select(User.id, User.display_name, Enrollment.student_number, Classroom.name)
            .join(Enrollment, Enrollment.user_id == User.id)
            .join(Classroom, Classroom.id == Enrollment.classroom_id)
            .where(Enrollment.role == Role.STUDENT, Enrollment.classroom_id.in_(classrooms))
            .order_by(Classroom.name, Enrollment.student_number)
        )
        if classroom_ids is not None:
            query = query.where(Enrollment.classroom_id.in_(classroom_ids))
        students = db.session.execute(query).all()
        sessions: dict[int, ExamSession] = {}
        for session in db.session.scalars(
            select(ExamSession)
            .where(
                ExamSession.administration_id == administration_id,
                ExamSession.student_id.in_([s.id for s in students] or [-1]),
                ExamSession.status != SessionStatus.RESET,
            )
            .order_by(ExamSession.started_at)
        ):
            sessions[session.student_id] = session
        spec = TestSpec.from_dict(definition.settings)
        rows = []
        for student in students:
            session = sessions.get(student.id)
            row: dict[str, Any] = {
                "student_id": student.id,
                "display_name": student.display_name,
                "student_number": student.student_number,
                "classroom": student.name,
                "session": None,
            }
            if session is not None:
                state = engine.clock_state(session.state)
                deadline = engine.current_deadline(state, now.timestamp())
                row["session"] = {
                    "id": session.id,
                    "status": session.status,
                    "n_answered": session.n_answered,
                    "section": session.section_index + 1,
                    "remaining_seconds": (
                        None
                        if deadline is None or session.status not in _LIVE
                        else max(0, int(deadline - now.timestamp()))
                    ),
                    "extra_seconds": state.extra_seconds,
                    "time_factor": state.time_factor,
                    "started_at": iso_utc(session.started_at),
                    "updated_at": iso_utc(session.updated_at),
                }
            rows.append(row)
        counts = {status.value: 0 for status in SessionStatus}
        counts["not_started"] = 0
        for row in rows:
            counts[row["session"]["status"] if row["session"] else "not_started"] += 1
        return {
            "administration": {
                "id": administration.id,
                "name": administration.name,
                "status": administration.status,
                "title": definition.title,
                "n_sections": len(spec.sections),
                "max_items": spec.max_items,
            },
            "counts": counts,
            "students": rows,
        }

    def _live_state(self, session_id: str) -> tuple[SessionState, CompiledTest]:
        # Proctors act rarely and must act on the truth: read the row, not the cache.
        state = self._read_row_state(session_id)
        if state.status not in _LIVE:
            raise Conflict(
                "The session has already ended.",
                details={"session_id": session_id, "status": state.status},
            )
        return state, self.session_test(state)

    # -- replay -----------------------------------------------------------------------------------

    def replay_session(self, session_id: str) -> dict[str, Any]:
        """Re-run a finished session from its recorded answers and compare with what happened."""
        session = db.session.get(ExamSession, session_id)
        if session is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        result = db.session.execute(
            select(Result).where(Result.exam_session_id == session_id)
        ).scalar_one_or_none()
        if result is None:
            raise Conflict(
                "The session has no result to replay.", details={"session_id": session_id}
            )
        # On the form the sitting ran on; a result older than forms, on its definition.
        test = (
            self.form_test(result.snapshot_id)
            if result.snapshot_id is not None
            else self.compiled_test(result.test_definition_id or 0)
        )
        rows = db.session.execute(
            select(ItemResponse.item_version_id, ItemResponse.score, ItemResponse.selection,
                   ItemResponse.section_index)
            .where(ItemResponse.exam_session_id == session_id)
            .order_by(ItemResponse.sequence)
        ).all()  # fmt: skip
        answers = [
            engine.ReplayedAnswer(
                item=test.index_of_version[row.item_version_id],
                score=round(row.score),
                exposure_blocked=_blocked_positions(test, row.selection),
                section=row.section_index,
            )
            for row in rows
        ]
        template = engine.clock_state(session.state)
        replayed, presented = engine.replay(
            test, template, answers, finished_by_time=result.finish_reason == "time_expired"
        )
        again = engine.final_result(test, replayed)
        recorded_items = [a.item for a in answers]
        recorded = {
            "theta": result.theta,
            "se": result.se,
            "scale_score": result.scale_score,
            "band": result.band,
            "subscores": result.subscores,
        }
        replayed_result = {
            "theta": again.theta,
            "se": again.se,
            "scale_score": again.scale_score,
            "band": again.band,
            "subscores": again.subscores,
        }
        return {
            "session_id": session_id,
            "items_match": presented == recorded_items,
            "result_match": _close(recorded, replayed_result),
            "recorded": recorded,
            "replayed": replayed_result,
            "parameter_set_id": result.parameter_set_id,
            "seed": result.seed,
            "snapshot_id": result.snapshot_id,
            "engine_version": result.engine_version,
            "replayed_by": engine.ENGINE_VERSION,
        }

    # -- state --------------------------------------------------------------------------------

    def _owned_state(self, student_id: int, session_id: str) -> SessionState:
        state = self._load_state(session_id)
        if state.student_id != student_id:
            raise NotFound("No such session.", details={"session_id": session_id})
        return state

    def _load_state(self, session_id: str) -> SessionState:
        raw = self.store.get(self.store.keys.session_state(session_id))
        if raw is not None:
            data = _decode(raw)
            if data.get("snapshot_id") is not None:
                return engine.state_from_dict(self.form_test(data["snapshot_id"]), data)
            # cached before published forms: the row knows which form the sitting is on
        return self._read_row_state(session_id)

    def _read_row_state(self, session_id: str) -> SessionState:
        """Hot state from the database alone (the row and the response log): what a flushed
        or restarted Redis costs."""
        row = db.session.execute(
            select(ExamSession.state, ExamSession.revision, ExamSession.snapshot_id).where(
                ExamSession.id == session_id
            )
        ).one_or_none()
        if row is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        snapshot_id = row.snapshot_id or self._attach_form(
            session_id, row.state["administration_id"]
        )
        test = self.form_test(snapshot_id)
        answers = [
            (
                test.index_of_version[a.item_version_id],
                engine.irt_category(test, test.index_of_version[a.item_version_id], a.score),
                a.is_operational,
                a.section_index,
                a.idempotency_key,
            )
            for a in db.session.execute(
                select(
                    ItemResponse.item_version_id,
                    ItemResponse.score,
                    ItemResponse.is_operational,
                    ItemResponse.section_index,
                    ItemResponse.idempotency_key,
                )
                .where(ItemResponse.exam_session_id == session_id)
                .order_by(ItemResponse.sequence)
            )
        ]
        state = engine.state_from_row(
            test, {**row.state, "revision": row.revision, "snapshot_id": snapshot_id}, answers
        )
        self.store.set(
            self.store.keys.session_state(session_id), _encode(test, state), self._state_ttl
        )
        return state

    def _persist(
        self,
        test: CompiledTest,
        state: SessionState,
        now: datetime,
        response: dict[str, Any] | None = None,
    ) -> None:
        """Write the state to its row, guarded by the revision (and the answer that moved it,
        if any), and to the store after commit.

        The guarded UPDATE takes the row lock, so once it succeeds no other request can write
        this session until we commit, and the answer's INSERT cannot race. On PostgreSQL both
        go in one statement (a data-modifying CTE): one round trip instead of two. When that
        statement is the request's only write (an answer that does not finish the test, and
        nothing else begun in this request), it runs as its own transaction in autocommit: one
        statement is atomic and durable when it returns, and BEGIN and COMMIT cost two more
        round trips.
        """
        revision = state.revision
        state.revision = revision + 1
        ended = state.status in (SessionStatus.FINISHED, SessionStatus.EXPIRED, SessionStatus.RESET)
        values = {
            "b_id": state.session_id,
            "b_revision": revision,
            "state": engine.state_to_row(test, state),
            "revision": revision + 1,
            "status": state.status,
            "updated_at": now,
            "finished_at": now if ended else None,
            **self._row_values(test, state),
        }
        # Prebuilt Core statements: the ORM's per-call statement building costs more than the
        # database round trip on the submit path.
        postgresql = db.engine.dialect.name == "postgresql"
        if response is not None and postgresql:
            # The answer's parameters are prefixed: it shares column names with the session.
            answer = {f"r_{name}": value for name, value in response.items()}
            statement = _UPDATE_SESSION_AND_INSERT_RESPONSE
            if state._final is None and not db.session().in_transaction():
                updated = _write_answer_alone(values | answer)
            else:
                connection = db.session.connection()
                updated = len(connection.execute(statement, values | answer).all())
        else:
            connection = db.session.connection()
            updated = connection.execute(_UPDATE_SESSION, values).rowcount
            if updated == 1 and response is not None:
                connection.execute(_INSERT_RESPONSE, response)
        if updated != 1:
            state.revision = revision
            raise _StaleState
        if state._final is not None:
            self._record_result(test, state, now)
        self._cache_on_commit(test, state, revision + 1)

    def _row_values(self, test: CompiledTest, state: SessionState) -> dict[str, Any]:
        posterior = state.posterior(test)
        return {
            "n_answered": state.n_answered,
            "section_index": state.section_index,
            "current_item_version_id": (
                None if state.current is None else int(test.item_version_ids[state.current])
            ),
            "presented_at": _from_epoch(state.presented_at),
            "deadline_at": _from_epoch(state.section_deadline),
            "theta": float(posterior.theta),
            "se": float(posterior.se),
        }

    def _cache_on_commit(self, test: CompiledTest, state: SessionState, revision: int) -> None:
        state.revision = revision
        key = self.store.keys.session_state(state.session_id)
        store_after_commit(self.store, ("set", key, _encode(test, state), self._state_ttl))

    def _count_presentation(self, test: CompiledTest, state: SessionState) -> None:
        if state.current is not None and state.current < test.n_operational:
            spec = test.sections[state.section_index].spec
            if isinstance(spec, CatSectionSpec) and spec.max_exposure_rate is not None:
                self.exposure.count_presentation(
                    test.test_definition_id, int(test.item_version_ids[state.current])
                )

    # -- views ----------------------------------------------------------------------------------

    def _view(
        self,
        test: CompiledTest,
        state: SessionState,
        now: datetime,
        *,
        accepted_sequence: int | None = None,
        replayed: bool = False,
        include_token: bool = False,
    ) -> dict[str, Any]:
        item = None
        if state.status == SessionStatus.ACTIVE and state.current is not None:
            index = state.current
            payload = test.payloads[index]
            order = engine.option_order(test, state, index)
            if order is not None:
                by_id = {option["id"]: option for option in payload["options"]}
                payload = {**payload, "options": [by_id[i] for i in order]}
            item = {
                "handle": self.item_handle(state.session_id, int(test.item_version_ids[index])),
                "sequence": state.n_answered + 1,
                **payload,
            }
        deadline = engine.current_deadline(state, now.timestamp())
        section = test.sections[state.section_index].spec
        view: dict[str, Any] = {
            "session": {
                "id": state.session_id,
                "administration_id": state.administration_id,
                "status": state.status,
                "n_answered": state.n_answered,
                "max_items": test.max_items,
                "section": {
                    "index": state.section_index + 1,
                    "count": len(test.sections),
                    "title": section.title,
                },
                "deadline_at": iso_utc(_from_epoch(deadline)),
                "remaining_seconds": (
                    None if deadline is None else max(0, int(deadline - now.timestamp()))
                ),
                "server_time": iso_utc(now),
            },
            "item": item,
            "finished": state.status not in _LIVE,
        }
        if include_token:
            view["session"]["device_token"] = state.device_token
        if accepted_sequence is not None:
            view["accepted"] = {"sequence": accepted_sequence, "replayed": replayed}
        return view

    def _proctor_view(
        self, test: CompiledTest, state: SessionState, now: datetime
    ) -> dict[str, Any]:
        deadline = engine.current_deadline(state, now.timestamp())
        return {
            "session_id": state.session_id,
            "status": state.status,
            "n_answered": state.n_answered,
            "section": state.section_index + 1,
            "remaining_seconds": None
            if deadline is None
            else max(0, int(deadline - now.timestamp())),
            "extra_seconds": state.extra_seconds,
        }


_sessions = ExamSession.__table__
_UPDATE_SESSION = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("b_id"), _sessions.c.revision == bindparam("b_revision"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "state", "revision", "status", "updated_at", "finished_at", "n_answered",
                "section_index", "current_item_version_id", "presented_at", "deadline_at",
                "theta", "se",
            )
        }
    )
)  # fmt: skip
_responses = ItemResponse.__table__
_INSERT_RESPONSE = insert(_responses)
_RESPONSE_COLUMNS = [c.name for c in _responses.columns if c.name != "id"]
_touched = _UPDATE_SESSION.returning(_sessions.c.id).cte("touched")
# PostgreSQL: the guarded UPDATE and the answer's INSERT in one statement; when the guard fails
# the UPDATE touches no row and the INSERT selects none (rowcount 0: stale state).
_UPDATE_SESSION_AND_INSERT_RESPONSE = (
    insert(_responses)
    .from_select(
        _RESPONSE_COLUMNS,
        select(
            *(
                _touched.c.id
                if name == "exam_session_id"
                else bindparam(f"r_{name}", type_=_responses.c[name].type)
                for name in _RESPONSE_COLUMNS
            )
        ),
    )
    .returning(_responses.c.id)
)  # rows, not rowcount: psycopg reports none for this form


_JSONB_PARAMETERS = ("state", "r_response", "r_presentation", "r_selection")


@functools.cache
def _answer_sql(dialect: Dialect) -> str:
    # SQLAlchemy compiles it, with the casts its psycopg dialect puts on every parameter.
    return _UPDATE_SESSION_AND_INSERT_RESPONSE.compile(dialect=dialect).string


def _write_answer_alone(parameters: dict[str, Any]) -> int:
    """Run the answer's statement as its own transaction (autocommit) on PostgreSQL; return
    the rows written (0: the revision guard failed).

    Straight on the driver, prepared: SQLAlchemy's per-execution bookkeeping cost more here than
    the database's own work (0.15 ms even through ``exec_driver_sql``, measured). JSON goes as
    JSONB, as the columns' type would send it. A connection that failed is invalidated, as
    SQLAlchemy would have done, so the pool does not hand it out again.
    """
    for name in _JSONB_PARAMETERS:
        parameters[name] = Jsonb(parameters[name])
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            with connection.connection.driver_connection.cursor() as cursor:
                cursor.execute(_answer_sql(db.engine.dialect), parameters, prepare=True)
                return len(cursor.fetchall())
        except psycopg.OperationalError:
            connection.invalidate()
            raise


def store_after_commit(store: StateStore, op: tuple[Any, ...]) -> None:
    """Queue a state-store write for after the commit; all of a transaction's go in one batch
    (one Redis round trip), and none of them if it rolls back.

    What is committed is recorded: a store that fails now must not turn that into an error
    reply. The cache is then behind the row, which the revision guard detects on the next
    request (it reads the row), and exposure counts are rebuilt from the database.
    """
    ops, created = transaction_list("store_ops")
    if created:
        on_commit(lambda: _write_behind(store, ops))
    ops.append(op)


def _write_behind(store: StateStore, ops: list[tuple[Any, ...]]) -> None:
    try:
        store.batch(ops)
    except Exception:  # any store failure: the database already holds the truth
        _log.warning("State store write after commit failed; the row stays authoritative.",
                     exc_info=True)  # fmt: skip


class _StaleState(Conflict):
    """The session row moved on under us (stale cached state or a racing request)."""

    def __init__(self) -> None:
        super().__init__("The session changed at the same moment; try again.")


def _encode(test: CompiledTest, state: SessionState) -> bytes:
    """State for the store: JSON, items by version id, with the posterior's 41 floats as base64
    of their bytes (exact, and far cheaper to write and read than 41 decimal reprs)."""
    data = engine.state_to_dict(test, state)
    data["log_posterior"] = base64.b64encode(
        np.asarray(data["log_posterior"], dtype="<f8").tobytes()
    ).decode()
    return json.dumps(data, separators=(",", ":")).encode()


def _decode(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw)
    posterior = np.frombuffer(base64.b64decode(data["log_posterior"]), dtype="<f8")
    data["log_posterior"] = posterior.tolist()
    return data


def _blocked_positions(test: CompiledTest, selection: dict[str, Any]) -> tuple[int, ...]:
    if "exposure_blocked_ids" in selection:
        return tuple(test.index_of_version[i] for i in selection["exposure_blocked_ids"])
    return tuple(selection.get("exposure_blocked", ()))  # recorded before published forms


def _close(a: Any, b: Any) -> bool:
    """Equal up to float rounding (JSON and database round trips)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def _assigned_administrations(student_id: int):
    return (
        select(AdministrationClassroom.administration_id)
        .join(Enrollment, Enrollment.classroom_id == AdministrationClassroom.classroom_id)
        .where(Enrollment.user_id == student_id, Enrollment.role == Role.STUDENT)
    )


def _student_assigned(student_id: int, administration_id: int) -> bool:
    return (
        db.session.scalar(
            select(func.count()).select_from(
                _assigned_administrations(student_id)
                .where(AdministrationClassroom.administration_id == administration_id)
                .subquery()
            )
        )
        > 0
    )


def _window_open(administration: Administration, now: datetime) -> bool:
    if administration.opens_at is not None and now < administration.opens_at:
        return False
    return administration.closes_at is None or now < administration.closes_at


# -- definitions --------------------------------------------------------------------------------


def bank_items(pool_id: int, parameter_set_id: int) -> list[BankItem]:
    """A pool's items as the engine takes them, with their student views rendered once."""
    return _bank_items(load_pool_items(pool_id, parameter_set_id))


def _bank_items(items: list[PoolItem]) -> list[BankItem]:
    return [
        BankItem(
            item_version_id=item.item_version_id,
            key=item.key,
            item_type=item.item_type,
            content=item.content,
            scoring=item.scoring,
            student_view=student_view(
                item.item_type,
                item.content,
                stimulus_html=item.stimulus_html,
                accessibility=item.accessibility,
            ),
            content_area=item.content_area,
            curriculum_codes=item.curriculum_codes,
            parameters=item.parameters,
            max_score=item.max_score,
            stimulus_id=item.stimulus_id,
            human_scored=item.human_scored,
        )
        for item in items
    ]


def compile_definition(test_definition_id: int) -> CompiledTest:
    """Load a definition and its pool from the database and compile it."""
    definition = db.session.get(TestDefinition, test_definition_id)
    if definition is None:
        raise NotFound("Unknown test.", details={"test_definition_id": test_definition_id})
    with checked_spec():
        return engine.compile_test(
            test_definition_id=definition.id,
            parameter_set_id=definition.parameter_set_id,
            settings=definition.settings,
            scale=definition.scale,
            items=bank_items(definition.pool_id, definition.parameter_set_id),
            enemy_sets=pool_enemy_pairs(definition.pool_id),
        )


def current_snapshot(administration_id: int) -> FormSnapshot | None:
    return db.session.execute(
        select(FormSnapshot)
        .where(FormSnapshot.administration_id == administration_id)
        .order_by(FormSnapshot.revision.desc())
        .limit(1)
    ).scalar_one_or_none()


def ensure_snapshot(administration_id: int) -> FormSnapshot:
    """The administration's published form, publishing it now if it has none (administrations
    opened before forms existed get theirs at their first sitting)."""
    return current_snapshot(administration_id) or publish_snapshot(administration_id)


def publish_snapshot(
    administration_id: int, *, reason: str = "", created_by_id: int | None = None
) -> FormSnapshot:
    """Compile an administration's definition on its pool as it is now and store the result:
    the exact item versions, the published parameter set, the settings, the seed rule and the
    engine version. Sittings started from then on run on it; earlier ones keep theirs.

    Two workers publishing the first form at once store one (the unique revision decides).
    """
    administration = db.session.get(Administration, administration_id)
    if administration is None:
        raise NotFound("No such administration.", details={"administration_id": administration_id})
    definition = db.session.get(TestDefinition, administration.test_definition_id)
    assert definition is not None
    parameters = db.session.get(ParameterSet, definition.parameter_set_id)
    assert parameters is not None
    if not is_published(parameters):
        raise unpublished_parameters(parameters)
    items = bank_items(definition.pool_id, definition.parameter_set_id)
    enemy_pairs = pool_enemy_pairs(definition.pool_id)
    with checked_spec():
        test = engine.compile_test(
            test_definition_id=definition.id,
            parameter_set_id=definition.parameter_set_id,
            settings=definition.settings,
            scale=definition.scale,
            items=items,
            enemy_sets=enemy_pairs,
        )
    previous = current_snapshot(administration_id)
    snapshot = FormSnapshot(
        administration_id=administration_id,
        revision=1 if previous is None else previous.revision + 1,
        test_definition_id=definition.id,
        parameter_set_id=definition.parameter_set_id,
        item_version_ids=[int(i) for i in test.item_version_ids],
        enemy_pairs=[list(pair) for pair in enemy_pairs],
        settings=dict(definition.settings),
        scale=dict(definition.scale),
        seed_rule=engine.SEED_RULE,
        engine_version=engine.ENGINE_VERSION,
        reason=reason[:500],
        created_by_id=created_by_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError:
        if previous is not None:
            raise Conflict(
                "The form was re-published at the same moment; try again.",
                details={"administration_id": administration_id},
            ) from None
        found = current_snapshot(administration_id)
        assert found is not None
        return found
    return snapshot


def snapshot_dict(snapshot: FormSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "administration_id": snapshot.administration_id,
        "revision": snapshot.revision,
        "test_definition_id": snapshot.test_definition_id,
        "parameter_set_id": snapshot.parameter_set_id,
        "n_items": len(snapshot.item_version_ids),
        "seed_rule": snapshot.seed_rule,
        "engine_version": snapshot.engine_version,
        "reason": snapshot.reason,
        "created_at": iso_utc(snapshot.created_at),
    }


def unpublished_parameters(parameters: ParameterSet) -> DomainError:
    return DomainError(
        "The test's parameter set is a draft; publish it before students sit the test.",
        code=ErrorCode.PARAMETER_SET_NOT_PUBLISHED,
        status=409,
        details={"parameter_set": parameters.name, "version": parameters.version},
    )


def compile_snapshot(snapshot_id: int) -> CompiledTest:
    """A published form's arrays, from exactly the item versions and parameters it names."""
    snapshot = db.session.get(FormSnapshot, snapshot_id)
    if snapshot is None:
        raise NotFound("Unknown published form.", details={"snapshot_id": snapshot_id})
    loaded = {
        item.item_version_id: item
        for item in load_items(snapshot.item_version_ids, snapshot.parameter_set_id)
    }
    with checked_spec():
        return engine.compile_test(
            test_definition_id=snapshot.test_definition_id,
            parameter_set_id=snapshot.parameter_set_id,
            settings=snapshot.settings,
            scale=snapshot.scale,
            items=_bank_items([loaded[i] for i in snapshot.item_version_ids]),
            enemy_sets=[tuple(pair) for pair in snapshot.enemy_pairs],
            snapshot_id=snapshot.id,
        )


@contextmanager
def checked_spec() -> Iterator[None]:
    """The HTTP-facing form of the engine's plain ``SpecError``: 422 ``validation_failed``."""
    try:
        yield
    except SpecError as error:
        raise ValidationError(error.message, details=error.details) from error


def test_mode(spec: TestSpec) -> str:
    kinds = {section.kind for section in spec.sections}
    return kinds.pop() if len(kinds) == 1 else "mixed"


test_mode.__test__ = False  # type: ignore[attr-defined]
