"""published forms: form_snapshots, sessions and results point at theirs

Revision ID: 3c1e5a7b9d20
Revises: 7f983cf9deda
Create Date: 2026-12-02 16:40:00.000000

Administrations already open get their snapshot lazily, at their next sitting
(delivery.service); existing sessions are attached to it then.
"""

from alembic import op
import sqlalchemy as sa
import cbt.db
from sqlalchemy.dialects import postgresql

revision = '3c1e5a7b9d20'
down_revision = '7f983cf9deda'
branch_labels = None
depends_on = None

_JSONB = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('form_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('administration_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('test_definition_id', sa.Integer(), nullable=False),
    sa.Column('parameter_set_id', sa.Integer(), nullable=False),
    sa.Column('item_version_ids', sa.JSON(), nullable=False),
    sa.Column('enemy_pairs', sa.JSON(), nullable=False),
    sa.Column('settings', _JSONB, nullable=False),
    sa.Column('scale', _JSONB, nullable=False),
    sa.Column('seed_rule', sa.String(length=100), nullable=False),
    sa.Column('engine_version', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', cbt.db.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['administration_id'], ['administrations.id'], name=op.f('fk_form_snapshots_administration_id_administrations')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_form_snapshots_created_by_id_users')),
    sa.ForeignKeyConstraint(['parameter_set_id'], ['parameter_sets.id'], name=op.f('fk_form_snapshots_parameter_set_id_parameter_sets')),
    sa.ForeignKeyConstraint(['test_definition_id'], ['test_definitions.id'], name=op.f('fk_form_snapshots_test_definition_id_test_definitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_snapshots')),
    sa.UniqueConstraint('administration_id', 'revision', name=op.f('uq_form_snapshots_administration_id_revision'))
    )
    with op.batch_alter_table('form_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_snapshots_administration_id'), ['administration_id'], unique=False)

    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_exam_sessions_snapshot_id_form_snapshots'), 'form_snapshots', ['snapshot_id'], ['id'])

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('engine_version', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_results_snapshot_id_form_snapshots'), 'form_snapshots', ['snapshot_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_results_snapshot_id_form_snapshots'), type_='foreignkey')
        batch_op.drop_column('engine_version')
        batch_op.drop_column('snapshot_id')

    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_exam_sessions_snapshot_id_form_snapshots'), type_='foreignkey')
        batch_op.drop_column('snapshot_id')

    with op.batch_alter_table('form_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_snapshots_administration_id'))

    op.drop_table('form_snapshots')
