"""Reading a OneRoster CSV package (a zip or a directory) into checked rows.

Nothing here touches the database. The reader finds every problem it can, not only the first:
each bad row is reported with its file, line and reason, so a school fixes its export once.

- Encoding: UTF-8 with or without a byte-order mark (the binding's rule). Files from Japanese
  school systems often come as Shift_JIS; CP932 (Windows' Shift_JIS, a superset) is detected
  and converted, and the report says so. Anything else is refused.
- CSV: RFC 4180 (quotes doubled inside quoted fields). A malformed file is refused with the
  line where parsing failed; a row with the wrong number of fields is a row error.
- Zip: bounded like the item bank's QTI packages (entries, sizes, compression ratio), so a
  zip bomb or a path outside the package is refused before anything is unpacked.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from roster.oneroster.schema import FILES, MANIFEST_FILE_KEYS, FileSpec

__all__ = [
    "Limits",
    "Package",
    "PackageRefused",
    "Problem",
    "Report",
    "Row",
    "read_package",
]

MiB = 1024 * 1024
MODES = ("absent", "bulk", "delta")
MAX_ID_CHARS = 255  # what the sourced_id columns hold


def _(message: str) -> str:
    """Marks a message for the catalogs; it is translated where it is shown (cbt.i18n)."""
    return message


@dataclass(frozen=True)
class Limits:
    """How large a roster package may be: a prefecture's worth of schools fits easily."""

    max_package_bytes: int = 64 * MiB
    max_file_bytes: int = 64 * MiB
    max_total_bytes: int = 256 * MiB
    max_entries: int = 64
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * MiB
    max_rows: int = 500_000
    max_field_chars: int = 10_000


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, line, column) and why (a message template and its values)."""

    file: str
    line: int | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    column: str | None = None
    code: str = "invalid"

    def text(self, translate: Any = None) -> str:
        template = translate(self.message) if translate else self.message
        return template % self.params if self.params else template

    def to_dict(self, translate: Any = None) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "reason": self.text(translate),
        }


@dataclass
class Report:
    """Everything found while reading, checking and (perhaps) importing a package."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)  # e.g. an encoding that was converted

    def error(self, file: str, line: int | None, message: str, **kw: Any) -> None:
        self.errors.append(_problem(file, line, message, kw))

    def warn(self, file: str, line: int | None, message: str, **kw: Any) -> None:
        self.warnings.append(_problem(file, line, message, kw))

    def notice(self, file: str, line: int | None, message: str, **kw: Any) -> None:
        self.notices.append(_problem(file, line, message, kw))

    @property
    def ok(self) -> bool:
        return not self.errors


def _problem(file: str, line: int | None, message: str, kw: dict[str, Any]) -> Problem:
    column = kw.get("column")
    code = kw.pop("code", "invalid")
    return Problem(file, line, message, kw, column, code)


class PackageRefused(Exception):
    """The package cannot be read at all (not a zip, a zip bomb, no manifest...)."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.errors[0].text() if report.errors else "refused")
        self.report = report


@dataclass
class Row:
    """One data row: its line in the file and its values by column (blank is "")."""

    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def sourced_id(self) -> str:
        return self.values.get("sourcedId", "")

    @property
    def deleted(self) -> bool:
        return self.values.get("status", "") == "tobedeleted"

    def ids(self, column: str) -> list[str]:
        return [part.strip() for part in self[column].split(",") if part.strip()]


@dataclass
class Package:
    """A read package: the manifest's modes and the rows of every file it names."""

    modes: dict[str, str]
    manifest: dict[str, str]
    tables: dict[str, list[Row]]
    columns: dict[str, list[str]]  # the header of each file as given (for extension columns)
    report: Report
    # Every key seen in each file, bad rows included, so a bad row is reported once, for
    # itself, and not again as an unknown reference from the rows that point at it.
    ids: dict[str, set[str]] = field(default_factory=dict)

    def mode(self, name: str) -> str:
        return self.modes.get(name, "absent")

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])


# --------------------------------------------------------------------------- sources


