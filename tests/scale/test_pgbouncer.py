"""The app through PgBouncer in transaction mode: a class sits its test through gunicorn whose
every database connection goes through PgBouncer (pool_mode = transaction, CBT_DATABASE_PGBOUNCER
so psycopg prepares nothing on the server); every acknowledged answer is stored exactly once."""

from __future__ import annotations

import pytest

from tests.faults.conftest import add_class
from tests.faults.test_faults import check, run_class
from tests.scale.conftest import DATABASE, Bounced

pytestmark = pytest.mark.scale


def test_a_class_sits_its_test_through_pgbouncer(bounced: Bounced) -> None:
    config = (bounced.pgbouncer.root / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in config
    deployment = add_class(bounced.stack)
    ledger = run_class(deployment)
    check("through PgBouncer (transaction mode)", deployment, ledger)
    # The node's connections were PgBouncer's clients (it logs each login).
    assert f"db={DATABASE}" in bounced.pgbouncer.log_tail(limit=None)
