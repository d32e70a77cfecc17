"""users.password_change_required: a reset or generated password must be replaced

Revision ID: d5e7f9a1b2c4
Revises: d7e1a9c3b5f2
Create Date: 2026-12-03 11:05:00

Set when someone other than the person chose the password (a reset by a school administrator or
operator, a generated initial password); the pages send the person to the password page until
they choose their own.
"""

from alembic import op
import sqlalchemy as sa

revision = "d5e7f9a1b2c4"
down_revision = "d7e1a9c3b5f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_change_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("password_change_required", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("password_change_required")
