"""The lock-step simulation: recovery, blueprint, exposure, agreement with the per-examinee engine,
determinism, and refusal of settings it cannot honour."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scoring import (
    AdaptiveEngine,
    ItemParameters,
    ItemPool,
    LockstepUnsupported,
    item_information,
    plan_lockstep,
    run_lockstep,
    simulate_adaptive_tests,
    simulate_lockstep,
)
from scoring.lockstep import _pair_information

from .helpers import make_mixed

AREAS = ("algebra", "geometry", "data", "number", "space", "logic")
LIMITS = {a: {"min": 4, "max": 6} for a in AREAS}


def spec(*, exposure: float | None = None, k: int = 5, length: int = 30, stopping=()) -> dict:
    selection = [
        {"rule": "content_limits", "limits": LIMITS},
        {"rule": "max_information"},
        {"rule": "randomesque", "k": k},
    ]
    if exposure is not None:
        selection.insert(0, {"rule": "max_exposure_rate", "rate": exposure})
    return {"selection": selection, "stopping": [{"rule": "max_length", "n": length}, *stopping]}


@pytest.fixture(scope="module")
def big_pool() -> ItemPool:
    """1,500 2PL items (more than the 1,024 that switch on the grid shortlist), six areas."""
    rng = np.random.default_rng(41)
    n = 1500
    params = ItemParameters.dichotomous(rng.lognormal(0.1, 0.3, n), rng.normal(0, 1.1, n))
    return ItemPool(params, content_areas=[AREAS[j % len(AREAS)] for j in range(n)])


@pytest.fixture(scope="module")
def thetas() -> np.ndarray:
    return np.random.default_rng(7).normal(size=600)


def area_counts(pool: ItemPool, items: np.ndarray) -> np.ndarray:
    return np.bincount(pool.area_index[items], minlength=len(pool.area_names))


def test_pair_information_is_the_item_information() -> None:
    rng = np.random.default_rng(3)
    records = [
        {"model": "2pl", "discrimination": a, "difficulty": b}
        for a, b in zip(rng.uniform(0.5, 2.5, 20), rng.normal(size=20), strict=True)
    ] + [
        {"model": "3pl", "discrimination": a, "difficulty": b, "guessing": c}
        for a, b, c in zip(
            rng.uniform(0.5, 2.5, 20), rng.normal(size=20), rng.uniform(0.05, 0.3, 20), strict=True
        )
    ]
    params = ItemParameters.from_records(records, scaling=1.7)
    plan = plan_lockstep(AdaptiveEngine({}, params))
    theta = np.array([-7.0, -1.2, 0.0, 0.4, 3.0, 9.0])
    items = rng.integers(0, 40, (6, 9))
    expected = item_information(params, theta)[np.arange(6)[:, None], items]
    np.testing.assert_allclose(_pair_information(plan, theta, items), expected, rtol=1e-12)


def test_seeded_recovery_and_blueprint_for_every_simulee(big_pool, thetas) -> None:
    engine = AdaptiveEngine(spec(), big_pool)
    sim = simulate_lockstep(engine, thetas, seed=11)
    # 30 items from a 1,500-item 2PL pool: the per-examinee engine gets RMSE 0.20 to 0.22 here.
    assert sim.rmse < 0.25
    assert abs(sim.bias) < 0.04
    assert np.corrcoef(sim.theta, thetas)[0, 1] > 0.97
    for items in sim.administered:
        assert items.shape == (30,)
        assert len(set(items.tolist())) == 30
        counts = area_counts(big_pool, items)
        assert np.all((counts >= 4) & (counts <= 6))
    assert set(sim.reasons) == {"max_length"}


def test_exposure_rate_of_every_item_is_within_the_limit(big_pool, thetas) -> None:
    engine = AdaptiveEngine(spec(exposure=0.2), big_pool)
    plan = plan_lockstep(engine)
    result = run_lockstep(plan, thetas, seed=2, batch_size=100)
    rates = result.counts / result.sessions
    # Counts never pass ceil(r S) for the S sessions started: the tolerance is 1/S.
    assert rates.max() <= 0.2 + 1 / thetas.shape[0]
    assert rates.max() >= 0.19  # the control binds (without it the best items go to most)
    free = run_lockstep(plan, thetas, seed=2, exposure=False)
    assert (free.counts / free.sessions).max() > 0.4
    for items, m in zip(result.items, result.n_items, strict=True):
        counts = area_counts(big_pool, items[:m])
        assert np.all((counts >= 4) & (counts <= 6))


def test_agrees_with_the_per_examinee_engine(big_pool, thetas) -> None:
    engine = AdaptiveEngine(spec(), big_pool)
    fast = simulate_lockstep(engine, thetas, seed=5)
    slow = simulate_adaptive_tests(engine, thetas, seed=5)
    # Same rules, different random streams: summary figures agree within sampling noise
    # (600 simulees: the SE of an RMSE near 0.2 is about 0.006, of a bias about 0.009).
    assert fast.rmse == pytest.approx(slow.rmse, abs=0.03)
    assert fast.bias == pytest.approx(slow.bias, abs=0.04)
    assert fast.se.mean() == pytest.approx(slow.se.mean(), abs=0.01)
    assert np.array_equal(fast.n_items, slow.n_items)
    assert fast.summary()["pool_used"] == pytest.approx(slow.summary()["pool_used"], abs=0.03)
    assert fast.exposure.max() == pytest.approx(slow.exposure.max(), abs=0.1)
    capped = AdaptiveEngine(spec(exposure=0.25), big_pool)
    fast = simulate_lockstep(capped, thetas, seed=5)
    slow = simulate_adaptive_tests(capped, thetas, seed=5)
    assert fast.exposure.max() <= 0.25 + 1 / thetas.shape[0]
    assert slow.exposure.max() <= 0.25
    assert fast.rmse == pytest.approx(slow.rmse, abs=0.03)


def test_grid_shortlist_picks_what_scoring_the_whole_pool_picks(big_pool, thetas) -> None:
    plan = plan_lockstep(AdaptiveEngine(spec(exposure=0.25), big_pool))
    assert plan.top is not None
    whole = dataclasses.replace(plan, top=None)  # every step scores every item at theta
    a = run_lockstep(plan, thetas, seed=9)
    b = run_lockstep(whole, thetas, seed=9)
    # The shortlist is used only when its bound proves no other item could win: the same
    # items for every simulee, even with the shared exposure counters.
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_posterior_and_final_estimate_match_the_engine(rng) -> None:
    params = make_mixed(rng, n_each=25)  # 2PL, 3PL, GRM and GPCM: the whole-pool path
    for method in ("eap", "wle"):
        engine = AdaptiveEngine(
            {"stopping": [{"rule": "max_length", "n": 12}], "final_method": method}, params
        )
        result = run_lockstep(plan_lockstep(engine), rng.normal(size=40), seed=4)
        for r in range(40):
            m = int(result.n_items[r])
            state = engine.rebuild(result.items[r, :m].tolist(), result.scores[r, :m].tolist())
            final = engine.final_estimate(state)
            assert result.theta[r] == pytest.approx(final.theta[0], abs=1e-9)
            assert result.se[r] == pytest.approx(final.se[0], abs=1e-9)
            # Maximum information (k = 1): each item is the engine's own next choice.
            replay = engine.new_state()
            for item, score in zip(result.items[r, :m], result.scores[r, :m], strict=True):
                assert engine.next(replay, seed=0).item == item
                engine.record(replay, int(item), int(score))


def test_variable_length_stopping_and_content_hold(big_pool, thetas) -> None:
    stopping = [{"rule": "min_length", "n": 24}, {"rule": "se_target", "se": 0.3}]
    engine = AdaptiveEngine(spec(length=40, stopping=stopping), big_pool)
    sim = simulate_lockstep(engine, thetas[:200], seed=3)
    slow = simulate_adaptive_tests(engine, thetas[:200], seed=3)
    assert set(sim.reasons) <= {"se_target", "max_length"}
    assert sim.n_items.min() >= 24
    early = sim.n_items < 40
    assert early.any()
    assert np.all(sim.se[early] <= 0.3)
    assert sim.n_items.mean() == pytest.approx(slow.n_items.mean(), rel=0.1)
    for items in sim.administered:
        assert np.all(area_counts(big_pool, items) >= 4)


def test_pool_exhaustion_ends_the_test(rng) -> None:
    small = ItemParameters.dichotomous(rng.uniform(1, 2, 5), rng.normal(size=5))
    engine = AdaptiveEngine({"stopping": [{"rule": "max_length", "n": 10}]}, small)
    sim = simulate_lockstep(engine, [0.0, 1.0], seed=0)
    assert sim.reasons == ("pool_exhausted", "pool_exhausted")
    assert np.all(sim.n_items == 5)


def test_deterministic_for_a_seed_and_independent_of_batches(big_pool, thetas) -> None:
    plan = plan_lockstep(AdaptiveEngine(spec(exposure=0.25), big_pool))
    one = run_lockstep(plan, thetas, seed=8)
    again = run_lockstep(plan, thetas, seed=8)
    np.testing.assert_array_equal(one.items, again.items)
    np.testing.assert_array_equal(one.theta, again.theta)
    other = run_lockstep(plan, thetas, seed=9)
    assert not np.array_equal(one.items, other.items)
    # Without exposure control each simulee's test depends on its own stream only.
    a = run_lockstep(plan, thetas, seed=8, exposure=False, batch_size=50)
    b = run_lockstep(plan, thetas, seed=8, exposure=False, batch_size=600)
    c = run_lockstep(plan, thetas[300:], seed=8, first=300, exposure=False)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.items[300:], c.items)
    np.testing.assert_array_equal(a.theta[300:], c.theta)


def test_worker_processes_split_the_simulees_deterministically(big_pool, thetas) -> None:
    capped = AdaptiveEngine(spec(exposure=0.25), big_pool)
    two = simulate_lockstep(capped, thetas[:120], seed=8, n_jobs=2)
    again = simulate_lockstep(capped, thetas[:120], seed=8, n_jobs=2)
    np.testing.assert_array_equal(two.theta, again.theta)
    assert two.exposure.max() <= 0.25 + 2 / 120  # each worker's counters: 1/60 each
    free = AdaptiveEngine(spec(), big_pool)
    one = simulate_lockstep(free, thetas[:120], seed=8)
    split = simulate_lockstep(free, thetas[:120], seed=8, n_jobs=2)
    np.testing.assert_array_equal(one.theta, split.theta)
    assert one.administered[77].tolist() == split.administered[77].tolist()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"selection": [{"rule": "kullback_leibler"}]}, "criterion 'kullback_leibler'"),
        ({"selection": ["max_information", "sympson_hetter"]}, "'sympson_hetter'"),
        (
            {
                "selection": [
                    {"rule": "priority_index", "quotas": {"algebra": 3}},
                    "max_information",
                ]
            },
            "'priority_index'",
        ),
        (
            {
                "selection": [
                    {"rule": "kingsbury_zara", "targets": {"algebra": 1}},
                    "max_information",
                ]
            },
            "'kingsbury_zara'",
        ),
        (
            {"stopping": [{"rule": "max_length", "n": 5}, {"rule": "sprt", "cut": 0.0}]},
            "stopping rule 'sprt'",
        ),
    ],
)
def test_refuses_settings_it_cannot_honour(big_pool, change, message) -> None:
    engine = AdaptiveEngine({**spec(), **change}, big_pool)
    with pytest.raises(LockstepUnsupported, match=message):
        plan_lockstep(engine)
    with pytest.raises(LockstepUnsupported, match=message):
        simulate_lockstep(engine, [0.0])


def test_refuses_testlets(big_pool) -> None:
    with pytest.raises(LockstepUnsupported, match="testlets"):
        plan_lockstep(AdaptiveEngine({}, ItemPool(big_pool.params, testlets=[(0, 1)])))


def test_enemy_sets_are_honoured(big_pool, thetas) -> None:
    params = big_pool.params
    # Enemy sets among the most informative items near theta 0, where every test starts.
    info = item_information(params, np.array([0.0]))[0]
    best = np.argsort(-info)[:60]
    sets = [tuple(best[i : i + 3].tolist()) for i in range(0, 60, 3)]
    pool = ItemPool(params, content_areas=big_pool.content_areas, enemy_sets=sets)
    selection = [{"rule": "enemies"}, *spec(k=1)["selection"]]
    engine = AdaptiveEngine({**spec(k=1), "selection": selection}, pool)
    result = run_lockstep(plan_lockstep(engine), thetas[:60], seed=1)
    for r in range(60):
        items = result.items[r].tolist()
        assert all(len(set(group) & set(items)) <= 1 for group in sets)
        # Maximum information (k = 1): each item is the engine's own next choice.
        state = engine.new_state()
        for item, score in zip(items, result.scores[r].tolist(), strict=True):
            assert engine.next(state, seed=0).item == item
            engine.record(state, item, score)
    free = run_lockstep(plan_lockstep(AdaptiveEngine(spec(k=1), pool)), thetas[:60], seed=1)
    assert any(len(set(g) & set(row.tolist())) > 1 for row in free.items for g in sets)
    capped = AdaptiveEngine(
        {
            **spec(exposure=0.25),
            "selection": [{"rule": "enemies"}, *spec(exposure=0.25)["selection"]],
        },
        pool,
    )
    sim = simulate_lockstep(capped, thetas, seed=2)
    for items in sim.administered:
        assert all(len(set(group) & set(items.tolist())) <= 1 for group in sets)
        counts = area_counts(pool, items)
        assert np.all((counts >= 4) & (counts <= 6))
    assert sim.exposure.max() <= 0.25 + 1 / thetas.shape[0]