def _files_from_zip(data: bytes, limits: Limits, report: Report) -> dict[str, bytes]:
    if len(data) > limits.max_package_bytes:
        report.error(
            "",
            None,
            _("The package is larger than %(mb)s MB."),
            mb=limits.max_package_bytes // MiB,
            code="too_large",
        )
        raise PackageRefused(report)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        report.error("", None, _("The upload is not a zip file (%(reason)s)."), reason=str(error))
        raise PackageRefused(report) from None
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.max_entries:
        report.error(
            "",
            None,
            _("The zip holds %(n)s files; at most %(max)s."),
            n=len(files),
            max=limits.max_entries,
        )
        raise PackageRefused(report)
    total = sum(info.file_size for info in files)
    if total > limits.max_total_bytes or total > max(
        limits.max_ratio * len(data), limits.ratio_floor_bytes * 8
    ):
        report.error(
            "",
            None,
            _("The zip unpacks to %(mb)s MB, which looks like a zip bomb."),
            mb=total // MiB,
            code="too_large",
        )
        raise PackageRefused(report)
    names = [info.filename for info in files]
    # Files at the top, or all in one folder (what "compress folder" makes).
    prefix = ""
    if names and all("/" in name for name in names):
        first = names[0].split("/", 1)[0] + "/"
        if all(name.startswith(first) for name in names):
            prefix = first
    out: dict[str, bytes] = {}
    for info in files:
        name = info.filename[len(prefix) :]
        if "/" in name or "\\" in name or name.startswith(".") or ".." in name:
            continue  # not a roster file (a macOS __MACOSX folder, say): ignored
        if info.flag_bits & 0x1:
            report.error(name, None, _("Encrypted files are not allowed."))
            raise PackageRefused(report)
        if info.file_size > limits.max_file_bytes:
            report.error(
                name, None, _("The file is larger than %(mb)s MB."), mb=limits.max_file_bytes // MiB
            )
            raise PackageRefused(report)
        try:
            with archive.open(info) as stream:
                content = stream.read(info.file_size + 1)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, OSError) as error:
            report.error(
                name, None, _("The file cannot be unpacked (%(reason)s)."), reason=str(error)
            )
            raise PackageRefused(report) from None
        if len(content) > info.file_size:
            report.error(name, None, _("The file holds more data than its zip header declares."))
            raise PackageRefused(report)
        out[name] = content
    return out


def _files_from_directory(path: Path, limits: Limits, report: Report) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for file in sorted(path.iterdir()):
        if file.is_file() and file.suffix.lower() == ".csv":
            if file.stat().st_size > limits.max_file_bytes:
                report.error(
                    file.name,
                    None,
                    _("The file is larger than %(mb)s MB."),
                    mb=limits.max_file_bytes // MiB,
                )
                raise PackageRefused(report)
            out[file.name] = file.read_bytes()
    return out


# --------------------------------------------------------------------------- decoding and CSV

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode(name: str, data: bytes, report: Report) -> str | None:
    """The text of a file: UTF-8 (BOM optional), or CP932/Shift_JIS converted; None if neither."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.error(name, None, _("The file is UTF-16; save it as UTF-8."), code="encoding")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("cp932")
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            report.error(
                name,
                line,
                _(
                    "The file is neither UTF-8 nor Shift_JIS (byte 0x%(byte)s at offset "
                    "%(offset)s cannot be read). Save it as UTF-8."
                ),
                byte=f"{data[utf8_error.start]:02X}",
                offset=utf8_error.start,
                code="encoding",
            )
            return None
        if _CONTROL.search(text):
            report.error(
                name,
                None,
                _("The file is not UTF-8 and not readable text. Save it as UTF-8."),
                code="encoding",
            )
            return None
        report.notice(
            name,
            None,
            _("The file was Shift_JIS (CP932); it was converted to UTF-8."),
            code="encoding_converted",
        )
    if "\x00" in text:
        report.error(name, None, _("The file contains NUL characters."), code="malformed_csv")
        return None
    return text


def parse_csv(
    name: str, text: str, limits: Limits, report: Report
) -> tuple[list[str], list[Row]] | None:
    """The header and rows of a CSV text; None (with the error reported) if it is malformed."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    header: list[str] | None = None
    line = 1
    try:
        for record in reader:
            start = line
            line = reader.line_num + 1
            if header is None:
                header = [cell.strip() for cell in record]
                continue
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(record) != len(header):
                report.error(
                    name,
                    start,
                    _("The row has %(n)s fields; the header has %(expected)s."),
                    n=len(record),
                    expected=len(header),
                    code="malformed_csv",
                )
                continue
            if any(len(cell) > limits.max_field_chars for cell in record):
                report.error(
                    name,
                    start,
                    _("A field is longer than %(max)s characters."),
                    max=limits.max_field_chars,
                )
                continue
            rows.append(
                Row(start, dict(zip(header, (cell.strip() for cell in record), strict=True)))
            )
            if len(rows) > limits.max_rows:
                report.error(
                    name, start, _("The file has more than %(max)s rows."), max=limits.max_rows
                )
                return None
    except csv.Error as error:
        report.error(
            name,
            reader.line_num or line,
            _("The file is not valid CSV (%(reason)s); check the quotes on this line."),
            reason=str(error),
            code="malformed_csv",
        )
        return None
    if header is None:
        report.error(
            name, 1, _("The file is empty: it needs a header line."), code="missing_column"
        )
        return None
    return header, rows


