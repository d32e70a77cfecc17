"""LTI 1.3: registered platforms and deployments, the users, contexts and resource links launches
link, and the AGS scores waiting to be posted

Revision ID: d7e1a9c3b5f2
Revises: c4d2e6f8a1b3
Create Date: 2026-12-03 10:38:00
"""

from alembic import op
import sqlalchemy as sa
import cbt.db


revision = 'd7e1a9c3b5f2'
down_revision = 'c4d2e6f8a1b3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_platforms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('auth_login_url', sa.String(length=1000), nullable=False),
    sa.Column('token_url', sa.String(length=1000), nullable=False),
    sa.Column('jwks_url', sa.String(length=1000), nullable=False),
    sa.Column('tool_key_id', sa.String(length=100), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_lti_platforms_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platforms')),
    sa.UniqueConstraint('issuer', 'client_id', name=op.f('uq_lti_platforms_issuer_client_id'))
    )
    op.create_table('lti_contexts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('classroom_id', sa.Integer(), nullable=False),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['classroom_id'], ['classrooms.id'], name=op.f('fk_lti_contexts_classroom_id_classrooms')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_contexts_platform_id_lti_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_contexts')),
    sa.UniqueConstraint('platform_id', 'context_id', name=op.f('uq_lti_contexts_platform_id_context_id'))
    )
    with op.batch_alter_table('lti_contexts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_contexts_classroom_id'), ['classroom_id'], unique=False)

    op.create_table('lti_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_deployments_platform_id_lti_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_deployments')),
    sa.UniqueConstraint('platform_id', 'deployment_id', name=op.f('uq_lti_deployments_platform_id_deployment_id'))
    )
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_deployments_platform_id'), ['platform_id'], unique=False)

    op.create_table('lti_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_users_platform_id_lti_platforms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_users_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_users')),
    sa.UniqueConstraint('platform_id', 'sub', name=op.f('uq_lti_users_platform_id_sub'))
    )
    with op.batch_alter_table('lti_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_users_user_id'), ['user_id'], unique=False)

    op.create_table('lti_resource_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('administration_id', sa.Integer(), nullable=True),
    sa.Column('classroom_id', sa.Integer(), nullable=True),
    sa.Column('lineitem_url', sa.String(length=1000), nullable=True),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['administration_id'], ['administrations.id'], name=op.f('fk_lti_resource_links_administration_id_administrations')),
    sa.ForeignKeyConstraint(['classroom_id'], ['classrooms.id'], name=op.f('fk_lti_resource_links_classroom_id_classrooms')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_resource_links_platform_id_lti_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_resource_links')),
    sa.UniqueConstraint('platform_id', 'resource_link_id', name=op.f('uq_lti_resource_links_platform_id_resource_link_id'))
    )
    with op.batch_alter_table('lti_resource_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_resource_links_administration_id'), ['administration_id'], unique=False)

    op.create_table('lti_launch_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_links.id'], name=op.f('fk_lti_launch_users_resource_link_id_lti_resource_links')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_launch_users_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_launch_users')),
    sa.UniqueConstraint('resource_link_id', 'user_id', name=op.f('uq_lti_launch_users_resource_link_id_user_id'))
    )
    with op.batch_alter_table('lti_launch_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_launch_users_user_id'), ['user_id'], unique=False)

    op.create_table('lti_score_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=False),
    sa.Column('exam_session_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', cbt.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', cbt.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['exam_session_id'], ['exam_sessions.id'], name=op.f('fk_lti_score_posts_exam_session_id_exam_sessions')),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_links.id'], name=op.f('fk_lti_score_posts_resource_link_id_lti_resource_links')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_score_posts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_score_posts')),
    sa.UniqueConstraint('resource_link_id', 'exam_session_id', name=op.f('uq_lti_score_posts_resource_link_id_exam_session_id'))
    )
    with op.batch_alter_table('lti_score_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_score_posts_exam_session_id'), ['exam_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_score_posts_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lti_score_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_score_posts_status'))
        batch_op.drop_index(batch_op.f('ix_lti_score_posts_exam_session_id'))

    op.drop_table('lti_score_posts')
    with op.batch_alter_table('lti_launch_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_launch_users_user_id'))

    op.drop_table('lti_launch_users')
    with op.batch_alter_table('lti_resource_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_resource_links_administration_id'))

    op.drop_table('lti_resource_links')
    with op.batch_alter_table('lti_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_users_user_id'))

    op.drop_table('lti_users')
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_deployments_platform_id'))

    op.drop_table('lti_deployments')
    with op.batch_alter_table('lti_contexts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_contexts_classroom_id'))

    op.drop_table('lti_contexts')
    op.drop_table('lti_platforms')
