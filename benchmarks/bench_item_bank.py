"""Item bank benchmarks: a 10,000-item QTI 3.0 import, and listing a 100,000-item bank.

Targets (issue 5): importing a 10,000-item package <= 60 s; a filtered, paginated listing of a
100,000-item bank on PostgreSQL <= 100 ms per page. Figures go in docs/performance.md. This
script measures and prints; it asserts nothing (timings belong in reports, not in tests).

    python benchmarks/bench_item_bank.py import  [--items 10000] [--pg-url URL]
    python benchmarks/bench_item_bank.py listing [--bank 100000] [--pg-url URL]

Both build scratch databases (a temporary SQLite file, and a fresh PostgreSQL database on the
server of ``--pg-url`` that is dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from cbt.app import create_app
from cbt.audit import Actor
from cbt.db import db, utcnow
from cbt.migrate import upgrade
from cbt.models import Role
from cbt.service import create_staff_user
from item_bank.models import (
    Item,
    ItemCurriculumCode,
    ItemParameter,
    ItemVersion,
    ParameterSet,
)
from item_bank.qti import export_package, import_package
from item_bank.service import ItemFields, create_item
from item_bank.types import ITEM_TYPES

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TYPES = sorted(ITEM_TYPES)
PASSWORD = "bench-password-1"


def codes_for(n: int) -> list[str]:
    """Plausible lower-secondary mathematics codes: grade, domain, content item, point."""
    grade, domain, section, point = 1 + n % 3, 1 + (n // 3) % 4, 1 + (n // 12) % 3, 1 + n % 4
    return [f"83502{grade}3{domain}{section}1{point}00000"]


def example_item(n: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    type_id = TYPES[n % len(TYPES)]
    content, scoring = ITEM_TYPES[type_id].example()
    content = json.loads(json.dumps(content))
    topic = random.choice(["整数", "分数", "比例", "図形"])
    content["stem"] = f"<p>Item {n}: {content.get('stem') or ''} ({topic})</p>"
    return type_id, content, scoring


@contextmanager
def scratch_database(kind: str, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    base = make_url(pg_url).set(drivername="postgresql+psycopg")
    name = f"cbt_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(url: str, instance: str):
    app = create_app(
        {
            "INSTANCE_PATH": instance,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "LOGIN_RATE_LIMIT": "100000 per minute",
        }
    )
    with app.app_context():
        upgrade(db.engine)
    return app


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


# --------------------------------------------------------------------------- import


def build_package(n_items: int, instance: str) -> tuple[bytes, float]:
    """Author n items in a scratch SQLite bank and export them: the package to import."""
    with scratch_database("sqlite", "") as url:
        app = make_app(url, instance)
        with app.app_context():
            for n in range(n_items):
                type_id, content, scoring = example_item(n)
                create_item(
                    key=f"bench-{n:06d}",
                    item_type=type_id,
                    content=content,
                    scoring=scoring,
                    curriculum_codes=codes_for(n),
                    language="ja",
                    keywords=["benchmark", type_id],
                    actor=Actor(),
                    flush=False,
                )
                if n % 1000 == 999:
                    db.session.flush()
            db.session.commit()
            ids = [row[0] for row in db.session.execute(text("SELECT id FROM item_versions"))]
            seconds, (data, _) = timed(lambda: export_package(ids))
        with app.app_context():
            db.engine.dispose()
    return data, seconds


def bench_import(args: argparse.Namespace) -> None:
    random.seed(5)
    with tempfile.TemporaryDirectory() as instance:
        data, export_seconds = build_package(args.items, instance)
        print(
            f"package: {args.items} items, {len(data) / 1e6:.1f} MB; "
            f"export took {export_seconds:.1f} s"
        )
        for kind in ("sqlite", "postgresql"):
            if kind == "postgresql" and not args.pg_url:
                continue
            with scratch_database(kind, args.pg_url) as url:
                app = make_app(url, instance)
                with app.app_context():

                    def run() -> dict[str, Any]:
                        report = import_package(data, actor=Actor())
                        db.session.commit()
                        return report

                    seconds, report = timed(run)
                    print(
                        f"import into {kind}: {seconds:.1f} s for {report['created']} items "
                        f"({report['created'] / seconds:.0f} items/s)"
                    )
                    db.engine.dispose()


# --------------------------------------------------------------------------- listing


def fill_bank(n_items: int) -> None:
    """Insert a bank of n items with Core executemany (fast, no ORM objects)."""
    rng = random.Random(7)
    now = utcnow()
    template: dict[str, tuple[dict, dict, float]] = {}
    for type_id in TYPES:
        content, scoring = ITEM_TYPES[type_id].example()
        fields = ItemFields(item_type=type_id, content=content, scoring=scoring).clean()
        template[type_id] = (
            fields.content,
            fields.scoring,
            ITEM_TYPES[type_id].max_score(fields.scoring),
        )
    statuses = [
        "draft",
        "review",
        "pretest",
        "operational",
        "operational",
        "operational",
        "retired",
    ]
    set_id = db.session.execute(
        insert(ParameterSet).values(
            name="bench", version=1, status="published", model="2pl", scaling=1.0,
            provenance={"source": "benchmark"}, created_at=now, published_at=now,
        ).returning(ParameterSet.id)
    ).scalar_one()  # fmt: skip
    batch = 5000
    for start in range(0, n_items, batch):
        rows = range(start, min(n_items, start + batch))
        db.session.execute(
            insert(Item),
            [{"id": n + 1, "key": f"bank-{n:07d}", "subject": "mathematics", "created_at": now}
             for n in rows],
        )  # fmt: skip
        versions = []
        for n in rows:
            type_id = TYPES[n % len(TYPES)]
            content, scoring, max_score = template[type_id]
            words = rng.choice(["fractions", "ratios", "area", "probability", "equations"])
            versions.append(
                {
                    "id": n + 1, "item_id": n + 1, "version_number": 1, "item_type": type_id,
                    "status": statuses[n % len(statuses)], "is_latest": True,
                    "title": f"{words} {n}", "content_area": words, "grade": 7 + n % 3,
                    "language": "ja", "content": content, "scoring": scoring,
                    "max_score": max_score, "keywords": [words], "accessibility": {},
                    "search_text": f"bank-{n:07d} {words} {n} item text {rng.random():.6f}",
                    "content_hash": f"{n:064d}", "created_at": now,
                }
            )  # fmt: skip
        db.session.execute(insert(ItemVersion), versions)
        db.session.execute(
            insert(ItemCurriculumCode),
            [{"item_version_id": n + 1, "code": codes_for(n)[0]} for n in rows],
        )
        db.session.execute(
            insert(ItemParameter),
            [{"parameter_set_id": set_id, "item_version_id": n + 1, "model": "2pl",
              "discrimination": 0.5 + rng.random(), "difficulty": rng.gauss(0, 1.2),
              "standard_errors": {}} for n in rows],
        )  # fmt: skip
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Ids were given explicitly: move the sequences past them.
        for table in ("items", "item_versions"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


QUERIES = [
    ("first page, no filter", ""),
    ("curriculum prefix 8350223 (grade 8)", "code_prefix=8350223"),
    ("type + status", "item_type=numeric&status=operational"),
    ("text search", "q=probability"),
    ("difficulty -0.5..0.5", "difficulty_min=-0.5&difficulty_max=0.5"),
    ("prefix + type + difficulty", "code_prefix=83502&item_type=single_choice&difficulty_min=1"),
]


def bench_listing(args: argparse.Namespace) -> None:
    kinds = ["postgresql"] if args.pg_url else []
    if args.sqlite:
        kinds.append("sqlite")
    with tempfile.TemporaryDirectory() as instance:
        for kind in kinds:
            with scratch_database(kind, args.pg_url) as url:
                app = make_app(url, instance)
                with app.app_context():
                    seconds, _ = timed(lambda: fill_bank(args.bank))
                    print(f"{kind}: filled a {args.bank:,}-item bank in {seconds:.0f} s")
                    create_staff_user("bench@example.org", "Bench", Role.OPERATOR, PASSWORD)
                    db.session.commit()
                client = app.test_client()
                token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
                client.post(
                    "/api/v1/auth/staff-login",
                    json={"email": "bench@example.org", "password": PASSWORD},
                    headers={"X-CSRF-Token": token},
                )
                print(
                    f"{'query':<40} {'page 1 p50':>11} {'p95':>7} {'page 20 p50':>12} {'total':>8}"
                )
                for label, query in QUERIES:
                    first: list[float] = []
                    deep: list[float] = []
                    total = None
                    for _ in range(args.repeat):
                        start = time.perf_counter()
                        page = client.get(f"/api/v1/items?limit=50&{query}").get_json()
                        first.append(time.perf_counter() - start)
                        total = f"{page['total']}{'' if page['total_is_exact'] else '+'}"
                        cursor = page["next_cursor"]
                        for _ in range(18):  # walk to page 20, then time that page
                            if not cursor:
                                break
                            url_next = f"/api/v1/items?limit=50&{query}&cursor={cursor}"
                            cursor = client.get(url_next).get_json()["next_cursor"]
                        if cursor:
                            start = time.perf_counter()
                            client.get(f"/api/v1/items?limit=50&{query}&cursor={cursor}")
                            deep.append(time.perf_counter() - start)
                    p50 = statistics.median(first) * 1000
                    p95 = sorted(first)[int(0.95 * (len(first) - 1))] * 1000
                    deep_text = f"{statistics.median(deep) * 1000:.1f} ms" if deep else "-"
                    print(f"{label:<40} {p50:>8.1f} ms {p95:>5.1f} {deep_text:>12} {total:>8}")
                with app.app_context():
                    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    importing = sub.add_parser("import", help="time a 10,000-item QTI import")
    importing.add_argument("--items", type=int, default=10_000)
    importing.add_argument("--pg-url", default=DEFAULT_PG, help="'' to skip PostgreSQL")
    listing = sub.add_parser("listing", help="time filtered listing pages of a large bank")
    listing.add_argument("--bank", type=int, default=100_000)
    listing.add_argument("--repeat", type=int, default=20)
    listing.add_argument("--pg-url", default=DEFAULT_PG, help="'' to skip PostgreSQL")
    listing.add_argument("--sqlite", action="store_true", help="also time SQLite")
    args = parser.parse_args()
    {"import": bench_import, "listing": bench_listing}[args.command](args)


if __name__ == "__main__":
    main()
