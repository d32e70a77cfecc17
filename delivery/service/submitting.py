"""Submitting an answer: replay of a resend, refusals, scoring, and the next item."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt.db import db, iso_utc
from cbt.errors import DomainError, ErrorCode, ValidationError
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    ItemResponse,
    SessionStatus,
)
from delivery.service.common import _LIVE, MAX_IDEMPOTENCY_KEY, _from_epoch
from item_bank.service import (
    score_response,
)


class Submitting:
    """Recording an answer: replays, refusals, scoring and the next item."""

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
                "idempotency_key must be 1 to %(maximum)s characters.",
                params={"maximum": MAX_IDEMPOTENCY_KEY},
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
            if engine.section_open(test, state):
                index = self._free_index(test, state, item_handle)
                assert index is not None
                return self._accept_free(test, state, index, response, idempotency_key, now)
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
        sequence = state.n_responses
        posterior = state.posterior(test)
        item_version_id = int(test.item_version_ids[index])
        if engine.is_over(test, state):
            self._finish(test, state)
        self._persist(
            test,
            state,
            now,
            response={
                "exam_session_id": state.session_id,
                "administration_id": state.administration_id,
                "sequence": sequence,
                "item_version_id": item_version_id,
                "revision": 0,
                "idempotency_key": idempotency_key,
                "section_index": section_index,
                "is_operational": operational,
                "response": response,
                "presentation": presentation,
                "selection": selection,
                "score": score,
                "is_correct": engine.credited(test, index, score),
                "presented_at": presented_at,
                "answered_at": now,
                "time_taken_ms": max(0, int((now - presented_at).total_seconds() * 1000)),
                "theta_after": float(posterior.theta),
                "se_after": float(posterior.se),
            },
        )
        self._count_presentation(test, state)
        return self._view(test, state, now, accepted_sequence=sequence)

    def _accept_free(
        self,
        test: CompiledTest,
        state: SessionState,
        index: int,
        response: Any,
        idempotency_key: str,
        now: datetime,
    ) -> dict:
        """Record an answer (or a new revision of one) to any item of the open free section.

        The student stays in the section: the reply is the view with the section summary.
        """
        score = score_response(
            test.item_types[index], test.contents[index], test.scorings[index], response
        )
        # Time on the item: since the previous answer in the section (or the section's start).
        presented_at = _from_epoch(state.presented_at) or now
        presentation = {"option_order": engine.option_order(test, state, index)}
        section_index = state.section_index
        revision = engine.record_free_answer(
            test, state, index, engine.irt_category(test, index, score), idempotency_key,
            now.timestamp(),
        )  # fmt: skip
        sequence = state.n_responses
        posterior = state.posterior(test)
        self._persist(
            test,
            state,
            now,
            response={
                "exam_session_id": state.session_id,
                "administration_id": state.administration_id,
                "sequence": sequence,
                "item_version_id": int(test.item_version_ids[index]),
                "revision": revision,
                "idempotency_key": idempotency_key,
                "section_index": section_index,
                "is_operational": index < test.n_operational,
                "response": response,
                "presentation": presentation,
                "selection": {},
                "score": score,
                "is_correct": engine.credited(test, index, score),
                "presented_at": presented_at,
                "answered_at": now,
                "time_taken_ms": max(0, int((now - presented_at).total_seconds() * 1000)),
                "theta_after": float(posterior.theta),
                "se_after": float(posterior.se),
            },
        )
        return self._view(test, state, now, accepted_sequence=sequence)

    def _free_index(self, test: CompiledTest, state: SessionState, item_handle: str) -> int | None:
        """The item of the open free section a handle names, or None."""
        if state.current is not None and item_handle == self._handle_of(test, state, state.current):
            return state.current
        for index in engine.section_plan(state):
            if item_handle == self._handle_of(test, state, index):
                return index
        return None

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
        if engine.section_open(test, state) and (
            self._free_index(test, state, item_handle) is not None
        ):
            return None  # free navigation: any item of the section, answered or not
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
