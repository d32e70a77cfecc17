"""Session state between the state store and the database: the guarded write on the
submit path (one statement on PostgreSQL), the cache written after commit, and the rebuild from
the row and the response log."""

from __future__ import annotations

import base64
import functools
import json
import logging
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from cbt.db import db, on_commit, transaction_list
from cbt.errors import Conflict, NotFound
from cbt.state import StateStore
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    ExamSession,
    ItemResponse,
    SessionStatus,
)
from delivery.schemas import CatSectionSpec
from delivery.service.common import _from_epoch

_log = logging.getLogger(__name__)


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
            driver = connection.connection.driver_connection
            # Prepared unless psycopg was told not to (PgBouncer in transaction mode).
            prepare = driver.prepare_threshold is not None
            with driver.cursor() as cursor:
                cursor.execute(_answer_sql(db.engine.dialect), parameters, prepare=prepare)
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


class Persistence:
    """Session state between the state store and the database."""

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
