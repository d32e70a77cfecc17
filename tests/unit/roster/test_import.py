"""Importing and exporting rosters: idempotence, tobedeleted, bulk absences, all or nothing."""

from __future__ import annotations

import io
import zipfile

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cbt.audit import SYSTEM
from cbt.db import db
from cbt.demo import seed_demo
from cbt.models import AuditEvent, Classroom, Enrollment, Role, School, User
from roster.oneroster import read_package, write_zip
from roster.service import export_tables, import_roster
from tests.helpers import SECRET
from tests.unit.roster.conftest import FIXTURE, fixture_files, replace_line, set_mode, to_zip

STUDENT_AOKI = "e2000000-0000-4000-8000-000000000101"
CLASS_1 = "d3b5f1a2-6c4e-4f7a-8e90-000000000021"


def _import(source, **kwargs):
    result = import_roster(source, actor=SYSTEM, **kwargs)
    db.session.commit()
    return result


def _rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _counts() -> tuple[int, int, int, int]:
    return (_rows(School), _rows(Classroom), _rows(User), _rows(Enrollment))


def test_first_import_creates_the_school_with_kana_and_numbers(app: Flask) -> None:
    result = _import(FIXTURE)
    assert result.report.errors == []
    assert result.committed
    assert {k: v["created"] for k, v in result.counts.items()} == {
        "schools": 1,
        "classrooms": 2,
        "users": 10,
        "enrollments": 9,
    }
    school = db.session.scalar(select(School))
    assert school.name == "横浜市立さくら中学校"
    assert school.code == "C114210000015"  # the MEXT school code, when it is free
    assert school.roster_data["parents"][0]["name"] == "横浜市教育委員会"
    classroom = db.session.scalar(select(Classroom).where(Classroom.sourced_id == CLASS_1))
    assert (classroom.name, classroom.grade, classroom.academic_year) == ("2年1組", 8, 2026)
    assert classroom.roster_data["class"]["classCode"] == "2-1"
    aoki = db.session.scalar(select(User).where(User.sourced_id == STUDENT_AOKI))
    assert (aoki.family_name, aoki.given_name, aoki.family_name_kana, aoki.given_name_kana) == (
        "青木",
        "陽翔",
        "アオキ",
        "ハルト",
    )
    assert aoki.display_name == "青木 陽翔"
    assert aoki.role == Role.STUDENT
    assert aoki.roster_data["demographics"]["birthDate"] == "2012-05-14"
    principal = db.session.scalar(select(User).where(User.email == "kocho@sakura-jh.example.jp"))
    assert principal.role == Role.SCHOOL_ADMIN
    assert principal.password_hash is None
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == aoki.id))
    assert enrollment.student_number == 1  # metadata.jp.ShussekiNo
    assert enrollment.login_code_hmac is None  # login cards issue codes later
    # Class 2: no ShussekiNo, so numbered in kana order: イトウ, コバヤシ, ナカムラ.
    numbers = db.session.execute(
        select(User.family_name_kana, Enrollment.student_number)
        .join(Enrollment, Enrollment.user_id == User.id)
        .join(Classroom, Classroom.id == Enrollment.classroom_id)
        .where(Classroom.name == "2年2組", Enrollment.role == Role.STUDENT)
        .order_by(Enrollment.student_number)
    ).all()
    assert numbers == [("イトウ", 1), ("コバヤシ", 2), ("ナカムラ", 3)]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "roster.import"))
    (event,) = list(events)
    assert event.details["counts"]["users"]["created"] == 10


def test_reimport_is_idempotent_and_export_is_a_fixed_point(app: Flask) -> None:
    _import(FIXTURE)
    before = _counts()
    again = _import(FIXTURE)
    assert again.changes == 0
    assert _counts() == before
    exported = write_zip(export_tables())
    assert read_package(exported).report.errors == []
    result = _import(exported)
    assert result.report.errors == []
    assert result.changes == 0
    assert _counts() == before
    # The Japan Profile fields come back as they went in.
    users = read_package(exported).rows("users")
    aoki = next(r for r in users if r.sourced_id == STUDENT_AOKI)
    assert aoki["metadata.jp.kanaGivenName"] == "ハルト"
    assert aoki["metadata.jp.homeClass"] == CLASS_1
    assert aoki["identifier"] == "26001"
    assert aoki["password"] == ""
    enrollments = read_package(exported).rows("enrollments")
    assert {r["metadata.jp.ShussekiNo"] for r in enrollments if r["role"] == "student"} == {
        "1",
        "2",
        "3",
        "4",
    }
    assert _contents(write_zip(export_tables())) == _contents(exported)


