"""Presenters: the JSON a student's player and a proctor's monitor receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt.db import db, iso_utc
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    Result,
    SessionStatus,
)
from delivery.schemas import EndScreen
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
            item = self._student_item(test, state, state.current)
            if engine.section_open(test, state):
                number = engine.section_plan(state).index(state.current) + 1
                item["sequence"] = self._answered_before_section(state) + number
                item["number"] = number
            else:
                item["sequence"] = state.n_answered + 1
        deadline = engine.current_deadline(state, now.timestamp())
        view: dict[str, Any] = {
            "session": {
                "id": state.session_id,
                "administration_id": state.administration_id,
                "status": state.status,
                "n_answered": state.n_answered,
                "max_items": test.max_items,
                "section": self._section_summary(test, state),
                "deadline_at": iso_utc(_from_epoch(deadline)),
                "remaining_seconds": (
                    None if deadline is None else max(0, int(deadline - now.timestamp()))
                ),
                "server_time": iso_utc(now),
            },
            "item": item,
            "finished": state.status not in _LIVE,
        }
        view["section"] = view["session"]["section"]  # the navigation contract's place for it
        end_screen = test.spec.end_screen
        if view["finished"] and (end_screen.show_score or end_screen.show_band):
            view["result"] = self._own_result(state.session_id, end_screen)
        if include_token:
            view["session"]["device_token"] = state.device_token
        if accepted_sequence is not None:
            view["accepted"] = {"sequence": accepted_sequence, "replayed": replayed}
        return view

    @staticmethod
    def _own_result(session_id: str, end_screen: EndScreen) -> dict[str, Any] | None:
        """What the definition lets the end screen show of the student's own result (one read,
        only once the sitting has ended)."""
        row = db.session.execute(
            select(Result.scale_score, Result.scale_se, Result.band).where(
                Result.exam_session_id == session_id
            )
        ).one_or_none()
        if row is None:
            return None  # reset: no result
        shown: dict[str, Any] = {}
        if end_screen.show_score:
            shown |= {"scale_score": row.scale_score, "scale_se": row.scale_se}
        if end_screen.show_band:
            shown["band"] = row.band
        return shown

    def _student_item(self, test: CompiledTest, state: SessionState, index: int) -> dict[str, Any]:
        """An item as the student sees it: the sanitised view (no key, no scoring), options in
        the order presented, named by its opaque handle."""
        payload = test.payloads[index]
        order = engine.option_order(test, state, index)
        if order is not None:
            by_id = {option["id"]: option for option in payload["options"]}
            payload = {**payload, "options": [by_id[i] for i in order]}
        return {"handle": self._handle_of(test, state, index), **payload}

    @staticmethod
    def _answered_before_section(state: SessionState) -> int:
        return len({i for i, s in zip(state.items, state.sections, strict=True)
                    if s < state.section_index})  # fmt: skip

    def _section_summary(self, test: CompiledTest, state: SessionState) -> dict[str, Any]:
        """The current section; for an open free section, every item's number, handle and
        state (what the navigator and the review screen show)."""
        spec = test.sections[state.section_index].spec
        summary: dict[str, Any] = {
            "index": state.section_index + 1,
            "count": len(test.sections),
            "key": spec.key,
            "title": spec.title,
            "kind": spec.kind,
            "navigation": spec.navigation,
        }
        if state.status in _LIVE and engine.section_open(test, state):
            answered, flagged = set(state.items), set(state.flagged)
            summary["items"] = [
                {
                    "handle": self._handle_of(test, state, index),
                    "number": number,
                    "answered": index in answered,
                    "flagged": index in flagged,
                }
                for number, index in enumerate(engine.section_plan(state), start=1)
            ]
        return summary

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
