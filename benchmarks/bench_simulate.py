"""`cbt simulate`'s engine against PyPI mirt's batch CAT simulator, in the same run.

    python benchmarks/bench_simulate.py [--examinees 10000] [--jobs 2] [--rounds 1] [--no-mirt]
        [--engine auto|lockstep|per_examinee]

Ours: ``delivery.simulation.simulate`` on the 10,000-item pool of bench_delivery.py, a 30-item
CAT with a six-area blueprint (content_limits), maximum information, randomesque (k = 5) and a
maximum exposure rate of 0.25, on ``--jobs`` processes, by the engine ``--engine`` names
(``auto``, the default, is what ``cbt simulate`` runs: the lock-step engine for this test).
mirt (if installed): ``CATEngine.run_batch_simulation`` on the same 2PL parameters and the
same true thetas, maximum information, EAP with 41 nodes, 30 items, no blueprint and no
exposure control (it has no batch path with them), one process. Rounds alternate which runs
first; the target is ours <= 40 s for 10,000 examinees and faster than mirt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_delivery import AREAS, settings, synthetic_parameters


def build_test(n_items: int, length: int):
    from delivery.engine import BankItem, compile_test

    records = synthetic_parameters(n_items)
    items = [
        BankItem(
            item_version_id=i,
            key=f"item-{i}",
            item_type="single_choice",
            content={},
            scoring={},
            student_view={},
            content_area=AREAS[i % len(AREAS)],
            curriculum_codes=("8350213111200000",),
            parameters=record,
        )
        for i, record in enumerate(records)
    ]
    test = compile_test(
        test_definition_id=1,
        parameter_set_id=1,
        settings=settings(length),
        scale={"slope": 100, "intercept": 500},
        items=items,
    )
    return test, records


def run_ours(test, examinees: int, jobs: int, seed: int, engine: str) -> tuple[float, dict]:
    from delivery.simulation import simulate

    started = time.perf_counter()
    report = simulate(test, examinees, seed=seed, jobs=jobs, engine=engine)
    return time.perf_counter() - started, report


def run_mirt(records: list[dict], thetas: np.ndarray, length: int, seed: int) -> float | str:
    try:
        import mirt
        from mirt.cat.stopping import MaxItemsStop
    except ImportError as error:
        return f"not installed ({error})"
    model = mirt.TwoParameterLogistic(len(records))
    model.set_parameters(
        discrimination=np.array([r["discrimination"] for r in records]),
        difficulty=np.array([r["difficulty"] for r in records]),
    )
    model._is_fitted = True  # what fit_mirt sets after estimating; the parameters are given
    engine = mirt.CATEngine(
        model,
        item_selection="MFI",
        stopping_rule=MaxItemsStop(length),
        scoring_method="EAP",
        max_items=length,
        n_quadpts=41,
        theta_bounds=(-6.0, 6.0),
        seed=seed,
    )
    started = time.perf_counter()
    try:
        results = engine.run_batch_simulation(thetas)
    except Exception as error:  # a peer's failure is reported, not fatal
        return f"failed ({type(error).__name__}: {error})"
    elapsed = time.perf_counter() - started
    lengths = {len(r.items_administered) for r in results[:50]}
    if lengths != {length}:
        return f"ran {sorted(lengths)} items, not {length}"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--examinees", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mirt", action="store_true")
    parser.add_argument("--engine", choices=("auto", "lockstep", "per_examinee"), default="auto")
    args = parser.parse_args()

    test, records = build_test(args.items, args.length)
    thetas = np.random.default_rng(args.seed).normal(0.0, 1.0, args.examinees)
    print(f"machine: {machine_line()}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"{args.examinees} examinees x {args.length}-item CAT on {args.items} items; ours: "
        f"blueprint + randomesque + max exposure 0.25 on {args.jobs} processes; mirt: "
        "unconstrained, run_batch_simulation, 1 process"
    )
    met = True
    for round_ in range(args.rounds):
        order = ("ours", "mirt") if round_ % 2 == 0 else ("mirt", "ours")
        figures: dict[str, float | str] = {}
        for who in order:
            if who == "ours":
                figures["ours"], report = run_ours(
                    test, args.examinees, args.jobs, args.seed, args.engine
                )
            elif not args.no_mirt:
                figures["mirt"] = run_mirt(records, thetas, args.length, args.seed)
        ours = figures["ours"]
        peer = figures.get("mirt", "not run")
        ratio = f" (mirt / ours = {peer / ours:.1f})" if isinstance(peer, float) else ""
        per_item = ours / args.examinees / args.length * 1e6 * args.jobs
        peer_text = f"{peer:.1f} s" if isinstance(peer, float) else peer
        print(
            f"round {round_ + 1}: ours ({report['engine']}) {ours:.1f} s ({per_item:.0f} "
            f"us per item per process), mirt {peer_text}{ratio}, load {os.getloadavg()[0]:.1f}; "
            f"RMSE {report['accuracy']['rmse']:.3f}, bias {report['accuracy']['bias']:+.3f}, "
            f"mean SE {report['accuracy']['mean_se']:.3f}, max exposure "
            f"{report['exposure']['max_rate']:.3f}, pool used "
            f"{report['exposure']['pool_used_fraction']:.1%}, blueprint met "
            f"{report['blueprint'][0]['fraction']:.1%}"
        )
        scaled = ours * 10_000 / args.examinees
        met = met and scaled <= 40 and (not isinstance(peer, float) or ours < peer)
    print("target met" if met else "target missed (<= 40 s per 10,000 and faster than mirt)")


if __name__ == "__main__":
    main()
