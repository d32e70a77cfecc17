"""Delivery services: start or resume a session, record a response, finish. Plain values in and out.

The submit path reads hot state with one store round trip, scores from the in-memory compiled
pool, updates theta in O(nodes), selects the next item in one vectorised pass, writes the response
with two Core statements, and saves state only after the transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from cbt.db import db, on_commit
from cbt.errors import Conflict, DomainError, ErrorCode, Forbidden, NotFound, ValidationError
from cbt.models import Enrollment, Role
from cbt.signals import response_recorded, session_finished
from cbt.state import StateStore
from delivery.engine import (
    CompiledPool,
    EngineSettings,
    SessionState,
    advance,
    first_item,
)
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    ItemResponse,
    Result,
    SessionStatus,
    TestDefinition,
)
from item_bank.service import load_pool_items, score_response, student_view
from scoring import ItemParameters, ReportingScale

MAX_IDEMPOTENCY_KEY = 64


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class DeliveryService:
    """Per-app delivery service: owns the compiled-pool cache and talks to the state store."""

    def __init__(self, store: StateStore, secret_key: str, state_ttl_seconds: int) -> None:
        self.store = store
        self._handle_key = hashlib.sha256(b"item-handle:" + secret_key.encode()).digest()
        self._state_ttl = state_ttl_seconds
        self._pools: dict[int, CompiledPool] = {}
        self._pools_lock = threading.Lock()

    # -- the compiled pool (in-memory key cache) ---------------------------------------------

    def compiled_pool(self, test_definition_id: int) -> CompiledPool:
        """The test's pool as arrays; loaded once per process (parameter sets are immutable)."""
        pool = self._pools.get(test_definition_id)
        if pool is not None:
            return pool
        with self._pools_lock:
            pool = self._pools.get(test_definition_id)
            if pool is None:
                pool = self._compile(test_definition_id)
                self._pools[test_definition_id] = pool
        return pool

    def _compile(self, test_definition_id: int) -> CompiledPool:
        definition = db.session.get(TestDefinition, test_definition_id)
        if definition is None:
            raise NotFound("Unknown test.", details={"test_definition_id": test_definition_id})
        items = load_pool_items(definition.pool_id, definition.parameter_set_id)
        parameters = ItemParameters.from_records([item.parameters for item in items])
        ids = np.array([item.item_version_id for item in items], dtype=np.int64)
        return CompiledPool(
            test_definition_id=definition.id,
            parameter_set_id=definition.parameter_set_id,
            item_version_ids=ids,
            parameters=parameters,
            item_types=tuple(item.item_type for item in items),
            contents=tuple(item.content for item in items),
            scorings=tuple(item.scoring for item in items),
            payloads=tuple(student_view(item.item_type, item.content) for item in items),
            index_of={int(ivid): index for index, ivid in enumerate(ids)},
            settings=EngineSettings.from_dict(definition.settings),
            scale=ReportingScale.from_dict(definition.scale),
            time_limit_seconds=definition.time_limit_seconds,
        )

    def item_handle(self, session_id: str, item_version_id: int) -> str:
        """An opaque per-session name for an item, so no internal id reaches the browser."""
        message = f"{session_id}:{item_version_id}".encode()
        return hmac.new(self._handle_key, message, hashlib.sha256).hexdigest()[:20]

    # -- listing ------------------------------------------------------------------------------

    def list_student_administrations(self, student_id: int, now: datetime) -> list[dict[str, Any]]:
        """Administrations open now for the student's classrooms, with the student's progress."""
        rows = db.session.execute(
            select(Administration, TestDefinition)
            .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
            .join(
                AdministrationClassroom,
                AdministrationClassroom.administration_id == Administration.id,
            )
            .join(Enrollment, Enrollment.classroom_id == AdministrationClassroom.classroom_id)
            .where(
                Enrollment.user_id == student_id,
                Enrollment.role == Role.STUDENT,
                Administration.status == AdministrationStatus.OPEN,
            )
            .order_by(Administration.id)
            .distinct()
        ).all()
        sessions = {
            row.administration_id: row
            for row in db.session.execute(
                select(ExamSession.administration_id, ExamSession.status, ExamSession.n_answered)
                .where(ExamSession.student_id == student_id)
                .order_by(ExamSession.started_at)
            )
        }
        listed = []
        for administration, definition in rows:
            if not _window_open(administration, now):
                continue
            session = sessions.get(administration.id)
            listed.append(
                {
                    "administration_id": administration.id,
                    "name": administration.name,
                    "title": definition.title,
                    "mode": definition.mode,
                    "max_items": definition.settings.get("max_items"),
                    "time_limit_seconds": definition.time_limit_seconds,
                    "closes_at": _iso(administration.closes_at),
                    "session_status": session.status if session else None,
                    "n_answered": session.n_answered if session else 0,
                }
            )
        return listed

    # -- start and resume -------------------------------------------------------------------

    def start_session(self, student_id: int, administration_id: int, now: datetime) -> dict:
        """Start the student's session, or resume the active one exactly where it was."""
        administration = db.session.get(Administration, administration_id)
        if administration is None or not self._student_assigned(student_id, administration_id):
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
            if existing.status == SessionStatus.ACTIVE:
                state = self._load_state(existing.id)
                if state.deadline is not None and now.timestamp() >= state.deadline:
                    pool = self.compiled_pool(state.test_definition_id)
                    self._finish(state, pool, now, SessionStatus.EXPIRED)
                return self._view(self._load_state(existing.id), now)
            return self._finished_view(existing, now)
        if administration.status != AdministrationStatus.OPEN or not _window_open(
            administration, now
        ):
            raise DomainError(
                "This test is not open now.",
                code=ErrorCode.ADMINISTRATION_NOT_OPEN,
                status=409,
                details={"administration_id": administration_id},
            )
        definition = db.session.get(TestDefinition, administration.test_definition_id)
        assert definition is not None  # guaranteed by the foreign key
        pool = self.compiled_pool(definition.id)
        posterior = pool.settings.new_posterior()
        index = first_item(pool, posterior)
        deadline = (
            now + timedelta(seconds=pool.time_limit_seconds) if pool.time_limit_seconds else None
        )
        session_id = uuid.uuid4().hex
        seed = secrets.randbits(62)
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(ExamSession).values(
                        id=session_id,
                        administration_id=administration_id,
                        student_id=student_id,
                        status=SessionStatus.ACTIVE,
                        seed=seed,
                        engine_settings=pool.settings.to_dict(),
                        started_at=now,
                        deadline_at=deadline,
                        current_item_version_id=int(pool.item_version_ids[index]),
                        presented_at=now,
                        n_answered=0,
                        theta=float(posterior.theta),
                        se=float(posterior.se),
                        updated_at=now,
                    )
                )
        except IntegrityError:
            # Another device started the same session a moment ago: resume that one.
            return self.start_session(student_id, administration_id, now)
        state = SessionState(
            session_id=session_id,
            student_id=student_id,
            administration_id=administration_id,
            test_definition_id=definition.id,
            status=SessionStatus.ACTIVE,
            seed=seed,
            log_posterior=posterior.log_posterior.tolist(),
            current_index=index,
            presented_at=now.timestamp(),
            deadline=_epoch(deadline),
        )
        self._save_state_on_commit(state)
        return self._view(state, now)

    def _student_assigned(self, student_id: int, administration_id: int) -> bool:
        return (
            db.session.scalar(
                select(AdministrationClassroom.classroom_id)
                .join(Enrollment, Enrollment.classroom_id == AdministrationClassroom.classroom_id)
                .where(
                    AdministrationClassroom.administration_id == administration_id,
                    Enrollment.user_id == student_id,
                    Enrollment.role == Role.STUDENT,
                )
                .limit(1)
            )
            is not None
        )

    def get_session(self, student_id: int, session_id: str, now: datetime) -> dict:
        session = self._owned_session(student_id, session_id)
        if session.status != SessionStatus.ACTIVE:
            return self._finished_view(session, now)
        return self._view(self._load_state(session_id), now)

    # -- submit -----------------------------------------------------------------------------

    def record_response(
        self,
        student_id: int,
        session_id: str,
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
        state = self._load_state(session_id)
        if state.student_id != student_id:
            raise NotFound("No such session.", details={"session_id": session_id})
        outcome = self._replay_or_reject(state, item_handle, idempotency_key, now)
        if outcome is not None:
            return outcome
        pool = self.compiled_pool(state.test_definition_id)
        index = state.current_index
        assert index is not None  # _replay_or_reject guarantees an item is on screen
        score = score_response(
            pool.item_types[index], pool.contents[index], pool.scorings[index], response
        )
        administered = [*state.administered, index]
        step = advance(
            pool,
            administered,
            pool.settings.restore_posterior(state.log_posterior),
            index,
            score,
        )
        presented_at = _from_epoch(state.presented_at) or now
        sequence = len(administered)
        item_version_id = int(pool.item_version_ids[index])
        next_version = (
            None if step.next_index is None else int(pool.item_version_ids[step.next_index])
        )
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(ItemResponse).values(
                        exam_session_id=session_id,
                        sequence=sequence,
                        item_version_id=item_version_id,
                        idempotency_key=idempotency_key,
                        response=response,
                        score=score,
                        is_correct=score >= 1.0,
                        presented_at=presented_at,
                        answered_at=now,
                        time_taken_ms=max(0, int((now - presented_at).total_seconds() * 1000)),
                        theta_after=step.theta,
                        se_after=step.se,
                    )
                )
                # The guard on n_answered turns a stale state or a racing request into a conflict.
                updated = db.session.execute(
                    update(ExamSession)
                    .where(
                        ExamSession.id == session_id,
                        ExamSession.n_answered == sequence - 1,
                        ExamSession.status == SessionStatus.ACTIVE,
                    )
                    .values(
                        n_answered=sequence,
                        current_item_version_id=next_version,
                        presented_at=now if next_version is not None else None,
                        theta=step.theta,
                        se=step.se,
                        updated_at=now,
                    )
                ).rowcount
                if updated != 1:
                    raise _StaleState
        except (IntegrityError, _StaleState):
            # A racing request won, or the cached state was behind the database: start over
            # from the database so a repeat is answered as a repeat.
            self.store.delete(self.store.keys.session_state(session_id))
            fresh = self._rebuild_state(session_id)
            replay = self._replay_or_reject(fresh, item_handle, idempotency_key, now)
            if replay is not None:
                return replay
            raise Conflict(
                "This answer raced with another; reload the test.",
                details={"session_id": session_id},
            ) from None

        state.administered = administered
        state.scores = [*state.scores, score]
        state.idempotency_keys = [*state.idempotency_keys, idempotency_key]
        state.log_posterior = step.log_posterior
        state.current_index = step.next_index
        state.presented_at = now.timestamp() if step.next_index is not None else None
        response_recorded.send(
            self, session_id=session_id, item_version_id=item_version_id, score=score
        )
        if step.finished:
            self._finish(state, pool, now, SessionStatus.FINISHED)
            return self._view(state, now, accepted_sequence=sequence)
        self._save_state_on_commit(state)
        return self._view(state, now, accepted_sequence=sequence)

    def _replay_or_reject(
        self, state: SessionState, item_handle: str, idempotency_key: str, now: datetime
    ) -> dict | None:
        """None for a new, acceptable answer; the first outcome for a repeat; otherwise raise."""
        if idempotency_key in state.idempotency_keys:
            sequence = state.idempotency_keys.index(idempotency_key) + 1
            pool = self.compiled_pool(state.test_definition_id)
            answered_version = int(pool.item_version_ids[state.administered[sequence - 1]])
            if self.item_handle(state.session_id, answered_version) != item_handle:
                raise DomainError(
                    "This idempotency key was already used for another item.",
                    code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    status=409,
                    details={"idempotency_key": idempotency_key},
                )
            return self._view(state, now, accepted_sequence=sequence, replayed=True)
        if state.status != SessionStatus.ACTIVE:
            raise DomainError(
                "This test has ended; no more answers are accepted.",
                code=ErrorCode.SESSION_NOT_ACTIVE,
                status=409,
                details={"status": state.status},
            )
        if state.deadline is not None and now.timestamp() >= state.deadline:
            raise DomainError(
                "Time is up for this test; the answer was not recorded.",
                code=ErrorCode.TIME_EXPIRED,
                status=409,
                details={"deadline_at": _iso(_from_epoch(state.deadline))},
            )
        pool = self.compiled_pool(state.test_definition_id)
        answered = {
            self.item_handle(state.session_id, int(pool.item_version_ids[index]))
            for index in state.administered
        }
        if item_handle in answered:
            raise DomainError(
                "This item was already answered; an answer cannot be changed.",
                code=ErrorCode.ALREADY_ANSWERED,
                status=409,
                details={"item": item_handle},
            )
        current = state.current_index
        if current is None or item_handle != self.item_handle(
            state.session_id, int(pool.item_version_ids[current])
        ):
            raise DomainError(
                "That item is not the one presented in this session.",
                code=ErrorCode.ITEM_NOT_PRESENTED,
                status=409,
                details={"item": item_handle},
            )
        return None

    # -- finishing --------------------------------------------------------------------------

    def finish_expired(self, student_id: int, session_id: str, now: datetime) -> dict:
        """End a session whose time is up, scoring what was answered."""
        session = self._owned_session(student_id, session_id)
        if session.status != SessionStatus.ACTIVE:
            return self._finished_view(session, now)
        state = self._load_state(session_id)
        if state.deadline is None or now.timestamp() < state.deadline:
            raise Conflict(
                "Time is not up yet; keep answering.", details={"session_id": session_id}
            )
        self._finish(
            state, self.compiled_pool(state.test_definition_id), now, SessionStatus.EXPIRED
        )
        return self._view(state, now)

    def _finish(
        self, state: SessionState, pool: CompiledPool, now: datetime, status: SessionStatus
    ) -> None:
        posterior = pool.settings.restore_posterior(state.log_posterior)
        theta, se = float(posterior.theta), float(posterior.se)
        scale_score = float(pool.scale.to_scale(theta))
        result_id = db.session.execute(
            insert(Result)
            .values(
                exam_session_id=state.session_id,
                administration_id=state.administration_id,
                student_id=state.student_id,
                theta=theta,
                se=se,
                scale_score=scale_score,
                scale_se=float(pool.scale.se_to_scale(se)),
                band=str(pool.scale.band(scale_score)),
                n_items=len(state.administered),
                parameter_set_id=pool.parameter_set_id,
                item_version_ids=[int(pool.item_version_ids[i]) for i in state.administered],
                engine_settings=pool.settings.to_dict(),
                seed=state.seed,
                created_at=now,
            )
            .returning(Result.id)
        ).scalar_one()
        db.session.execute(
            update(ExamSession)
            .where(ExamSession.id == state.session_id)
            .values(
                status=status,
                finished_at=now,
                current_item_version_id=None,
                presented_at=None,
                theta=theta,
                se=se,
                updated_at=now,
            )
        )
        state.status = status
        state.current_index = None
        state.presented_at = None
        self._save_state_on_commit(state)
        session_finished.send(
            self, session_id=state.session_id, result_id=result_id, student_id=state.student_id
        )

    # -- state --------------------------------------------------------------------------------

    def _load_state(self, session_id: str) -> SessionState:
        raw = self.store.get(self.store.keys.session_state(session_id))
        if raw is not None:
            return SessionState.from_bytes(raw)
        return self._rebuild_state(session_id)

    def _rebuild_state(self, session_id: str) -> SessionState:
        """Hot state from the database alone: what a flushed or restarted Redis costs."""
        session = db.session.get(ExamSession, session_id, populate_existing=True)
        if session is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        administration = db.session.get(Administration, session.administration_id)
        assert administration is not None
        pool = self.compiled_pool(administration.test_definition_id)
        settings = EngineSettings.from_dict(session.engine_settings)
        answers = db.session.execute(
            select(ItemResponse.item_version_id, ItemResponse.score, ItemResponse.idempotency_key)
            .where(ItemResponse.exam_session_id == session_id)
            .order_by(ItemResponse.sequence)
        ).all()
        posterior = settings.new_posterior()
        administered = []
        for item_version_id, score, _ in answers:
            index = pool.index_of[item_version_id]
            administered.append(index)
            posterior.update(pool.parameters, index, score)
        current = (
            pool.index_of[session.current_item_version_id]
            if session.current_item_version_id is not None
            else None
        )
        state = SessionState(
            session_id=session.id,
            student_id=session.student_id,
            administration_id=session.administration_id,
            test_definition_id=administration.test_definition_id,
            status=session.status,
            seed=session.seed,
            administered=administered,
            scores=[float(score) for _, score, _ in answers],
            idempotency_keys=[key for _, _, key in answers],
            log_posterior=posterior.log_posterior.tolist(),
            current_index=current,
            presented_at=_epoch(session.presented_at),
            deadline=_epoch(session.deadline_at),
        )
        self.store.set(self.store.keys.session_state(session_id), state.to_bytes(), self._state_ttl)
        return state

    def _save_state_on_commit(self, state: SessionState) -> None:
        key = self.store.keys.session_state(state.session_id)
        raw = state.to_bytes()
        on_commit(lambda: self.store.set(key, raw, self._state_ttl))

    def _owned_session(self, student_id: int, session_id: str) -> ExamSession:
        session = db.session.get(ExamSession, session_id)
        if session is None or session.student_id != student_id:
            raise NotFound("No such session.", details={"session_id": session_id})
        return session

    # -- views --------------------------------------------------------------------------------

    def _view(
        self,
        state: SessionState,
        now: datetime,
        *,
        accepted_sequence: int | None = None,
        replayed: bool = False,
    ) -> dict[str, Any]:
        pool = self.compiled_pool(state.test_definition_id)
        item = None
        if state.status == SessionStatus.ACTIVE and state.current_index is not None:
            index = state.current_index
            item = {
                "handle": self.item_handle(state.session_id, int(pool.item_version_ids[index])),
                "sequence": len(state.administered) + 1,
                **pool.payloads[index],
            }
        view: dict[str, Any] = {
            "session": {
                "id": state.session_id,
                "administration_id": state.administration_id,
                "status": state.status,
                "n_answered": len(state.administered),
                "min_items": pool.settings.min_items,
                "max_items": pool.settings.max_items,
                "deadline_at": _iso(_from_epoch(state.deadline)),
                "remaining_seconds": (
                    max(0, int(state.deadline - now.timestamp()))
                    if state.deadline is not None
                    else None
                ),
                "server_time": _iso(now),
            },
            "item": item,
            "finished": state.status != SessionStatus.ACTIVE,
        }
        if accepted_sequence is not None:
            view["accepted"] = {"sequence": accepted_sequence, "replayed": replayed}
        return view

    def _finished_view(self, session: ExamSession, now: datetime) -> dict[str, Any]:
        state = self._load_state(session.id)
        return self._view(state, now)


class _StaleState(Exception):
    """The session row moved on under us (stale cached state or a racing request)."""


def _window_open(administration: Administration, now: datetime) -> bool:
    if administration.opens_at is not None and now < administration.opens_at:
        return False
    return administration.closes_at is None or now < administration.closes_at


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def ensure_student(role: str) -> None:
    if role != Role.STUDENT:
        raise Forbidden("Only students take tests.")
