"""Exposure counters: shared through the state store, rebuilt from the database when lost."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import func, select

from cbt.db import db
from cbt.state import StateStore
from delivery.engine import CompiledTest
from delivery.models import (
    Administration,
    ExamSession,
    ItemResponse,
    latest_revisions,
)
from delivery.schemas import CatSectionSpec
from delivery.service.common import _LIVE
from delivery.service.persistence import store_after_commit


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
        self._names: dict[tuple[int, int | None], list[str]] = {}

    def _key(self, test_definition_id: int) -> str:
        return f"{self.store.keys.exposure_counts(test_definition_id)}:by-version"

    def rates(self, test: CompiledTest) -> np.ndarray:
        cache_key = (test.test_definition_id, test.snapshot_id)
        cached = self._snapshots.get(cache_key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1]
        fields = self.snapshot(test.test_definition_id, test)
        # perf (issue 12): the field names are built once per form, not per refresh (a str(int())
        # of a numpy element per pool item was most of a refresh's CPU for 10,000 items).
        names = self._names.get(cache_key)
        if names is None:
            names = self._names[cache_key] = [str(int(v)) for v in test.item_version_ids]
        counts = np.fromiter(
            (fields.get(name, 0) for name in names), dtype=float, count=test.n_operational
        )
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
        .where(
            ItemResponse.exam_session_id.in_(sessions),
            ItemResponse.is_operational,
            latest_revisions(),
        )
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
