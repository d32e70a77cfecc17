"""The calibration job from the database: N persons x 1,000 items, 30 responses each (sparse).

Loads the data set into a scratch schema of the local PostgreSQL (responses simulated under a
2PL with numpy, sent by binary ``COPY`` into an unlogged staging table, then expanded into
``item_responses`` by one ``INSERT ... SELECT``), runs the researcher's calibration job
(``research.calibrate``: read by binary COPY, fixed-anchor calibration, item fit, the free
calibration for anchor drift, linking; the draft set stored) through the job runner, and drops
the schema. Baseline in the same run: the same ``MMLCalibrator`` fit on the same arrays in memory,
so the ratio shows what the database path and the review add.

    python benchmarks/bench_calibration_job.py                     # 100,000 persons (reduced)
    python benchmarks/bench_calibration_job.py --persons 1000000   # the budget: <= 5 minutes
    python benchmarks/bench_calibration_job.py --persons 1000000 --keep         # load, keep it
    python benchmarks/bench_calibration_job.py --persons 1000000 --reuse SCHEMA # job only

Needs PostgreSQL at CBT_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid

import numpy as np

N_ITEMS = 1000
PER_PERSON = 30
N_ANCHORS = 900
URL = os.environ.get("CBT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
_STAGE = np.dtype(
    [
        ("n", ">i2"),
        ("l1", ">i4"), ("person", ">i4"),
        ("l2", ">i4"), ("item", ">i4"),
        ("l3", ">i4"), ("seq", ">i4"),
        ("l4", ">i4"), ("score", ">i2"),
    ]
)  # fmt: skip


def simulate(n_persons: int, seed: int = 20261203):
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0, 0.3, N_ITEMS))
    b = rng.normal(0, 1, N_ITEMS)
    theta = rng.normal(0, 1, n_persons)
    # 30 distinct random items per person (argpartition of random keys; vectorised).
    items = np.argpartition(rng.random((n_persons, N_ITEMS), dtype=np.float32), PER_PERSON, axis=1)
    items = items[:, :PER_PERSON].astype(np.int32)
    p = 1 / (1 + np.exp(-a[items] * (theta[:, None] - b[items])))
    scores = (rng.random(p.shape) < p).astype(np.int16)
    return a, b, items, scores


def load(url: str, schema: str, n_persons: int):
    """Schema, tables (the app's migrations), items, students, sessions and responses."""
    from cbt.app import create_app
    from cbt.db import db
    from cbt.migrate import upgrade
    from cbt.models import Role
    from delivery.models import Administration, TestDefinition
    from item_bank.models import ItemStatus
    from item_bank.service import create_item, create_parameter_set, create_pool

    base = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 32})
    with base.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        # In public, not in the scratch schema (first on the search path): dropping the schema
        # would drop the extension with it, and the test database's own search index after.
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    scoped = f"{url}?options=-csearch_path%3D{schema},public"
    app = create_app({"DATABASE_URL": scoped, "SECRET_KEY": "b" * 32, "JOBS_RUNNER": "thread"})
    started = time.perf_counter()
    a, b, items, scores = simulate(n_persons)
    simulated = time.perf_counter() - started
    with app.app_context():
        upgrade(db.engine)
        versions = []
        for j in range(N_ITEMS):
            version = create_item(
                key=f"bench-{j:04d}",
                item_type="single_choice",
                content={"stem": "<p>?</p>", "options": [{"id": c, "text": c} for c in "ABCD"]},
                scoring={"correct": "A"},
                status=ItemStatus.OPERATIONAL if j < N_ANCHORS else ItemStatus.PRETEST,
            )
            versions.append(version.id)
        anchor = create_parameter_set(
            name="bench-operational",
            parameters={
                versions[j]: {"model": "2pl", "discrimination": a[j], "difficulty": b[j]}
                for j in range(N_ANCHORS)
            },
            provenance={"source": "benchmark"},
            status="published",
        )
        pool = create_pool(
            name="bench", item_version_ids=versions, active_parameter_set_id=anchor.id
        )
        definition = TestDefinition(
            key="bench", title="bench", mode="linear", pool_id=pool.id,
            parameter_set_id=anchor.id, settings={}, scale={},
        )  # fmt: skip
        db.session.add(definition)
        db.session.flush()
        administration = Administration(
            test_definition_id=definition.id, name="bench", status="closed"
        )
        db.session.add(administration)
        db.session.commit()
        ids = {
            "administration": administration.id,
            "anchor": anchor.id,
            "first_version": versions[0],
        }
        connection = db.session.connection().connection.dbapi_connection
        cursor = connection.cursor()
        t0 = time.perf_counter()
        cursor.execute(
            "INSERT INTO users (role, display_name, password_change_required, pseudonym, "
            "extra_time_factor, accommodations, is_active, roster_data, created_at) "
            f"SELECT '{Role.STUDENT}', 'bench ' || g, false, md5(g::text), 1.0, '{{}}', true, "
            "'{}', now() FROM generate_series(1, %s) g",
            (n_persons,),
        )
        cursor.execute("SELECT min(id) FROM users WHERE display_name LIKE 'bench %%'")
        first_user = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO exam_sessions (id, administration_id, student_id, status, seed, "
            "engine_settings, state, revision, started_at, section_index, n_answered, updated_at, "
            "conditions) SELECT lpad(to_hex(g), 32, '0'), %s, %s + g - 1, 'finished', g, '{}', "
            "'{}', 0, now(), 0, 30, now(), '{}' FROM generate_series(1, %s) g",
            (administration.id, first_user, n_persons),
        )
        cursor.execute("CREATE UNLOGGED TABLE stage (person int4, item int4, seq int4, score int2)")
        stage = np.zeros(n_persons * PER_PERSON, dtype=_STAGE)
        stage["n"], stage["l1"], stage["l2"], stage["l3"], stage["l4"] = 4, 4, 4, 4, 2
        stage["person"] = np.repeat(np.arange(1, n_persons + 1, dtype=np.int32), PER_PERSON)
        stage["item"] = np.asarray(versions, dtype=np.int32)[items.ravel()]
        stage["seq"] = np.tile(np.arange(1, PER_PERSON + 1, dtype=np.int32), n_persons)
        stage["score"] = scores.ravel()
        payload = memoryview(stage.tobytes())
        with cursor.copy("COPY stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\0" + b"\0" * 8)
            step = 1 << 24
            for start in range(0, len(payload), step):
                copy.write(payload[start : start + step])
            copy.write(b"\xff\xff")
        del stage, payload
        cursor.execute(
            "INSERT INTO item_responses (administration_id, exam_session_id, sequence, "
            "item_version_id, revision, idempotency_key, section_index, is_operational, response, "
            "presentation, selection, score, presented_at, answered_at, time_taken_ms, "
            "theta_after, se_after) "
            "SELECT %s, lpad(to_hex(person), 32, '0'), seq, item, 0, person || '-' || seq, 0, "
            "true, '{\"choice\": \"A\"}', '{}', '{}', score, now(), "
            "now() + seq * interval '1 second', 1000, 0, 1 FROM stage",
            (ids["administration"],),
        )
        cursor.execute("DROP TABLE stage")
        connection.commit()
        cursor.execute("ANALYZE")
        loaded = time.perf_counter() - t0
    return app, ids, (a, b, items, scores), {"simulate_s": simulated, "load_s": loaded}


