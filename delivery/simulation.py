"""Simulated administrations through the real delivery engine (no HTTP, no database).

Two engines, chosen by :func:`simulate` (``engine="auto"``):

- **lock-step** (``scoring.lockstep``), for a test that is one adaptive section whose rules it
  honours (content limits, enemy sets, maximum information, randomesque, a maximum exposure
  rate, the length, SE and classification stopping rules, any final estimator): all simulees
  of a batch advance together, one vectorised step per item position, with the section's own
  ``AdaptiveEngine`` rules and exposure counters per worker updated after every position
  (see the ``scoring.lockstep`` docstring for the exact rule). More than ten times faster on
  the bench test (docs/performance.md, "Scale (issue 12)").
- **per examinee**, for everything else (several sections, linear or LOFT sections, free
  navigation, pretest items, testlets, Sympson-Hetter, other selection or stopping rules),
  which need per-session state the lock-step arrays do not model, or rules not vectorised
  there: each simulee runs ``engine.start`` / ``record_answer`` / ``choose_next`` exactly as the
  server does, with exposure counters kept in memory the way the server keeps them in Redis.

The report says what a test will do before it goes live: conditional bias and RMSE by theta,
exposure rates, pool use, blueprint conformance and test lengths, and which engine ran
(``engine``; ``engine_note`` says why the lock-step one could not).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.schemas import CatSectionSpec, LoftSectionSpec
from scoring import LockstepPlan, LockstepUnsupported, category_probabilities, plan_lockstep
from scoring import run_lockstep as _run_lockstep

ENGINES = ("auto", "lockstep", "per_examinee")

THETA_BINS = np.arange(-3.0, 3.01, 0.5)


@dataclass
class ExposureTally:
    """In-memory twin of the server's shared exposure counters.

    Rates are kept up to date incrementally (O(1) per presentation, O(n) per session), because
    the engine reads them at every step.
    """

    n_items: int
    sessions: int = 0
    counts: np.ndarray = field(init=False)
    _rates: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.n_items)
        self._rates = np.zeros(self.n_items)

    def start_session(self) -> None:
        self.sessions += 1
        self._rates *= (self.sessions - 1) / self.sessions

    def present(self, index: int) -> None:
        self.counts[index] += 1
        self._rates[index] = self.counts[index] / max(1, self.sessions)

    def rates(self) -> np.ndarray:
        return self._rates

    def overall_rates(self) -> np.ndarray:
        return self.counts / max(1, self.sessions)


def _answer(test: CompiledTest, index: int, theta: float, rng: np.random.Generator) -> int:
    """A model-consistent score for ``index`` at true ``theta`` (pretest items: a coin)."""
    if index >= test.n_operational:
        return int(rng.random() < 0.5)
    params = test.parameters
    if params.model[index] in ("1pl", "2pl", "3pl"):
        # Plain floats: numpy scalar arithmetic costs more than the rest of the step here.
        a = float(params.discrimination[index])
        b = float(params.difficulty[index])
        c = float(params.guessing[index])
        z = params.scaling * a * (theta - b)
        p = c + (1 - c) / (1 + math.exp(-z)) if z > -700 else c
        return int(rng.random() < p)
    probabilities = category_probabilities(params.take([index]), theta)[0, 0]
    return int(np.searchsorted(np.cumsum(probabilities), rng.random(), side="right"))


def run_session(
    test: CompiledTest,
    theta: float,
    seed: int,
    tally: ExposureTally | None = None,
    rng: np.random.Generator | None = None,
    student_id: int = 0,
) -> SessionState:
    """One simulee through the whole test; returns the final state."""
    rng = rng or np.random.default_rng(seed)
    state = SessionState(
        session_id=f"sim-{seed}",
        student_id=student_id,
        administration_id=0,
        test_definition_id=test.test_definition_id,
        status="active",
        seed=seed,
    )

    def rates(section_index: int) -> np.ndarray | None:
        spec = test.sections[section_index].spec
        if tally is None or not isinstance(spec, CatSectionSpec) or spec.max_exposure_rate is None:
            return None
        return tally.rates()

    if tally is not None:
        tally.start_session()
    engine.start(test, state, 0.0, rates)
    while not engine.is_over(test, state):
        index = state.current
        if index is None:  # a free section with every item answered: the simulee submits it
            engine.submit_section(test, state, "", 0.0, rates)
            continue
        if tally is not None and index < test.n_operational:
            tally.present(index)
        engine.record_answer(test, state, _answer(test, index, theta, rng), "")
        engine.choose_next(test, state, 0.0, rates)
    return state


@dataclass
class _Block:
    """What one worker returns for its share of the simulees."""

    start: int
    estimates: np.ndarray
    ses: np.ndarray
    lengths: np.ndarray
    reasons: dict[str, int]
    met: list[int]
    counts: np.ndarray
    sessions: int


_SHARED: dict[str, Any] = {}  # the compiled test (and lock-step plan), inherited by workers


def lockstep_plan(test: CompiledTest) -> LockstepPlan:
    """The lock-step plan of ``test``; raises ``LockstepUnsupported`` saying what it lacks."""
    if len(test.sections) != 1:
        raise LockstepUnsupported("the test has more than one section")
    section = test.sections[0]
    spec = section.spec
    if not isinstance(spec, CatSectionSpec) or section.engine is None:
        raise LockstepUnsupported("the test is not one adaptive section")
    if spec.navigation == "free":
        raise LockstepUnsupported("the section has free navigation")
    if section.pretest:
        raise LockstepUnsupported("the section has pretest items")
    if test.testlets:
        raise LockstepUnsupported("the pool has testlets")
    if section.available is not None and not section.available.all():
        raise LockstepUnsupported("some operational items are not available to the section")
    return plan_lockstep(section.engine)


def _run_lockstep_block(
    start: int,
    thetas: np.ndarray,
    seeds: np.ndarray,
    base_seed: int,
    progress: Callable[[int], None] | None = None,
) -> _Block:
    """The lock-step twin of ``_run_block``: the same report figures for the same simulees
    (``seeds``, the per-examinee engine's session seeds, are not used: simulee ``i`` draws
    from ``default_rng([base_seed, i, 2])``)."""
    test: CompiledTest = _SHARED["test"]
    plan: LockstepPlan = _SHARED["plan"]
    spec = test.sections[0].spec
    assert isinstance(spec, CatSectionSpec)
    result = _run_lockstep(
        plan,
        thetas,
        seed=base_seed,
        first=start,
        exposure=spec.max_exposure_rate is not None,
        final_method=test.final_method,
        progress=progress,
    )
    reasons: dict[str, int] = {}
    for reason in result.reasons:
        reasons[reason or "completed"] = reasons.get(reason or "completed", 0) + 1
    conformance = _Conformance(test)
    conformance.add_items(0, result.items)
    return _Block(
        start,
        result.theta,
        result.se,
        result.n_items,
        reasons,
        conformance.met,
        result.counts.astype(float),
        result.sessions,
    )


def _run_block(
    start: int,
    thetas: np.ndarray,
    seeds: np.ndarray,
    base_seed: int,
    progress: Callable[[int], None] | None = None,
) -> _Block:
    test: CompiledTest = _SHARED["test"]
    tally = ExposureTally(test.n_operational)
    conformance = _Conformance(test)
    n = thetas.shape[0]
    estimates, ses, lengths = np.empty(n), np.empty(n), np.empty(n, dtype=int)
    reasons: dict[str, int] = {}
    for offset in range(n):
        person = start + offset
        # Per-simulee answer stream: results do not depend on how simulees are split.
        rng = np.random.default_rng([base_seed, person])
        state = run_session(
            test, float(thetas[offset]), int(seeds[offset]), tally, rng, student_id=person
        )
        result = engine.final_result(test, state, subscores=False)  # the report has no use
        estimates[offset], ses[offset], lengths[offset] = result.theta, result.se, result.n_items
        reason = state.finish_reason or "completed"
        reasons[reason] = reasons.get(reason, 0) + 1
        conformance.add(state)
        if progress is not None:
            progress(offset + 1)
    return _Block(
        start, estimates, ses, lengths, reasons, conformance.met, tally.counts, tally.sessions
    )


def simulate(
    test: CompiledTest,
    n_examinees: int,
    *,
    seed: int = 0,
    theta_distribution: str = "normal",
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    engine: str = "auto",
) -> dict[str, Any]:
    """Simulate ``n_examinees`` sittings and return the report (plain JSON).

    ``jobs`` > 1 splits the simulees over worker processes. Each worker keeps its own exposure
    counters, as each server process reads a snapshot of the shared ones: rates are estimated
    from each worker's share of sessions, which is what exposure control sees in production.

    ``engine``: ``"auto"`` runs the lock-step engine when it honours every setting of the test
    and the per-examinee one otherwise; ``"lockstep"`` raises ``LockstepUnsupported`` (a
    ``ValueError``) naming the setting it cannot honour; ``"per_examinee"`` always runs each
    simulee through the delivery engine's own calls.
    """
    if n_examinees < 1:
        raise ValueError("n_examinees must be at least 1")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    plan: LockstepPlan | None = None
    note: str | None = None
    if engine != "per_examinee":
        try:
            plan = lockstep_plan(test)
        except LockstepUnsupported as error:
            if engine == "lockstep":
                raise
            note = str(error)
    rng = np.random.default_rng(seed)
    if theta_distribution == "normal":
        thetas = rng.normal(0.0, 1.0, n_examinees)
    elif theta_distribution == "uniform":
        thetas = rng.uniform(-3.0, 3.0, n_examinees)
    else:
        raise ValueError("theta_distribution must be 'normal' or 'uniform'")
    seeds = rng.integers(0, 2**62, n_examinees)
    started = time.perf_counter()
    _SHARED["test"] = test
    _SHARED["plan"] = plan
    run_block = _run_block if plan is None else _run_lockstep_block
    try:
        if jobs == 1 or n_examinees < 2 * jobs:
            blocks = [run_block(0, thetas, seeds, seed, progress)]
        else:
            bounds = np.linspace(0, n_examinees, jobs + 1).astype(int)
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [
                    pool.submit(run_block, int(a), thetas[a:b], seeds[a:b], seed)
                    for a, b in itertools.pairwise(bounds)
                ]
                blocks = [future.result() for future in futures]
            if progress is not None:
                progress(n_examinees)
    finally:
        _SHARED.clear()
    estimates = np.concatenate([b.estimates for b in blocks])
    ses = np.concatenate([b.ses for b in blocks])
    lengths = np.concatenate([b.lengths for b in blocks])
    reasons: dict[str, int] = {}
    for block in blocks:
        for reason, count in block.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    tally = ExposureTally(test.n_operational)
    tally.counts = sum(b.counts for b in blocks)
    tally.sessions = sum(b.sessions for b in blocks)
    conformance = _Conformance(test)
    conformance.met = [sum(values) for values in zip(*(b.met for b in blocks), strict=True)]
    elapsed = time.perf_counter() - started
    return {
        "test_definition_id": test.test_definition_id,
        "n_examinees": n_examinees,
        "seed": seed,
        "theta_distribution": theta_distribution,
        "seconds": round(elapsed, 3),
        "jobs": jobs,
        "engine": "lockstep" if plan is not None else "per_examinee",
        "engine_note": note,
        "accuracy": _accuracy(thetas, estimates, ses),
        "exposure": _exposure(tally, test),
        "length": {
            "min": int(lengths.min()),
            "mean": float(lengths.mean()),
            "max": int(lengths.max()),
            "distribution": dict(_counts(lengths)),
        },
        "finish_reasons": reasons,
        "blueprint": conformance.report(n_examinees),
    }


def _counts(values: np.ndarray) -> list[tuple[str, int]]:
    unique, counts = np.unique(values, return_counts=True)
    return [(str(u), int(c)) for u, c in zip(unique, counts, strict=True)]


def _accuracy(thetas: np.ndarray, estimates: np.ndarray, ses: np.ndarray) -> dict[str, Any]:
    error = estimates - thetas
    bins = []
    index = np.digitize(thetas, THETA_BINS)
    for b in range(1, len(THETA_BINS)):
        members = index == b
        if members.sum() == 0:
            continue
        bins.append(
            {
                "theta_from": float(THETA_BINS[b - 1]),
                "theta_to": float(THETA_BINS[b]),
                "n": int(members.sum()),
                "bias": float(error[members].mean()),
                "rmse": float(np.sqrt((error[members] ** 2).mean())),
                "mean_se": float(ses[members].mean()),
            }
        )
    return {
        "bias": float(error.mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "mean_se": float(ses.mean()),
        "correlation": float(np.corrcoef(thetas, estimates)[0, 1]) if len(thetas) > 1 else None,
        "by_theta": bins,
    }


def _exposure(tally: ExposureTally, test: CompiledTest) -> dict[str, Any]:
    rates = tally.overall_rates()
    used = rates > 0
    limits = [
        s.spec.max_exposure_rate
        for s in test.sections
        if isinstance(s.spec, CatSectionSpec) and s.spec.max_exposure_rate is not None
    ]
    histogram, edges = np.histogram(rates, bins=[0, 1e-12, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0001])
    return {
        "max_rate": float(rates.max()),
        "limit": min(limits) if limits else None,
        "n_over_limit": int((rates > min(limits)).sum()) if limits else None,
        "quantiles": {q: float(np.quantile(rates, float(q))) for q in ("0.5", "0.9", "0.99")},
        "pool_size": int(test.n_operational),
        "pool_used": int(used.sum()),
        "pool_used_fraction": float(used.mean()),
        "histogram": [
            {"from": float(edges[i]), "to": float(min(edges[i + 1], 1.0)), "n_items": int(n)}
            for i, n in enumerate(histogram)
        ],
    }


class _Conformance:
    """Counts, per section, the sessions that met every content limit (CAT) or count (LOFT)."""

    def __init__(self, test: CompiledTest) -> None:
        self.test = test
        self.checks: list[tuple[int, str, dict[int, tuple[int, int | None]], np.ndarray]] = []
        for index, section in enumerate(test.sections):
            spec = section.spec
            if isinstance(spec, CatSectionSpec) and section.engine is not None:
                pool = section.engine.pool
                for rule in spec.adaptive.selection:
                    if rule["rule"] == "content_limits":
                        bounds = {
                            pool.area_names.index(area): (lim.get("min", 0), lim.get("max"))
                            for area, lim in rule["limits"].items()
                            if area in pool.area_names
                        }
                        self.checks.append((index, spec.key, bounds, pool.area_index))
            elif isinstance(spec, LoftSectionSpec) and section.area_index is not None:
                bounds = {section.area_names.index(a): (c, c) for a, c in spec.counts.items()}
                self.checks.append((index, spec.key, bounds, section.area_index))
        self.met = [0] * len(self.checks)

    def add_items(self, section: int, items: np.ndarray) -> None:
        """Count the sessions of an (n_sessions, max_items) array of items (-1 past the end),
        all given in section ``section``."""
        for position, (index, _, bounds, area_index) in enumerate(self.checks):
            if index != section:
                continue
            width = int(area_index.max()) + 1
            counts = np.zeros((items.shape[0], width + 1), dtype=np.int64)
            rows = np.repeat(np.arange(items.shape[0]), items.shape[1])
            columns = np.where(items >= 0, area_index[np.maximum(items, 0)], width).ravel()
            np.add.at(counts, (rows, columns), 1)
            ok = np.ones(items.shape[0], dtype=bool)
            for a, (lo, hi) in bounds.items():
                ok &= counts[:, a] >= lo
                if hi is not None:
                    ok &= counts[:, a] <= hi
            self.met[position] += int(ok.sum())

    def add(self, state: SessionState) -> None:
        answers = list(zip(state.items, state.sections, state.operational, strict=True))
        for position, (index, _, bounds, area_index) in enumerate(self.checks):
            items = [item for item, section, op in answers if section == index and op]
            counts = np.bincount(area_index[items], minlength=int(area_index.max()) + 1)
            ok = all(
                lo <= counts[a] and (hi is None or counts[a] <= hi)
                for a, (lo, hi) in bounds.items()
            )
            self.met[position] += int(ok)

    def report(self, n: int) -> list[dict[str, Any]]:
        return [
            {"section": key, "sessions_meeting_all_constraints": met, "fraction": met / n}
            for (_, key, _, _), met in zip(self.checks, self.met, strict=True)
        ]
