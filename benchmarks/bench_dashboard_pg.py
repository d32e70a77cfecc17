"""The dashboard's aggregates over 1,000,000 results on PostgreSQL: budget 10 s each.

    python benchmarks/bench_dashboard_pg.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                            [--students 250000] [--administrations 4] [--repeats 3]
                                            [--keep] [--reuse DATABASE]

Creates a scratch database next to the given one (dropped at the end unless ``--keep``), runs
the migrations, seeds one school's test with the app's own services, then bulk-loads with COPY
``--students`` students in classes of 40 who each have a finished sitting and a result in each
of ``--administrations`` administrations (250,000 x 4 = 1,000,000 results). One student in a
hundred also sat the first administration once before, in a sitting that was reset (its result
superseded, as ``delivery.service.refresh_superseded`` leaves it), so the filter has rows to
leave out. Then VACUUM ANALYZE, as autovacuum would leave a table of this age.

``--keep`` leaves the loaded database in place and prints its name; ``--reuse DATABASE`` times
a database kept before (migrated to head first, so a kept database also tests a new migration
on a million rows) and skips the load; with ``--keep`` too it is kept again.

It then times the SQL the dashboard runs (analytics.dashboard, GROUP BY in the database, no
Python loop over rows):

- the trend for everyone: ``administration_summaries(latest_results())``, the count, mean and
  mean square per administration over the current results (``NOT superseded``: one scan);
- band counts for everyone: ``band_counts(latest_results())``;
- one class among them: ``class_trend`` and ``class_dashboard`` (what a teacher's page asks).

Each figure is the median of ``--repeats`` runs; the ratio to a plain ``count(*)`` over the
results table in the same run is printed beside it. Once, it also runs the definition the
dashboard used before the flag (each pair's highest result id among sittings not reset, by a
join to the sittings and a GROUP BY) and checks that both give the same figures. Exits non-zero
when a national aggregate misses 10 s or the figures differ.
"""

from __future__ import annotations

import argparse
import math
import os
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


CLASS_BASE, USER_BASE = 1_000_000, 10_000_000
RETAKE_EVERY = 100  # one student in this many has a reset sitting (and its result) before


