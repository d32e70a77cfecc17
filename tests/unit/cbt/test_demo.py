"""`cbt demo` seeds a realistic school and bank, and running it twice changes nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from cbt.cli import cli
from cbt.db import db
from cbt.models import Classroom, Enrollment, Role, School, User
from delivery.models import Administration, ItemResponse, TestDefinition
from item_bank.models import Item, ItemParameter, ItemVersion, ParameterSet
from tests.helpers import ApiClient, row_count

COUNTED = (School, Classroom, User, Enrollment, Item, ItemVersion, ParameterSet, ItemParameter,
           TestDefinition, Administration)  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: row_count(model) for model in COUNTED}


def test_demo_seeds_once_and_prints_logins(app: Flask, runner, api: ApiClient) -> None:
    result = runner.invoke(cli, ["demo", "--no-serve"], env={"CBT_LOCALE": "en"})
    assert result.exit_code == 0, result.output
    assert "Students log in at http://127.0.0.1:8000/login" in result.output
    assert "teacher@example.org" in result.output
    first = counts()
    assert first["School"] == 1
    assert first["Classroom"] == 2
    assert first["Item"] >= 200
    # The marking practice's set holds its essay and three bank items again.
    assert first["ItemParameter"] == first["Item"] + 3
    assert first["Administration"] == 2  # the adaptive test and the marking practice
    essay = db.session.scalars(
        select(ItemVersion).where(ItemVersion.item_type == "extended_text")
    ).one()
    assert [level["points"] for level in essay.scoring["rubric"]] == [0, 1, 2]
    answers = db.session.scalar(
        select(func.count())
        .select_from(ItemResponse)
        .where(ItemResponse.item_version_id == essay.id)
    )
    assert answers == 6  # waiting for a rater
    students = db.session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.role == Role.STUDENT)
    )
    assert students == 60
    roles = set(db.session.scalars(select(User.role).where(User.role != Role.STUDENT)))
    assert roles == {"teacher", "researcher", "operator"}

    again = runner.invoke(cli, ["demo", "--no-serve", "--port", "8123"], env={"CBT_LOCALE": "en"})
    assert again.exit_code == 0, again.output
    assert "http://127.0.0.1:8123/login" in again.output
    assert counts() == first

    roster = (Path(app.instance_path) / "demo-logins.csv").read_text().splitlines()
    assert roster[0] == "class_code,student_number,name,login_code"
    assert len(roster) == 61
    class_code, number, _, code = roster[1].split(",")
    assert api.login_student(class_code, int(number), code).status_code == 200


def test_demo_items_carry_real_content_and_codes(app: Flask, runner) -> None:
    assert runner.invoke(cli, ["demo", "--no-serve"]).exit_code == 0
    areas = set(db.session.scalars(select(ItemVersion.content_area)))
    assert {"arithmetic", "fractions", "ratios", "linear_equations", "geometry", "data"} <= areas
    version = db.session.scalars(select(ItemVersion)).first()
    assert len(version.content["options"]) == 4
    assert version.scoring["correct"] in "ABCD"
    assert len(version.curriculum_codes[0].code) == 16


def test_the_demo_is_japanese_by_default(app: Flask, runner) -> None:
    assert runner.invoke(cli, ["demo", "--no-serve"]).exit_code == 0
    first = db.session.scalars(select(ItemVersion).order_by(ItemVersion.id)).first()
    assert first.language == "ja"
    assert first.content["stem"] == "<p>次の計算をしなさい。</p><p>(−9) + (−2) − (−5)</p>"
    assert db.session.scalar(select(School.name)) == "さくら中学校（デモ）"
    assert set(db.session.scalars(select(Classroom.name))) == {"2年A組", "2年B組"}
    teacher = db.session.scalar(select(User).where(User.role == Role.TEACHER))
    assert teacher.display_name == "佐藤 花子（デモ教員）"
    definition = db.session.scalar(select(TestDefinition))
    assert definition.title == "数学（適応型）"


def test_english_stays_available_as_a_second_demo_language(app: Flask, runner) -> None:
    result = runner.invoke(cli, ["demo", "--no-serve", "--language", "en"])
    assert result.exit_code == 0, result.output
    first = db.session.scalars(select(ItemVersion).order_by(ItemVersion.id)).first()
    assert first.language == "en"
    assert first.content["stem"] == "<p>Calculate: (−9) + (−2) − (−5)</p>"
    assert set(db.session.scalars(select(Classroom.name))) == {"2-A", "2-B"}


def test_demo_rejects_a_bad_port(runner) -> None:
    result = runner.invoke(cli, ["demo", "--no-serve", "--port", "0"])
    assert result.exit_code != 0
    assert "Invalid value for '--port'" in result.output


@pytest.mark.skipif(
    bool(os.environ.get("CBT_TEST_DATABASE_URL")), reason="the demo is the embedded default"
)
def test_cbt_demo_serves_on_the_given_port(tmp_path: Path) -> None:
    """README command 1, as a newcomer runs it: a process that seeds, prints and serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBT_")}
    env["CBT_INSTANCE_PATH"] = str(tmp_path / "instance")
    process = subprocess.Popen(
        [sys.executable, "-m", "cbt.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = json.load(r)
                    break
            except OSError:
                time.sleep(0.3)
        assert ready == {"status": "ready", "checks": {"database": "ok", "state_store": "ok"}}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            assert "ログインしてテストを受ける" in r.read().decode()  # Japanese by default
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/login" in output
    assert (tmp_path / "instance" / "cbt.sqlite3").exists()