def _contents(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name: archive.read(name) for name in archive.namelist()}


def test_engine_made_rows_export_and_reimport_with_no_changes(app: Flask) -> None:
    seed_demo(SECRET, "ja")
    db.session.commit()
    before = _counts()
    exported = write_zip(export_tables())
    package = read_package(exported)
    assert package.report.errors == []
    assert len(package.rows("users")) == 61  # 60 students and the teacher
    result = _import(exported)
    assert result.report.errors == []
    assert result.changes == 0
    assert _counts() == before


def test_an_update_updates_and_never_duplicates(app: Flask, files) -> None:
    _import(FIXTURE)
    before = _counts()
    row = files["users.csv"].splitlines()[3].split(",")
    row[7] = "髙橋"  # familyName (a variant kanji)
    replace_line(files, "users.csv", 4, ",".join(row))
    result = _import(to_zip(files))
    assert result.counts["users"] == {"created": 0, "updated": 1, "archived": 0, "unchanged": 9}
    assert _counts() == before


def test_tobedeleted_archives_and_keeps_the_rows(app: Flask, files) -> None:
    _import(FIXTURE)
    before = _counts()
    set_mode(files, "users", "delta")
    set_mode(files, "enrollments", "delta")
    for name in ("orgs", "academicSessions", "courses", "classes", "roles", "demographics"):
        set_mode(files, name, "absent")
    header, *rows = files["users.csv"].splitlines()
    aoki = next(r for r in rows if r.startswith(STUDENT_AOKI)).split(",")
    aoki[1], aoki[2] = "tobedeleted", "2026-09-01T00:00:00Z"
    files["users.csv"] = f"{header}\n{','.join(aoki)}\n"
    header, *rows = files["enrollments.csv"].splitlines()
    row = next(r for r in rows if STUDENT_AOKI in r).split(",")
    row[1], row[2] = "tobedeleted", "2026-09-01T00:00:00Z"
    files["enrollments.csv"] = f"{header}\n{','.join(row)}\n"
    result = _import(to_zip(files))
    assert result.report.errors == []
    assert result.counts["users"]["archived"] == 1
    assert result.counts["enrollments"]["archived"] == 1
    assert _counts() == before  # archived, not deleted
    user = db.session.scalar(select(User).where(User.sourced_id == STUDENT_AOKI))
    assert user.is_active is False
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id))
    assert enrollment.archived_at is not None
    exported = read_package(write_zip(export_tables()))
    assert STUDENT_AOKI not in {r.sourced_id for r in exported.rows("users")}
    assert _import(to_zip(files)).changes == 0  # deleting again changes nothing
    back = _import(FIXTURE)  # the full roster lists them again: they come back
    assert back.counts["users"]["updated"] == 1
    assert back.counts["enrollments"]["updated"] == 1
    db.session.refresh(user)
    db.session.refresh(enrollment)
    assert user.is_active
    assert enrollment.archived_at is None
    assert enrollment.student_number == 1


def test_bulk_archives_rows_the_file_no_longer_lists(app: Flask, files) -> None:
    _import(FIXTURE)
    header, *rows = files["enrollments.csv"].splitlines()
    files["enrollments.csv"] = (
        "\n".join([header, *(r for r in rows if STUDENT_AOKI not in r)]) + "\n"
    )
    result = _import(to_zip(files))
    assert result.report.errors == []
    assert result.counts["enrollments"]["archived"] == 1
    assert result.counts["enrollments"]["unchanged"] == 8
    # The student still is in users.csv, so stays active; only the enrolment is archived.
    user = db.session.scalar(select(User).where(User.sourced_id == STUDENT_AOKI))
    assert user.is_active


