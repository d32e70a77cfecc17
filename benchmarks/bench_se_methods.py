"""Item-parameter standard errors: cross-product (xpd) against observed information, and cost.

Usage::

    python benchmarks/bench_se_methods.py          # LSAT6, LSAT7 (2PL), VerbAgg (GRM, GPCM)
    python benchmarks/bench_se_methods.py --size   # + the cost on a simulated 20,000 x 100 2PL

For each data set the script fits the model once per ``se_method`` and prints the range of
``se_xpd / se_observed - 1`` over all item parameters (slopes and difficulties/thresholds), the
same for ``xpd-block``, and the seconds each fit took (EM plus standard errors).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _common import machine_line  # noqa: E402

from scoring.calibration import MMLCalibrator  # noqa: E402

CASES = [
    ("lsat6.csv", "2pl"),
    ("lsat7.csv", "2pl"),
    ("verbagg.csv", "grm"),
    ("verbagg.csv", "gpcm"),
]


def load(name: str) -> np.ndarray:
    path = ROOT / "tests" / "data" / name
    n_items = len(path.read_text().splitlines()[0].split(",")) - 1
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, n_items + 1))


def se_vector(cal: MMLCalibrator) -> np.ndarray:
    se = cal.se_
    parts = [se.discrimination]
    thr = se.thresholds
    if thr is not None and np.size(thr):
        parts.append(np.ravel(thr))
    else:
        parts.append(se.difficulty)
    out = np.concatenate([np.ravel(p) for p in parts])
    return out[np.isfinite(out)]


def fit(x: np.ndarray, model: str, method: str) -> tuple[MMLCalibrator, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = MMLCalibrator(model, se_method=method).fit(x)
    return cal, time.perf_counter() - start


def compare(x: np.ndarray, model: str, label: str) -> dict:
    fits = {m: fit(x, model, m) for m in ("observed", "xpd", "xpd-block", None)}
    ref = se_vector(fits["observed"][0])
    row: dict = {"data": label, "model": model, "n_persons": int(x.shape[0])}
    for method in ("xpd", "xpd-block"):
        rel = se_vector(fits[method][0]) / ref - 1
        row[f"{method}_vs_observed"] = [round(float(rel.min()), 3), round(float(rel.max()), 3)]
    row["seconds"] = {str(m): round(t, 3) for m, (_, t) in fits.items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", action="store_true", help="also a simulated 20,000 x 100 2PL")
    args = parser.parse_args()
    rows = [compare(load(name), model, name) for name, model in CASES]
    if args.size:
        rng = np.random.default_rng(20261202)
        a, b = rng.lognormal(0, 0.3, 100), rng.normal(size=100)
        theta = rng.normal(size=20_000)
        x = (rng.random((20_000, 100)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))) * 1.0
        rows.append(compare(x, "2pl", "simulated 20000 x 100"))
    print(json.dumps({"machine": machine_line(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
