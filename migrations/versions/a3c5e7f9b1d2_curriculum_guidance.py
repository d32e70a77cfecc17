"""curriculum_guidance: next-step guidance per curriculum area, written by item authors

Revision ID: a3c5e7f9b1d2
Revises: e8a4c6f0b2d1
Create Date: 2026-12-03 15:10:00

One row per 学習指導要領コード or code prefix (an area), with the guidance in Japanese and
English. The 個人票 shows, for each area, the longest stored prefix's text.
"""

from alembic import op
import sqlalchemy as sa

import cbt.db

revision = "a3c5e7f9b1d2"
down_revision = "e8a4c6f0b2d1"
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
