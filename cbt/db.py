"""The database: one declarative base, one unbound Flask-SQLAlchemy extension, shared column types,
and the read replica.

Identical behaviour on SQLite and PostgreSQL is a goal, so the few types that differ between
them (timezone-aware timestamps, JSON) are wrapped here once.

Staff reads (reports, exports, the monitor) can go to a streaming replica
(``CBT_DATABASE_REPLICA_URL``): inside ``read_only()`` the session reads through the replica's
engine and still writes (flushes, INSERT/UPDATE/DELETE) through the primary. Students never
read from it, so a student's own just-written answer always comes from the primary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, request
from flask import session as cookie
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSqlaSession
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, exc, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations are the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (every ``*_at`` column holds one)."""
    return datetime.now(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """An aware time as ISO 8601 with ``Z`` (how the API writes every time); None stays None."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware.

    SQLite keeps no zone, PostgreSQL's ``timestamptz`` does; this type makes both hand back
    aware UTC values and refuses naive ones, so comparisons never mix the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use cbt.db.utcnow() or an aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every model in every package."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSONType},
    )


_log = logging.getLogger(__name__)
_REPLICA = "cbt.replica"  # session.info key: the replica's engine while read_only() is on


class RoutingSession(FlaskSqlaSession):
    """Flask-SQLAlchemy's session; inside ``read_only()`` its reads go to the replica."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any):
        replica = self.info.get(_REPLICA)
        if replica is not None and not self._flushing and not _writes(clause):
            return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kw)


def _writes(clause: Any) -> bool:
    return clause is not None and (
        getattr(clause, "is_dml", False) or getattr(clause, "_for_update_arg", None) is not None
    )


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})


# How far behind the replica is, in seconds: 0 when it has replayed all it received (an idle
# primary sends nothing, and the last replay's age would read as lag).
_LAG = text(
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


class Replica:
    """The replica's engine and whether to use it now: reachable and not lagging.

    A failed check sends reads to the primary for ``retry_seconds`` (and says so in the log),
    so an outage costs one failed connection attempt per worker per period, not one a request.
    """

    def __init__(
        self, url: str, options: dict[str, Any], max_lag_seconds: float, retry_seconds: float = 5
    ) -> None:
        connect_args = {**options.pop("connect_args", {}), "connect_timeout": 2}
        self.engine = create_engine(url, connect_args=connect_args, **options)
        self.max_lag_seconds = max_lag_seconds
        self.retry_seconds = retry_seconds
        self._primary_until = 0.0

    def usable(self) -> bool:
        now = time.monotonic()
        if now < self._primary_until:
            return False
        try:
            with self.engine.connect() as connection:
                lag = float(connection.scalar(_LAG) or 0)
        except exc.SQLAlchemyError as error:
            self._primary_until = now + self.retry_seconds
            _log.warning(
                "Read replica unreachable (%s); staff reads go to the primary for %.0f s.",
                type(error).__name__, self.retry_seconds,
            )  # fmt: skip
            return False
        if lag > self.max_lag_seconds:
            self._primary_until = now + self.retry_seconds
            _log.warning(
                "Read replica %.1f s behind (limit %.0f s); staff reads go to the primary.",
                lag, self.max_lag_seconds,
            )  # fmt: skip
            return False
        return True


_WROTE_AT = "cbt_wrote_at"  # in the signed cookie: when this staff user last wrote


def init_replica(
    app: Flask, url: str | None, options: dict[str, Any], staff_reads: frozenset[str]
) -> None:
    """Configure the replica (or none): GET requests to the blueprints or endpoints named in
    ``staff_reads`` read inside ``read_only()``, and staff writes are remembered for
    read-your-writes. Without a replica nothing is registered (no cost per request)."""
    if url is None:
        app.extensions[_REPLICA] = None
        return
    app.extensions[_REPLICA] = Replica(url, dict(options), app.config["REPLICA_MAX_LAG_SECONDS"])

    @app.before_request
    def _enter_read_only() -> None:
        g.cbt_role_at_start = cookie.get("role")
        if request.method in ("GET", "HEAD") and (
            request.blueprint in staff_reads or request.endpoint in staff_reads
        ):
            context = read_only()
            context.__enter__()
            g.cbt_read_only = context

    @app.teardown_request
    def _leave_read_only(error: BaseException | None) -> None:
        context = g.pop("cbt_read_only", None)
        if context is not None:
            context.__exit__(None, None, None)

    @app.after_request
    def _remember_staff_write(response: Any) -> Any:
        # Students never read from the replica; a staff user who just changed something reads
        # from the primary for REPLICA_AFTER_WRITE_SECONDS, so they see their own change. The
        # role is the one the request came with: logging in is not a change to read back.
        role = g.get("cbt_role_at_start")
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and response.status_code < 400
            and role is not None
            and role != "student"
        ):
            cookie[_WROTE_AT] = int(time.time())
        return response


def _wrote_lately() -> bool:
    wrote_at = cookie.get(_WROTE_AT)
    window = current_app.config["REPLICA_AFTER_WRITE_SECONDS"]
    return isinstance(wrote_at, int) and time.time() - wrote_at < window


@contextmanager
def read_only() -> Iterator[bool]:
    """Reads in this block go to the replica, if one is configured and usable and the user is
    staff who has not written in the last REPLICA_AFTER_WRITE_SECONDS; yields whether they do.

    Writes inside the block still go to the primary. Never use it on a student's path.
    """
    session = db.session()
    replica: Replica | None = current_app.extensions.get(_REPLICA)
    previous = session.info.get(_REPLICA)
    use = (
        replica is not None
        and cookie.get("role") not in (None, "student")
        and not _wrote_lately()
        and replica.usable()
    )
    if use:
        session.info[_REPLICA] = replica.engine
    try:
        yield use
    finally:
        if previous is None:
            session.info.pop(_REPLICA, None)
        else:
            session.info[_REPLICA] = previous


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite leaves foreign keys off and blocks readers during writes unless told otherwise.
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current transaction commits; drop it if it rolls back.

    Used for side effects outside the database (the state store) that must never run ahead of
    what is durable.
    """
    transaction_list("on_commit")[0].append(callback)


_ON_COMMIT = "cbt.tx.on_commit"
_TX_PREFIX = "cbt.tx."


def transaction_list(name: str) -> tuple[list[Any], bool]:
    """A list that lives exactly as long as the current transaction (gone after commit or
    rollback); returns it and whether it was just created."""
    info = db.session().info
    key = _TX_PREFIX + name
    created = key not in info
    return info.setdefault(key, []), created


def _end_transaction(session: OrmSession) -> list[Callable[[], None]]:
    callbacks = session.info.get(_ON_COMMIT, [])
    for key in [k for k in session.info if isinstance(k, str) and k.startswith(_TX_PREFIX)]:
        del session.info[key]
    return callbacks


@event.listens_for(OrmSession, "after_commit")
def _run_on_commit(session: OrmSession) -> None:
    for callback in _end_transaction(session):
        callback()


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_on_commit(session: OrmSession, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        _end_transaction(session)
