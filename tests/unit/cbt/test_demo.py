"""`cbt demo` seeds a realistic school and bank, and running it twice changes nothing."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from cbt.cli import cli
from cbt.db import db
from cbt.models import Classroom, Enrollment, Role, School, User
from delivery.models import Administration, TestDefinition
from item_bank.models import Item, ItemParameter, ItemVersion, ParameterSet
from tests.helpers import ApiClient, row_count

COUNTED = (School, Classroom, User, Enrollment, Item, ItemVersion, ParameterSet, ItemParameter,
           TestDefinition, Administration)  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: row_count(model) for model in COUNTED}


def test_demo_seeds_once_and_prints_logins(app: Flask, runner, api: ApiClient) -> None:
    result = runner.invoke(cli, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "Students log in at http://127.0.0.1:8000/login" in result.output
    assert "teacher@example.org" in result.output
    first = counts()
    assert first["School"] == 1
    assert first["Classroom"] == 2
    assert first["Item"] >= 200
    assert first["ItemParameter"] == first["Item"]
    assert first["Administration"] == 1
    students = db.session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.role == Role.STUDENT)
    )
    assert students == 60
    roles = set(db.session.scalars(select(User.role).where(User.role != Role.STUDENT)))
    assert roles == {"teacher", "researcher", "operator"}

    again = runner.invoke(cli, ["demo", "--no-serve", "--port", "8123"])
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


def test_demo_rejects_a_bad_port(runner) -> None:
    result = runner.invoke(cli, ["demo", "--no-serve", "--port", "0"])
    assert result.exit_code != 0
    assert "Invalid value for '--port'" in result.output
