"""Reading researchers' response files: long RESPONSES.csv (sparse designs) and wide.

    python benchmarks/bench_researchio.py [--persons 100000] [--per-person 30] [--items 1000]
                                          [--wide-persons 50000] [--wide-items 200]

Writes the files into a temporary folder (seeded), then reads each in a fresh process and
prints the wall time and the peak resident memory of that process (what `cbt calibrate` pays
before the estimator starts).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]

READ = """
import resource, sys, time
sys.path.insert(0, {root!r})
from analytics.researchio import read_long_responses, read_wide_responses
reader = read_long_responses if {kind!r} == "long" else read_wide_responses
started = time.perf_counter()
data = reader({path!r})
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{elapsed:.2f}} {{peak:.0f}}")
"""


def write_long(path: Path, persons: int, per_person: int, items: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("person_id,item_id,score\n")
        for start in range(0, persons, 10_000):
            block = []
            for person in range(start, min(persons, start + 10_000)):
                chosen = rng.choice(items, per_person, replace=False)
                scores = rng.integers(0, 2, per_person)
                block.extend(
                    f"s{person:07d},i{item:04d},{score}\n"
                    for item, score in zip(chosen, scores, strict=True)
                )
            handle.write("".join(block))
    return persons * per_person


def write_wide(path: Path, persons: int, items: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("person_id," + ",".join(f"i{j}" for j in range(items)) + "\n")
        for person in range(persons):
            scores = rng.integers(0, 2, items)
            missing = rng.random(items) < 0.8  # 40 of 200 items seen, as in bench_calibration
            cells = ("" if m else str(s) for s, m in zip(scores, missing, strict=True))
            handle.write(f"p{person}," + ",".join(cells) + "\n")
    return persons * items


def timed_read(kind: str, path: Path) -> tuple[float, float]:
    code = READ.format(root=str(ROOT), kind=kind, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    elapsed, peak = out.stdout.split()
    return float(elapsed), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--per-person", type=int, default=30)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--wide-persons", type=int, default=50_000)
    parser.add_argument("--wide-items", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine_line()}")
    with tempfile.TemporaryDirectory() as folder:
        long_path = Path(folder) / "long.csv"
        n = write_long(long_path, args.persons, args.per_person, args.items, args.seed)
        size = long_path.stat().st_size / 1e6
        elapsed, peak = timed_read("long", long_path)
        print(
            f"long:  {n:,} responses ({args.persons:,} persons x {args.per_person} of "
            f"{args.items} items, {size:.0f} MB): {elapsed:.2f} s, "
            f"{elapsed / n * 1e6:.2f} us per response, peak {peak:.0f} MB"
        )
        wide_path = Path(folder) / "wide.csv"
        n = write_wide(wide_path, args.wide_persons, args.wide_items, args.seed)
        size = wide_path.stat().st_size / 1e6
        elapsed, peak = timed_read("wide", wide_path)
        print(
            f"wide:  {args.wide_persons:,} x {args.wide_items} cells ({size:.0f} MB, 80% empty): "
            f"{elapsed:.2f} s, {elapsed / n * 1e9:.0f} ns per cell, peak {peak:.0f} MB"
        )


if __name__ == "__main__":
    main()
