"""Fixtures for rosters: the Japanese fixture school as editable CSV texts, zipped on demand."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from flask import Flask

from cbt.db import db
from cbt.models import Role
from cbt.service import create_staff_user
from tests.helpers import ApiClient

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "oneroster" / "sakura"
PASSWORD = "roster-password-1"


def fixture_files() -> dict[str, str]:
    """The fixture package: file name -> text (UTF-8)."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(FIXTURE.glob("*.csv"))}


def to_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(
                name, content if isinstance(content, bytes) else content.encode("utf-8")
            )
    return buffer.getvalue()


def set_mode(files: dict[str, str], name: str, mode: str) -> None:
    lines = files["manifest.csv"].splitlines()
    files["manifest.csv"] = (
        "\n".join(
            f"file.{name},{mode}" if line.startswith(f"file.{name},") else line for line in lines
        )
        + "\n"
    )


def replace_line(files: dict[str, str], name: str, line: int, text: str) -> None:
    """Replace line ``line`` (1 = the header) of ``name``."""
    lines = files[name].splitlines()
    lines[line - 1] = text
    files[name] = "\n".join(lines) + "\n"


@pytest.fixture
def files() -> dict[str, str]:
    return fixture_files()


@pytest.fixture
def operator(app: Flask, api: ApiClient) -> ApiClient:
    create_staff_user("operator@roster.example", "Operator", Role.OPERATOR, PASSWORD)
    db.session.commit()
    response = api.login_staff("operator@roster.example", PASSWORD)
    assert response.status_code == 200, response.get_json()
    return api
