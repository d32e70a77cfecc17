"""``cbt score`` through the real ``cbt`` command group (click's CliRunner; no Flask app)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cbt.cli import cli
from scoring import ItemParameters, estimate_ability
from tests import DATA_DIR

DATA = Path(__file__).parent / "data"
PARAMS = DATA / "lsat6_2pl_params.json"
LSAT6 = DATA_DIR / "lsat6.csv"


def _run(*args: str):
    return CliRunner().invoke(cli, ["score", *args], catch_exceptions=False)


def _read_scores(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["person_id", "theta", "se"]
    ids = [r[0] for r in rows[1:]]
    values = np.array([[np.nan if v == "NA" else float(v) for v in r[1:]] for r in rows[1:]])
    return ids, values


@pytest.mark.parametrize("method", ["eap", "map", "mle", "wle"])
def test_scores_lsat6_with_published_parameters(method, tmp_path):
    out = tmp_path / "scores.csv"
    result = _run(
        "--params", str(PARAMS), "--responses", str(LSAT6), "--method", method, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "scored 1000 persons on 5 items" in result.output
    ids, values = _read_scores(out)
    assert len(ids) == 1000
    assert ids[0] == "p0001"
    x = np.loadtxt(LSAT6, delimiter=",", skiprows=1, usecols=range(1, 6))
    records = json.loads(PARAMS.read_text())["items"]
    params = ItemParameters.from_records(records, default_model="2pl")
    expected = estimate_ability(x, params, method)
    np.testing.assert_allclose(values[:, 0], expected.theta, atol=5e-7)
    np.testing.assert_allclose(values[:, 1], expected.se, atol=5e-7)
    zero, perfect = x.sum(axis=1) == 0, x.sum(axis=1) == 5
    assert values[zero, 0].max() < values[~zero & ~perfect, 0].min()
    assert values[perfect, 0].min() > values[~zero & ~perfect, 0].max()
    if method == "mle":
        assert np.all(values[perfect, 0] == 6.0)


def test_settings_options(tmp_path):
    out = tmp_path / "s.csv"
    result = _run(
        "--params",
        str(PARAMS),
        "--responses",
        str(LSAT6),
        "--out",
        str(out),
        "--prior-mean",
        "0.5",
        "--prior-sd",
        "2",
        "--nodes",
        "61",
        "--bounds",
        "-4",
        "4",
    )
    assert result.exit_code == 0, result.output
    result = _run(
        "--params", str(PARAMS), "--responses", str(LSAT6), "--out", str(out), "--prior-sd", "0"
    )
    assert result.exit_code == 2
    assert "prior_sd" in result.output


def _responses(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "responses.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("person_id,Q1,Q2\np1,1,x\n", "line 2, column 'Q2': 'x' is not a score"),
        ("person_id,Q1,Q2\np1,1,0\np2,2,1\n", "line 3, column 'Q1': score 2 is not a category"),
        ("person_id,Q1,Q2\np1,1,0\np2,0.5,1\n", "line 3, column 'Q1': score 0.5"),
        ("person_id,Q1,Q9\np1,1,0\n", "column(s) ['Q9']"),
        ("person_id,Q1,Q2\np1,1\n", "line 2: 2 cells, but the header has 3"),
        ("person_id,Q1,Q2\np1,1,0\np1,0,0\n", "person 'p1' already appeared on line 2"),
        ("person_id,Q1,Q1\np1,1,0\n", "duplicate item column"),
        ("", "the file is empty"),
        ("person_id,Q1\n", "no data rows"),
    ],
)
def test_bad_response_files_name_the_row_and_column(tmp_path, text, message):
    out = tmp_path / "scores.csv"
    result = _run(
        "--params", str(PARAMS), "--responses", str(_responses(tmp_path, text)), "--out", str(out)
    )
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON at line 1"),
        ('{"model": "2pl"}', "'items' must be a non-empty list"),
        ('{"model": "2pl", "items": [{"discrimination": 1, "difficulty": 0}]}', "item_id"),
        (
            '{"model": "2pl", "items": [{"item_id": "Q1", "discrimination": -1, "difficulty": 0}]}',
            "discrimination must be finite and > 0",
        ),
        ('{"items": [{"item_id": "Q1", "discrimination": 1, "difficulty": 0}]}', "model"),
    ],
)
def test_bad_parameter_files(tmp_path, document, message):
    params = tmp_path / "params.json"
    params.write_text(document)
    out = tmp_path / "scores.csv"
    result = _run("--params", str(params), "--responses", str(LSAT6), "--out", str(out))
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_missing_cells_and_persons_without_responses(tmp_path):
    text = "person_id,Q1,Q2,Q3\np1,1,,NA\np2,,,\np3,0,1,1\n"
    out = tmp_path / "scores.csv"
    result = _run(
        "--params",
        str(PARAMS),
        "--responses",
        str(_responses(tmp_path, text)),
        "--method",
        "wle",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "1 without responses" in result.output
    ids, values = _read_scores(out)
    assert ids == ["p1", "p2", "p3"]
    assert np.isnan(values[1]).all()
    assert np.isfinite(values[[0, 2]]).all()


def test_missing_input_file_is_a_usage_error(tmp_path):
    result = _run(
        "--params",
        str(tmp_path / "nope.json"),
        "--responses",
        str(LSAT6),
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output
