"""Database settings past one machine: pool sizes, the PgBouncer switch and the replica URL.

The replica's routing itself runs against a real streaming replica in tests/scale."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, session
from sqlalchemy import text

from cbt.app import create_app
from cbt.config import ConfigError, load_settings
from cbt.db import db, read_only

PG = "postgresql://cbt@db.invalid/cbt"


def test_pool_sizes_and_pgbouncer_reach_the_engine(tmp_path: Path) -> None:
    app = create_app(
        {
            "DATABASE_URL": PG,
            "DATABASE_POOL_SIZE": "4",
            "DATABASE_MAX_OVERFLOW": "2",
            "DATABASE_PGBOUNCER": "true",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"]) == (4, 2)
    assert options["connect_args"] == {"prepare_threshold": None}  # no server-side PREPARE
    assert (
        "connect_args"
        not in create_app({"DATABASE_URL": PG, "INSTANCE_PATH": str(tmp_path)}).config[
            "SQLALCHEMY_ENGINE_OPTIONS"
        ]
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_REPLICA_URL": "sqlite:///replica.db"}, "REPLICA_URL must be a PostgreSQL"),
        ({"DATABASE_REPLICA_URL": "mysql://x/y"}, "supported are SQLite and PostgreSQL"),
        ({"DATABASE_POOL_SIZE": "0"}, "POOL_SIZE must be >= 1"),
        ({"DATABASE_MAX_OVERFLOW": "-1"}, "MAX_OVERFLOW >= 0"),
    ],
)
def test_bad_database_settings_refuse_to_start(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, str(tmp_path), environ={})


def test_replica_url_is_normalised_to_psycopg(tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_REPLICA_URL": PG}, str(tmp_path), environ={})
    assert settings["DATABASE_REPLICA_URL"] == "postgresql+psycopg://cbt@db.invalid/cbt"


def test_without_a_replica_read_only_reads_from_the_primary(app: Flask) -> None:
    with app.test_request_context("/"):
        session["role"] = "teacher"
        with read_only() as on_replica:
            assert on_replica is False
            assert db.session.scalar(text("SELECT 1")) == 1
