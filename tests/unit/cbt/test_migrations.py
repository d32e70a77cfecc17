"""The migrations and the models describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from cbt.db import Base, db
from cbt.migrate import current_revision, head_revision, include_name


def test_database_is_at_head(app: Flask) -> None:
    assert current_revision(db.engine) == head_revision(db.engine)


def test_models_match_migrations(app: Flask) -> None:
    # The partitions of item_responses (PostgreSQL) are the parent's, which the model describes.
    opts = {"compare_type": True, "include_name": include_name}
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
