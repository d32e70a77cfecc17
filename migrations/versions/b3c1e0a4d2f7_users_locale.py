"""users: the language a person chose (ja or en), remembered across devices

Revision ID: b3c1e0a4d2f7
Revises: 3c1e5a7b9d20
Create Date: 2026-12-02 16:50:00

Nullable: a person who never chose follows the cookie, then the browser's Accept-Language.
"""

from alembic import op
import sqlalchemy as sa

revision = 'b3c1e0a4d2f7'
down_revision = '3c1e5a7b9d20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('locale')
