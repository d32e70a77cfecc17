"""jobs: background jobs (calibration, rescoring) with their progress and outcome

Revision ID: a3c5e7f9b1d2
Revises: a1f3c5e7d9b2
Create Date: 2026-12-03 15:10:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import cbt.db

revision = "a3c5e7f9b1d2"
down_revision = "a1f3c5e7d9b2"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("runner", sa.String(length=8), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_role", sa.String(length=32), nullable=True),
        sa.Column("created_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", cbt.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", cbt.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_jobs_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index("ix_jobs_status_runner", ["status", "runner"], unique=False)


def downgrade() -> None:
    op.drop_table("jobs")
