"""Free navigation in linear and LOFT sections: the section's items, flags for review, and the
section's submit from the review screen.

Answers and revisions go through ``Submitting.record_response`` like every answer (durable
before the reply, idempotent per key). Flags and submit keys are part of the session state,
so they are written to the session row before the reply and survive a flushed state store.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt.db import db
from cbt.errors import DomainError, ErrorCode, ValidationError
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import ItemResponse, SessionStatus
from delivery.service.common import _LIVE, MAX_IDEMPOTENCY_KEY
from item_bank.media import MEDIA_URL, media_hashes


class Navigation:
    """The item list, flags and submit of an open free section."""

    def section_items(
        self, student_id: int, session_id: str, device_token: str, now: datetime
    ) -> dict[str, Any]:
        """Every item of the open free section as the student sees it, with the saved answer
        (its latest revision) and the flag, and the media the items use (for prefetch)."""

        def read(state: SessionState) -> dict[str, Any]:
            test = self.session_test(state)
            if state.status in _LIVE:
                self._check_device(state, device_token)
                if self._apply_clock(test, state, now):
                    self._persist(test, state, now)
            self._require_open_section(test, state)
            plan = engine.section_plan(state)
            saved = self._saved_responses(test, state)
            flagged = set(state.flagged)
            items = [
                {
                    **self._student_item(test, state, index),
                    "number": number,
                    "response": saved.get(index),
                    "flagged": index in flagged,
                }
                for number, index in enumerate(plan, start=1)
            ]
            media = media_hashes(json.dumps([test.payloads[i] for i in plan]))
            return {
                "section": self._section_summary(test, state),
                "items": items,
                "media": [MEDIA_URL + sha256 for sha256 in media],
                **self._clock(state, now),
            }

        return self._on_fresh_state(self._owned_state(student_id, session_id), read)

    def set_flag(
        self,
        student_id: int,
        session_id: str,
        device_token: str,
        item_handle: str,
        flagged: bool,
        now: datetime,
    ) -> dict[str, Any]:
        """Mark or unmark an item of the open free section for review (setting it twice is
        harmless)."""

        def act(state: SessionState) -> dict[str, Any]:
            test = self.session_test(state)
            self._require_live(test, state, device_token, now)
            self._require_open_section(test, state)
            index = self._free_index(test, state, item_handle)
            if index is None:
                raise DomainError(
                    "That item is not in this part of the test.",
                    code=ErrorCode.ITEM_NOT_PRESENTED,
                    status=409,
                    details={"item": item_handle},
                )
            if (index in state.flagged) != flagged:
                engine.set_flag(state, index, flagged)
                self._persist(test, state, now)
            return self._view(test, state, now)

        return self._on_fresh_state(self._owned_state(student_id, session_id), act)

    def submit_section(
        self,
        student_id: int,
        session_id: str,
        device_token: str,
        idempotency_key: str,
        now: datetime,
    ) -> dict[str, Any]:
        """End the open free section from its review screen (unanswered items count as not
        answered) and present the next section, or finish. A repeated key changes nothing."""
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise ValidationError(
                f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
                details={"field": "idempotency_key"},
            )

        def act(state: SessionState) -> dict[str, Any]:
            test = self.session_test(state)
            if idempotency_key in state.submit_keys:
                view = self._view(test, state, now)
                view["submitted"] = {
                    "section": state.submit_keys.index(idempotency_key) + 1,
                    "replayed": True,
                }
                return view
            self._require_live(test, state, device_token, now)
            self._require_open_section(test, state)
            submitted = state.section_index + 1
            engine.submit_section(test, state, idempotency_key, now.timestamp(), self._rates(test))
            if engine.is_over(test, state):
                self._finish(test, state)
            else:
                self._count_presentation(test, state)
            self._persist(test, state, now)
            view = self._view(test, state, now)
            view["submitted"] = {"section": submitted, "replayed": False}
            return view

        return self._on_fresh_state(self._owned_state(student_id, session_id), act)

    def _require_live(
        self, test: CompiledTest, state: SessionState, device_token: str, now: datetime
    ) -> None:
        """Refuse unless the sitting is active on this device and within its time (a section
        whose time ran out is ended, and that is recorded)."""
        if state.status in _LIVE:
            self._check_device(state, device_token)
        if state.status == SessionStatus.PAUSED:
            raise DomainError(
                "Your teacher has paused this test. Wait until it is resumed.",
                code=ErrorCode.SESSION_PAUSED,
                status=409,
            )
        if state.status != SessionStatus.ACTIVE:
            raise DomainError(
                "This test has ended; no more answers are accepted.",
                code=ErrorCode.SESSION_NOT_ACTIVE,
                status=409,
                details={"status": state.status},
            )
        if self._time_ran_out(test, state, now):
            self._apply_clock(test, state, now)
            self._persist(test, state, now)
            raise DomainError(
                "Time is up for this part of the test; what you saved counts.",
                code=ErrorCode.TIME_EXPIRED,
                status=409,
                commit=True,
            )

    @staticmethod
    def _require_open_section(test: CompiledTest, state: SessionState) -> None:
        if state.status not in _LIVE or not engine.section_open(test, state):
            spec = test.sections[state.section_index].spec
            raise DomainError(
                "This part of the test is answered one question at a time, in order.",
                code=ErrorCode.NAVIGATION_FORWARD,
                status=409,
                details={"kind": spec.kind, "navigation": spec.navigation, "status": state.status},
            )

    @staticmethod
    def _saved_responses(test: CompiledTest, state: SessionState) -> dict[int, Any]:
        """Item -> its latest saved response in the current section (one read)."""
        rows = db.session.execute(
            select(ItemResponse.item_version_id, ItemResponse.response)
            .where(
                ItemResponse.exam_session_id == state.session_id,
                ItemResponse.section_index == state.section_index,
            )
            .order_by(ItemResponse.sequence)
        )
        return {test.index_of_version[row.item_version_id]: row.response for row in rows}

    @staticmethod
    def _clock(state: SessionState, now: datetime) -> dict[str, Any]:
        deadline = engine.current_deadline(state, now.timestamp())
        return {
            "remaining_seconds": (
                None if deadline is None else max(0, int(deadline - now.timestamp()))
            )
        }
