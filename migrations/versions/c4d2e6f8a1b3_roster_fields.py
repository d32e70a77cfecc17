"""schools, classrooms, users, enrolments: roster identifiers, archiving, names with kana

Revision ID: c4d2e6f8a1b3
Revises: b3c1e0a4d2f7
Create Date: 2026-12-03 10:40:00

sourced_id is the OneRoster identifier (unique, null for rows made in the engine); roster_data
keeps the roster's fields the engine does not model so that an export gives them back;
archived_at hides a row without deleting the results that refer to it; identity_deleted_at marks
a person whose identity was removed (only the pseudonym and responses remain).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import cbt.db

revision = "c4d2e6f8a1b3"
down_revision = "b3c1e0a4d2f7"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TABLES = ("schools", "classrooms", "users", "enrollments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("sourced_id", sa.String(length=255), nullable=True))
            batch_op.add_column(
                sa.Column("roster_data", JSON, nullable=False, server_default=sa.text("'{}'"))
            )
            if table != "users":
                batch_op.add_column(sa.Column("archived_at", cbt.db.UTCDateTime(), nullable=True))
            batch_op.create_unique_constraint(f"uq_{table}_sourced_id", ["sourced_id"])
    with op.batch_alter_table("users") as batch_op:
        for column in ("family_name", "given_name", "family_name_kana", "given_name_kana"):
            batch_op.add_column(sa.Column(column, sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("identity_deleted_at", cbt.db.UTCDateTime(), nullable=True))
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("roster_data", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        for column in (
            "identity_deleted_at",
            "given_name_kana",
            "family_name_kana",
            "given_name",
            "family_name",
        ):
            batch_op.drop_column(column)
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_sourced_id", type_="unique")
            if table != "users":
                batch_op.drop_column("archived_at")
            batch_op.drop_column("roster_data")
            batch_op.drop_column("sourced_id")
