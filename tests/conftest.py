"""Fixtures: app, client, runner, database and state store, on either backend.

By default the suite runs on SQLite with the in-process store. With ``CBT_TEST_DATABASE_URL``
and ``CBT_TEST_REDIS_URL`` set it runs on PostgreSQL and Redis: the run creates its own database
(so concurrent runs never collide), migrates it once, and truncates every table after each test;
Redis keys carry a per-test prefix and are deleted after each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from cbt.app import create_app
from cbt.db import Base, db
from cbt.migrate import upgrade
from tests.helpers import SECRET, ApiClient

TEST_DATABASE_URL = os.environ.get("CBT_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("CBT_TEST_REDIS_URL")


def _backends() -> str:
    database = "PostgreSQL" if TEST_DATABASE_URL else "SQLite"
    store = "Redis" if TEST_REDIS_URL else "in-process store"
    return f"cbt backends: {database} + {store}"


def pytest_report_header(config: pytest.Config) -> str:
    return _backends()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    # Printed even with -q, so the CI log says which backends each stage ran on.
    if not hasattr(config, "workerinput"):
        terminalreporter.write_line(_backends())


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A migrated database for this run: a SQLite file to copy, or a fresh PostgreSQL database."""
    if not TEST_DATABASE_URL:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        engine = create_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield {"kind": "sqlite", "path": path}
        return
    base = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    name = f"cbt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield {"kind": "postgresql", "url": url.render_as_string(hide_password=False)}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(database_template: dict[str, Any], tmp_path: Path) -> str:
    if database_template["kind"] == "sqlite":
        path = tmp_path / "cbt.sqlite3"
        shutil.copyfile(database_template["path"], path)
        return f"sqlite:///{path}"
    return database_template["url"]


def make_test_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": f"cbt-test-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": SECRET,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        **overrides,
    }
    return create_app(config)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test overrides; a test module can override this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_test_app(database_url, tmp_path / "instance", **app_config)
    with app.app_context():
        yield app
        db.session.remove()
        app.extensions["cbt.state"].clear()
        empty_database()
        db.engine.dispose()


def empty_database() -> None:
    """On PostgreSQL (one database per test worker) every table is emptied after a test, so the
    next test on the worker seeds its own school; a test with its own app calls this too."""
    if TEST_DATABASE_URL:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return _english(app.test_client())


def _english(client: FlaskClient) -> FlaskClient:
    # Assertions read the English msgids; tests/unit/cbt/test_i18n.py covers Japanese, the default.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def api(app: Flask) -> ApiClient:
    """A JSON client that fetches and sends the CSRF token like our pages do."""
    return ApiClient(_english(app.test_client()))


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def count_queries(app: Flask) -> Iterator[list[str]]:
    """Collects the SQL statements run while the test body runs."""
    statements: list[str] = []

    def _record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    yield statements
    event.remove(db.engine, "before_cursor_execute", _record)
