"""Reading and checking packages: every bad row reported with file, line and reason."""

from __future__ import annotations

import pytest

from roster.oneroster import PackageRefused, read_package
from roster.oneroster.schema import grade_code, grade_number
from tests.unit.roster.conftest import FIXTURE, replace_line, set_mode, to_zip


def _codes(package) -> list[tuple[str, int | None, str]]:
    return [(p.file, p.line, p.code) for p in package.report.errors]


def test_the_fixture_is_clean_from_a_zip_and_a_directory(files) -> None:
    for source in (to_zip(files), FIXTURE):
        package = read_package(source)
        assert package.report.errors == []
        assert package.mode("users") == "bulk"
        assert package.mode("userProfiles") == "absent"
        assert len(package.rows("users")) == 10
        student = package.rows("users")[3]
        assert student["metadata.jp.kanaFamilyName"] == "アオキ"
        assert student["metadata.jp.homeClass"].endswith("021")


def test_every_bad_row_is_reported_not_only_the_first(files) -> None:
    header = files["users.csv"].splitlines()[0]
    row = files["users.csv"].splitlines()[4].split(",")
    bad_enabled = [*row]
    bad_enabled[3] = "yes"  # enabledUser
    replace_line(files, "users.csv", 5, ",".join(bad_enabled))
    missing_name = files["users.csv"].splitlines()[5].split(",")
    missing_name[6] = ""  # givenName
    replace_line(files, "users.csv", 6, ",".join(missing_name))
    grade = files["users.csv"].splitlines()[6].split(",")
    grade[14] = "G7"
    replace_line(files, "users.csv", 7, ",".join(grade))
    bad_type = files["classes.csv"].splitlines()[1].split(",")
    bad_type[7] = "seminar"  # classType
    replace_line(files, "classes.csv", 2, ",".join(bad_type))
    bad_date = files["academicSessions.csv"].splitlines()[1].split(",")
    bad_date[5] = "2026/04/01"
    replace_line(files, "academicSessions.csv", 2, ",".join(bad_date))
    assert header.startswith("sourcedId,status")
    package = read_package(to_zip(files))
    assert set(_codes(package)) == {
        ("users.csv", 5, "bad_enum"),
        ("users.csv", 6, "required"),
        ("users.csv", 7, "bad_enum"),
        ("classes.csv", 2, "bad_enum"),
        ("academicSessions.csv", 2, "bad_date"),
    }
    reasons = " ".join(p.text() for p in package.report.errors)
    assert "enabledUser must be true or false" in reasons
    assert "givenName is required" in reasons
    assert "'G7' is not one of" in reasons


def test_missing_required_column(files) -> None:
    lines = files["orgs.csv"].splitlines()
    files["orgs.csv"] = "\n".join(
        ",".join(line.split(",")[:4] + line.split(",")[5:]) for line in lines
    )
    package = read_package(to_zip(files))
    assert ("orgs.csv", 1, "missing_column") in _codes(package)
    assert any("type is missing" in p.text() for p in package.report.errors)


def test_duplicate_sourced_id(files) -> None:
    lines = files["classes.csv"].splitlines()
    files["classes.csv"] = "\n".join([*lines, lines[1]]) + "\n"
    package = read_package(to_zip(files))
    assert _codes(package) == [("classes.csv", 4, "duplicate_sourced_id")]
    assert "first on line 2" in package.report.errors[0].text()


def test_malformed_quotes_refuse_the_file_with_its_line(files) -> None:
    files["courses.csv"] += 'c0a7e2b4-1f3d-4c8a-9b21-000000000299,,,,"3年生,,J3,x\n'
    package = read_package(to_zip(files))
    errors = [p for p in package.report.errors if p.file == "courses.csv"]
    assert errors
    assert errors[0].code == "malformed_csv"
    assert errors[0].line is not None


def test_wrong_number_of_fields(files) -> None:
    files["orgs.csv"] += "x,,,name,school\n"
    package = read_package(to_zip(files))
    assert ("orgs.csv", 4, "malformed_csv") in _codes(package)


def test_shift_jis_is_converted_and_said(files) -> None:
    raw = {name: text.encode("utf-8") for name, text in files.items()}
    raw["users.csv"] = files["users.csv"].encode("cp932")
    package = read_package(to_zip(raw))
    assert package.report.errors == []
    assert [(n.file, n.code) for n in package.report.notices] == [
        ("users.csv", "encoding_converted")
    ]
    assert package.rows("users")[3]["familyName"] == "青木"


def test_utf8_with_bom(files) -> None:
    raw = {name: b"\xef\xbb\xbf" + text.encode("utf-8") for name, text in files.items()}
    package = read_package(to_zip(raw))
    assert package.report.errors == []
    assert package.report.notices == []
    assert package.rows("orgs")[0].sourced_id.startswith("9a1b")


def test_undecodable_bytes_are_refused(files) -> None:
    raw: dict[str, str | bytes] = dict(files)
    raw["orgs.csv"] = files["orgs.csv"].encode("utf-8") + b"\x80\xff\xfe broken\n"
    package = read_package(to_zip(raw))
    assert [(p.file, p.code) for p in package.report.errors] == [("orgs.csv", "encoding")]
    assert "neither UTF-8 nor Shift_JIS" in package.report.errors[0].text()


def test_manifest_drives_the_files(files) -> None:
    set_mode(files, "demographics", "absent")
    package = read_package(to_zip(files))
    assert "demographics" not in package.tables
    assert any("manifest says absent" in w.text() for w in package.report.warnings)
    del files["roles.csv"]
    package = read_package(to_zip(files))
    assert ("roles.csv", None, "missing_file") in _codes(package)


def test_no_manifest_or_not_a_zip_is_refused(files) -> None:
    del files["manifest.csv"]
    with pytest.raises(PackageRefused, match="no manifest"):
        read_package(to_zip(files))
    with pytest.raises(PackageRefused, match="not a zip"):
        read_package(b"sourcedId,status\n")


def test_zip_bomb_is_refused(files) -> None:
    files["padding.txt"] = "0" * (300 * 1024 * 1024)
    with pytest.raises(PackageRefused, match="zip bomb"):
        read_package(to_zip(files))


def test_delta_rows_need_status_and_date(files) -> None:
    set_mode(files, "orgs", "delta")
    package = read_package(to_zip(files))
    assert {(p.line, p.column) for p in package.report.errors} == {
        (2, "status"),
        (2, "dateLastModified"),
        (3, "status"),
        (3, "dateLastModified"),
    }


def test_grade_codes() -> None:
    assert [grade_number(c) for c in ("P1", "P6", "J1", "J3", "H1", "H3")] == [1, 6, 7, 9, 10, 12]
    assert [grade_code(n) for n in (1, 8, 12, 13)] == ["P1", "J2", "H3", None]
