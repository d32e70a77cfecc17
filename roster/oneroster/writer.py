"""Writing a OneRoster 1.2 CSV package: manifest.csv and one file per table, UTF-8, RFC 4180."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from roster.oneroster.schema import FILES, MANIFEST_FILE_KEYS

__all__ = ["render_files", "write_directory", "write_zip"]

SYSTEM_NAME = "cbt-engine"


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return buffer.getvalue().encode("utf-8")


def render_files(tables: dict[str, list[dict[str, str]]]) -> dict[str, bytes]:
    """The files of a bulk package: every table given (with rows) is bulk, the rest absent.

    Extension columns (``metadata.*`` beyond the defined ones) found in the rows are added at
    the right, as the binding asks.
    """
    files: dict[str, bytes] = {}
    modes: dict[str, str] = {}
    for name, spec in FILES.items():
        rows = tables.get(name) or []
        if not rows:
            modes[name] = "absent"
            continue
        extra = sorted({c for row in rows for c in row if c not in spec.columns})
        files[spec.filename] = _csv([*spec.columns, *extra], rows)
        modes[name] = "bulk"
    manifest = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": "1.2"},
        *(
            {"propertyName": f"file.{key}", "value": modes.get(key, "absent")}
            for key in MANIFEST_FILE_KEYS
        ),
        {"propertyName": "source.systemName", "value": SYSTEM_NAME},
        {"propertyName": "source.systemCode", "value": SYSTEM_NAME},
    ]
    return {"manifest.csv": _csv(["propertyName", "value"], manifest), **files}


def write_zip(tables: dict[str, list[dict[str, str]]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in render_files(tables).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_directory(tables: dict[str, list[dict[str, str]]], path: Path) -> list[Path]:
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render_files(tables).items():
        target = path / name
        target.write_bytes(data)
        written.append(target)
    return written
