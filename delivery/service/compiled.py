"""The compiled-test caches of a delivery service (one per process)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import select, update

from cbt.db import db
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    Administration,
    AdministrationStatus,
    ExamSession,
    FormSnapshot,
)
from delivery.schemas import CatSectionSpec
from delivery.service.forms import compile_definition, compile_snapshot, ensure_snapshot


class CompiledTests:
    """The compiled-test caches: definitions (simulations) and published forms (sittings)."""

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

    def warm_open_forms(self, limit: int = 20) -> list[int]:
        """Compile the published forms of the open administrations (the newest ``limit``), so
        a fresh worker's first students do not wait for it. Returns the forms compiled now."""
        query = (
            select(FormSnapshot.id)
            .join(Administration, Administration.id == FormSnapshot.administration_id)
            .where(Administration.status == AdministrationStatus.OPEN)
            .order_by(FormSnapshot.id.desc())
            .limit(limit)
        )
        compiled = []
        for snapshot_id in db.session.scalars(query).all():
            if snapshot_id not in self._forms:
                self.form_test(snapshot_id)
                compiled.append(snapshot_id)
        return compiled

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
