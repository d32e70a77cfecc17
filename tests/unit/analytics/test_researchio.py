"""Research file I/O: PARAMS.json round trip, long format, polytomous scores, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics import researchio
from analytics.researchio import (
    ResearchFileError,
    align_responses,
    read_long_responses,
    read_params_json,
    read_wide_responses,
    write_params_json,
    write_scores_csv,
)
from scoring import ItemParameters


@pytest.fixture
def mixed() -> ItemParameters:
    return ItemParameters.from_records(
        [
            {"item_id": "a", "model": "2pl", "discrimination": 1.1, "difficulty": 0.2},
            {
                "item_id": "b",
                "model": "3pl",
                "discrimination": 1.4,
                "difficulty": -0.5,
                "guessing": 0.2,
            },
            {"item_id": "c", "model": "grm", "discrimination": 0.9, "thresholds": [-1.0, 0.5]},
            {"item_id": "d", "model": "gpcm", "discrimination": 1.0, "thresholds": [0.3, -0.2, 1]},
        ]
    )


def test_params_round_trip(tmp_path, mixed):
    path = tmp_path / "params.json"
    write_params_json(
        path,
        mixed,
        model="mixed",
        log_likelihood=-12.5,
        converged=True,
        item_se=[{"discrimination": 0.1}] * 4,
        aic=float("nan"),
    )
    data = json.loads(path.read_text())
    assert data["items"][0]["se"] == {"discrimination": 0.1}
    assert data["aic"] is None
    back = read_params_json(path)
    assert back.params.item_ids == ("a", "b", "c", "d")
    assert back.params.model == mixed.model
    np.testing.assert_array_equal(back.params.thresholds, mixed.thresholds)
    assert back.metadata["log_likelihood"] == -12.5


def test_polytomous_scores_are_checked_per_item(tmp_path, mixed):
    path = tmp_path / "r.csv"
    path.write_text("person_id,d,c,a\nx,3,2,1\ny,NA,3,0\n")
    table = read_wide_responses(path)
    with pytest.raises(ResearchFileError, match=r"line 3, column 'c': score 3 .* grm item"):
        align_responses(table, mixed)
    path.write_text("person_id,d,c\nx,3,2\ny,, \n")
    matrix = align_responses(read_wide_responses(path), mixed)
    assert matrix.shape == (2, 4)
    np.testing.assert_array_equal(matrix[0], [np.nan, np.nan, 2, 3])
    assert np.isnan(matrix[1]).all()


def test_long_format(tmp_path, mixed):
    path = tmp_path / "long.csv"
    path.write_text("person_id,item_id,score\np1,a,1\np1,c,2\np2,d,3\np2,a,NA\n")
    long = read_long_responses(path)
    assert long.person_ids == ("p1", "p2")
    dense = long.to_dense(mixed)
    np.testing.assert_array_equal(dense[0], [1, np.nan, 2, np.nan])
    np.testing.assert_array_equal(dense[1], [np.nan, np.nan, np.nan, 3])
    path.write_text("person_id,item_id,score\np1,a,1\np1,a,0\n")
    with pytest.raises(ResearchFileError, match="line 3: person 'p1' already has a score"):
        read_long_responses(path)
    path.write_text("person,item,score\n")
    with pytest.raises(ResearchFileError, match="header"):
        read_long_responses(path)
    path.write_text("person_id,item_id,score\np1,a,1.5\n")
    with pytest.raises(ResearchFileError, match="line 2, column 'score'"):
        read_long_responses(path)


def test_scores_csv_quotes_and_missing(tmp_path):
    path = tmp_path / "s.csv"
    write_scores_csv(path, ["a,b", "c"], [0.1234567, np.nan], [0.5, np.nan])
    assert path.read_text() == 'person_id,theta,se\n"a,b",0.123457,0.500000\nc,NA,NA\n'
    with pytest.raises(ValueError, match="same length"):
        write_scores_csv(path, ["a"], [0.1, 0.2], [0.1, 0.2])


def test_bom_and_blank_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffperson_id,a\r\np1,1\r\n\r\np2,0\r\n".encode())
    table = read_wide_responses(path)
    assert table.item_ids == ("a",)
    assert table.person_ids == ("p1", "p2")
    assert table.lines == (2, 4)


@pytest.mark.parametrize("batch", [2, 3, 1 << 18])
def test_long_format_in_batches_names_the_right_lines(tmp_path, mixed, monkeypatch, batch):
    """Blank lines, rows of empty cells and missing scores anywhere, with batches smaller than
    the file: the arrays and the lines in errors are those of a line-by-line reading."""
    monkeypatch.setattr(researchio, "_BATCH", batch)
    path = tmp_path / "long.csv"
    lines = [
        "person_id,item_id,score",  # line 1
        "p1,a,1",
        "",
        " , , ",
        "p2,c, 2 ",  # line 5
        "p1,d,NA",
        "p3,a,0",
        "",
        "",
        "p2,a,1",  # line 10
    ]
    path.write_text("\n".join(lines) + "\n")
    long = read_long_responses(path)
    assert long.person_ids == ("p1", "p2", "p3")
    assert long.item_ids == ("a", "c")
    np.testing.assert_array_equal(long.person_index, [0, 1, 2, 1])
    np.testing.assert_array_equal(long.item_index, [0, 1, 0, 0])
    np.testing.assert_array_equal(long.scores, [1, 2, 0, 1])

    path.write_text("\n".join([*lines, "p3,c,1", "p1,d,1", "", "p3,a,1"]) + "\n")
    with pytest.raises(ResearchFileError, match=r"line 14: person 'p3' .* item 'a' \(line 7\)"):
        read_long_responses(path)
    for bad, message in [
        ("p4,a,x", r"line 11, column 'score': 'x' is not an integer score"),
        ("p4,a,inf", r"line 11, column 'score'"),
        ("p4,,1", r"line 11, column 'item_id': empty"),
        (",a,1", r"line 11, column 'person_id': empty"),
        ("p4,a", r"line 11: expected 3 cells"),
    ]:
        path.write_text("\n".join([*lines, bad]) + "\n")
        with pytest.raises(ResearchFileError, match=message):
            read_long_responses(path)


def test_long_format_only_missing_scores_is_an_error(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("person_id,item_id,score\np1,a,NA\n\np2,b,\n")
    with pytest.raises(ResearchFileError, match="no responses after the header"):
        read_long_responses(path)
