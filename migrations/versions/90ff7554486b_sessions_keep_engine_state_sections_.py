"""sessions keep engine state; sections, pretest, subscores, accommodations

Revision ID: 90ff7554486b
Revises: f027837dfbdf
Create Date: 2026-11-26 11:21:07.016779
"""

from alembic import op
import sqlalchemy as sa
import cbt.db
from sqlalchemy.dialects import postgresql

revision = '90ff7554486b'
down_revision = 'f027837dfbdf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill existing rows; new rows get their values from the models.

    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('section_index', sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table('item_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('section_index', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('is_operational', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('presentation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('selection', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscores', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('finish_reason', sa.String(length=32), nullable=False, server_default="completed"))
        batch_op.add_column(sa.Column('test_definition_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_results_test_definition_id_test_definitions'), 'test_definitions', ['test_definition_id'], ['id'])

    with op.batch_alter_table('test_definitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_test_definitions_created_by_id_users'), 'users', ['created_by_id'], ['id'])
        batch_op.drop_column('time_limit_seconds')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extra_time_factor', sa.Double(), nullable=False, server_default="1.0"))

    # ### end Alembic commands ###


def downgrade() -> None:

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('extra_time_factor')

    with op.batch_alter_table('test_definitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_limit_seconds', sa.INTEGER(), nullable=True))
        batch_op.drop_constraint(batch_op.f('fk_test_definitions_created_by_id_users'), type_='foreignkey')
        batch_op.drop_column('created_by_id')

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_results_test_definition_id_test_definitions'), type_='foreignkey')
        batch_op.drop_column('test_definition_id')
        batch_op.drop_column('finish_reason')
        batch_op.drop_column('subscores')

    with op.batch_alter_table('item_responses', schema=None) as batch_op:
        batch_op.drop_column('selection')
        batch_op.drop_column('presentation')
        batch_op.drop_column('is_operational')
        batch_op.drop_column('section_index')

    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.drop_column('section_index')
        batch_op.drop_column('revision')
        batch_op.drop_column('state')

    # ### end Alembic commands ###