def _load(args) -> float:
    """Seed the school with the app's services, then COPY the rest; returns the seconds."""
    from sqlalchemy import text

    from cbt.db import db
    from delivery.models import Administration
    from tests.helpers import seed_school

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
    _copy(
        connection,
        "classrooms",
        ["id", "school_id", "name", "grade", "academic_year", "class_code", "roster_data",
         "created_at"],
        (
            (CLASS_BASE + c, school_id, f"B{c}", 7, 2026, f"BENCH-{c}", "{}", now)
            for c in range(n_classes)
        ),
    )  # fmt: skip
    _copy(
        connection,
        "administration_classrooms",
        ["administration_id", "classroom_id"],
        ((a, CLASS_BASE + c) for a in administrations for c in range(n_classes)),
    )
    _copy(
        connection,
        "users",
        ["id", "role", "display_name", "password_change_required", "pseudonym",
         "extra_time_factor", "accommodations", "is_active", "roster_data", "created_at"],
        (
            (USER_BASE + s, "student", f"S{s}", False, f"p{s:031d}", 1.0, "{}", True, "{}", now)
            for s in range(args.students)
        ),
    )  # fmt: skip
    _copy(
        connection,
        "enrollments",
        ["classroom_id", "user_id", "role", "student_number", "roster_data", "created_at"],
        (
            (CLASS_BASE + s // CLASS_SIZE, USER_BASE + s, "student", s % CLASS_SIZE + 1, "{}", now)
            for s in range(args.students)
        ),
    )
    theta = rng.normal(0, 1, (len(administrations), args.students))
    se = rng.uniform(0.25, 0.45, (len(administrations), args.students))
    cuts = (450.0, 550.0)

    def sittings():
        """(sitting id, k, student index, status): a reset sitting first for the retakers."""
        for k in range(len(administrations)):
            for s in range(args.students):
                if k == 0 and s % RETAKE_EVERY == 0:
                    yield f"r{k:03x}{s:028x}", k, s, "reset"
                yield f"{k:04x}{s:028x}", k, s, "finished"

    def sessions():
        for sitting_id, k, s, status in sittings():
            yield (sitting_id, administrations[k], USER_BASE + s, status, s, "{}", "{}", 0, now,
                   0, 20, now, "{}", now)  # fmt: skip

    _copy(
        connection,
        "exam_sessions",
        ["id", "administration_id", "student_id", "status", "seed", "engine_settings", "state",
         "revision", "started_at", "section_index", "n_answered", "updated_at", "conditions",
         "finished_at"],
        sessions(),
    )  # fmt: skip
    scores = np.round(500 + 100 * theta)
    scale_se = np.round(100 * se)
    bands = np.searchsorted(cuts, scores, side="right")

    def results():
        for sitting_id, k, s, status in sittings():
            # The reset sitting's result is the retake's with 50 points less (so the figures
            # differ if it were counted).
            shift = 50.0 if status == "reset" else 0.0
            band = ("Low", "Middle", "High")[np.searchsorted(cuts, scores[k, s] - shift, "right")]
            yield (
                sitting_id,
                administrations[k],
                USER_BASE + s,
                float(theta[k, s]),
                float(se[k, s]),
                float(scores[k, s] - shift),
                float(scale_se[k, s]),
                band if shift else ("Low", "Middle", "High")[bands[k, s]],
                20,
                "[]",
                "completed",
                parameter_set_id,
                "[]",
                "{}",
                s,
                now,
                status == "reset",
            )

    _copy(
        connection,
        "results",
        ["exam_session_id", "administration_id", "student_id", "theta", "se", "scale_score",
         "scale_se", "band", "n_items", "subscores", "finish_reason", "parameter_set_id",
         "item_version_ids", "engine_settings", "seed", "created_at", "superseded"],
        results(),
    )  # fmt: skip
    connection.commit()
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    raw.close()
    return time.perf_counter() - started


def _old_definition():
    """The dashboard's definition before ``superseded``: each (student, administration)'s
    highest result id among sittings not reset, by a join and a GROUP BY (for the check)."""
    from sqlalchemy import func, select

    from delivery.models import ExamSession, Result, SessionStatus

    return Result.id.in_(
        select(func.max(Result.id))
        .join(ExamSession, ExamSession.id == Result.exam_session_id)
        .where(ExamSession.status != SessionStatus.RESET)
        .group_by(Result.student_id, Result.administration_id)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--students", type=int, default=250_000)
    parser.add_argument("--administrations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="leave the scratch database loaded (name printed)"
    )
    parser.add_argument(
        "--reuse", metavar="DATABASE", help="time a database kept by --keep; no load"
    )
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
    from delivery.models import Result
    from tests.helpers import SECRET

    base = make_url(args.database_url).set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    if args.reuse:
        name = args.reuse
        if not name.startswith("cbt_bench_dash_"):
            parser.error("--reuse takes a database this script made (cbt_bench_dash_...)")
    else:
        name = f"cbt_bench_dash_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    loaded = None
    load_before = os.getloadavg()
    try:
        engine = create_engine(url)
        started = time.perf_counter()
        upgrade(engine)
        migrated = time.perf_counter() - started
        engine.dispose()
        app = create_app(
            {"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(), "SECRET_KEY": SECRET}
        )
        with app.app_context():
            if not args.reuse:
                loaded = _load(args)
            n_classes = db.session.scalar(
                text("SELECT count(*) FROM classrooms WHERE id >= :base"), {"base": CLASS_BASE}
            )
            n_administrations = db.session.scalar(text("SELECT count(*) FROM administrations"))
            n_students = db.session.scalar(
                text("SELECT count(*) FROM users WHERE id >= :base"), {"base": USER_BASE}
            )
            n_results = db.session.scalar(select(func.count()).select_from(Result))
            n_current = db.session.scalar(
                select(func.count()).select_from(Result).where(latest_results())
            )

            def run(query):
                return lambda: db.session.execute(query).all()

            count_s = _median_s(run(select(func.count()).select_from(Result)), args.repeats)
            trend_rows = db.session.execute(administration_summaries(latest_results())).all()
            assert sum(row.n for row in trend_rows) == n_current
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
            # The definition before the flag, once: the same figures, and what it cost.
            started = time.perf_counter()
            old_trend = db.session.execute(administration_summaries(_old_definition())).all()
            old_s = time.perf_counter() - started
            old_bands = db.session.execute(band_counts(_old_definition())).all()
            new_bands = db.session.execute(band_counts(latest_results())).all()
            same = _same(trend_rows, old_trend) and sorted(map(tuple, new_bands)) == sorted(
                map(tuple, old_bands)
            )
            rng = np.random.default_rng(11)
            rooms = [CLASS_BASE + int(c) for c in rng.choice(n_classes, 5, replace=False)]
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
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"machine: {machine_line()}")
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    how = (
        f"COPY load and VACUUM ANALYZE {loaded:.1f} s"
        if loaded is not None
        else f"reused database {name}, migrated to head in {migrated:.1f} s"
    )
    print(
        f"{n_results:,} results ({n_current:,} current; {n_students:,} students x "
        f"{n_administrations} administrations, classes of {CLASS_SIZE}); {how}"
    )
    print(f"{'baseline: count(*) over results':50s} {count_s * 1000:9.1f} ms")
    ok = True
    for label, seconds in national + one_class:
        print(f"{label:50s} {seconds * 1000:9.1f} ms   {seconds / count_s:6.1f}x count(*)")
    for _, seconds in national:
        ok &= seconds <= BUDGET_S
    print(
        f"{'old definition, trend over everyone (once)':50s} {old_s * 1000:9.1f} ms   "
        f"{old_s / count_s:6.1f}x count(*); same figures as the flag: {'yes' if same else 'NO'}"
    )
    print(
        f"aggregates over {n_results:,} results within {BUDGET_S:.0f} s: "
        f"{'met' if ok else 'MISSED'}"
    )
    if args.keep:
        print(f"kept: --reuse {name}")
    return 0 if ok and same else 1


def _same(rows, other) -> bool:
    """Equal per-administration summaries (means to rounding)."""
    a = {row.administration_id: row for row in rows}
    b = {row.administration_id: row for row in other}
    return a.keys() == b.keys() and all(
        a[k].n == b[k].n
        and all(
            math.isclose(float(getattr(a[k], f)), float(getattr(b[k], f)), rel_tol=1e-9)
            for f in ("mean", "mean_square", "mean_se2")
        )
        for k in a
    )


if __name__ == "__main__":
    sys.exit(main())
