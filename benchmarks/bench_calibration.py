"""Calibration benchmarks: MML-EM speed, memory and recovery, with optional peers.

Usage::

    python benchmarks/bench_calibration.py                 # ours, against the issue's targets
    python benchmarks/bench_calibration.py --compare       # + girth and mirt, same data
    python benchmarks/bench_calibration.py --national      # + 1,000,000 x 1,000 x 30 (~1 min)
    python benchmarks/bench_calibration.py --quick         # small sizes (a smoke test)

Cases (issue 4), all simulated with a seeded generator (a ~ lognormal(0, 0.3),
b ~ N(0, 1), theta ~ N(0, 1); 3PL c ~ U(0.1, 0.3)):

* 2PL, 20,000 x 100 complete: target <= 0.5 s;
* 2PL, 50,000 x 200 with 40 random items per examinee: target <= 1.5 s;
* 3PL, 5,000 x 50 complete: target <= 0.5 s with RMSE no worse than mirt's;
* national scale, 1,000,000 examinees x 1,000 items, 30 responses each (30 million responses),
  2PL from a scipy.sparse CSR matrix: target <= 60 s and <= 6 GB peak memory. It runs in a
  child process so that its peak resident memory (``ru_maxrss``, data included) is its own.

Our timings are the best of ``--repeat`` runs of ``MMLCalibrator(...).fit`` with 41 nodes and
standard errors off (the peers' settings); the same fit with cross-product standard errors is
timed once beside it. Peers run once on the same arrays in the same process: girth
(``twopl_mml``/``threepl_mml``, 41 quadrature points) and the PyPI package ``mirt``
(``fit_mirt``, 41 quadrature points, its default EM, standard errors off). A peer that is not
installed or fails is reported as such, with the error.

``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` before
numpy is imported (for every library in the run).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import machine as machine_base
from _common import pin_blas_threads

pin_blas_threads(sys.argv)

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.special import expit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scoring.calibration import MMLCalibrator  # noqa: E402

TARGETS = {"2pl-complete": 0.5, "2pl-sparse": 1.5, "3pl": 0.5, "national": 60.0}
MEMORY_TARGET_GB = 6.0


# ---------------------------------------------------------------------------- data
def simulate(
    n: int, m: int, seed: int, *, per: int | None = None, guessing: bool = False
) -> dict[str, Any]:
    """Seeded 2PL/3PL data: dense (NaN = not administered) and the true parameters."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, m)
    b = rng.normal(0.0, 1.0, m)
    c = rng.uniform(0.1, 0.3, m) if guessing else np.zeros(m)
    theta = rng.normal(size=n)
    if per is None:
        p = c + (1 - c) * expit(a * (theta[:, None] - b))
        x = (rng.random((n, m)) < p).astype(float)
    else:
        cols = np.argsort(rng.random((n, m)), axis=1)[:, :per]
        rows = np.repeat(np.arange(n), per)
        cols = cols.ravel()
        p = c[cols] + (1 - c[cols]) * expit(a[cols] * (theta[rows] - b[cols]))
        x = np.full((n, m), np.nan)
        x[rows, cols] = (rng.random(p.size) < p).astype(float)
    return {"x": x, "a": a, "b": b, "c": c}


