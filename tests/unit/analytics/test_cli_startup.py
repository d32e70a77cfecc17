"""The ``cbt`` command line loads each command lazily and never shows a traceback on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cbt.cli import _COMMANDS, cli

WEB_STACK = ("flask", "werkzeug", "sqlalchemy", "redis", "delivery", "item_bank", "matplotlib")

PROBE = """
import json, sys
from cbt.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="cbt", standalone_mode=False)
finally:
    roots = sorted({m.split(".")[0] for m in sys.modules})
    print("MODULES " + json.dumps(roots))
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _modules(result: subprocess.CompletedProcess) -> set[str]:
    line = next(x for x in result.stdout.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


@pytest.fixture
def responses_csv(tmp_path) -> Path:
    path = tmp_path / "responses.csv"
    rows = ["person_id,a,b,c", "1,0,1,1", "2,1,1,0", "3,0,0,1", "4,1,1,1", "5,0,1,0", "6,1,0,1"]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_calibrate_imports_no_web_stack(tmp_path, responses_csv):
    out = tmp_path / "params.json"
    result = _run(
        ["calibrate", "--model", "rasch", "--responses", str(responses_csv), "--out", str(out)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert out.exists()
    assert not _modules(result) & set(WEB_STACK)


def test_importing_the_cli_imports_no_command(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    assert "calibrate" in result.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, cbt.cli; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in (*WEB_STACK, "numpy", "scipy", "analytics"):
        assert f"'{name}'" not in probe.stdout


def test_the_lazy_table_lists_every_registered_command():
    """Every package's ``register_commands`` adds exactly the names the lazy table sends to it,
    and every ``module:attribute`` entry names a command of that name."""
    import importlib

    registered = click.Group()
    for target in sorted({t for t in _COMMANDS.values() if ":" not in t}):
        importlib.import_module(target).register_commands(registered)
    for name, target in _COMMANDS.items():
        if ":" in target:
            module, _, attribute = target.partition(":")
            registered.add_command(getattr(importlib.import_module(module), attribute), name)
    assert set(registered.commands) == set(_COMMANDS)
    for name, target in _COMMANDS.items():
        if ":" not in target:
            assert name in registered.commands, f"{target} does not register {name}"
    ctx = click.Context(cli)
    for name in _COMMANDS:
        assert cli.get_command(ctx, name).name == name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["calibrate", "--model", "2pl", "--responses", "missing.csv", "--out", "p.json"],
            "missing.csv",
        ),
        (["calibrate", "--model", "2pl", "--responses", "bad.csv", "--out", "p.json"], "bad.csv"),
        (["score", "--params", "bad.json", "--responses", "bad.csv", "--out", "s.csv"], "bad.json"),
        (["link", "--source", "bad.json", "--target", "bad.json", "--out", "l.json"], "bad.json"),
        (["calibrate", "--model", "nope", "--responses", "bad.csv", "--out", "p.json"], "nope"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_gives_a_message_and_no_traceback(tmp_path, args, message):
    (tmp_path / "bad.csv").write_bytes(b"person_id,a\n1,x\n")
    (tmp_path / "bad.json").write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "cbt.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "p.json").exists()
