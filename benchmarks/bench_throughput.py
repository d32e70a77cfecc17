"""Requests/s of submit-plus-next-item against a bare Flask "hello", same gunicorn, same run.

    python benchmarks/bench_throughput.py [--rounds 3] [--seconds 5] [--workers 2] [--threads 4]
                                          [--clients 8] [--students 400]
    python benchmarks/bench_throughput.py --profile 200   # in process: SQL per request, cProfile

Both apps run under gunicorn with the same settings (``--workers`` gthread workers x
``--threads``), one after the other in interleaved rounds (hello, app, hello, app, ...), each
round driven for ``--seconds`` by the same load generator: ``--clients`` processes, each with
one keep-alive HTTP/1.1 connection sending requests back to back (closed loop). The app's
request is ``POST /api/v1/sessions/<id>/responses`` on a 10,000-item CAT with a blueprint,
randomesque and exposure control (bench_delivery.py's world), PostgreSQL + Redis, in
``CBT_ENV=production``; every request answers the item the previous reply presented, cycling
over the client's students (sessions are started in bulk beforehand, in process). The ratio
of the two rates is the figure (goal >= 35%).

``--profile N`` instead runs N submits in process through the Flask test client under
cProfile and counts SQL statements per request with SQLAlchemy events.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SECRET = "benchmark-secret-key-0123456789"
HELLO = """
from flask import Flask
app = Flask("hello")

@app.get("/")
def hello():
    return "hello"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not become ready at {url}")


def gunicorn(app: str, port: int, args: argparse.Namespace, env: dict, cwd: Path):
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        env=env,
        cwd=cwd,
    )


# -- the load generator ---------------------------------------------------------------------


def _client(port: int, kind: str, work: list, seconds: float, start_at: float, out) -> None:
    """One closed-loop client on one keep-alive connection; puts (requests, errors, work left)."""
    counts = [0, 0]
    try:
        _loop(port, kind, work, seconds, start_at, counts)
    finally:
        out.put((counts[0], counts[1], work))


def _loop(port: int, kind: str, work: list, seconds: float, start_at: float, counts) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + seconds
    position = 0
    while time.monotonic() < deadline:
        if kind == "hello":
            connection.request("GET", "/")
            reply = connection.getresponse()
            reply.read()
            ok = reply.status == 200
        else:
            if not work:
                break  # every student of this client has finished
            position %= len(work)
            student = work[position]
            body = json.dumps(
                {
                    "item": student["handle"],
                    "response": {"choice": "B"},
                    "idempotency_key": uuid.uuid4().hex,
                }
            )
            connection.request("POST", student["path"], body=body, headers=student["headers"])
            reply = connection.getresponse()
            data = reply.read()
            ok = reply.status == 200
            if ok:
                view = json.loads(data)
                if view["finished"] or not view.get("item"):
                    work.pop(position)
                else:
                    student["handle"] = view["item"]["handle"]
                    position += 1
            else:
                work.pop(position)  # never resend blindly: count it and drop the student
        counts[0] += ok
        counts[1] += not ok


