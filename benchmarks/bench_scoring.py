"""Scoring benchmarks: batch ability estimation and adaptive steps, with optional peers.

Usage::

    python benchmarks/bench_scoring.py              # ours only, against the issue's targets
    python benchmarks/bench_scoring.py --compare    # + girth, mirt and catsim, same data, same run
    python benchmarks/bench_scoring.py --quick      # small sizes (a smoke test)

Cases (issue 3):

* batch EAP, 50,000 examinees x 40 2PL items, 41 nodes: target <= 0.5 us per examinee;
* WLE on the same data: target <= 10 us per examinee (MLE and MAP are shown too);
* one adaptive step on a 10,000-item 2PL bank, i.e. what one delivery request does:
  ``record`` the answer (incremental EAP update) and ``next`` (stopping rules, then maximum
  information selection): target <= 0.2 ms median;
* the same step with enemies, content limits, Kingsbury-Zara content balancing, randomesque
  (k = 5) and Sympson-Hetter all on: target <= 0.5 ms median.

Batch timings are the best of ``--repeat`` runs (the machine is shared; the minimum is the least
disturbed run); step timings are the median over every step of 100 simulated examinees x 30
items. Peers run on the same arrays in the same process. A peer that is not installed, or
fails, is reported as such.

``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` before
numpy is imported (for every library in the run). On a busy 2-core machine one BLAS thread is
several times faster for the small products scoring does; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scoring import (  # noqa: E402
    AdaptiveEngine,
    AdaptiveTestSpec,
    ItemParameters,
    ItemPool,
    estimate_eap,
    estimate_map,
    estimate_mle,
    estimate_wle,
    simulate_responses,
)

TARGETS = {
    "eap": ("batch EAP, us/examinee", 0.5),
    "wle": ("batch WLE, us/examinee", 10.0),
    "mle": ("batch MLE, us/examinee", None),
    "map": ("batch MAP, us/examinee", None),
    "step": ("adaptive step (max info + EAP update), median ms", 0.2),
    "step_all": ("adaptive step, all controls on, median ms", 0.5),
}


# ---------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> dict[str, Any]:
    import scipy

    return machine_base() | {"numpy": np.__version__, "scipy": scipy.__version__}


def peer(name: str):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a peer that cannot even import is reported, not fatal
        return f"not available ({type(exc).__name__}: {exc})"


# ---------------------------------------------------------------------------- data
def batch_data(n_persons: int, n_items: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    params = ItemParameters.dichotomous(rng.uniform(0.5, 2.5, n_items), rng.normal(size=n_items))
    x = simulate_responses(params, rng.normal(size=n_persons), rng=rng)
    return params, x


def bank_data(n_items: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    params = ItemParameters.dichotomous(rng.uniform(0.5, 2.5, n_items), rng.normal(size=n_items))
    areas = [f"area{j % 5}" for j in range(n_items)]
    enemies = [tuple(rng.choice(n_items, 3, replace=False).tolist()) for _ in range(n_items // 20)]
    exposure = rng.uniform(0.3, 1.0, n_items)
    return params, ItemPool(params, areas, enemies, exposure)


PLAIN_SPEC = {
    "selection": [{"rule": "max_information"}],
    "stopping": [{"rule": "max_length", "n": 30}],
}
ALL_SPEC = {
    "selection": [
        {"rule": "enemies"},
        {"rule": "content_limits", "limits": {f"area{k}": {"min": 4, "max": 8} for k in range(5)}},
        {"rule": "kingsbury_zara", "targets": {f"area{k}": 0.2 for k in range(5)}},
        {"rule": "max_information"},
        {"rule": "randomesque", "k": 5},
        {"rule": "sympson_hetter"},
    ],
    "stopping": [{"rule": "max_length", "n": 30}],
}


# ---------------------------------------------------------------------------- ours
def bench_batch(params, x, repeat: int) -> dict[str, float]:
    n = x.shape[0]
    out = {}
    for key, fn in (
        ("eap", lambda: estimate_eap(x, params, n_nodes=41)),
        ("wle", lambda: estimate_wle(x, params)),
        ("mle", lambda: estimate_mle(x, params)),
        ("map", lambda: estimate_map(x, params)),
    ):
        fn()  # warm up
        out[key] = best_of(fn, repeat if key in ("eap", "wle") else max(1, repeat // 2)) / n * 1e6
    return out


def bench_steps(pool: ItemPool, spec: dict, n_examinees: int, seed: int = 3) -> dict[str, float]:
    engine = AdaptiveEngine(AdaptiveTestSpec.from_dict(spec), pool)
    rng = np.random.default_rng(seed)
    times = []
    for i in range(n_examinees):
        state = engine.new_state()
        true = rng.normal()
        step = engine.next(state, seed=i)
        while True:
            p = 1.0 / (
                1.0
                + np.exp(
                    -pool.params.discrimination[step.item]
                    * (true - pool.params.difficulty[step.item])
                )
            )
            score = int(rng.random() < p)
            start = time.perf_counter()
            engine.record(state, step.item, score)
            step = engine.next(state, seed=i)
            times.append(time.perf_counter() - start)
            if step.finished:
                break
    t = np.array(times) * 1e3
    return {"median": float(np.median(t)), "p90": float(np.percentile(t, 90)), "n": len(t)}


# ---------------------------------------------------------------------------- peers
def girth_batch(params, x, repeat: int) -> dict[str, Any]:
    girth = peer("girth")
    if isinstance(girth, str):
        return {"eap": girth}
    data = x.T.astype(int)
    a, b = params.discrimination.copy(), params.difficulty.copy()
    out: dict[str, Any] = {"wle": "girth has no WLE"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["eap"] = (
                best_of(
                    lambda: girth.ability_eap(data, b, a, {"quadrature_n": 41}), max(1, repeat // 2)
                )
                / x.shape[0]
                * 1e6
            )
    except Exception as exc:
        out["eap"] = f"failed ({type(exc).__name__}: {exc})"
    return out


def mirt_model(params):
    mirt = peer("mirt")
    if isinstance(mirt, str):
        return mirt, None
    model = mirt.TwoParameterLogistic(len(params))
    model.set_parameters(
        discrimination=params.discrimination.copy(), difficulty=params.difficulty.copy()
    )
    # fit_mirt marks a model fitted the same way after setting its parameters.
    model._is_fitted = True
    return mirt, model


def mirt_batch(params, x, repeat: int) -> dict[str, Any]:
    mirt, model = mirt_model(params)
    if model is None:
        return {"eap": mirt, "wle": mirt}
    out: dict[str, Any] = {}
    for key, method in (("eap", "EAP"), ("wle", "WLE"), ("mle", "ML"), ("map", "MAP")):
        try:
            runs = max(1, repeat // 2) if key == "eap" else 1
            out[key] = (
                best_of(
                    lambda method=method: mirt.fscores(model, x, method=method, n_quadpts=41), runs
                )
                / x.shape[0]
                * 1e6
            )
        except Exception as exc:
            out[key] = f"failed ({type(exc).__name__}: {exc})"
    return out


def mirt_steps(params, n_examinees: int, seed: int = 3) -> dict[str, Any]:
    mirt, model = mirt_model(params)
    if model is None:
        return {"median": mirt}
    try:
        from mirt.cat.stopping import MaxItemsStop

        rng = np.random.default_rng(seed)
        times = []
        for i in range(n_examinees):
            engine = mirt.CATEngine(
                model,
                item_selection="MFI",
                stopping_rule=MaxItemsStop(30),
                scoring_method="EAP",
                n_quadpts=41,
                theta_bounds=(-6.0, 6.0),
                seed=i,
            )
            state = engine.get_current_state()
            true = rng.normal()
            while not state.is_complete:
                j = state.next_item
                p = 1.0 / (1.0 + np.exp(-params.discrimination[j] * (true - params.difficulty[j])))
                start = time.perf_counter()
                state = engine.administer_item(int(rng.random() < p))
                times.append(time.perf_counter() - start)
        t = np.array(times) * 1e3
        return {"median": float(np.median(t)), "p90": float(np.percentile(t, 90)), "n": len(t)}
    except Exception as exc:
        return {"median": f"failed ({type(exc).__name__}: {exc})"}


def catsim_steps(params, n_examinees: int, seed: int = 3) -> dict[str, Any]:
    catsim = peer("catsim")
    if isinstance(catsim, str):
        return {"median": catsim}
    try:
        from catsim.estimation import NumericalSearchEstimator
        from catsim.selection import MaxInfoSelector

        n = len(params)
        a, b = params.discrimination, params.difficulty
        bank = catsim.ItemBank(np.column_stack([a, b, np.zeros(n), np.ones(n)]))
        selector, estimator = MaxInfoSelector(), NumericalSearchEstimator()
        rng = np.random.default_rng(seed)
        times = []
        for _ in range(n_examinees):
            true, theta = rng.normal(), 0.0
            items: list[int] = []
            answers: list[bool] = []
            item = selector.select(item_bank=bank, administered_items=items, est_theta=theta)
            for _ in range(29):
                p = 1.0 / (1.0 + np.exp(-a[item] * (true - b[item])))
                start = time.perf_counter()
                items.append(item)
                answers.append(bool(rng.random() < p))
                theta = estimator.estimate(
                    item_bank=bank,
                    administered_items=items,
                    response_vector=answers,
                    est_theta=theta,
                )
                item = selector.select(item_bank=bank, administered_items=items, est_theta=theta)
                times.append(time.perf_counter() - start)
        t = np.array(times) * 1e3
        return {
            "median": float(np.median(t)),
            "p90": float(np.percentile(t, 90)),
            "n": len(t),
            "note": "catsim has no EAP; its NumericalSearchEstimator (bounded MLE) is timed",
        }
    except Exception as exc:
        return {"median": f"failed ({type(exc).__name__}: {exc})"}


# ---------------------------------------------------------------------------- report
def fmt(value: Any, ours: float | None = None) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    text = f"{value:.3g}"
    if ours:
        text += f" ({value / ours:.1f}x ours)"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", action="store_true", help="also run girth, mirt, catsim")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per batch timing (best of)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--blas-threads", type=int, help="BLAS threads for every library (set before numpy loads)"
    )
    args = parser.parse_args(argv)

    n_persons, n_items, bank_size, n_examinees = (
        (2000, 40, 1000, 10) if args.quick else (50_000, 40, 10_000, 100)
    )
    peer_examinees = max(2, n_examinees // 10)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_average']}")
    print(
        f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"BLAS threads {info['blas_threads']}"
    )
    print(f"batch: {n_persons} examinees x {n_items} 2PL items; bank: {bank_size} items")
    params, x = batch_data(n_persons, n_items)
    _, pool = bank_data(bank_size)

    ours: dict[str, float] = bench_batch(params, x, args.repeat)
    plain = bench_steps(pool, PLAIN_SPEC, n_examinees)
    every = bench_steps(pool, ALL_SPEC, n_examinees)
    ours["step"], ours["step_all"] = plain["median"], every["median"]
    peers: dict[str, dict[str, Any]] = {}
    if args.compare:
        peers["girth"] = girth_batch(params, x, args.repeat)
        peers["mirt"] = mirt_batch(params, x, args.repeat)
        peers["mirt"]["step"] = mirt_steps(pool.params, peer_examinees)["median"]
        cat = catsim_steps(pool.params, peer_examinees)
        peers["catsim"] = {"step": cat["median"]}
        if "note" in cat:
            print(f"note: {cat['note']}")

    print()
    header = f"{'case':<50} {'ours':>9} {'target':>8} {'met':>4}"
    if peers:
        header += "  " + "  ".join(f"{name:<24}" for name in peers)
    print(header)
    print("-" * len(header))
    all_met = True
    for key, (label, target) in TARGETS.items():
        value = ours[key]
        met = "" if target is None else ("yes" if value <= target else "NO")
        all_met &= met != "NO"
        line = f"{label:<50} {value:>9.3g} {fmt(target):>8} {met:>4}"
        for name in peers:
            line += "  " + f"{fmt(peers[name].get(key), value):<24}"
        print(line)
    print(
        f"\nstep p90: plain {plain['p90']:.3g} ms, all controls {every['p90']:.3g} ms "
        f"({plain['n']} steps each)"
    )
    print("all targets met" if all_met else "SOME TARGETS MISSED")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "ours": ours,
                    "targets": {k: t for k, (_, t) in TARGETS.items()},
                    "peers": peers,
                    "steps": {"plain": plain, "all": every},
                },
                indent=2,
            )
        )
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
