"""The locust scenario runs against a live server without failures (a smoke run)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import LiveServer

LOCUSTFILE = Path(__file__).parents[2] / "loadtest" / "locustfile.py"
SCRIPT = Path(__file__).parents[2] / "scripts" / "loadtest.sh"


def test_locust_students_finish_their_tests(live_server: LiveServer, tmp_path: Path) -> None:
    logins = tmp_path / "logins.csv"
    with logins.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class_code", "student_number", "name", "login_code"])
        writer.writerows(live_server.logins.students[20:26])  # students no other test uses
    stats = tmp_path / "stats"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            live_server.url,
            "--logins",
            str(logins),
            "--think-min",
            "0",
            "--think-max",
            "0.05",
            "--headless",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "12s",
            "--only-summary",
            "--csv",
            str(stats),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "stats_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    submits = rows["POST /sessions/[id]/responses"]
    assert int(submits["Request Count"]) >= 6 * 10  # every student answered at least 10 items
    assert int(rows["Aggregated"]["Failure Count"]) == 0


def test_locust_students_wait_their_turn_in_the_waiting_room(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """With logins and starts let through at 2 a second, every student still finishes, and
    the 429 waiting_room replies are waited out (counted as waits, not failures)."""
    from cbt.admission import WaitingRoom

    app = live_server.app
    open_door = app.extensions["cbt.waiting_room"]
    app.extensions["cbt.waiting_room"] = WaitingRoom(
        app.extensions["cbt.state"], 2.0, 1, app.config["SECRET_KEY"]
    )
    try:
        logins = tmp_path / "logins.csv"
        with logins.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["class_code", "student_number", "name", "login_code"])
            writer.writerows(live_server.logins.students[26:32])  # students no other test uses
        stats = tmp_path / "stats"
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", live_server.url,
            "--logins", str(logins), "--think-min", "0", "--think-max", "0.05",
            "--headless", "-u", "6", "-r", "6", "-t", "20s", "--only-summary", "--csv", str(stats),
        ]  # fmt: skip
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        app.extensions["cbt.waiting_room"] = open_door
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "stats_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    waits = [row for name, row in rows.items() if name.endswith("(told to wait)")]
    assert sum(int(row["Request Count"]) for row in waits) >= 1
    assert int(rows["POST /sessions/[id]/responses"]["Request Count"]) >= 6 * 10
    assert int(rows["POST /auth/logout"]["Request Count"]) == 6  # every student finished
    assert int(rows["Aggregated"]["Failure Count"]) == 0


def test_distributed_headless_storm_writes_its_reports(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """scripts/loadtest.sh: a master and two workers, headless, HTML and CSV in a run folder."""
    from cbt.db import db
    from cbt.demo.load import seed_load, write_logins

    with live_server.app.app_context():
        seeded = seed_load(
            live_server.app.config["SECRET_KEY"],
            schools=1,
            classes_per_school=1,
            students_per_class=6,
            prefix="CI",
            administration_ids=[live_server.logins.administration_id],
        )
        db.session.commit()
    logins = tmp_path / "logins.csv"
    write_logins(logins, seeded)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "USERS": "6",
        "RATE": "6",
        "DURATION": "12s",
        "WORKERS": "2",
        "OUT": str(tmp_path / "reports"),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "storm", live_server.url, str(logins)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    runs = list((tmp_path / "reports").glob("storm-*"))
    logs = "".join(p.read_text()[-1500:] for run in runs for p in run.glob("*.log"))
    assert result.returncode == 0, result.stdout + result.stderr + logs
    assert len(runs) == 1
    assert (runs[0] / "report.html").stat().st_size > 0
    with (runs[0] / "stats_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["login to first item"]["Request Count"]) == 6  # both workers' students
    assert int(rows["Aggregated"]["Failure Count"]) == 0
