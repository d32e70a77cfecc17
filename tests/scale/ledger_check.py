"""What the simulated students were told against what the database holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cbt.db import Base
from tests.faults.students import Ledger


def ledger_problems(
    ledger: Ledger, database_url: str, administration_id: int, n_items: int
) -> dict[str, list[Any]]:
    """Acknowledged answers with no row, and sittings not finished with all their answers."""
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.exam_session_id, r.idempotency_key, r.sequence FROM item_responses r "
                "JOIN exam_sessions s ON s.id = r.exam_session_id WHERE s.administration_id = :a"
            ),
            {"a": administration_id},
        ).all()
        sessions = connection.execute(
            text("SELECT id, status, n_answered FROM exam_sessions WHERE administration_id = :a"),
            {"a": administration_id},
        ).all()
    engine.dispose()
    stored = {(r.exam_session_id, r.idempotency_key): r.sequence for r in rows}
    lost = [ack for ack in ledger.acks if stored.get((ack.session_id, ack.key)) != ack.sequence]
    unfinished = [
        (s.id, s.status, s.n_answered)
        for s in sessions
        if s.status != "finished" or s.n_answered != n_items
    ]
    return {"lost": lost, "unfinished": unfinished}


def truncate_all(database_url: str) -> None:
    """Empty every table (PostgreSQL), as tests/conftest.py does after each test."""
    engine = create_engine(database_url, poolclass=NullPool)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
