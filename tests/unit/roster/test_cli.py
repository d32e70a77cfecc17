"""``cbt roster import|export``: clean messages and a non-zero exit on bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from cbt.cli import cli
from cbt.db import db
from cbt.models import User
from tests.unit.roster.conftest import FIXTURE, fixture_files, to_zip


def test_import_dry_run_import_and_export(app: Flask, runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["roster", "import", str(FIXTURE), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "users: 10 created" in result.output
    assert "Dry run: nothing was written." in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    result = runner.invoke(cli, ["roster", "import", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "Imported: 22 changes." in result.output
    out = tmp_path / "out.zip"
    result = runner.invoke(cli, ["roster", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "manifest.csv" in zipfile.ZipFile(out).namelist()
    result = runner.invoke(cli, ["roster", "import", str(out)])
    assert "Imported: 0 changes." in result.output
    folder = tmp_path / "csv"
    result = runner.invoke(cli, ["roster", "export", "--out", str(folder)])
    assert result.exit_code == 0
    assert (folder / "users.csv").read_text(encoding="utf-8").startswith("sourcedId,status")


def test_bad_input_is_a_clean_error(app: Flask, runner, tmp_path: Path) -> None:
    files = fixture_files()
    files["users.csv"] = files["users.csv"].replace(",true,tanaka", ",maybe,tanaka")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(to_zip(files))
    result = runner.invoke(cli, ["roster", "import", str(bad)])
    assert result.exit_code == 1
    assert "users.csv:2 [enabledUser]: enabledUser must be true or false" in result.output
    assert "1 errors: nothing was imported." in result.output
    assert "Traceback" not in result.output
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    result = runner.invoke(cli, ["roster", "import", str(garbage)])
    assert result.exit_code == 1
    assert "not a zip file" in result.output
    result = runner.invoke(cli, ["roster", "import", str(FIXTURE), "--school", "NOPE"])
    assert result.exit_code == 1
    assert "No school has the code NOPE." in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
