"""The 学習指導要領コード table: its source, its texts, and the route the pages read it from."""

from __future__ import annotations

from flask import Flask

from item_bank.curriculum import code_table, code_texts
from tests.helpers import TEACHER_PASSWORD, ApiClient, seed_school


def test_the_table_names_its_source_and_has_both_languages() -> None:
    table = code_table()
    assert table["source"]["name"] == "文部科学省 学習指導要領コード"
    assert table["source"]["url"].startswith("https://www.mext.go.jp/")
    for code, text in table["codes"].items():
        assert len(code) == 16
        assert text["ja"]
        assert text["en"]


def test_codes_and_report_prefixes_have_texts() -> None:
    texts = code_texts(["8350213111200000", "83502131", "83502234", "9999"], "ja")
    assert texts["8350213111200000"] == "第1学年 A(1)ア(イ) 正の数と負の数の四則計算"
    assert texts["83502131"] == "中学校 数学 第1学年 A 数と式"
    assert texts["83502234"] == "中学校 数学 第2学年 D データの活用"
    assert "9999" not in texts
    english = code_texts(["83502131"], "en")
    assert english["83502131"] == (
        "Lower-secondary mathematics, grade 7: A Numbers and algebraic expressions"
    )


def test_a_teacher_reads_the_texts_in_the_page_language(app: Flask, api: ApiClient) -> None:
    school = seed_school()
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    english = api.get("/api/v1/curriculum-codes/texts?code=83502131").get_json()
    assert english["texts"] == {
        "83502131": "Lower-secondary mathematics, grade 7: A Numbers and algebraic expressions"
    }
    japanese = api.get(
        "/api/v1/curriculum-codes/texts?code=83502131", headers={"Accept-Language": "ja"}
    ).get_json()
    assert japanese["texts"] == {"83502131": "中学校 数学 第1学年 A 数と式"}
    assert japanese["source"]["name"] == "文部科学省 学習指導要領コード"


def test_the_texts_need_a_login(api: ApiClient) -> None:
    assert api.get("/api/v1/curriculum-codes/texts").status_code == 401