def test_one_bad_row_writes_nothing(app: Flask, files) -> None:
    row = files["enrollments.csv"].splitlines()[-1].split(",")
    row[5] = "no-such-user"
    replace_line(
        files, "enrollments.csv", len(files["enrollments.csv"].splitlines()), ",".join(row)
    )
    result = _import(to_zip(files))
    assert [(p.file, p.code, p.column) for p in result.report.errors] == [
        ("enrollments.csv", "unknown_reference", "userSourcedId")
    ]
    assert not result.committed
    assert _counts() == (0, 0, 0, 0)
    assert _rows(AuditEvent) == 0


def test_unknown_references_are_each_reported(app: Flask, files) -> None:
    row = files["classes.csv"].splitlines()[1].split(",")
    row[5] = "no-course"
    row[10] = "no-term"
    replace_line(files, "classes.csv", 2, ",".join(row))
    result = _import(to_zip(files))
    assert {(p.line, p.column) for p in result.report.errors} == {
        (2, "courseSourcedId"),
        (2, "termSourcedIds"),
    }
    assert "refers to no row of courses.csv" in result.report.errors[0].text()


def test_dry_run_reports_and_writes_nothing(app: Flask) -> None:
    result = _import(FIXTURE, dry_run=True)
    assert result.report.errors == []
    assert result.counts["users"]["created"] == 10
    assert not result.committed
    assert _counts() == (0, 0, 0, 0)


def test_email_of_another_user_is_refused(app: Flask, files) -> None:
    seed_demo(SECRET, "en")
    db.session.commit()
    row = files["users.csv"].splitlines()[1].split(",")
    row[10] = "operator@example.org"
    replace_line(files, "users.csv", 2, ",".join(row))
    before = _counts()
    result = _import(to_zip(files))
    assert [(p.line, p.code) for p in result.report.errors] == [(2, "conflict")]
    assert _counts() == before


def test_a_teacher_known_by_email_joins_the_roster(app: Flask, files) -> None:
    seed_demo(SECRET, "en")
    db.session.commit()
    row = files["users.csv"].splitlines()[1].split(",")
    row[4] = row[10] = "teacher@example.org"
    replace_line(files, "users.csv", 2, ",".join(row))
    before = _counts()
    result = _import(to_zip(files))
    assert result.report.errors == []
    teacher = db.session.scalar(select(User).where(User.email == "teacher@example.org"))
    assert teacher.sourced_id == "e1000000-0000-4000-8000-000000000001"
    assert teacher.password_hash is not None  # the password stays
    assert _counts()[2] == before[2] + 9


def test_duplicate_student_number_is_refused(app: Flask, files) -> None:
    lines = files["enrollments.csv"].splitlines()
    row = lines[4].split(",")
    row[10] = "1"  # 井上 takes 青木's number
    replace_line(files, "enrollments.csv", 5, ",".join(row))
    result = _import(to_zip(files))
    assert [p.code for p in result.report.errors] == ["duplicate"]
    assert _counts() == (0, 0, 0, 0)


def test_numbers_can_be_swapped(app: Flask, files) -> None:
    _import(FIXTURE)
    lines = files["enrollments.csv"].splitlines()
    first, second = lines[3].split(","), lines[4].split(",")
    first[10], second[10] = "2", "1"
    replace_line(files, "enrollments.csv", 4, ",".join(first))
    replace_line(files, "enrollments.csv", 5, ",".join(second))
    result = _import(to_zip(files))
    assert result.report.errors == []
    assert result.counts["enrollments"]["updated"] == 2
    aoki = db.session.scalar(select(User).where(User.sourced_id == STUDENT_AOKI))
    assert (
        db.session.scalar(select(Enrollment.student_number).where(Enrollment.user_id == aoki.id))
        == 2
    )


