"""administration_start_windows: staggered starts per school or class

Revision ID: f1c3a5e7b9d2
Revises: b4d6f8a0c2e4
Create Date: 2026-12-03 15:20:00

One row per school or class of an administration whose sittings may begin only from
starts_at (a class's own row wins over its school's). No row: the administration's window.
"""

from alembic import op
import sqlalchemy as sa

import cbt.db

revision = "f1c3a5e7b9d2"
down_revision = "b4d6f8a0c2e4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "administration_start_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["administration_id"], ["administrations.id"]),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("administration_id", "school_id", "classroom_id"),
    )
    op.create_index(
        "ix_administration_start_windows_administration_id",
        "administration_start_windows",
        ["administration_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_administration_start_windows_administration_id",
        table_name="administration_start_windows",
    )
    op.drop_table("administration_start_windows")
