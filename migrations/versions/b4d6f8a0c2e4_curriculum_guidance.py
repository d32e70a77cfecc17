"""curriculum_guidance: next-step guidance per curriculum area, written by item authors

Revision ID: b4d6f8a0c2e4
Revises: a3f5c7e9b1d2
Create Date: 2026-12-03 15:10:00

One row per 学習指導要領コード or code prefix (an area), with the guidance in Japanese and
English. The 個人票 shows, for each area, the longest stored prefix's text.
"""

from alembic import op
import sqlalchemy as sa

import cbt.db

revision = "b4d6f8a0c2e4"
down_revision = "a3f5c7e9b1d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "curriculum_guidance",
        sa.Column("code_prefix", sa.String(16), primary_key=True),
        sa.Column("text_ja", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("updated_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("curriculum_guidance")
