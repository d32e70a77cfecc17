"""The dashboard's aggregates over 1,000,000 results on PostgreSQL: budget 10 s each.

    python benchmarks/bench_dashboard_pg.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                            [--students 250000] [--administrations 4] [--repeats 3]

Creates a scratch database next to the given one (dropped at the end), runs the migrations,
seeds one school's test with the app's own services, then bulk-loads with COPY
``--students`` students in classes of 40 who each have a finished sitting and a result in each
of ``--administrations`` administrations (250,000 x 4 = 1,000,000 results). It then times the
SQL the dashboard runs (analytics.dashboard, GROUP BY in the database, no Python loop over
rows):

- the trend for everyone: ``administration_summaries(latest_results())``, the count, mean and
  mean square per administration over all 1,000,000 results (each student's latest result per
  administration, found with its own GROUP BY);
- band counts for everyone: ``band_counts(latest_results())``;
- one class among them: ``class_trend`` and ``class_dashboard`` (what a teacher's page asks).

Each figure is the median of ``--repeats`` runs; the ratio to a plain ``count(*)`` over the
results table in the same run is printed beside it. Exits non-zero when a national aggregate
misses 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _common import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUDGET_S = 10.0
CLASS_SIZE = 40


def _median_s(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _copy(connection, table: str, columns: list[str], rows) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--students", type=int, default=250_000)
    parser.add_argument("--administrations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.engine import make_url

    from analytics.dashboard import (
        administration_summaries,
        band_counts,
        class_dashboard,
        class_trend,
        latest_results,
    )
    from cbt.app import create_app
    from cbt.db import db
    from cbt.migrate import upgrade
    from delivery.models import Administration, Result
    from tests.helpers import SECRET, seed_school

    base = make_url(args.database_url).set(drivername="postgresql+psycopg")
    name = f"cbt_bench_dash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app(
            {"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(), "SECRET_KEY": SECRET}
        )
        with app.app_context():
            school = seed_school(n_items=10, n_students=1)
            first = db.session.get(Administration, school.administration_id)
            administrations = [first.id]
            for k in range(1, args.administrations):
                extra = Administration(
                    test_definition_id=first.test_definition_id,
                    name=f"Round {k + 1}",
                    status="closed",
                )
                db.session.add(extra)
                db.session.flush()
                administrations.append(extra.id)
            school_id = db.session.execute(
                text("SELECT school_id FROM classrooms WHERE id = :id"),
                {"id": school.classroom_id},
            ).scalar_one()
            parameter_set_id = db.session.execute(
                text("SELECT parameter_set_id FROM test_definitions WHERE id = :id"),
                {"id": first.test_definition_id},
            ).scalar_one()
            db.session.commit()

            started = time.perf_counter()
            n_classes = -(-args.students // CLASS_SIZE)
            now = datetime.now(UTC)
            rng = np.random.default_rng(7)
            raw = db.engine.raw_connection()
            connection = raw.driver_connection
            class_base, user_base = 1_000_000, 10_000_000
            _copy(
                connection,
                "classrooms",
                [
                    "id",
                    "school_id",
                    "name",
                    "grade",
                    "academic_year",
                    "class_code",
                    "roster_data",
                    "created_at",
                ],
                (
                    (class_base + c, school_id, f"B{c}", 7, 2026, f"BENCH-{c}", "{}", now)
                    for c in range(n_classes)
                ),
            )
            _copy(
                connection,
                "administration_classrooms",
                ["administration_id", "classroom_id"],
                ((a, class_base + c) for a in administrations for c in range(n_classes)),
            )
            _copy(
                connection,
                "users",
                [
                    "id",
                    "role",
                    "display_name",
                    "password_change_required",
                    "pseudonym",
                    "extra_time_factor",
                    "accommodations",
                    "is_active",
                    "roster_data",
                    "created_at",
                ],
                (
                    (
                        user_base + s,
                        "student",
                        f"S{s}",
                        False,
                        f"p{s:031d}",
                        1.0,
                        "{}",
                        True,
                        "{}",
                        now,
                    )
                    for s in range(args.students)
                ),
            )
            _copy(
                connection,
                "enrollments",
                ["classroom_id", "user_id", "role", "student_number", "roster_data", "created_at"],
                (
                    (
                        class_base + s // CLASS_SIZE,
                        user_base + s,
                        "student",
                        s % CLASS_SIZE + 1,
                        "{}",
                        now,
                    )
                    for s in range(args.students)
                ),
            )
            theta = rng.normal(0, 1, (len(administrations), args.students))
            se = rng.uniform(0.25, 0.45, (len(administrations), args.students))
            cuts = (450.0, 550.0)

            def sessions():
                for k, a in enumerate(administrations):
                    for s in range(args.students):
                        yield (
                            f"{k:04x}{s:028x}",
                            a,
                            user_base + s,
                            "finished",
                            s,
                            "{}",
                            "{}",
                            0,
                            now,
                            0,
                            20,
                            now,
                            "{}",
                            now,
                        )

            _copy(
                connection,
                "exam_sessions",
                [
                    "id",
                    "administration_id",
                    "student_id",
                    "status",
                    "seed",
                    "engine_settings",
                    "state",
                    "revision",
                    "started_at",
                    "section_index",
                    "n_answered",
                    "updated_at",
                    "conditions",
                    "finished_at",
                ],
                sessions(),
            )

            def results():
                for k, a in enumerate(administrations):
                    scores = np.round(500 + 100 * theta[k])
                    scale_se = np.round(100 * se[k])
                    bands = np.searchsorted(cuts, scores, side="right")
                    for s in range(args.students):
                        yield (
                            f"{k:04x}{s:028x}",
                            a,
                            user_base + s,
                            float(theta[k, s]),
                            float(se[k, s]),
                            float(scores[s]),
                            float(scale_se[s]),
                            ("Low", "Middle", "High")[bands[s]],
                            20,
                            "[]",
                            "completed",
                            parameter_set_id,
                            "[]",
                            "{}",
                            s,
                            now,
                        )

            _copy(
                connection,
                "results",
                [
                    "exam_session_id",
                    "administration_id",
                    "student_id",
                    "theta",
                    "se",
                    "scale_score",
                    "scale_se",
                    "band",
                    "n_items",
                    "subscores",
                    "finish_reason",
                    "parameter_set_id",
                    "item_version_ids",
                    "engine_settings",
                    "seed",
                    "created_at",
                ],
                results(),
            )
            connection.commit()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            connection.commit()
            raw.close()
            loaded = time.perf_counter() - started
            n_results = db.session.scalar(select(func.count()).select_from(Result))

            def run(query):
                return lambda: db.session.execute(query).all()

            count_s = _median_s(run(select(func.count()).select_from(Result)), args.repeats)
            trend_rows = db.session.execute(administration_summaries(latest_results())).all()
            assert sum(row.n for row in trend_rows) == n_results
            national = [
                (
                    "trend over everyone (administration_summaries)",
                    _median_s(run(administration_summaries(latest_results())), args.repeats),
                ),
                (
                    "band counts over everyone (band_counts)",
                    _median_s(run(band_counts(latest_results())), args.repeats),
                ),
            ]
            rooms = [class_base + int(c) for c in rng.choice(n_classes, 5, replace=False)]
            one_class = [
                (
                    "one class's trend (class_trend)",
                    statistics.median(_median_s(lambda r=r: class_trend(r), 1) for r in rooms),
                ),
                (
                    "one class's dashboard numbers (class_dashboard)",
                    statistics.median(
                        _median_s(lambda r=r: class_dashboard(r, None, "ja"), 1) for r in rooms
                    ),
                ),
            ]
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"machine: {machine_line()}")
    print(
        f"{n_results:,} results ({args.students:,} students x {len(administrations)} "
        f"administrations, classes of {CLASS_SIZE}); COPY load and ANALYZE {loaded:.1f} s"
    )
    print(f"{'baseline: count(*) over results':50s} {count_s * 1000:9.1f} ms")
    ok = True
    for label, seconds in national + one_class:
        print(f"{label:50s} {seconds * 1000:9.1f} ms   {seconds / count_s:6.1f}x count(*)")
    for _, seconds in national:
        ok &= seconds <= BUDGET_S
    print(
        f"aggregates over {n_results:,} results within {BUDGET_S:.0f} s: "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