# --------------------------------------------------------------------------- manifest


def _read_manifest(files: dict[str, bytes], limits: Limits, report: Report) -> dict[str, str]:
    if "manifest.csv" not in files:
        report.error(
            "manifest.csv", None, _("The package has no manifest.csv."), code="missing_file"
        )
        raise PackageRefused(report)
    text = decode("manifest.csv", files["manifest.csv"], report)
    parsed = parse_csv("manifest.csv", text, limits, report) if text is not None else None
    if parsed is None:
        raise PackageRefused(report)
    header, rows = parsed
    if header[:2] != ["propertyName", "value"]:
        report.error(
            "manifest.csv",
            1,
            _("The manifest's header must be propertyName,value."),
            code="missing_column",
        )
        raise PackageRefused(report)
    manifest: dict[str, str] = {}
    for row in rows:
        key = row["propertyName"]
        if key in manifest:
            report.error(
                "manifest.csv", row.line, _("%(key)s is given twice."), key=key, code="duplicate"
            )
        manifest[key] = row["value"]
    if manifest.get("manifest.version") != "1.0":
        report.error(
            "manifest.csv", None, _("manifest.version must be 1.0."), column="manifest.version"
        )
    if manifest.get("oneroster.version") != "1.2":
        report.error(
            "manifest.csv",
            None,
            _("oneroster.version must be 1.2 (found %(value)r)."),
            value=manifest.get("oneroster.version", ""),
            column="oneroster.version",
        )
    return manifest


# --------------------------------------------------------------------------- field checks


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return len(value) >= 10


def check_row(spec: FileSpec, row: Row, mode: str, report: Report) -> bool:
    """Check one row's fields on their own; report every bad field. True when all are good."""
    ok = True
    name = spec.filename

    def bad(message: str, column: str, **kw: Any) -> None:
        nonlocal ok
        ok = False
        report.error(name, row.line, message, column=column, **kw)

    for column in spec.columns:
        value = row[column]
        if not value:
            if column in spec.required:
                bad(_("%(column)s is required."), column, code="required")
            continue
        if column in spec.enums and value not in spec.enums[column]:
            bad(
                _("%(column)s %(value)r is not one of %(allowed)s."),
                column,
                value=value,
                allowed=", ".join(sorted(spec.enums[column])),
                code="bad_enum",
            )
        elif column in spec.list_enums:
            for part in row.ids(column):
                if part not in spec.list_enums[column]:
                    bad(
                        _("%(column)s %(value)r is not one of %(allowed)s."),
                        column,
                        value=part,
                        allowed=", ".join(sorted(spec.list_enums[column])),
                        code="bad_enum",
                    )
        elif column in spec.dates and not _is_date(value):
            bad(
                _("%(column)s %(value)r is not a date (YYYY-MM-DD)."),
                column,
                value=value,
                code="bad_date",
            )
        elif column in spec.datetimes and not _is_datetime(value):
            bad(
                _("%(column)s %(value)r is not a date and time (ISO 8601)."),
                column,
                value=value,
                code="bad_date",
            )
        elif column in spec.booleans and value not in ("true", "false"):
            bad(
                _("%(column)s must be true or false, not %(value)r."),
                column,
                value=value,
                code="bad_enum",
            )
        elif column in spec.integers and not (value.isascii() and value.isdigit()):
            bad(
                _("%(column)s %(value)r is not a whole number."),
                column,
                value=value,
                code="bad_number",
            )
        elif column in spec.years and not (len(value) == 4 and value.isascii() and value.isdigit()):
            bad(
                _("%(column)s %(value)r is not a year (YYYY)."),
                column,
                value=value,
                code="bad_date",
            )
    if len(row[spec.key]) > MAX_ID_CHARS:
        bad(_("%(column)s is longer than %(max)s characters."), spec.key, max=MAX_ID_CHARS)
    status = row["status"]
    if status and status not in ("active", "tobedeleted"):
        bad(
            _("%(column)s %(value)r is not one of %(allowed)s."),
            "status",
            value=status,
            allowed="active, tobedeleted",
            code="bad_enum",
        )
    if mode == "delta":
        for column in ("status", "dateLastModified"):
            if not row[column]:
                bad(_("%(column)s is required in a delta file."), column, code="required")
    for column in ("startDate", "beginDate"):
        end = "endDate"
        if (
            column in spec.dates
            and _is_date(row[column])
            and _is_date(row[end])
            and row[end] < row[column]
        ):
            bad(_("endDate is before %(column)s."), end, column=column, code="bad_date")
    return ok


