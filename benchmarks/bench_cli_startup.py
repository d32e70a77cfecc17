"""`cbt calibrate` end to end against a plain numpy EM process on the same CSV (issue 14, point 6).

Usage::

    python benchmarks/bench_cli_startup.py              # 20,000 x 100 2PL, best of 3 runs each
    python benchmarks/bench_cli_startup.py --quick      # 2,000 x 20 (a smoke test)

The script writes a seeded 2PL response file (a ~ lognormal(0, 0.3), b ~ N(0, 1),
theta ~ N(0, 1); header ``person_id,<item>...``) to a temporary directory, then times two fresh
processes, each from process start to its output file written:

* **cbt**: ``cbt calibrate --model 2pl --responses R.csv --out P.json --quiet`` with the
  command's defaults (standard errors included), through the installed ``cbt`` entry point;
* **plain**: ``python -c`` that imports numpy and the estimator only, reads the CSV with
  ``numpy.loadtxt``, runs the same EM (``scoring.calibration.MMLCalibrator("2pl")``, the same
  default standard errors) and writes the parameters with ``json.dump``.

Both fit the same model by the same EM, so the ratio is what the command adds: imports, CSV
parsing, checks, provenance and the all-or-nothing write. Runs alternate (cbt, plain, cbt, ...)
so a change in machine load hits both; the ratio is of the best times (each pair's ratio is
printed too: on a busy machine they scatter widely). Target: <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.5

PLAIN = """
import json, sys
import numpy as np
from scoring.calibration import MMLCalibrator
path, out = sys.argv[1], sys.argv[2]
with open(path) as handle:
    items = handle.readline().strip().split(",")[1:]
x = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]
cal = MMLCalibrator("2pl").fit(x)
records = [
    {"item_id": i, "discrimination": float(a), "difficulty": float(b),
     "se": {"discrimination": float(sa), "difficulty": float(sb)}}
    for i, a, b, sa, sb in zip(items, cal.discrimination_, cal.difficulty_,
                               cal.se_.discrimination, cal.se_.difficulty)
]
with open(out, "w") as handle:
    json.dump({"model": "2pl", "items": records, "log_likelihood": cal.log_likelihood_}, handle)
"""


def write_responses(path: Path, n_persons: int, n_items: int, seed: int = 20261202) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)
    b = rng.normal(size=n_items)
    theta = rng.normal(size=n_persons)
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random(p.shape) < p).astype(np.int8)
    header = "person_id," + ",".join(f"i{j:03d}" for j in range(n_items))
    body = np.column_stack([np.arange(1, n_persons + 1), x])
    np.savetxt(path, body, fmt="%d", delimiter=",", header=header, comments="")


def timed(command: list[str], out: Path) -> float:
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    elapsed = time.perf_counter() - start
    if not out.exists():
        raise SystemExit(f"{command[0]} wrote no {out}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 x 20 instead of 20,000 x 100")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best is kept)")
    args = parser.parse_args()
    n_persons, n_items = (2_000, 20) if args.quick else (20_000, 100)
    cbt = shutil.which("cbt", path=str(Path(sys.executable).parent)) or "cbt"
    with tempfile.TemporaryDirectory() as tmp:
        responses = Path(tmp) / "responses.csv"
        write_responses(responses, n_persons, n_items)
        cli_out, plain_out = Path(tmp) / "cbt.json", Path(tmp) / "plain.json"
        cli_cmd = [cbt, "calibrate", "--model", "2pl", "--responses", str(responses)]
        cli_cmd += ["--out", str(cli_out), "--quiet"]
        plain_cmd = [sys.executable, "-c", PLAIN, str(responses), str(plain_out)]
        cli_times, plain_times = [], []
        for _ in range(args.repeat):
            cli_times.append(timed(cli_cmd, cli_out))
            plain_times.append(timed(plain_cmd, plain_out))
        se_method = json.loads(cli_out.read_text()).get("se_method")
    ratio = min(cli_times) / min(plain_times)
    result = {
        "case": f"2pl {n_persons} x {n_items}",
        "se_method": se_method,
        "cbt_calibrate_s": [round(t, 3) for t in cli_times],
        "plain_numpy_em_s": [round(t, 3) for t in plain_times],
        "ratio_best": round(ratio, 3),
        "ratio_per_pair": [round(c / p, 3) for c, p in zip(cli_times, plain_times, strict=True)],
        "target": TARGET,
        "meets_target": ratio <= TARGET,
        "machine": machine_line(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
