"""users.accommodations and exam_sessions.conditions: accommodations recorded as testing conditions

Revision ID: e8a4c6f0b2d1
Revises: d5e7f9a1b2c4
Create Date: 2026-12-03 11:30:00

users.accommodations is the student's profile (QTI PNP-like: font_size, high_contrast, ruby,
read_aloud, line_reader); extra time stays in users.extra_time_factor. exam_sessions.conditions
holds what was in force when the sitting started and every change the student made. Both are
JSON objects, empty for existing rows (the defaults apply; see delivery.accommodations).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "e8a4c6f0b2d1"
down_revision = "d5e7f9a1b2c4"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    for table, column in (("users", "accommodations"), ("exam_sessions", "conditions")):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column(column, JSON, nullable=False, server_default=sa.text("'{}'"))
            )
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("exam_sessions") as batch_op:
        batch_op.drop_column("conditions")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("accommodations")
