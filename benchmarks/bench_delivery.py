"""Delivery benchmarks: the submit path on PostgreSQL + Redis, and `cbt simulate`'s engine.

    python benchmarks/bench_delivery.py submit   [--items 10000] [--students 100]
    python benchmarks/bench_delivery.py simulate [--items 10000] [--examinees 10000] [--length 30]

``submit`` builds a 10,000-item pool in a fresh PostgreSQL database (created and dropped here),
with a six-area blueprint, randomesque and a maximum exposure rate, and times every
``POST /api/v1/sessions/<id>/responses`` in process (Flask test client: routing, JSON, auth,
scoring, selection, the durable write and commit, Redis), i.e. the server's time per request.

``simulate`` runs simulees through the real engine with the same blueprint and exposure control,
as ``cbt simulate`` does, and reports the time for ``--examinees``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from _common import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AREAS = ("arithmetic", "fractions", "ratios", "linear_equations", "geometry", "data")


def settings(length: int) -> dict:
    per_area = max(1, length // len(AREAS))
    return {
        "sections": [
            {
                "key": "cat",
                "kind": "cat",
                "areas": "content_area",
                "selection": [
                    {
                        "rule": "content_limits",
                        "limits": {a: {"min": per_area - 1, "max": per_area + 2} for a in AREAS},
                    },
                    {"rule": "max_information"},
                    {"rule": "randomesque", "k": 5},
                ],
                "stopping": [{"rule": "max_length", "n": length}],
                "exposure": {"max_rate": 0.25},
            }
        ]
    }


def synthetic_parameters(n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "model": "2pl",
            "discrimination": float(rng.lognormal(0.1, 0.3)),
            "difficulty": float(rng.normal(0, 1.1)),
        }
        for _ in range(n)
    ]


# -- simulate -------------------------------------------------------------------------------


def bench_simulate(args: argparse.Namespace) -> None:
    from delivery.engine import BankItem, compile_test
    from delivery.simulation import simulate

    items = [
        BankItem(
            item_version_id=i,
            key=f"item-{i}",
            item_type="single_choice",
            content={},
            scoring={},
            student_view={},
            content_area=AREAS[i % len(AREAS)],
            curriculum_codes=("8350213111200000",),
            parameters=record,
        )
        for i, record in enumerate(synthetic_parameters(args.items))
    ]
    test = compile_test(
        test_definition_id=1,
        parameter_set_id=1,
        settings=settings(args.length),
        scale={"slope": 100, "intercept": 500},
        items=items,
    )
    started = time.perf_counter()
    report = simulate(test, args.examinees, seed=args.seed, jobs=args.jobs)
    elapsed = time.perf_counter() - started
    steps = args.examinees * args.length
    print(f"machine: {machine_line()}")
    print(
        f"simulate: {args.examinees} examinees x {args.length}-item CAT on {args.items} items "
        f"(blueprint + randomesque + max exposure 0.25), {args.jobs} process(es): "
        f"{elapsed:.1f} s "
        f"({elapsed / steps * 1e6:.0f} us per item)"
    )
    print(
        f"  RMSE {report['accuracy']['rmse']:.3f}, bias {report['accuracy']['bias']:+.3f}, "
        f"max exposure {report['exposure']['max_rate']:.3f}, "
        f"blueprint met {report['blueprint'][0]['fraction']:.1%}"
    )


# -- submit ---------------------------------------------------------------------------------


def create_database(database_url: str):
    """A fresh PostgreSQL database, migrated: (url, name, admin engine to drop it with)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from cbt.migrate import upgrade

    base = make_url(database_url).set(drivername="postgresql+psycopg")
    name = f"cbt_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, name, admin


def drop_database(name: str, admin) -> None:
    from sqlalchemy import text

    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill_world(app, n_items: int, n_students: int, length: int) -> tuple[int, dict[int, str]]:
    """The pool, the test, one class of students and an open administration (in ``app``):
    returns (administration id, login code by student number of class BENCH-1)."""
    from sqlalchemy import insert

    from cbt.db import db
    from cbt.service import create_classroom, create_school, enroll_student
    from delivery.definitions import create_administration, create_test_definition
    from item_bank.models import (
        Item,
        ItemCurriculumCode,
        ItemParameter,
        ItemPool,
        ItemVersion,
        ParameterSet,
        PoolMember,
    )

    records = synthetic_parameters(n_items)
    db.session.execute(
        insert(Item), [{"key": f"b-{i:05d}", "subject": "mathematics"} for i in range(n_items)]
    )
    db.session.execute(
        insert(ItemVersion),
        [
            {
                "item_id": i + 1,
                "version_number": 1,
                "item_type": "single_choice",
                "status": "operational",
                "content_area": AREAS[i % len(AREAS)],
                "grade": 8,
                "language": "en",
                "content": {
                    "stem": f"<p>Question {i}: what is {i} + 1?</p>",
                    "options": [{"id": c, "text": f"{i + k}"} for k, c in enumerate("ABCD")],
                },
                "scoring": {"correct": "B"},
            }
            for i in range(n_items)
        ],
    )
    db.session.execute(
        insert(ItemCurriculumCode),
        [{"item_version_id": i + 1, "code": "8350213111200000"} for i in range(n_items)],
    )
    db.session.execute(
        insert(ParameterSet),
        [{"name": "bench", "version": 1, "status": "published", "provenance": {}}],
    )
    db.session.execute(
        insert(ItemParameter),
        [
            {"parameter_set_id": 1, "item_version_id": i + 1, **record}
            for i, record in enumerate(records)
        ],
    )
    db.session.execute(insert(ItemPool), [{"name": "bench", "active_parameter_set_id": 1}])
    db.session.execute(
        insert(PoolMember), [{"pool_id": 1, "item_version_id": i + 1} for i in range(n_items)]
    )
    school = create_school("BENCH", "Benchmark school")
    classroom = create_classroom(school, "B", 8, 2026, "BENCH-1")
    codes = {}
    for number in range(1, n_students + 1):
        code = f"BNCH-{number:04d}-CODE"
        enroll_student(classroom, number, f"Student {number}", code, app.config["SECRET_KEY"])
        codes[number] = code
    definition = create_test_definition(
        key="bench",
        title="Benchmark CAT",
        pool="bench",
        parameter_set="bench",
        parameter_set_version=1,
        settings=settings(length),
        scale={"slope": 100, "intercept": 500},
    )
    administration = create_administration(
        test_definition_id=definition.id,
        name="bench",
        classroom_ids=[classroom.id],
        status="open",
    )
    db.session.commit()
    return administration.id, codes


