"""``cbt calibrate``, ``cbt link``, ``cbt fit`` and ``cbt dif`` on files (no Flask app)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from cbt.cli import cli
from scoring import ItemParameters, category_probabilities
from scoring.calibration import transform_parameters
from tests import DATA_DIR

DATA = DATA_DIR
LSAT6 = DATA / "lsat6.csv"
VERBAGG = DATA / "verbagg.csv"
LSAT6_A = [0.83, 0.72, 0.89, 0.69, 0.66]
LSAT6_B = [-3.36, -1.37, -0.28, -1.87, -3.12]


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _write_wide(path: Path, ids: list[str], items: list[str], x: np.ndarray) -> Path:
    lines = ["person_id," + ",".join(items)]
    for pid, row in zip(ids, x, strict=True):
        lines.append(pid + "," + ",".join("" if np.isnan(v) else str(int(v)) for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _simulate(params: ItemParameters, theta: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probs = category_probabilities(params, theta)
    cum = np.cumsum(probs, axis=2)[:, :, :-1]
    return (rng.random((theta.size, len(params), 1)) > cum).sum(axis=2).astype(float)


@pytest.fixture(scope="module")
def lsat6_params(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "lsat6.json"
    result = _run(
        "calibrate", "--model", "2pl", "--responses", str(LSAT6), "--out", str(out), "--quiet"
    )
    assert result.exit_code == 0, result.output
    return out


# ---------------------------------------------------------------------------- calibrate
def test_calibrate_lsat6_writes_published_estimates_with_provenance(lsat6_params: Path) -> None:
    doc = json.loads(lsat6_params.read_text())
    assert doc["model"] == "2pl"
    assert [i["item_id"] for i in doc["items"]] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    np.testing.assert_allclose([i["discrimination"] for i in doc["items"]], LSAT6_A, atol=0.01)
    np.testing.assert_allclose([i["difficulty"] for i in doc["items"]], LSAT6_B, atol=0.01)
    assert doc["log_likelihood"] == pytest.approx(-2466.65, abs=0.01)
    assert {"aic", "bic", "n_iter", "converged"} <= set(doc)
    assert set(doc["items"][0]) == {"item_id", "model", "discrimination", "difficulty", "se"}
    assert set(doc["items"][0]["se"]) == {"discrimination", "difficulty"}
    prov = doc["provenance"]
    assert len(prov["data_sha256"]) == 64
    assert prov["settings"]["model"] == "2pl"
    assert {"cbt", "numpy", "scipy", "python"} <= set(prov["software"])
    assert "seed" in prov
    assert prov["started_at"].endswith("Z")
    assert prov["sources"]["responses"] == {"file": "lsat6.csv", "format": "wide"}


def test_cbt_score_reads_the_calibrated_parameters(lsat6_params: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = _run(
        "score", "--params", str(lsat6_params), "--responses", str(LSAT6), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["person_id", "theta", "se"]
    assert len(rows) == 1001


def test_long_format_gives_the_same_calibration(tmp_path: Path, lsat6_params: Path) -> None:
    rows = list(csv.reader(LSAT6.read_text().splitlines()))[1:]
    lines = ["person_id,item_id,score"]
    for row in rows:
        for j, v in enumerate(row[1:]):
            lines.append(f"{row[0]},Q{j + 1},{v}")
    long = tmp_path / "long.csv"
    long.write_text("\n".join(reversed(lines[1:])) + "\n")
    long.write_text(lines[0] + "\n" + long.read_text())
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(long),
        "--format",
        "long",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    doc, ref = json.loads(out.read_text()), json.loads(lsat6_params.read_text())
    assert doc["provenance"]["data_sha256"] == ref["provenance"]["data_sha256"]
    by_id = {i["item_id"]: i for i in doc["items"]}
    for item in ref["items"]:
        assert by_id[item["item_id"]]["difficulty"] == pytest.approx(item["difficulty"], abs=1e-6)


def test_report_and_scores(tmp_path: Path) -> None:
    out, report, scores = tmp_path / "v.json", tmp_path / "v.html", tmp_path / "s.csv"
    result = _run(
        "calibrate",
        "--model",
        "grm",
        "--responses",
        str(VERBAGG),
        "--out",
        str(out),
        "--report",
        str(report),
        "--scores",
        str(scores),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    html = report.read_text()
    for heading in (
        "Summary",
        "Item parameters",
        "Classical item analysis",
        "Item fit",
        "Item characteristic curves",
        "Test information",
        "Provenance",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert html.count('src="data:image/png;base64,') >= 4
    rows = list(csv.reader(scores.read_text().splitlines()))
    assert rows[0] == ["person_id", "theta", "se"]
    assert rows[1][0] == "v001"
    assert len(rows) == 317
    assert Path(report).stat().st_mode & 0o044  # readable like any output


def test_fixed_parameter_calibration_with_an_anchor_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ids = [f"i{j:02d}" for j in range(30)]
    base = ItemParameters.dichotomous(
        rng.lognormal(0, 0.25, 30), rng.normal(0, 1, 30), item_ids=ids
    )
    x = _simulate(base, rng.normal(0.5, 1.2, 4000), 6)
    responses = _write_wide(tmp_path / "r.csv", [f"p{i}" for i in range(4000)], ids, x)
    anchors = tmp_path / "anchors.json"
    anchors.write_text(json.dumps({"model": "2pl", "items": base.take(range(20)).to_records()}))
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(responses),
        "--anchors",
        str(anchors),
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["fixed_items"] == ids[:20]
    assert "se" not in doc["items"][0]
    assert doc["groups"][0]["mean"] == pytest.approx(0.5, abs=0.08)
    new_b = [i["difficulty"] for i in doc["items"][20:]]
    assert np.sqrt(np.mean((np.array(new_b) - base.difficulty[20:]) ** 2)) < 0.12


def test_groups_file(tmp_path: Path) -> None:
    groups = tmp_path / "g.csv"
    rows = list(csv.reader(LSAT6.read_text().splitlines()))[1:]
    groups.write_text(
        "person_id,group\n"
        + "".join(f"{r[0]},{'y1' if i % 2 else 'y2'}\n" for i, r in enumerate(rows))
    )
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--groups",
        str(groups),
        "--reference-group",
        "y2",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    labels = [g["label"] for g in json.loads(out.read_text())["groups"]]
    assert labels == ["y2", "y1"]


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("person_id,Q1,Q2\np1,1,x\np2,0,1\n", "line 2, column 'Q2': 'x' is not a score"),
        ("person_id,Q1,Q2\np1,1,0\np1,0,1\n", "line 3: person 'p1' already appeared"),
        ("person_id,Q1,Q2\np1,1,0.5\np2,0,1\n", "line 2, column 'Q2': score 0.5 is not a category"),
        ("person_id,Q1,Q2\np1,1\n", "line 2: 2 cells, but the header has 3"),
        ("", "the file is empty"),
    ],
)
def test_bad_response_files_fail_cleanly(tmp_path: Path, content: str, message: str) -> None:
    responses = tmp_path / "r.csv"
    responses.write_text(content)
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(responses),
        "--out",
        str(out),
        "--report",
        str(tmp_path / "r.html"),
        "--quiet",
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not (tmp_path / "r.html").exists()


def test_unknown_anchor_items_and_malformed_params(tmp_path: Path) -> None:
    anchors = tmp_path / "a.json"
    anchors.write_text(
        json.dumps(
            {
                "model": "2pl",
                "items": [
                    {"item_id": "Q1", "discrimination": 0.8, "difficulty": -3.0},
                    {"item_id": "Z9", "discrimination": 1.0, "difficulty": 0.0},
                ],
            }
        )
    )
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--anchors",
        str(anchors),
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code != 0
    assert "anchor item(s) 'Z9' do not occur in the responses" in result.output
    assert not out.exists()
    anchors.write_text('{"model": "2pl", "items": [')
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--anchors",
        str(anchors),
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code != 0
    assert "a.json: not valid JSON at line 1" in result.output
    anchors.write_text(
        '{"items": [{"item_id": "Q1", "model": "2pl", "discrimination": -1, "difficulty": 0}]}'
    )
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--anchors",
        str(anchors),
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code != 0
    assert "discrimination must be finite and > 0" in result.output


def test_unusable_items_are_reported_not_fatal(tmp_path: Path) -> None:
    responses = tmp_path / "r.csv"
    rows = list(csv.reader(LSAT6.read_text().splitlines()))
    lines = [",".join([*rows[0], "Q6", "Q7"])]
    lines += [",".join([*r, "1", ""]) for r in rows[1:]]
    lines.append("lonely," + ",".join([""] * 7))
    responses.write_text("\n".join(lines) + "\n")
    out = tmp_path / "p.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--model",
            "2pl",
            "--responses",
            str(responses),
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "excluded item Q6: no variance: every response is category 1" in result.output
    assert "excluded item Q7: no responses" in result.output
    assert "excluded 1 persons with no responses" in result.output
    doc = json.loads(out.read_text())
    assert doc["excluded_items"]["Q7"] == "no responses"
    assert doc["n_excluded_persons"] == 1


def test_groups_and_usage_errors(tmp_path: Path) -> None:
    groups = tmp_path / "g.csv"
    groups.write_text("person_id,group\np0001,a\n")
    out = tmp_path / "p.json"
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--groups",
        str(groups),
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code != 0
    assert "g.csv: no group for person 'p0002' and 998 more" in result.output
    result = _run("calibrate", "--model", "2pl", "--out", str(out))
    assert result.exit_code == 2
    assert "give either --responses or --administration" in result.output
    result = _run("calibrate", "--model", "2pl", "--responses", str(LSAT6))
    assert "--out PARAMS.json is required" in result.output
    result = _run(
        "calibrate",
        "--model",
        "2pl",
        "--responses",
        str(LSAT6),
        "--out",
        str(tmp_path / "missing" / "p.json"),
    )
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_non_convergence_is_a_warning_with_output(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--model",
            "2pl",
            "--responses",
            str(LSAT6),
            "--max-iter",
            "3",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0
    assert "warning: EM did not converge in 3 steps" in result.output
    assert json.loads(out.read_text())["converged"] is False


def test_raw_option_codes_get_a_warning_pointing_to_cbt_analyse(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    theta = rng.normal(size=1200)
    key = rng.integers(0, 9, 12)
    right = rng.random((1200, 12)) < 1 / (1 + np.exp(-(theta[:, None] - rng.normal(size=12))))
    codes = np.where(right, key, (key + rng.integers(1, 9, (1200, 12))) % 9)
    lines = ["person_id," + ",".join(f"q{j}" for j in range(12))]
    lines += [f"p{i}," + ",".join(map(str, row)) for i, row in enumerate(codes)]
    (tmp_path / "raw.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "p.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--model",
            "2pl",
            "--responses",
            str(tmp_path / "raw.csv"),
            "--out",
            str(out),
            "--quiet",
            "--max-iter",
            "20",
            "--se",
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "look like unscored option codes" in result.output
    assert "cbt analyse --responses CHOICES.csv --key KEY.csv" in result.output


# ---------------------------------------------------------------------------- link
def _params_file(path: Path, params: ItemParameters, model: str = "2pl", se: bool = False):
    records = params.to_records()
    if se:
        for rec in records:
            rec["se"] = {"discrimination": 0.1, "difficulty": 0.2}
    path.write_text(json.dumps({"model": model, "items": records}))
    return path


def test_link_recovers_constants_and_transforms_items_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ids = [f"c{j}" for j in range(12)]
    target = ItemParameters.dichotomous(rng.uniform(0.6, 2, 12), rng.normal(size=12), item_ids=ids)
    source = transform_parameters(target, 1 / 1.25, 0.4 / 1.25)  # target = 1.25 source - 0.4
    t_path = _params_file(tmp_path / "t.json", target)
    s_path = _params_file(tmp_path / "s.json", source, se=True)
    out, summary, report = tmp_path / "linked.json", tmp_path / "link.json", tmp_path / "l.html"
    result = _run(
        "link",
        "--source",
        str(s_path),
        "--target",
        str(t_path),
        "--out",
        str(out),
        "--json",
        str(summary),
        "--report",
        str(report),
    )
    assert result.exit_code == 0, result.output
    link = json.loads(summary.read_text())
    assert link["slope"] == pytest.approx(1.25, abs=1e-6)
    assert link["intercept"] == pytest.approx(-0.4, abs=1e-6)
    assert set(link["all_methods"]) == {"mean-mean", "mean-sigma", "haebara", "stocking-lord"}
    linked = json.loads(out.read_text())
    np.testing.assert_allclose(
        [i["difficulty"] for i in linked["items"]], target.difficulty, atol=1e-5
    )
    assert linked["items"][0]["se"]["difficulty"] == pytest.approx(0.25)
    assert linked["items"][0]["se"]["discrimination"] == pytest.approx(0.08)
    assert linked["linking"]["method"] == "stocking-lord"
    assert "Linking constants" in report.read_text()
    # Chain: source -> target -> target moved by (2, 1).
    far = _params_file(tmp_path / "far.json", transform_parameters(target, 2.0, 1.0))
    result = _run(
        "link",
        "--source",
        str(s_path),
        "--target",
        str(t_path),
        "--chain",
        str(far),
        "--method",
        "haebara",
        "--out",
        str(out),
        "--json",
        str(summary),
    )
    assert result.exit_code == 0, result.output
    link = json.loads(summary.read_text())
    assert link["slope"] == pytest.approx(2.5, abs=1e-5)
    assert link["intercept"] == pytest.approx(2 * -0.4 + 1, abs=1e-5)
    lonely = _params_file(
        tmp_path / "x.json",
        ItemParameters.dichotomous([1.0, 1.0], [0.0, 1.0], item_ids=["zz", "yy"]),
    )
    result = _run(
        "link", "--source", str(lonely), "--target", str(t_path), "--out", str(tmp_path / "no.json")
    )
    assert result.exit_code != 0
    assert "linking x.json to t.json: linking needs at least 2 common items" in result.output
    assert not (tmp_path / "no.json").exists()


# ---------------------------------------------------------------------------- fit and dif
def test_fit_command(lsat6_params: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "fit.json", tmp_path / "fit.html"
    result = _run(
        "fit",
        "--params",
        str(lsat6_params),
        "--responses",
        str(LSAT6),
        "--out",
        str(out),
        "--report",
        str(report),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [i["item_id"] for i in doc["items"]] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert all(i["p_value"] > 0.05 for i in doc["items"])
    assert {"sx2", "df", "infit", "outfit", "point_biserial"} <= set(doc["items"][0])
    assert "Infit and outfit" in report.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,Q1,Q9\np1,1,0\n")
    result = _run(
        "fit",
        "--params",
        str(lsat6_params),
        "--responses",
        str(bad),
        "--out",
        str(tmp_path / "f2.json"),
    )
    assert result.exit_code != 0
    assert "item(s) ['Q9'] in the responses have no parameters" in result.output


def test_dif_command(tmp_path: Path) -> None:
    groups = tmp_path / "g.csv"
    cov = list(csv.reader((DATA / "verbagg_covariates.csv").read_text().splitlines()))[1:]
    groups.write_text("person_id,group\n" + "".join(f"{r[0]},{r[1]}\n" for r in cov))
    out, report = tmp_path / "dif.json", tmp_path / "dif.html"
    result = _run(
        "dif",
        "--responses",
        str(VERBAGG),
        "--groups",
        str(groups),
        "--focal",
        "F",
        "--method",
        "both",
        "--model",
        "gpcm",
        "--items",
        "S1DoCurse,S2DoScold",
        "--out",
        str(out),
        "--report",
        str(report),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert len(doc["mantel_haenszel"]["items"]) == 24
    assert doc["mantel_haenszel"]["items"][0]["ets_class"] in ("AA", "BB", "CC")
    assert [i["item_id"] for i in doc["likelihood_ratio"]["items"]] == ["S1DoCurse", "S2DoScold"]
    assert "Mantel-Haenszel" in report.read_text()
    assert "data:image/png;base64," in report.read_text()
    result = _run(
        "dif",
        "--responses",
        str(VERBAGG),
        "--groups",
        str(groups),
        "--focal",
        "X",
        "--out",
        str(tmp_path / "d2.json"),
    )
    assert result.exit_code != 0
    assert "focal group 'X' does not occur" in result.output
    assert not (tmp_path / "d2.json").exists()


def test_commands_are_registered() -> None:
    listed = cli.list_commands(click.Context(cli))
    for name in ("calibrate", "link", "fit", "dif", "score"):
        assert name in listed


def test_the_default_standard_errors_are_observed_information(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    args = ["calibrate", "--model", "2pl", "--responses", str(LSAT6), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["se_method"] == "observed"