def test_guardians_are_skipped(app: Flask, files) -> None:
    files["users.csv"] += (
        "e3000000-0000-4000-8000-000000000001,,,true,aoki.hogosha,,直樹,青木,,,,,,"
        "e2000000-0000-4000-8000-000000000101,,,,,直樹,,青木,,,ナオキ,アオキ,,\n"
    )
    files["roles.csv"] += (
        "f3000000-0000-4000-8000-000000000001,,,e3000000-0000-4000-8000-000000000001,primary,"
        "guardian,,,9a1b6c2e-2a8f-4c1e-9d3e-000000000010,\n"
    )
    result = _import(to_zip(files))
    assert result.report.errors == []
    assert result.counts["users"]["created"] == 10
    assert [s["sourcedId"] for s in result.skipped] == ["e3000000-0000-4000-8000-000000000001"]


def test_school_scope(app: Flask) -> None:
    seed_demo(SECRET, "ja")
    db.session.commit()
    demo = db.session.scalar(select(School).where(School.code == "DEMO"))
    # The demo school has no sourcedId yet: the roster's one school becomes it.
    result = _import(FIXTURE, school=demo)
    assert result.report.errors == []
    assert result.counts["schools"]["updated"] == 1
    db.session.refresh(demo)
    assert demo.sourced_id == "9a1b6c2e-2a8f-4c1e-9d3e-000000000010"
    other = School(code="OTHER", name="Other", sourced_id="other-school", roster_data={})
    db.session.add(other)
    db.session.commit()
    result = _import(FIXTURE, school=other)
    assert [p.file for p in result.report.errors] == ["orgs.csv"]


def _edit_name(files: dict[str, str], index: int, family: str, kana: str) -> None:
    lines = files["users.csv"].splitlines()
    row = lines[index].split(",")
    row[7] = row[20] = family
    row[24] = kana
    replace_line(files, "users.csv", index + 1, ",".join(row))


names = st.text(
    alphabet=st.sampled_from("山田中村小林青木井上佐々木あいうえおアイウエオ髙﨑・ー"),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(family=names, kana=names, index=st.integers(min_value=1, max_value=10))
def test_round_trip_of_any_names(app: Flask, family: str, kana: str, index: int) -> None:
    files = fixture_files()
    _edit_name(files, index, family, kana)
    _import(to_zip(files))
    exported = write_zip(export_tables())
    assert _import(exported).changes == 0
    row = read_package(exported).rows("users")[index - 1]
    assert (row["familyName"], row["metadata.jp.kanaFamilyName"]) == (family, kana)
    assert zipfile.ZipFile(io.BytesIO(exported)).namelist()[0] == "manifest.csv"


def test_a_school_limited_import_cannot_touch_another_school(app: Flask, files) -> None:
    _import(FIXTURE)
    other = School(code="OTHER", name="Other", sourced_id="other-school", roster_data={})
    db.session.add(other)
    db.session.commit()
    for name in ("orgs", "academicSessions", "courses", "users", "roles", "enrollments"):
        set_mode(files, name, "absent")
    set_mode(files, "demographics", "absent")
    set_mode(files, "classes", "delta")
    header, first, _second = files["classes.csv"].splitlines()
    row = first.split(",")
    row[1], row[2], row[3] = "active", "2026-09-01T00:00:00Z", "乗っ取り"
    files["classes.csv"] = f"{header}\n{','.join(row)}\n"
    result = _import(to_zip(files), school=other)
    assert [(p.file, p.code) for p in result.report.errors] == [("classes.csv", "forbidden")]
    assert (
        db.session.scalar(select(Classroom.name).where(Classroom.sourced_id == CLASS_1)) == "2年1組"
    )


def test_a_new_school_cannot_take_over_another_schools_roster(app: Flask) -> None:
    _import(FIXTURE)
    mine = School(code="MINE", name="Mine", roster_data={})
    db.session.add(mine)
    db.session.commit()
    result = _import(FIXTURE, school=mine)
    assert result.report.errors[0].file == "orgs.csv"
    assert {p.code for p in result.report.errors} == {"forbidden"}
    db.session.refresh(mine)
    assert mine.sourced_id is None


def test_progress_is_reported_per_row(app: Flask) -> None:
    seen: dict[str, list[int]] = {}

    def progress(file: str, total: int):
        seen[file] = [total, 0]

        def step() -> None:
            seen[file][1] += 1

        return step

    _import(FIXTURE, progress=progress)
    assert seen == {"classes.csv": [2, 2], "users.csv": [10, 10], "enrollments.csv": [9, 9]}
