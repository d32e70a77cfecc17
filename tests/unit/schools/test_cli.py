"""``cbt staff create`` and ``cbt schools create|list``: clean messages and exit codes."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from cbt.cli import cli
from cbt.db import db
from cbt.models import AuditEvent, Role, School, User
from tests.helpers import ApiClient


def test_first_operator_from_an_empty_database(app: Flask, runner) -> None:
    result = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--email",
            "First@Example.org",
            "--name",
            "First",
            "--role",
            "operator",
        ],
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "first@example.org" in result.output
    user = db.session.scalar(select(User).where(User.email == "first@example.org"))
    assert user.role == Role.OPERATOR
    reply = ApiClient(app.test_client()).login_staff("first@example.org", "a-long-password")
    assert reply.status_code == 200
    assert db.session.scalar(select(AuditEvent.action)) == "create_staff"


def test_school_and_school_admin_with_a_generated_password(app: Flask, runner) -> None:
    made = runner.invoke(cli, ["schools", "create", "--code", "SAKURA", "--name", "桜中学校"])
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        cli,
        [
            "staff", "create", "--email", "head@sakura.example", "--name", "Head",
            "--role", "school_admin", "--school", "SAKURA", "--generate-password",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1].split(": ")[-1]
    assert len(password) >= 10
    reply = ApiClient(app.test_client()).login_staff("head@sakura.example", password)
    assert reply.status_code == 200
    listed = runner.invoke(cli, ["schools", "list"])
    assert "SAKURA" in listed.output


def test_bad_input_exits_non_zero_without_a_traceback(app: Flask, runner) -> None:
    runner.invoke(cli, ["schools", "create", "--code", "SAKURA", "--name", "Sakura"])
    cases = [
        (["schools", "create", "--code", "SAKURA", "--name", "Again"], None),
        (["schools", "create", "--code", "bad code", "--name", "x"], None),
        (["staff", "create", "--email", "x@y.example", "--name", "X", "--role", "school_admin",
          "--generate-password"], None),
        (["staff", "create", "--email", "x@y.example", "--name", "X", "--role", "teacher",
          "--school", "NOPE", "--generate-password"], None),
        (["staff", "create", "--email", "not-mail", "--name", "X", "--role", "teacher",
          "--generate-password"], None),
        (["staff", "create", "--email", "x@y.example", "--name", "X", "--role", "teacher"],
         "short\nshort\n"),
        (["staff", "create", "--email", "x@y.example", "--name", "X", "--role", "student",
          "--generate-password"], None),
    ]  # fmt: skip
    for args, given in cases:
        result = runner.invoke(cli, args, input=given)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(School)) == 1
