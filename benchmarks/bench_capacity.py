"""How many students with 20 to 40 s of think time one app core holds at p99 <= 200 ms.

    python benchmarks/bench_capacity.py [--steps 500,1000,2000,3000,4000] [--step-seconds 240]
                                        [--app-cpu 0] [--other-cpu 1] [--pin-services]

One gunicorn worker (gthread, ``--threads``) pinned with ``taskset`` to ``--app-cpu`` serves a
10,000-item CAT with blueprint, randomesque and exposure control (bench_delivery.py's world,
30 items, PostgreSQL + Redis, ``CBT_ENV=production``). For each step, locust (headless, on
``--other-cpu``) runs loadtest/locustfile.py with that many *fresh* students (each logs in,
starts, answers with a think time drawn from 20 to 40 s), spawned at ``--spawn-rate`` and
then held for the rest of ``--step-seconds``. The step's figures are read from locust's CSV
(the whole step, ramp included: the conservative reading) and the worker's CPU from /proc.

The per-core figure is the largest step whose p99 of ``POST /sessions/[id]/responses`` is at
most 200 ms with no failures. ``--pin-services`` also moves the running PostgreSQL and Redis
servers to ``--other-cpu`` for the run (and back afterwards), so that the app core does only
the app; without it they share both cores with everything else.

Reports (locust HTML and CSV per step) go to ``--out`` (default loadtest-reports/capacity-<UTC>).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SECRET = "benchmark-secret-key-0123456789"
SUBMIT = "POST /sessions/[id]/responses"
CLASS_CODE = "BENCH-1"  # bench_delivery.fill_world's class


def seed_students(classroom_id: int, school_id: int, total: int) -> list[dict[str, str]]:
    """``total`` students in one class (bulk inserts); their login rows for locust."""
    from sqlalchemy import insert

    from cbt.db import db
    from cbt.models import Enrollment, Role, User
    from cbt.security import login_code_hmac
    from cbt.service import new_pseudonym

    rows = []
    for start in range(0, total, 1000):
        numbers = range(start + 1, min(total, start + 1000) + 1)
        ids = db.session.scalars(
            insert(User).returning(User.id),
            [
                {
                    "role": Role.STUDENT,
                    "display_name": f"Student {n}",
                    "pseudonym": new_pseudonym(),
                    "school_id": school_id,
                }
                for n in numbers
            ],
        ).all()
        db.session.execute(
            insert(Enrollment),
            [
                {
                    "classroom_id": classroom_id,
                    "user_id": user_id,
                    "role": Role.STUDENT,
                    "student_number": n,
                    "login_code_hmac": login_code_hmac(SECRET, code(n)),
                }
                for user_id, n in zip(ids, numbers, strict=True)
            ],
        )
        rows.extend(
            {"class_code": CLASS_CODE, "student_number": str(n), "name": "", "login_code": code(n)}
            for n in numbers
        )
    db.session.commit()
    return rows


def code(number: int) -> str:
    return f"CAPY-{number:05d}-{number * 7919 % 10000:04d}"


def world(url: str, total: int, n_items: int) -> tuple[int, list[dict[str, str]]]:
    """The CAT world with one class of ``total`` students: (administration id, login rows)."""
    from bench_delivery import fill_world

    from cbt.app import create_app
    from cbt.db import db
    from cbt.models import Classroom

    instance = tempfile.mkdtemp(prefix="cbt-capacity-seed-")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance})
    with app.app_context():
        administration_id, _ = fill_world(app, n_items, 0, 30)
        classroom = db.session.query(Classroom).filter_by(class_code=CLASS_CODE).one()
        rows = seed_students(classroom.id, classroom.school_id, total)
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    return administration_id, rows


def service_pids() -> list[int]:
    """PIDs of the running PostgreSQL and Redis servers (and their children)."""
    found = []
    for name in ("postgres", "redis-server"):
        result = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
        found.extend(int(p) for p in result.stdout.split())
    return found


def pin(pids: list[int], cpus: str) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-a", "-cp", cpus, str(pid)], capture_output=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


def read_stats(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="500,1000,2000,3000,4000")
    parser.add_argument("--step-seconds", type=int, default=240)
    parser.add_argument("--spawn-rate", type=float, default=25.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--think-min", type=float, default=20.0)
    parser.add_argument("--think-max", type=float, default=40.0)
    parser.add_argument("--app-cpu", default="0")
    parser.add_argument("--other-cpu", default="1")
    parser.add_argument("--pin-services", action="store_true")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--out", default="")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "CBT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("CBT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    out = Path(
        args.out or ROOT / "loadtest-reports" / f"capacity-{time.strftime('%Y%m%dT%H%M%SZ')}"
    )
    out.mkdir(parents=True, exist_ok=True)

    from bench_delivery import create_database, drop_database
    from bench_throughput import free_port, wait_ready

    url, name, admin = create_database(args.database_url)
    instance = Path(tempfile.mkdtemp(prefix="cbt-capacity-"))
    services = service_pids() if args.pin_services else []
    server = None
    try:
        started = time.perf_counter()
        administration_id, rows = world(url, sum(steps), args.items)
        print(
            f"setup: {args.items} items, {len(rows)} students "
            f"in {time.perf_counter() - started:.0f} s"
        )
        config = {
            "ENV": "production",
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "REDIS_PREFIX": f"cbt-capacity-{uuid.uuid4().hex[:6]}",
            "SECRET_KEY": SECRET,
            "LOGIN_RATE_LIMIT": "1000000 per minute",  # every student comes from 127.0.0.1
            "SESSION_COOKIE_SECURE": "false",
            "INSTANCE_PATH": str(instance),
            "LOG_FORMAT": "text",
        }
        env = {**os.environ, **{f"CBT_{k}": str(v) for k, v in config.items()}}
        port = free_port()
        pin(services, args.other_cpu)
        server = subprocess.Popen(
            [
                "taskset",
                "-c",
                args.app_cpu,
                str(BIN / "gunicorn"),
                "-c",
                "python:cbt.gunicorn_conf",
                "--workers",
                "1",
                "--threads",
                str(args.threads),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "cbt.app:create_app()",
            ],
            env=env,
            cwd=ROOT,
            stdout=(out / "server.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_ready(f"http://127.0.0.1:{port}", "/healthz", 120)
        time.sleep(20)  # the worker's form warm-up (post_worker_init) finishes
        print(f"machine: {machine_line()}, load average {os.getloadavg()[0]:.1f}")
        print(
            f"app: 1 gunicorn gthread worker x {args.threads} threads on CPU {args.app_cpu}; "
            f"locust{', PostgreSQL and Redis' if services else ''} on CPU {args.other_cpu}; "
            f"think time {args.think_min:.0f} to {args.think_max:.0f} s; "
            f"{args.step_seconds} s a step, spawn {args.spawn_rate:.0f}/s"
        )
        print(
            "| students | answers | answers/s | p50 ms | p95 ms | p99 ms | failures | "
            "logins p99 ms | app core busy | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        offset = 0
        best = 0
        for users in steps:
            logins = out / f"logins-{users}.csv"
            with logins.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows[offset : offset + users])
            offset += users
            workers = worker_pids(server.pid)
            cpu_before = sum(cpu_seconds(p) for p in workers)
            wall_before = time.monotonic()
            subprocess.run(
                [
                    "taskset",
                    "-c",
                    args.other_cpu,
                    str(BIN / "locust"),
                    "-f",
                    str(ROOT / "loadtest" / "locustfile.py"),
                    "--headless",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "-u",
                    str(users),
                    "-r",
                    str(args.spawn_rate),
                    "-t",
                    f"{args.step_seconds}s",
                    "--logins",
                    str(logins),
                    "--administration-id",
                    str(administration_id),
                    "--think-min",
                    str(args.think_min),
                    "--think-max",
                    str(args.think_max),
                    "--csv",
                    str(out / f"step-{users}"),
                    "--html",
                    str(out / f"step-{users}.html"),
                    "--only-summary",
                    "--stop-timeout",
                    "5",
                ],
                stdout=(out / f"step-{users}.log").open("w"),
                stderr=subprocess.STDOUT,
                check=False,
            )
            busy = (sum(cpu_seconds(p) for p in workers) - cpu_before) / (
                time.monotonic() - wall_before
            )
            stats = read_stats(out / f"step-{users}_stats.csv")
            submit = stats.get(SUBMIT, {})
            login = stats.get("POST /auth/student-login", {})
            total = stats.get("Aggregated", {})
            answers = int(submit.get("Request Count", 0) or 0)
            failures = int(total.get("Failure Count", 0) or 0)
            p99 = float(submit.get("99%", "nan") or "nan")
            print(
                f"| {users} | {answers} | {float(submit.get('Requests/s', 0) or 0):.1f} | "
                f"{submit.get('50%', '-')} | {submit.get('95%', '-')} | {submit.get('99%', '-')} | "
                f"{failures} | {login.get('99%', '-')} | {busy:.0%} | {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
            if answers and failures == 0 and p99 <= 200:
                best = users
        print(
            f"largest step at p99 <= 200 ms with no failures: {best} students on one core "
            f"(reports in {out})"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        pin(services, f"0-{(os.cpu_count() or 1) - 1}")
        drop_database(name, admin)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
