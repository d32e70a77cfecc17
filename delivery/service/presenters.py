"""Presenters: the JSON a student's player and a proctor's monitor receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cbt.db import iso_utc
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    SessionStatus,
)
from delivery.service.common import _LIVE, _from_epoch


class Presenters:
    """What a student and a proctor are shown of a sitting."""

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
                    "kind": section.kind,
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

    def _status_view(
        self, test: CompiledTest, state: SessionState, now: datetime
    ) -> dict[str, Any]:
        """The few fields the player polls for: a pause, a resume, extra time, a reset, the end."""
        deadline = engine.current_deadline(state, now.timestamp())
        return {
            "id": state.session_id,
            "status": state.status,
            "paused": state.status == SessionStatus.PAUSED,
            "finished": state.status not in _LIVE,
            "revision": state.revision,
            "n_answered": state.n_answered,
            "section": state.section_index + 1,
            "remaining_seconds": (
                None if deadline is None else max(0, int(deadline - now.timestamp()))
            ),
            "extra_seconds": state.extra_seconds,
            "server_time": iso_utc(now),
        }

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
