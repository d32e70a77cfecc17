"""Replay: a finished sitting re-run on its published form, compared with what was recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cbt.db import db
from cbt.errors import Conflict, NotFound
from delivery import engine
from delivery.engine import CompiledTest
from delivery.models import (
    ExamSession,
    ItemResponse,
    Result,
)


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


class Replay:
    """Re-running a finished sitting on its form to check its result."""

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