def drive(port: int, kind: str, shares: list[list], seconds: float) -> tuple[float, int]:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 1.0
    processes = [
        context.Process(target=_client, args=(port, kind, share, seconds, start_at, out))
        for share in shares
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    requests = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    # The sittings moved on in the clients: the next round continues from where they are.
    shares[:] = [r[2] for r in results]
    return requests / seconds, errors


# -- the app's world ------------------------------------------------------------------------


def start_sessions(app, administration_id: int, codes: dict[int, str]) -> list[dict]:
    """Log every student in and start the sitting, in process; what a client needs to go on."""
    from tests.helpers import ApiClient

    students = []
    for number, code in codes.items():
        client = ApiClient(app.test_client())
        assert client.login_student("BENCH-1", number, code).status_code == 200
        view = client.post(f"/api/v1/administrations/{administration_id}/sessions").get_json()
        cookie = client.client.get_cookie("cbt_session")
        session = view["session"]
        students.append(
            {
                "path": f"/api/v1/sessions/{session['id']}/responses",
                "handle": view["item"]["handle"],
                "headers": {
                    "Content-Type": "application/json",
                    "Cookie": f"cbt_session={cookie.value}",
                    "X-CSRF-Token": client.csrf,
                    "X-Device-Token": session.get("device_token") or client.device,
                },
            }
        )
    return students


def profile(app, students: list[dict], n: int, dump: str = "") -> None:
    import cProfile
    import pstats

    from sqlalchemy import event

    from cbt.db import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda c, cur, statement, *a: statements.append(statement)
    )
    # The answer's statement is sent on the driver (docs/performance.md, Delivery), which
    # SQLAlchemy's events do not see: count psycopg's executes too.
    import psycopg

    driver_execute = psycopg.Cursor.execute

    def counted(cursor, query, *args, **kwargs):
        if not statements or statements[-1] is not query:
            statements.append(f"(driver) {query}")
        return driver_execute(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = counted
    client = app.test_client()
    per_request: list[int] = []
    profiler = cProfile.Profile()
    count = 0
    while count < n and students:
        student = students[count % len(students)]
        body = {"item": student["handle"], "response": {"choice": "B"}}
        body["idempotency_key"] = uuid.uuid4().hex
        headers = dict(student["headers"])
        cookie = headers.pop("Cookie").split("=", 1)[1]
        client.set_cookie("cbt_session", cookie)
        before = len(statements)
        profiler.enable()
        reply = client.post(student["path"], json=body, headers=headers)
        profiler.disable()
        per_request.append(len(statements) - before)
        view = reply.get_json()
        if reply.status_code != 200 or view["finished"]:
            students.remove(student)
        else:
            student["handle"] = view["item"]["handle"]
        count += 1
    print(
        f"SQL statements per submit: {sorted(set(per_request))} (mean "
        f"{sum(per_request) / len(per_request):.2f}); the last request's:"
    )
    for statement in statements[-per_request[-1] :] if per_request[-1] else []:
        print("   ", " ".join(statement.split())[:160])
    if dump:
        profiler.dump_stats(dump)  # for pstats or snakeviz: every entry, not only the largest
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profile", type=int, default=0, help="in process, N submits")
    parser.add_argument("--profile-out", default="", help="with --profile: write the pstats here")
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
    # An interrupted run still stops its servers and drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    from bench_delivery import create_database, drop_database, fill_world

    from cbt.app import create_app
    from cbt.db import db

    url, name, admin = create_database(args.database_url)
    prefix = f"cbt-bench-{uuid.uuid4().hex[:6]}"
    instance = Path(tempfile.mkdtemp(prefix="cbt-throughput-"))
    config = {
        "ENV": "production",
        "DATABASE_URL": url,
        "REDIS_URL": args.redis_url,
        "REDIS_PREFIX": prefix,
        "SECRET_KEY": SECRET,
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "SESSION_COOKIE_SECURE": "false",
        "INSTANCE_PATH": str(instance),
    }
    servers = []
    try:
        app = create_app(dict(config))
        with app.app_context():
            started = time.perf_counter()
            administration_id, codes = fill_world(app, args.items, args.students, 30)
            students = start_sessions(app, administration_id, codes)
            print(
                f"setup: {len(students)} sittings started in {time.perf_counter() - started:.0f} s"
            )
        if args.profile:
            profile(app, students, args.profile, args.profile_out)
            return
        (instance / "hello_app.py").write_text(HELLO)
        env = {**os.environ, **{f"CBT_{k}": str(v) for k, v in config.items()}}
        env["CBT_LOG_FORMAT"] = "text"
        hello_port, app_port = free_port(), free_port()
        servers.append(gunicorn("hello_app:app", hello_port, args, env, instance))
        servers.append(gunicorn("cbt.app:create_app()", app_port, args, env, ROOT))
        wait_ready(f"http://127.0.0.1:{hello_port}", "/")
        wait_ready(f"http://127.0.0.1:{app_port}", "/healthz")
        shares = [students[i :: args.clients] for i in range(args.clients)]
        print(f"machine: {machine_line()}, load average {os.getloadavg()[0]:.1f}")
        print(
            f"gunicorn {args.workers} gthread workers x {args.threads} threads for both; "
            f"{args.clients} keep-alive clients; {args.seconds:.0f} s per measurement"
        )
        # Warm-up, not counted: each worker compiles the form on its first request (seconds
        # for a 10,000-item pool), and connections open.
        drive(hello_port, "hello", [[] for _ in shares], 2.0)
        warm, _ = drive(app_port, "submit", shares, 3.0)
        print(f"warm-up: {warm:.0f} submits/s (not counted)")
        ratios = []
        for round_ in range(1, args.rounds + 1):
            hello, hello_errors = drive(hello_port, "hello", [[] for _ in shares], args.seconds)
            submit, submit_errors = drive(app_port, "submit", shares, args.seconds)
            ratios.append(submit / hello)
            print(
                f"round {round_}: hello {hello:.0f}/s ({hello_errors} errors), submit + next "
                f"{submit:.0f}/s ({submit_errors} errors): {submit / hello:.1%}, load "
                f"{os.getloadavg()[0]:.1f}"
            )
            if sum(len(share) for share in shares) < args.clients:
                print("(out of unfinished sittings: give more --students)")
                break
        ratios.sort()
        median = ratios[len(ratios) // 2]
        print(f"submit / hello, median of {len(ratios)} rounds: {median:.1%} (goal >= 35%)")
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        try:
            with app.app_context():
                app.extensions["cbt.state"].clear()
                db.engine.dispose()
        except Exception as error:  # cleanup only
            print(f"cleanup: {error}")
        drop_database(name, admin)


if __name__ == "__main__":
    main()
