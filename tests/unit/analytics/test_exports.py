"""Spreadsheet downloads: a UTF-8 BOM for Excel, and no cell Excel would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from sqlalchemy import select

from analytics.exports import BOM, XLSX_MIMETYPE, csv_text, excel_safe
from cbt.db import db
from cbt.models import AuditEvent, User
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-3 cm", "'-3 cm"),
        ("-3.5", "-3.5"),  # a negative number stays a number
        ("山田 花子", "山田 花子"),
        (12, 12),
        (None, None),
    ],
)
def test_excel_safe(value: object, safe: object) -> None:
    assert excel_safe(value) == safe


def test_csv_text_starts_with_the_bom() -> None:
    text = csv_text(["a"], [["=1"]])
    assert text.startswith(BOM)
    assert list(csv.reader(io.StringIO(text[1:]))) == [["a"], ["'=1"]]


@pytest.fixture
def teacher(app: Flask, api: ApiClient) -> tuple[ApiClient, SeededSchool]:
    school = seed_school()
    db.session.get(User, school.student_ids[1]).display_name = "山田 花子"
    db.session.get(User, school.student_ids[2]).display_name = "=cmd|' /C calc'!A0"
    db.session.commit()
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    return api, school


@pytest.mark.parametrize("name", ["results", "answers"])
def test_class_csv_has_a_bom_and_reads_back_in_japanese(
    teacher: tuple[ApiClient, SeededSchool], name: str
) -> None:
    api, school = teacher
    reply = api.get(f"/api/v1/classes/{school.classroom_id}/{name}.csv")
    assert reply.status_code == 200
    raw = reply.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    if name == "results":
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        students = [row["student"] for row in rows]
        assert "山田 花子" in students
        assert "'=cmd|' /C calc'!A0" in students


def test_class_results_xlsx(teacher: tuple[ApiClient, SeededSchool]) -> None:
    from openpyxl import load_workbook

    api, school = teacher
    reply = api.get(f"/api/v1/classes/{school.classroom_id}/results.xlsx")
    assert reply.status_code == 200
    assert reply.mimetype == XLSX_MIMETYPE
    book = load_workbook(io.BytesIO(reply.get_data()))
    assert book.sheetnames == ["Results", "Answers"]
    rows = list(book["Results"].iter_rows(values_only=True))
    assert rows[0][:3] == ("student_number", "student", "administration")
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["山田 花子"][0] == 1
    [hostile] = [
        cell for (cell,) in book["Results"].iter_rows(min_col=2, max_col=2) if "cmd" in cell.value
    ]
    assert hostile.value == "=cmd|' /C calc'!A0"
    assert hostile.data_type == "s"  # text, not a formula
    assert next(book["Answers"].iter_rows(values_only=True))[8] == "response"
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "export_class_results")
    ).scalar_one()
    assert event.details == {"format": "xlsx", "n_rows": 3, "n_answers": 0}
