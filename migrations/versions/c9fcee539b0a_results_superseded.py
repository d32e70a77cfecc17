"""results.superseded: the current result per (student, administration), flagged, with a partial
index for the national aggregates

Revision ID: c9fcee539b0a
Revises: a3c5e7f9b1d2
Create Date: 2026-12-04 19:10:00

A result is superseded when its sitting was reset or a later result (higher id) of a sitting not
reset exists for the same student and administration: the definition the dashboard's
``latest_results`` used (the highest result id per pair among sittings not reset), now kept by
``delivery.service.current.refresh_superseded``. The backfill sets only the rows that are
superseded (few: resets and retakes); adding a column with a constant default does not rewrite
the table on PostgreSQL 11+.
"""

from alembic import op
import sqlalchemy as sa

revision = "c9fcee539b0a"
down_revision = "a3c5e7f9b1d2"
branch_labels = None
depends_on = None

CURRENT = "NOT superseded"

BACKFILL = """
UPDATE results SET superseded = TRUE
WHERE EXISTS (
        SELECT 1 FROM exam_sessions s
        WHERE s.id = results.exam_session_id AND s.status = 'reset'
    )
    OR EXISTS (
        SELECT 1 FROM results later
        JOIN exam_sessions ls ON ls.id = later.exam_session_id
        WHERE later.student_id = results.student_id
            AND later.administration_id = results.administration_id
            AND later.id > results.id
            AND ls.status <> 'reset'
    )
"""


def upgrade() -> None:
    op.add_column(
        "results",
        sa.Column("superseded", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Two hash semi-joins over every result; memory keeps them in one pass.
        op.execute("SET LOCAL work_mem = '256MB'")
    op.execute(BACKFILL)
    op.create_index(
        "ix_results_current",
        "results",
        ["administration_id"],
        unique=False,
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
        postgresql_include=["band", "scale_score", "scale_se"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_results_current",
        table_name="results",
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
    )
    with op.batch_alter_table("results") as batch_op:
        batch_op.drop_column("superseded")
