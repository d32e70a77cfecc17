"""item_responses partitioned by administration on PostgreSQL

Revision ID: a9d4f2c6e8b1
Revises: f1c3a5e7b9d2
Create Date: 2026-12-03 15:10:00

item_responses gains ``administration_id`` (filled from exam_sessions) and, on PostgreSQL,
becomes a table partitioned by LIST (administration_id): one partition per administration,
``item_responses_a<id>``, and ``item_responses_default`` for anything else. Every unique
constraint present at this point is recreated with ``administration_id`` in front (PostgreSQL
requires the partition key in each); the primary key becomes (id, administration_id), ids still
come from the same sequence. A trigger on administrations creates the partition of each new
administration in the transaction that inserts it. Rows are copied by this migration.

On SQLite the table stays a plain table with the same columns and constraints, so the models
describe both backends. See docs/production.md, "Partition maintenance".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a9d4f2c6e8b1"
down_revision = "f1c3a5e7b9d2"
branch_labels = None
depends_on = None

TABLE = "item_responses"
KEY = "administration_id"
KEY_FK = "fk_item_responses_administration_id_administrations"

CREATE_PARTITION_FUNCTION = """
CREATE OR REPLACE FUNCTION cbt_create_response_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF item_responses FOR VALUES IN (%s)',
        'item_responses_a' || NEW.id, NEW.id
    );
    RETURN NULL;
END
$$
"""
CREATE_PARTITION_TRIGGER = """
CREATE TRIGGER administrations_response_partition AFTER INSERT ON administrations
FOR EACH ROW EXECUTE FUNCTION cbt_create_response_partition()
"""


def _uq_name(columns: list[str]) -> str:
    return op.f(f"uq_{TABLE}_{'_'.join(columns)}")


def _shape(bind: sa.engine.Connection) -> dict:
    """The constraints and indexes as they are now (other migrations may have added some)."""
    inspector = sa.inspect(bind)
    return {
        "columns": [c["name"] for c in inspector.get_columns(TABLE)],
        "uniques": [u["column_names"] for u in inspector.get_unique_constraints(TABLE)],
        "foreign_keys": inspector.get_foreign_keys(TABLE),
        "indexes": [
            i
            for i in inspector.get_indexes(TABLE)
            if not i.get("duplicates_constraint") and not i.get("unique")
        ],
    }


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        _upgrade_plain(bind)
        return
    shape = _shape(bind)
    sequence = bind.scalar(sa.text(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')"))
    op.execute(
        f"CREATE TABLE {TABLE}_new (LIKE {TABLE} INCLUDING DEFAULTS, {KEY} integer NOT NULL) "
        f"PARTITION BY LIST ({KEY})"
    )
    op.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_new DEFAULT")
    for (administration_id,) in bind.execute(sa.text("SELECT id FROM administrations")):
        op.execute(
            f"CREATE TABLE {TABLE}_a{int(administration_id)} PARTITION OF {TABLE}_new "
            f"FOR VALUES IN ({int(administration_id)})"
        )
    columns = ", ".join(f'"{c}"' for c in shape["columns"])
    selected = ", ".join(f'r."{c}"' for c in shape["columns"])
    op.execute(
        f"INSERT INTO {TABLE}_new ({columns}, {KEY}) SELECT {selected}, s.administration_id "
        f"FROM {TABLE} r JOIN exam_sessions s ON s.id = r.exam_session_id"
    )
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"DROP TABLE {TABLE}")
    op.execute(f"ALTER TABLE {TABLE}_new RENAME TO {TABLE}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {TABLE}.id")
    op.create_primary_key(op.f(f"pk_{TABLE}"), TABLE, ["id", KEY])
    _add_constraints(shape, unique=lambda cols: [KEY, *cols])
    op.create_foreign_key(KEY_FK, TABLE, "administrations", [KEY], ["id"])
    op.execute(CREATE_PARTITION_FUNCTION)
    op.execute(CREATE_PARTITION_TRIGGER)


def _add_constraints(shape: dict, unique) -> None:
    for columns in shape["uniques"]:
        columns = unique(columns)
        op.create_unique_constraint(_uq_name(columns), TABLE, columns)
    for fk in shape["foreign_keys"]:
        if fk["constrained_columns"] == [KEY]:
            continue
        op.create_foreign_key(
            fk["name"], TABLE, fk["referred_table"], fk["constrained_columns"],
            fk["referred_columns"], **fk.get("options", {}),
        )  # fmt: skip
    for index in shape["indexes"]:
        op.create_index(index["name"], TABLE, index["column_names"])


def _upgrade_plain(bind: sa.engine.Connection) -> None:
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.add_column(sa.Column(KEY, sa.Integer(), nullable=True))
    op.execute(
        f"UPDATE {TABLE} SET {KEY} = (SELECT s.administration_id FROM exam_sessions s "
        f"WHERE s.id = {TABLE}.exam_session_id)"
    )
    uniques = _shape(bind)["uniques"]
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.alter_column(KEY, existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(KEY_FK, "administrations", [KEY], ["id"])
        for columns in uniques:
            batch_op.drop_constraint(_uq_name(columns), type_="unique")
            batch_op.create_unique_constraint(_uq_name([KEY, *columns]), [KEY, *columns])


def _without_key(columns: list[str]) -> list[str]:
    return [c for c in columns if c != KEY]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        uniques = _shape(bind)["uniques"]
        with op.batch_alter_table(TABLE) as batch_op:
            for columns in uniques:
                batch_op.drop_constraint(_uq_name(columns), type_="unique")
                batch_op.create_unique_constraint(
                    _uq_name(_without_key(columns)), _without_key(columns)
                )
            batch_op.drop_constraint(KEY_FK, type_="foreignkey")
            batch_op.drop_column(KEY)
        return
    op.execute("DROP TRIGGER administrations_response_partition ON administrations")
    op.execute("DROP FUNCTION cbt_create_response_partition()")
    shape = _shape(bind)
    sequence = bind.scalar(sa.text(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')"))
    columns = ", ".join(f'"{c}"' for c in shape["columns"] if c != KEY)
    op.execute(f"CREATE TABLE {TABLE}_plain (LIKE {TABLE} INCLUDING DEFAULTS)")
    op.execute(f"ALTER TABLE {TABLE}_plain DROP COLUMN {KEY}")
    op.execute(f"INSERT INTO {TABLE}_plain ({columns}) SELECT {columns} FROM {TABLE}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"DROP TABLE {TABLE}")  # and every partition with it
    op.execute(f"ALTER TABLE {TABLE}_plain RENAME TO {TABLE}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {TABLE}.id")
    op.create_primary_key(op.f(f"pk_{TABLE}"), TABLE, ["id"])
    _add_constraints(shape, unique=_without_key)