def bench_submit(args: argparse.Namespace) -> None:
    from cbt.app import create_app
    from cbt.db import db
    from tests.helpers import ApiClient

    url, name, admin = create_database(args.database_url)
    prefix = f"cbt-bench-{uuid.uuid4().hex[:6]}"
    try:
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": args.redis_url,
                "REDIS_PREFIX": prefix,
                "SECRET_KEY": "benchmark-secret-key-0123456789",
                "LOGIN_RATE_LIMIT": "100000 per minute",
                "INSTANCE_PATH": "/tmp/cbt-bench-instance",
            }
        )
        with app.app_context():
            started = time.perf_counter()
            administration_id, codes = fill_world(app, args.items, args.students, args.length)
            took = time.perf_counter() - started
            print(f"setup: {args.items} items, {args.students} students in {took:.1f} s")

        # Server time: measured around the WSGI app itself (routing, auth, JSON, scoring,
        # selection, database, Redis), not the test client's request building.
        server_times: list[float] = []
        inner = app.wsgi_app

        def timed(environ, start_response):
            t0 = time.perf_counter()
            try:
                return inner(environ, start_response)
            finally:
                if environ["PATH_INFO"].endswith("/responses"):
                    server_times.append((time.perf_counter() - t0) * 1000)

        app.wsgi_app = timed
        timings: list[float] = []
        warmup = 3
        rng = np.random.default_rng(0)
        for number in range(1, args.students + 1):
            client = ApiClient(app.test_client())
            client.login_student("BENCH-1", number, codes[number])
            view = client.post(f"/api/v1/administrations/{administration_id}/sessions").get_json()
            while not view["finished"]:
                body = {
                    "item": view["item"]["handle"],
                    "response": {"choice": "B" if rng.random() < 0.6 else "C"},
                    "idempotency_key": uuid.uuid4().hex,
                }
                t0 = time.perf_counter()
                response = client.post(f"/api/v1/sessions/{view['session']['id']}/responses", body)
                elapsed = time.perf_counter() - t0
                assert response.status_code == 200, response.get_json()
                view = response.get_json()
                if number > warmup:
                    timings.append(elapsed * 1000)
                else:
                    server_times.pop()
        timings.sort()
        server_times.sort()
        q = statistics.quantiles(server_times, n=100)
        client = statistics.quantiles(timings, n=100)
        print(f"machine: {machine_line()}")
        print(
            f"submit + next item, {len(timings)} requests, {args.items}-item pool, blueprint + "
            f"randomesque + exposure control, PostgreSQL + Redis, in process:"
        )
        print(
            f"  server time: p50 {q[49]:.2f} ms   p90 {q[89]:.2f} ms   p99 {q[98]:.2f} ms   "
            f"max {server_times[-1]:.2f} ms"
        )
        print(
            f"  with the test client around it: p50 {client[49]:.2f} ms   p99 {client[98]:.2f} ms"
        )
        with app.app_context():
            app.extensions["cbt.state"].clear()
            db.engine.dispose()
    finally:
        drop_database(name, admin)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="which", required=True)
    simulate = sub.add_parser("simulate")
    simulate.add_argument("--items", type=int, default=10_000)
    simulate.add_argument("--examinees", type=int, default=10_000)
    simulate.add_argument("--length", type=int, default=30)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--jobs", type=int, default=2, help="worker processes")
    submit = sub.add_parser("submit")
    submit.add_argument("--items", type=int, default=10_000)
    submit.add_argument("--students", type=int, default=100)
    submit.add_argument("--length", type=int, default=30)
    submit.add_argument(
        "--database-url",
        default=os.environ.get(
            "CBT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    submit.add_argument(
        "--redis-url", default=os.environ.get("CBT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    {"simulate": bench_simulate, "submit": bench_submit}[args.which](args)


if __name__ == "__main__":
    main()