def reuse(url: str, schema: str, n_persons: int):
    """A schema kept by an earlier ``--keep`` run: the app on it, its ids, the same arrays."""
    from sqlalchemy import text

    from cbt.app import create_app
    from cbt.db import db

    scoped = f"{url}?options=-csearch_path%3D{schema},public"
    app = create_app({"DATABASE_URL": scoped, "SECRET_KEY": "b" * 32, "JOBS_RUNNER": "thread"})
    with app.app_context():
        found = db.session.execute(
            text(
                "SELECT (SELECT id FROM administrations WHERE name = 'bench'), "
                "(SELECT id FROM parameter_sets WHERE name = 'bench-operational'), "
                "(SELECT count(*) FROM exam_sessions)"
            )
        ).one()
        db.session.remove()
    if found[0] is None or found[2] != n_persons:
        raise SystemExit(f"{schema} holds no kept data set of {n_persons} persons")
    return app, {"administration": found[0], "anchor": found[1]}, simulate(n_persons)


def run_job(app, ids) -> tuple[float, dict]:
    from tqdm import tqdm

    from cbt.audit import Actor
    from cbt.db import db
    from jobs import enqueue, get_job, job_dict

    with app.app_context():
        job = enqueue(
            "research.calibrate",
            {
                "administration_ids": [ids["administration"]],
                "name": "bench-new",
                "model": "2pl",
                "anchor_parameter_set_id": ids["anchor"],
                "drift_threshold": 0.3,
                "max_iter": 500,
            },
            actor=Actor(),
        )
        db.session.commit()
        job_id = job.id
    started = time.perf_counter()
    bar = tqdm(total=100, desc="calibration job", unit="%")
    shown = 0
    while True:
        with app.app_context():
            row = job_dict(get_job(job_id))
            db.session.remove()
        done = int(row["progress"] * 100)
        if done > shown:
            bar.update(done - shown)
            shown = done
        bar.set_postfix_str(row["message"][:50])
        if row["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    bar.close()
    return time.perf_counter() - started, row


def baseline(data) -> float:
    """The fixed-anchor fit alone on the arrays in memory (no database, no review)."""
    import scipy.sparse as sp

    from scoring import ItemParameters
    from scoring.calibration import MMLCalibrator

    a, b, items, scores = data
    n = items.shape[0]
    matrix = sp.csr_matrix(
        (scores.ravel().astype(float) + 1, (np.repeat(np.arange(n), PER_PERSON), items.ravel())),
        shape=(n, N_ITEMS),
    )
    matrix.data -= 1  # scores 0/1 stored explicitly
    ids = [f"i{j}" for j in range(N_ITEMS)]
    anchors = ItemParameters.dichotomous(a[:N_ANCHORS], b[:N_ANCHORS], item_ids=ids[:N_ANCHORS])
    started = time.perf_counter()
    MMLCalibrator("2pl", anchors=anchors, max_iter=500).fit(matrix, item_ids=ids)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    parser.add_argument(
        "--reuse", metavar="SCHEMA", help="time the job on a schema kept by --keep (no load)"
    )
    args = parser.parse_args()
    schema = args.reuse or f"bench_caljob_{uuid.uuid4().hex[:8]}"
    if args.keep or args.reuse:
        print(f"scratch schema: {schema}", flush=True)
    app = None
    timings = {"load_s": 0.0}
    try:
        if args.reuse:
            app, ids, data = reuse(URL, schema, args.persons)
        else:
            app, ids, data, timings = load(URL, schema, args.persons)
        seconds, row = run_job(app, ids)
        fit_only = baseline(data)
    finally:
        from cbt.app import create_app
        from cbt.db import db

        if app is not None:
            from jobs.runners import stop_thread_worker

            stop_thread_worker(app)
            with app.app_context():
                db.engine.dispose()
        if not args.keep:  # also after a failure (and after --reuse): nothing left behind
            base = create_app({"DATABASE_URL": URL, "SECRET_KEY": "b" * 32})
            with base.app_context(), db.engine.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    result = {
        "persons": args.persons,
        "items": N_ITEMS,
        "responses": args.persons * PER_PERSON,
        "job_seconds": round(seconds, 1),
        "job_status": row["status"],
        "job_error": row["error"],
        "fit_only_seconds": round(fit_only, 1),
        "ratio_job_to_fit": round(seconds / fit_only, 2),
        "load_seconds": round(timings["load_s"], 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}",
        "result": {k: row["result"][k] for k in ("n_persons", "n_iter", "converged",
                                                  "n_drift_flagged", "linking")}
        if row["result"] else None,
    }  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
