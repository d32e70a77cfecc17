"""Alembic environment: the app's engine and the metadata of every package's models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import cbt.models  # noqa: F401
import delivery.models  # noqa: F401
import item_bank.models  # noqa: F401
import jobs.models  # noqa: F401
import lti.models  # noqa: F401
import marking.models  # noqa: F401
from cbt.db import Base
from cbt.migrate import include_name

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _run(connection)


def _run(connection) -> None:
    # Batch mode lets the same migrations alter tables on SQLite.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
