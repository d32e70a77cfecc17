"""A login storm through the waiting room: N students log in and start within T seconds.

    python benchmarks/bench_login_storm.py [--students 5000] [--within 5] [--rate 100]
        [--burst 50] [--workers 2] [--threads 8] [--cluster]

Creates a PostgreSQL database of its own (dropped at the end), seeds one CAT and N students
with bulk inserts, starts gunicorn (production settings, ``CBT_ADMISSION_RATE``) on the shared
Redis under a prefix of its own, or with ``--cluster`` on a 6-node Redis Cluster it starts, and
lets every student arrive at a random moment within ``--within`` seconds. Each student (one
thread) fetches the CSRF token, logs in and starts the test, sending again with its ticket
after the Retry-After of each 429 ``waiting_room`` reply, as the pages do. Prints the errors
(5xx and lost connections: must be 0), the students let in, how many tickets were let in out of
order by more than a poll round, and the time from arrival to the first item.

The client threads run on the same 2 cores as the server: the figures are a floor.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

PG_ADMIN = os.environ.get("CBT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CBT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-login-storm-secret-key"


def seed(url: str, n_students: int) -> tuple[str, int]:
    """One CAT given to one class of ``n_students`` (bulk inserts); (class code, admin id)."""
    from cbt.app import create_app
    from cbt.db import db
    from cbt.models import Classroom, Enrollment, Role, User
    from cbt.security import login_code_hmac
    from cbt.service import new_pseudonym
    from tests.helpers import cat_settings, seed_school

    instance = tempfile.mkdtemp(prefix="cbt-storm-seed-")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance})
    with app.app_context():
        school = seed_school(n_items=30, n_students=1, settings=cat_settings(min_items=3))
        classroom = db.session.get(Classroom, school.classroom_id)
        assert classroom is not None
        for start in range(0, n_students, 1000):
            numbers = range(start + 2, min(n_students, start + 1000) + 2)
            ids = db.session.scalars(
                insert(User).returning(User.id),
                [
                    {
                        "role": Role.STUDENT,
                        "display_name": f"Student {n}",
                        "pseudonym": new_pseudonym(),
                        "school_id": classroom.school_id,
                    }
                    for n in numbers
                ],
            ).all()
            db.session.execute(
                insert(Enrollment),
                [
                    {
                        "classroom_id": classroom.id,
                        "user_id": user_id,
                        "role": Role.STUDENT,
                        "student_number": n,
                        "login_code_hmac": login_code_hmac(SECRET, code(n)),
                    }
                    for user_id, n in zip(ids, numbers, strict=True)
                ],
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    return school.class_code, school.administration_id


def code(number: int) -> str:
    return f"STRM-{number:04d}-{number * 7919 % 10000:04d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--within", type=float, default=5.0, help="seconds the arrivals span")
    parser.add_argument("--rate", type=float, default=100.0, help="CBT_ADMISSION_RATE")
    parser.add_argument("--burst", type=int, default=50, help="CBT_ADMISSION_BURST")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--cluster", action="store_true", help="a 6-node Redis Cluster")
    args = parser.parse_args()

    from cbt.migrate import upgrade
    from tests.faults.stack import Gunicorn
    from tests.storm import Storm, through_waiting_room

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"cbt_storm_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    cluster = None
    server = None
    try:
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine)
        engine.dispose()
        started = time.perf_counter()
        class_code, administration_id = seed(url, args.students)
        print(f"seeded {args.students} students in {time.perf_counter() - started:.1f} s")
        env = {
            "CBT_ENV": "production",
            "CBT_DATABASE_URL": url,
            "CBT_REDIS_PREFIX": name,
            "CBT_SECRET_KEY": SECRET,
            "CBT_INSTANCE_PATH": tempfile.mkdtemp(prefix="cbt-storm-"),
            "CBT_SESSION_COOKIE_SECURE": "false",
            "CBT_LOGIN_RATE_LIMIT": "1000000 per minute",  # one address for every student
            "CBT_ADMISSION_RATE": str(args.rate),
            "CBT_ADMISSION_BURST": str(args.burst),
        }
        if args.cluster:
            from tests.scale.redis_cluster import RedisClusterServers

            cluster = RedisClusterServers()
            cluster.start()
            env["CBT_REDIS_CLUSTER_NODES"] = cluster.nodes
        else:
            env["CBT_REDIS_URL"] = REDIS
        server = Gunicorn(env, workers=args.workers, threads=args.threads)
        server.start()
        storm, ready = Storm(), []
        lock = threading.Lock()
        failures: list[str] = []
        lost: Counter = Counter()

        def student(number: int, delay: float) -> None:
            time.sleep(delay)
            arrived = time.monotonic()
            http = requests.Session()
            csrf = {"token": ""}

            def send(method: str, path: str, body: Any, headers: dict[str, str]):
                try:
                    reply = http.request(
                        method, server.url + path, json=body, timeout=120,
                        headers={"Accept": "application/json", "X-CSRF-Token": csrf["token"],
                                 **headers},
                    )  # fmt: skip
                except requests.RequestException as error:
                    with lock:
                        lost[f"{method} {path.split('/')[-1]}: {type(error).__name__}"] += 1
                    return 0, None
                try:
                    data = reply.json()
                except ValueError:
                    data = None
                if isinstance(data, dict) and data.get("csrf_token"):
                    csrf["token"] = data["csrf_token"]
                if reply.status_code == 429:
                    # a waiting page asks again on a fresh connection, not on one the
                    # server's keep-alive (2 s) may be closing at that moment
                    http.close()
                return reply.status_code, data

            try:
                status, _ = through_waiting_room(
                    storm, send, "csrf", "GET", "/api/v1/auth/csrf", None, None
                )
                status, body = through_waiting_room(
                    storm, send, "login", "POST", "/api/v1/auth/student-login",
                    {"class_code": class_code, "student_number": number,
                     "login_code": code(number)}, None,
                )  # fmt: skip
                if status != 200:
                    raise AssertionError(f"login {status}: {body}")
                status, body = through_waiting_room(
                    storm, send, "start", "POST",
                    f"/api/v1/administrations/{administration_id}/sessions", None, None,
                )  # fmt: skip
                if status != 200 or not body.get("item"):
                    raise AssertionError(f"start {status}: {body}")
                with lock:
                    ready.append(time.monotonic() - arrived)
            except Exception as error:
                with lock:
                    failures.append(f"student {number}: {error}")

        threading.stack_size(256 * 1024)
        rng = random.Random(1)
        threads = [
            threading.Thread(target=student, args=(n, rng.uniform(0, args.within)), daemon=True)
            for n in range(2, args.students + 2)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        logins = sum(1 for q, _, _ in storm.admitted if q == "login")
        starts = sum(1 for q, _, _ in storm.admitted if q == "start")
        print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.1f}")
        print(
            f"{args.students} students arriving within {args.within:.0f} s, admission "
            f"{args.rate:g}/s (burst {args.burst}), {args.workers} workers x {args.threads} "
            f"threads, {'Redis Cluster (6 nodes)' if args.cluster else 'Redis'}"
        )
        print(f"errors (5xx or connection lost): {storm.server_errors()}")
        print(f"statuses: {dict(sorted(storm.statuses.items()))}; lost: {dict(lost)}")
        print(f"let in: {logins} logins, {starts} starts; students failed: {len(failures)}")
        print(f"tickets drawn: login {storm.waited['login']}, start {storm.waited['start']}")
        for queue in ("login", "start"):
            late = storm.out_of_order(queue, slack=2.0)
            print(
                f"{queue}: {len(late)} tickets got in more than 2 s before an earlier one; "
                f"rank correlation of ticket and moment let in "
                f"{storm.order_correlation(queue):.3f}"
            )
        if ready:
            ready.sort()
            print(
                f"arrival to first item: median {statistics.median(ready):.1f} s, "
                f"p95 {ready[int(0.95 * (len(ready) - 1))]:.1f} s, max {ready[-1]:.1f} s; "
                f"wall {wall:.1f} s"
            )
        for line in failures[:5]:
            print(line)
    finally:
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.stop()
        else:
            from cbt.state import RedisStateStore

            RedisStateStore(REDIS, name).clear()  # our keys only: the Redis is shared
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
