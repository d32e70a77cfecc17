"""Rescoring and human marking: set item scores, result revisions, rater marks

Revision ID: a1f3c5e7d9b2
Revises: e8a4c6f0b2d1
Create Date: 2026-12-03 15:20:00

item_score_entries holds scores set after delivery (append-only; the latest per session and item
overrides item_responses.score). result_revisions keeps each result a rescore replaced.
marking_plans, marking_assignments and marks are the marking package's (docs/marking.md).
"""

from alembic import op
import sqlalchemy as sa
import cbt.db


revision = "a1f3c5e7d9b2"
down_revision = "e8a4c6f0b2d1"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "item_score_entries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("exam_session_id", sa.String(length=32), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("item_response_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_item_score_entries_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["exam_session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_item_score_entries_exam_session_id_exam_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["item_response_id"],
            ["item_responses.id"],
            name=op.f("fk_item_score_entries_item_response_id_item_responses"),
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_versions.id"],
            name=op.f("fk_item_score_entries_item_version_id_item_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_score_entries")),
    )
    with op.batch_alter_table("item_score_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_item_score_entries_target", ["exam_session_id", "item_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_item_score_entries_item_response_id"), ["item_response_id"], unique=False
        )

    op.create_table(
        "result_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("exam_session_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("theta", sa.Float(), nullable=False),
        sa.Column("se", sa.Float(), nullable=False),
        sa.Column("scale_score", sa.Float(), nullable=False),
        sa.Column("scale_se", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=50), nullable=False),
        sa.Column("subscores", sa.JSON(), nullable=False),
        sa.Column("parameter_set_id", sa.Integer(), nullable=False),
        sa.Column("engine_version", sa.String(length=32), nullable=True),
        sa.Column("scored_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("new_parameter_set_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_result_revisions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["exam_session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_result_revisions_exam_session_id_exam_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["new_parameter_set_id"],
            ["parameter_sets.id"],
            name=op.f("fk_result_revisions_new_parameter_set_id_parameter_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["parameter_set_id"],
            ["parameter_sets.id"],
            name=op.f("fk_result_revisions_parameter_set_id_parameter_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["results.id"], name=op.f("fk_result_revisions_result_id_results")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_revisions")),
        sa.UniqueConstraint(
            "result_id", "revision", name=op.f("uq_result_revisions_result_id_revision")
        ),
    )
    with op.batch_alter_table("result_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_result_revisions_exam_session_id"), ["exam_session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_result_revisions_result_id"), ["result_id"], unique=False
        )

    op.create_table(
        "marking_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("double_marking_share", sa.Float(), nullable=False),
        sa.Column("tolerance", sa.Integer(), nullable=False),
        sa.Column("updated_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
            name=op.f("fk_marking_plans_administration_id_administrations"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_marking_plans_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_plans")),
        sa.UniqueConstraint("administration_id", name=op.f("uq_marking_plans_administration_id")),
    )
    op.create_table(
        "marking_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.Column("created_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
            name=op.f("fk_marking_assignments_administration_id_administrations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_marking_assignments_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["users.id"], name=op.f("fk_marking_assignments_rater_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_assignments")),
        sa.UniqueConstraint(
            "administration_id",
            "rater_id",
            name=op.f("uq_marking_assignments_administration_id_rater_id"),
        ),
    )
    with op.batch_alter_table("marking_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marking_assignments_administration_id"),
            ["administration_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_marking_assignments_rater_id"), ["rater_id"], unique=False
        )
    op.create_table(
        "marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_response_id", BigId, nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", cbt.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
            name=op.f("fk_marks_administration_id_administrations"),
        ),
        sa.ForeignKeyConstraint(
            ["item_response_id"],
            ["item_responses.id"],
            name=op.f("fk_marks_item_response_id_item_responses"),
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_versions.id"],
            name=op.f("fk_marks_item_version_id_item_versions"),
        ),
        sa.ForeignKeyConstraint(["rater_id"], ["users.id"], name=op.f("fk_marks_rater_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marks")),
        sa.UniqueConstraint(
            "item_response_id", "rater_id", name=op.f("uq_marks_item_response_id_rater_id")
        ),
        sa.UniqueConstraint(
            "item_response_id", "stage", name=op.f("uq_marks_item_response_id_stage")
        ),
    )
    with op.batch_alter_table("marks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marks_administration_id"), ["administration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_marks_item_version_id"), ["item_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_marks_rater_id"), ["rater_id"], unique=False)


def downgrade() -> None:
    op.drop_table("marks")
    op.drop_table("marking_assignments")
    op.drop_table("marking_plans")
    op.drop_table("result_revisions")
    op.drop_table("item_score_entries")