def _check_header(spec: FileSpec, header: list[str], report: Report) -> bool:
    ok = True
    seen: set[str] = set()
    for column in header:
        if column in seen:
            report.error(
                spec.filename,
                1,
                _("Column %(column)s appears twice."),
                column=column,
                code="duplicate",
            )
            ok = False
        seen.add(column)
        if column not in spec.columns and not column.startswith("metadata."):
            report.error(
                spec.filename,
                1,
                _("Unknown column %(column)s."),
                column=column,
                code="unknown_column",
            )
            ok = False
    for column in spec.columns:
        if column not in seen and column in spec.required:
            report.error(
                spec.filename,
                1,
                _("The required column %(column)s is missing."),
                column=column,
                code="missing_column",
            )
            ok = False
    return ok


# --------------------------------------------------------------------------- the package


def read_package(source: bytes | Path, limits: Limits | None = None) -> Package:
    """Read and check a package on its own (no database). Raises PackageRefused if unreadable.

    Row problems do not raise: they are in ``package.report.errors``, every one of them.
    """
    limits = limits or Limits()
    report = Report()
    if isinstance(source, Path):
        files = _files_from_directory(source, limits, report)
    else:
        files = _files_from_zip(source, limits, report)
    manifest = _read_manifest(files, limits, report)
    modes: dict[str, str] = {}
    for key in MANIFEST_FILE_KEYS:
        value = manifest.get(f"file.{key}", "absent") or "absent"
        if value not in MODES:
            report.error(
                "manifest.csv",
                None,
                _("file.%(name)s must be absent, bulk or delta, not %(value)r."),
                name=key,
                value=value,
                code="bad_enum",
            )
            value = "absent"
        modes[key] = value
        filename = f"{key}.csv"
        if value != "absent" and filename not in files:
            report.error(
                filename,
                None,
                _("The manifest lists %(csv)s as %(mode)s but the package does not hold it."),
                csv=filename,
                mode=value,
                code="missing_file",
            )
        elif value != "absent" and key not in FILES:
            report.warn(
                filename,
                None,
                _("%(csv)s is not used by this engine; it was ignored."),
                csv=filename,
            )
        elif value == "absent" and filename in files:
            report.warn(
                filename,
                None,
                _("%(csv)s is in the package but the manifest says absent; it was ignored."),
                csv=filename,
            )
    tables: dict[str, list[Row]] = {}
    columns: dict[str, list[str]] = {}
    ids: dict[str, set[str]] = {}
    for name, spec in FILES.items():
        mode = modes.get(name, "absent")
        if mode == "absent" or spec.filename not in files:
            continue
        text = decode(spec.filename, files[spec.filename], report)
        if text is None:
            continue
        parsed = parse_csv(spec.filename, text, limits, report)
        if parsed is None:
            continue
        header, rows = parsed
        if not _check_header(spec, header, report):
            continue
        if not rows:
            report.error(spec.filename, None, _("The file has no data rows."), code="required")
        columns[name] = header
        good: list[Row] = []
        first_line: dict[str, int] = {}
        for row in rows:
            key = row[spec.key]
            if key and key in first_line:
                report.error(
                    spec.filename,
                    row.line,
                    _("sourcedId %(id)r is used twice (first on line %(first)s)."),
                    id=key,
                    first=first_line[key],
                    column=spec.key,
                    code="duplicate_sourced_id",
                )
                continue
            if key:
                first_line[key] = row.line
            if check_row(spec, row, mode, report):
                good.append(row)
        tables[name] = good
        ids[name] = set(first_line)
    return Package(modes, manifest, tables, columns, report, ids)
