"""The database: one declarative base, one unbound Flask-SQLAlchemy extension, shared column types.

Identical behaviour on SQLite and PostgreSQL is a goal, so the few types that differ between
them (timezone-aware timestamps, JSON) are wrapped here once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, MetaData, event
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


db = SQLAlchemy(model_class=Base)


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