def national_data(n: int, m: int, k: int, seed: int) -> dict[str, Any]:
    """CSR data of ``n`` examinees answering ``k`` of ``m`` items each (built in blocks)."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, m)
    b = rng.normal(0.0, 1.0, m)
    perm = rng.permutation(m)
    indices = np.empty(n * k, np.int32)
    data = np.empty(n * k, np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        size = stop - start
        first = rng.integers(0, m, size)
        stride = rng.integers(1, max(2, m // k), size)  # distinct items: stride * k < m
        cols = perm[(first[:, None] + np.arange(k)[None, :] * stride[:, None]) % m]
        theta = rng.normal(size=size)
        p = expit(a[cols] * (theta[:, None] - b[cols]))
        indices[start * k : stop * k] = cols.ravel()
        data[start * k : stop * k] = (rng.random(p.shape) < p).ravel()
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    return {"x": sp.csr_array((data, indices, indptr), shape=(n, m)), "a": a, "b": b}


def rmse(estimate: Any, truth: np.ndarray) -> float:
    estimate = np.asarray(estimate, dtype=float)
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


# ---------------------------------------------------------------------------- runners
def ours(case: dict[str, Any], model: str, repeat: int) -> dict[str, Any]:
    times, cpu = [], []
    cal = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        cal = MMLCalibrator(model, se_method=None).fit(case["x"])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    with_se = MMLCalibrator(model).fit(case["x"])
    se_time = time.perf_counter() - t0
    out = {
        "seconds": min(times),
        "seconds_median": float(np.median(times)),
        "cpu_seconds": min(cpu),
        "seconds_with_se": se_time,
        "se_method": with_se.se_method_,
        "n_iter": cal.n_iter_,
        "converged": bool(cal.converged_),
        "log_likelihood": cal.log_likelihood_,
        "rmse_a": rmse(cal.discrimination_, case["a"]),
        "rmse_b": rmse(cal.difficulty_, case["b"]),
    }
    if model == "3pl":
        out["rmse_c"] = rmse(cal.guessing_, case["c"])
    return out


def _peer(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run()
    except ImportError as exc:
        return {"error": f"{name} not installed ({exc})"}
    except Exception as exc:  # a peer failing is a result to report, not a crash
        return {"error": f"{name} failed: {type(exc).__name__}: {exc}"}


def girth_run(case: dict[str, Any], model: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        import girth

        x = case["x"]
        data = np.where(np.isnan(x), girth.INVALID_RESPONSE, x).astype(int).T
        options = {"quadrature_n": 41, "quadrature_bounds": (-6, 6)}
        fn = girth.threepl_mml if model == "3pl" else girth.twopl_mml
        t0 = time.perf_counter()
        result = fn(data, options)
        seconds = time.perf_counter() - t0
        out = {
            "seconds": seconds,
            "rmse_a": rmse(result["Discrimination"], case["a"]),
            "rmse_b": rmse(result["Difficulty"], case["b"]),
        }
        if model == "3pl":
            out["rmse_c"] = rmse(result["Guessing"], case["c"])
        return out

    return _peer("girth", run)


def mirt_run(case: dict[str, Any], model: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        import mirt

        t0 = time.perf_counter()
        result = mirt.fit_mirt(
            case["x"], model=model.upper(), n_quadpts=41, compute_standard_errors=False
        )
        seconds = time.perf_counter() - t0
        params = result.model.parameters
        out = {
            "seconds": seconds,
            "n_iter": int(getattr(result, "n_iterations", -1)),
            "log_likelihood": float(result.log_likelihood),
            "rmse_a": rmse(np.ravel(params["discrimination"]), case["a"]),
            "rmse_b": rmse(np.ravel(params["difficulty"]), case["b"]),
        }
        if model == "3pl":
            out["rmse_c"] = rmse(np.ravel(params["guessing"]), case["c"])
        return out

    return _peer("mirt", run)


def national_child(n: int, m: int, k: int, with_se: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    case = national_data(n, m, k, seed=20260101)
    generated = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    cal = MMLCalibrator("2pl", se_method="xpd" if with_se else None).fit(case["x"])
    seconds = time.perf_counter() - t0
    return {
        "n_persons": n,
        "n_items": m,
        "responses_per_person": k,
        "generate_seconds": generated,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - c0,
        "with_se": with_se,
        "se_method": cal.se_method_,
        "n_iter": cal.n_iter_,
        "converged": bool(cal.converged_),
        "rmse_a": rmse(cal.discrimination_, case["a"]),
        "rmse_b": rmse(cal.difficulty_, case["b"]),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def national(n: int, m: int, k: int, with_se: bool, threads: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--national-child", f"{n},{m},{k},{int(with_se)}"]
    if threads:
        command += ["--blas-threads", threads]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    return machine_base() | {"numpy": np.__version__}


def _fmt(result: dict[str, Any], keys: tuple[str, ...]) -> str:
    if "error" in result:
        return result["error"]
    parts = [f"{result['seconds']:.3f} s"]
    for key in keys:
        if key in result:
            parts.append(f"{key.replace('rmse_', 'RMSE ')} {result[key]:.4f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also run girth and mirt")
    parser.add_argument("--national", action="store_true", help="run the national-scale case")
    parser.add_argument(
        "--national-se", action="store_true", help="national case with standard errors as well"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blas-threads", default=None)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--national-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.national_child:
        n, m, k, se = (int(v) for v in args.national_child.split(","))
        print(json.dumps(national_child(n, m, k, bool(se))))
        return 0

    scale = 10 if args.quick else 1
    cases = {
        "2pl-complete": ("2pl", simulate(20_000 // scale, 100, 1)),
        "2pl-sparse": ("2pl", simulate(50_000 // scale, 200, 2, per=40)),
        "3pl": ("3pl", simulate(5_000 // max(1, scale // 2), 50, 3, guessing=True)),
    }
    titles = {
        "2pl-complete": f"2PL, {20_000 // scale:,} x 100 complete",
        "2pl-sparse": f"2PL, {50_000 // scale:,} x 200, 40 items per examinee",
        "3pl": f"3PL, {5_000 // max(1, scale // 2):,} x 50 complete",
    }
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_average']}, "
        f"numpy {info['numpy']}, BLAS threads {info['blas_threads']}"
    )
    results: dict[str, Any] = {"machine": info, "cases": {}}
    all_met = True
    for key, (model, case) in cases.items():
        keys = ("rmse_a", "rmse_b") + (("rmse_c",) if model == "3pl" else ())
        row: dict[str, Any] = {"ours": ours(case, model, args.repeat)}
        if args.compare:
            row["mirt"] = mirt_run(case, model)
            row["girth"] = girth_run(case, model)
        target = TARGETS[key]
        met = row["ours"]["seconds"] <= target
        if model == "3pl" and "mirt" in row and "error" not in row["mirt"]:
            met = met and all(row["ours"][k] <= row["mirt"][k] + 0.005 for k in keys)
        all_met &= met or args.quick
        results["cases"][key] = row
        print(f"\n{titles[key]} (target <= {target} s{', RMSE <= mirt' if model == '3pl' else ''})")
        o = row["ours"]
        print(
            f"  ours : {_fmt(o, keys)}  [{o['n_iter']} EM steps, cpu {o['cpu_seconds']:.3f} s, "
            f"median {o['seconds_median']:.3f} s; with {o['se_method']} SEs "
            f"{o['seconds_with_se']:.3f} s]  {'MET' if met else 'NOT MET'}"
        )
        for peer in ("mirt", "girth"):
            if peer in row:
                r = row[peer]
                ratio = "" if "error" in r else f"  (x{r['seconds'] / o['seconds']:.1f} ours)"
                print(f"  {peer:5}: {_fmt(r, keys)}{ratio}")
    if args.national:
        n = 100_000 if args.quick else 1_000_000
        for with_se in (False, True) if args.national_se else (False,):
            r = national(n, 1000, 30, with_se, args.blas_threads)
            results["cases"][f"national{'-se' if with_se else ''}"] = r
            label = f"\n2PL national scale, {n:,} x 1,000, 30 responses each" + (
                " (with SEs)" if with_se else ""
            )
            print(label + f" (target <= {TARGETS['national']} s, <= {MEMORY_TARGET_GB} GB)")
            if "error" in r:
                print(f"  ours : {r['error']}")
                all_met = False
                continue
            met = r["seconds"] <= TARGETS["national"] and r["peak_rss_gb"] <= MEMORY_TARGET_GB
            all_met &= met or args.quick
            print(
                f"  ours : {r['seconds']:.1f} s (cpu {r['cpu_seconds']:.1f} s), peak "
                f"{r['peak_rss_gb']:.2f} GB incl. data, {r['n_iter']} EM steps, RMSE a "
                f"{r['rmse_a']:.4f}, b {r['rmse_b']:.4f}, SEs {r['se_method']}  "
                f"{'MET' if met else 'NOT MET'}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print("\nall targets met" if all_met else "\nsome targets NOT met")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
