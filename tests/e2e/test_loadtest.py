"""The locust scenario runs against a live server without failures (a smoke run)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import LiveServer

LOCUSTFILE = Path(__file__).parents[2] / "loadtest" / "locustfile.py"


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
