"""``cbt analyse``: raw choices and a key in, ANALYSIS.json and an HTML report out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cbt.cli import cli

CHOICES = "person_id,q1,q2,q3\np1,A,B,C\np2,A,C,\np3,B,B,C\np4,C,,A\n"
KEY = "item_id,key\nq1,A\nq2,B\nq3,C\n"


def _invoke(tmp_path, choices=CHOICES, key=KEY, extra=(), encoding="utf-8"):
    (tmp_path / "choices.csv").write_bytes(choices.encode(encoding))
    (tmp_path / "key.csv").write_bytes(key.encode(encoding))
    args = ["analyse", "--responses", str(tmp_path / "choices.csv"), "--key"]
    args += [str(tmp_path / "key.csv"), "--out", str(tmp_path / "analysis.json"), *extra]
    return CliRunner().invoke(cli, args)


def test_analysis_json_and_report(tmp_path):
    report = tmp_path / "report.html"
    result = _invoke(tmp_path, extra=["--report", str(report), "--groups", "2"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "analysis.json").read_text(encoding="utf-8"))
    assert document["n_persons"] == 4
    assert "missing answer is scored as wrong" in document["missing"]
    q2 = document["items"][1]
    assert q2["item_id"] == "q2"
    assert q2["p_value"] == 0.5
    assert q2["n_answered"] == 3
    assert q2["point_biserial"] == pytest.approx(2**-0.5, abs=1e-6)
    shares = {o["option"]: o["share"] for o in q2["options"]}
    assert shares == {"B": 0.5, "C": 0.25, None: 0.25}
    assert next(o["share_by_group"] for o in q2["options"]) == [0.0, pytest.approx(2 / 3)]
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    assert "正答率 / p-value" in page
    assert "aria-label='Option-choice curves of item q1" in page


def test_a_bom_and_excel_style_file_are_read(tmp_path):
    result = _invoke(tmp_path, choices=CHOICES.replace("\n", "\r\n"), encoding="utf-8-sig")
    assert result.exit_code == 0, result.output


def test_large_random_file_runs(tmp_path):
    rng = np.random.default_rng(3)
    codes = rng.choice(["1", "2", "3", "4", ""], size=(300, 8))
    lines = ["person_id," + ",".join(f"i{j}" for j in range(8))]
    lines += [f"s{i}," + ",".join(row) for i, row in enumerate(codes)]
    key = "item_id,key\n" + "".join(f"i{j},{1 + j % 4}\n" for j in range(8))
    result = _invoke(tmp_path, choices="\n".join(lines) + "\n", key=key)
    assert result.exit_code == 0, result.output
    items = json.loads((tmp_path / "analysis.json").read_text())["items"]
    assert len(items) == 8
    assert all(len(i["groups"]) == 5 for i in items)


@pytest.mark.parametrize(
    ("choices", "key", "encoding", "message"),
    [
        ("", KEY, "utf-8", "is empty"),
        ("id,q1\np1,A\n", KEY, "utf-8", "first column must be person_id"),
        ("person_id\np1\n", KEY, "utf-8", "no item columns"),
        ("person_id,q1,q1\np1,A,B\n", KEY, "utf-8", "appears twice"),
        ("person_id,q1\np1,A\np1,B\n", "item_id,key\nq1,A\n", "utf-8", "person 'p1' appears"),
        ("person_id,q1\np1,A,B\n", "item_id,key\nq1,A\n", "utf-8", "line 2: 3 cells"),
        ("person_id,q1\n", "item_id,key\nq1,A\n", "utf-8", "no persons"),
        (CHOICES, "item,answer\nq1,A\n", "utf-8", "missing column(s) item_id, key"),
        (CHOICES, KEY + "q9,A\n", "utf-8", "not in the choices file: q9"),
        (CHOICES, "item_id,key\nq1,A\n", "utf-8", "no key for item(s) q2, q3"),
        (CHOICES, "item_id,key\nq1,A\nq1,B\n", "utf-8", "second key"),
        ("person_id,q1\np1,ア\n", "item_id,key\nq1,ア\n", "cp932", "not UTF-8"),
    ],
)
def test_bad_input_is_one_message_and_nothing_written(tmp_path, choices, key, encoding, message):
    result = _invoke(tmp_path, choices=choices, key=key, encoding=encoding)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert message in result.output
    assert not (tmp_path / "analysis.json").exists()


def test_missing_file(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "analyse",
            "--responses",
            str(tmp_path / "no.csv"),
            "--key",
            str(tmp_path / "k.csv"),
            "--out",
            str(tmp_path / "a.json"),
        ],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "cannot read choices file" in result.output
