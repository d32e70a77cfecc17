"""item_statistics: statistics about item versions from QTI usage data

Revision ID: a9c3e5f7b1d2
Revises: e8a4c6f0b2d1
Create Date: 2026-12-03 15:20:00

One row per statistic and item version, as a package's imsqti_usagedata resource gives it:
a glossary term (AIS, A-Param, ...), the group it was computed on, and a number, a text or a
value per response.
"""

from alembic import op
import sqlalchemy as sa
import cbt.db
from sqlalchemy.dialects import postgresql

revision = "a9c3e5f7b1d2"
down_revision = "e8a4c6f0b2d1"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "item_statistics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_version_id", sa.Integer(), sa.ForeignKey("item_versions.id"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("context", sa.String(200), nullable=False),
        sa.Column("glossary", sa.String(300), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sa.String(200), nullable=True),
        sa.Column("mapping", JSON, nullable=True),
        sa.Column("case_count", sa.Integer(), nullable=True),
        sa.Column("std_error", sa.Float(), nullable=True),
        sa.Column("std_deviation", sa.Float(), nullable=True),
        sa.Column("last_updated", sa.String(40), nullable=True),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("imported_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_index("ix_item_statistics_item_version_id", "item_statistics", ["item_version_id"])


def downgrade() -> None:
    op.drop_index("ix_item_statistics_item_version_id", table_name="item_statistics")
    op.drop_table("item_statistics")
