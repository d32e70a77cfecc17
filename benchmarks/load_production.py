"""Load test of the production stack: gunicorn + PostgreSQL + Redis, driven by locust over HTTP.

    python benchmarks/load_production.py [--users 60] [--seconds 60] [--workers 2] [--threads 4]
                                         [--think-min 0.2] [--think-max 0.5]

Creates a fresh PostgreSQL database (dropped at the end) and a Redis key prefix of its own,
migrates, seeds the demo school and bank into them (`cbt demo --no-serve`), starts gunicorn on
a free port with the README's production settings, and runs loadtest/locustfile.py headless:
every demo student logs in with a class code, takes the adaptive test with the given think time,
and starts again. Prints requests per second, failures and latency percentiles per route, with
the submit path ("POST /sessions/[id]/responses") on its own line.

Locust runs on the same 2 cores as the server, so the figures are a floor for the server.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("CBT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CBT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not become ready at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60, help="concurrent students (<= 60)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--think-min", type=float, default=0.2)
    parser.add_argument("--think-max", type=float, default=0.5)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    name = f"cbt_load_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    instance = Path(tempfile.mkdtemp(prefix="cbt-load-"))
    env = {
        **os.environ,
        "CBT_ENV": "production",
        "CBT_SECRET_KEY": secrets.token_urlsafe(48),
        "CBT_DATABASE_URL": database_url,
        "CBT_REDIS_URL": REDIS,
        "CBT_REDIS_PREFIX": name,
        "CBT_INSTANCE_PATH": str(instance),
        "CBT_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
        "CBT_LOGIN_RATE_LIMIT": "10000 per minute",  # every student logs in from one address
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = None
    try:
        subprocess.run([BIN / "cbt", "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [BIN / "cbt", "demo", "--no-serve"], env=env, check=True, capture_output=True
        )
        server = subprocess.Popen(
            [
                BIN / "gunicorn",
                "--workers",
                str(args.workers),
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
        )
        wait_ready(url)
        stats = instance / "locust"
        subprocess.run(
            [
                BIN / "locust",
                "-f",
                str(ROOT / "loadtest" / "locustfile.py"),
                "--host",
                url,
                "--logins",
                str(instance / "demo-logins.csv"),
                "--think-min",
                str(args.think_min),
                "--think-max",
                str(args.think_max),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(max(1, args.users // 5)),
                "-t",
                f"{args.seconds}s",
                "--csv",
                str(stats),
                "--only-summary",
            ],
            env=env,
            check=False,
            capture_output=True,
        )
        report(stats.with_name("locust_stats.csv"), args)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=f"{name}:*", count=500):
            client.delete(key)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(path: Path, args: argparse.Namespace) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(f"machine: {machine_line()} (locust on the same cores)")
    print(
        f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL + Redis; "
        f"{args.users} students, think time {args.think_min}-{args.think_max} s, "
        f"{args.seconds} s"
    )
    print(
        f"{'route':<44} {'requests':>9} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}"
    )
    for row in rows:
        print(
            f"{row['Name']:<40} "
            f"{row['Request Count']:>9} {row['Failure Count']:>5} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
    print("(latencies in ms, as the client saw them)")
    failures_file = path.with_name("locust_failures.csv")
    if failures_file.exists():
        with open(failures_file, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                print(
                    f"failed {row['Occurrences']}x: {row['Method']} {row['Name']}: {row['Error']}"
                )
    failures = sum(int(row["Failure Count"]) for row in rows if row["Name"] == "Aggregated")
    if failures:
        raise SystemExit(f"{failures} requests failed")


if __name__ == "__main__":
    main()
