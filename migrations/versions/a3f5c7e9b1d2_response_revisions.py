"""item_responses.revision: changed answers in sections with free navigation

Revision ID: a3f5c7e9b1d2
Revises: e8a4c6f0b2d1
Create Date: 2026-12-03 15:20:00

A changed answer is a new row (the log stays append-only) with the next revision number; the
latest revision of an item counts. The unique constraint on (session, item version) becomes
(session, item version, revision). Existing rows are revision 0.
"""

from alembic import op
import sqlalchemy as sa

revision = "a3f5c7e9b1d2"
down_revision = "e8a4c6f0b2d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item_responses") as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("item_responses") as batch_op:
        batch_op.alter_column("revision", server_default=None)
        batch_op.drop_constraint(
            "uq_item_responses_exam_session_id_item_version_id", type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_item_responses_exam_session_id_item_version_id_revision",
            ["exam_session_id", "item_version_id", "revision"],
        )


def downgrade() -> None:
    # Only the latest revision of each answer survives a downgrade (the old constraint allows
    # one row per session and item).
    op.execute(
        "DELETE FROM item_responses WHERE EXISTS (SELECT 1 FROM item_responses AS later "
        "WHERE later.exam_session_id = item_responses.exam_session_id "
        "AND later.item_version_id = item_responses.item_version_id "
        "AND later.revision > item_responses.revision)"
    )
    with op.batch_alter_table("item_responses") as batch_op:
        batch_op.drop_constraint(
            "uq_item_responses_exam_session_id_item_version_id_revision", type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_item_responses_exam_session_id_item_version_id",
            ["exam_session_id", "item_version_id"],
        )
        batch_op.drop_column("revision")
