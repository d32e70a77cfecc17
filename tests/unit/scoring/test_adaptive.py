"""The adaptive engine: spec, state, steps, stopping, replay, and whole simulated tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoring import (
    AdaptiveEngine,
    AdaptiveTestSpec,
    ItemParameters,
    ItemPool,
    PosteriorEAP,
    category_probabilities,
    estimate_wle,
    item_information,
    simulate_adaptive_tests,
    simulate_responses,
    step_generator,
    sympson_hetter_parameters,
)

from .helpers import make_mixed

AREAS = ("algebra", "geometry", "data", "number")


@pytest.fixture
def bank(rng) -> ItemParameters:
    n = 400
    return ItemParameters.dichotomous(
        rng.uniform(0.6, 2.2, n), rng.normal(size=n), item_ids=[f"i{j}" for j in range(n)]
    )


@pytest.fixture
def pool(bank, rng) -> ItemPool:
    areas = [AREAS[j % 4] for j in range(len(bank))]
    enemies = [tuple(rng.choice(len(bank), 3, replace=False)) for _ in range(40)]
    return ItemPool(bank, content_areas=areas, enemy_sets=enemies)


FULL_SPEC = {
    "selection": [
        {"rule": "enemies"},
        {
            "rule": "content_limits",
            "limits": {a: {"min": 3, "max": 6} for a in AREAS},
        },
        {"rule": "max_information"},
        {"rule": "randomesque", "k": 4},
    ],
    "stopping": [
        {"rule": "min_length", "n": 12},
        {"rule": "max_length", "n": 20},
        {"rule": "se_target", "se": 0.3},
    ],
}


def test_spec_round_trip_and_validation():
    spec = AdaptiveTestSpec.from_dict(FULL_SPEC)
    assert AdaptiveTestSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ValueError, match="exactly one criterion"):
        AdaptiveTestSpec.from_dict({"selection": [{"rule": "enemies"}]})
    with pytest.raises(ValueError, match="exactly one criterion"):
        AdaptiveTestSpec.from_dict({"selection": ["max_information", "kullback_leibler"]})
    with pytest.raises(ValueError, match="max_length"):
        AdaptiveTestSpec.from_dict({"stopping": [{"rule": "se_target", "se": 0.3}]})
    with pytest.raises(ValueError, match="unknown adaptive"):
        AdaptiveTestSpec.from_dict({"selector": []})
    with pytest.raises(ValueError, match="unknown selection rule"):
        AdaptiveTestSpec.from_dict({"selection": [{"rule": "best_item"}]})
    with pytest.raises(ValueError, match="final_method"):
        AdaptiveTestSpec(final_method="ml")
    with pytest.raises(ValueError, match="prior_sd"):
        AdaptiveTestSpec(prior_sd=0)


def test_plain_max_information_engine_matches_the_primitives(bank):
    engine = AdaptiveEngine(AdaptiveTestSpec(), bank)
    state = engine.new_state()
    post = PosteriorEAP()
    eligible = np.ones(len(bank), bool)
    for k in range(5):
        step = engine.next(state)
        info = item_information(bank, post.theta)[0]
        assert step.item == int(np.argmax(np.where(eligible, info, -np.inf)))
        assert step.theta == pytest.approx(post.theta)
        engine.record(state, step.item, k % 2)
        post.update(bank, step.item, k % 2)
        eligible[step.item] = False
    assert state.theta == pytest.approx(post.theta)


def test_record_validates(bank):
    engine = AdaptiveEngine(AdaptiveTestSpec(), bank)
    state = engine.new_state()
    engine.record(state, 3, 1)
    with pytest.raises(ValueError, match="already administered"):
        engine.record(state, 3, 0)
    with pytest.raises(ValueError, match="not a category"):
        engine.record(state, 4, 2)
    with pytest.raises(ValueError, match="out of range"):
        engine.record(state, 4000, 0)
    assert state.administered == [3]


def test_random_rules_need_a_seed(pool):
    engine = AdaptiveEngine(FULL_SPEC, pool)
    with pytest.raises(ValueError, match="seed"):
        engine.next(engine.new_state())


def test_sessions_replay_exactly_from_the_seed(pool, rng):
    engine = AdaptiveEngine(FULL_SPEC, pool)

    def run(seed):
        state = engine.new_state()
        answers = np.random.default_rng(99)
        while not (step := engine.next(state, seed=seed)).finished:
            engine.record(state, step.item, int(answers.random() < 0.6))
        return state.administered, step.reason

    first, reason = run(1234)
    assert run(1234) == (first, reason)
    assert run(4321)[0] != first


def test_state_survives_the_store_and_a_rebuild(pool):
    engine = AdaptiveEngine(FULL_SPEC, pool)
    state = engine.new_state()
    for k in range(6):
        step = engine.next(state, seed=7)
        engine.record(state, step.item, k % 2)
    restored = engine.state_from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored.theta == state.theta
    assert restored.administered == state.administered
    rebuilt = engine.rebuild(state.administered, state.scores, state.excluded)
    assert rebuilt.theta == pytest.approx(state.theta, abs=1e-12)
    assert engine.next(rebuilt, seed=7).item == engine.next(state, seed=7).item
    with pytest.raises(ValueError, match="bad adaptive state"):
        engine.state_from_dict({"administered": [1]})


def test_every_simulated_test_meets_the_blueprint(pool):
    engine = AdaptiveEngine(FULL_SPEC, pool)
    sim = simulate_adaptive_tests(engine, np.random.default_rng(5).normal(size=60), seed=3)
    areas = pool.area_index
    for items in sim.administered:
        assert 12 <= len(items) <= 20
        counts = np.bincount(areas[items], minlength=4)
        assert np.all(counts >= 3)
        assert np.all(counts <= 6)
        assert len(set(items.tolist())) == len(items)
        for group in pool.enemy_sets:
            assert len(set(group) & set(items.tolist())) <= 1
    summary = sim.summary()
    assert summary["n_examinees"] == 60
    assert set(summary["stop_reasons"]) <= {"se_target", "max_length"}
    assert sim.rmse < 0.45


def test_classification_test_stops_by_sprt(bank):
    spec = AdaptiveTestSpec.from_dict(
        {
            "selection": ["max_information"],
            "stopping": [
                {"rule": "max_length", "n": 40},
                {"rule": "sprt", "cut": 0.0, "delta": 0.3},
            ],
        }
    )
    engine = AdaptiveEngine(spec, bank)
    sim = simulate_adaptive_tests(engine, np.array([-2.5, 2.5, 2.0, -2.0]), seed=1)
    assert all(r == "sprt" for r in sim.reasons)
    assert np.all(np.sign(sim.theta) == np.sign(sim.true_theta))
    assert np.all(sim.n_items < 40)


def test_pool_exhaustion_ends_the_test(rng):
    small = ItemParameters.dichotomous(rng.uniform(1, 2, 5), rng.normal(size=5))
    engine = AdaptiveEngine({"stopping": [{"rule": "max_length", "n": 10}]}, small)
    sim = simulate_adaptive_tests(engine, [0.0], seed=0)
    assert sim.reasons == ("pool_exhausted",)
    assert sim.n_items[0] == 5


def test_mixed_format_adaptive_test_and_final_estimators(rng):
    params = make_mixed(rng, n_each=20)
    spec = AdaptiveTestSpec(
        selection=({"rule": "kullback_leibler"},),
        stopping=({"rule": "max_length", "n": 15},),
        final_method="wle",
    )
    engine = AdaptiveEngine(spec, params)
    sim = simulate_adaptive_tests(engine, rng.normal(size=20), seed=2)
    assert np.all(sim.n_items == 15)
    # The WLE of each simulated test equals the batch WLE of the same responses.
    x = np.full((20, len(params)), np.nan)
    for i, (items, scores) in enumerate(zip(sim.administered, sim.scores, strict=True)):
        x[i, items] = scores
    np.testing.assert_allclose(sim.theta, estimate_wle(x, params).theta, atol=1e-8)


def test_sympson_hetter_calibration_lowers_exposure(bank):
    spec = AdaptiveTestSpec.from_dict(
        {
            "selection": ["max_information", "sympson_hetter"],
            "stopping": [{"rule": "max_length", "n": 10}],
        }
    )
    theta = np.random.default_rng(8).normal(size=150)
    pool = ItemPool(bank)
    before = simulate_adaptive_tests(AdaptiveEngine(spec, pool), theta, seed=1)
    k = sympson_hetter_parameters(spec, pool, theta, target=0.3, n_rounds=5, seed=10)
    after = simulate_adaptive_tests(
        AdaptiveEngine(spec, pool.with_exposure_parameters(k)), theta, seed=1
    )
    assert before.exposure.max() > 0.9
    assert after.exposure.max() < 0.5
    assert np.all((k >= 0) & (k <= 1))


def test_simulated_responses_follow_the_model(mixed_params):
    theta = np.full(40000, 0.4)
    x = simulate_responses(mixed_params, theta, rng=3)
    p = category_probabilities(mixed_params, 0.4)[0]
    for j in range(len(mixed_params)):
        k = int(mixed_params.n_categories[j])
        freq = np.bincount(x[:, j].astype(int), minlength=k) / theta.shape[0]
        np.testing.assert_allclose(freq, p[j, :k], atol=0.012)
    holes = simulate_responses(mixed_params, theta[:2000], rng=4, missing=0.3)
    assert 0.27 < np.isnan(holes).mean() < 0.33
    with pytest.raises(ValueError, match="missing"):
        simulate_responses(mixed_params, theta, missing=1.0)


def test_step_generator_is_keyed_by_seed_and_step():
    first = step_generator(12345, 3).random(4)
    step_generator(1, 1).random(10)  # whatever happens in between
    np.testing.assert_array_equal(step_generator(12345, 3).random(4), first)
    assert not np.array_equal(step_generator(12345, 4).random(4), first)
    assert not np.array_equal(step_generator(12346, 3).random(4), first)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        step_generator(-1, 0)


def test_parallel_simulation_gives_the_same_results(pool):
    engine = AdaptiveEngine(FULL_SPEC, pool)
    theta = np.random.default_rng(4).normal(size=12)
    one = simulate_adaptive_tests(engine, theta, seed=9)
    two = simulate_adaptive_tests(engine, theta, seed=9, n_jobs=2)
    np.testing.assert_array_equal(one.theta, two.theta)
    np.testing.assert_array_equal(one.exposure, two.exposure)
    assert [a.tolist() for a in one.administered] == [a.tolist() for a in two.administered]
    with pytest.raises(ValueError, match="n_jobs"):
        simulate_adaptive_tests(engine, theta, n_jobs=0)


def test_a_testlet_that_no_longer_fits_is_not_begun(bank):
    pool = ItemPool(bank, testlets=[(0, 1, 2), (3, 4)])
    spec = {"selection": ["max_information"], "stopping": [{"rule": "max_length", "n": 5}]}
    engine = AdaptiveEngine(AdaptiveTestSpec.from_dict(spec), pool)
    state = engine.new_state()
    assert engine.eligible(state)[:5].all()
    for item in (10, 11):
        engine.record(state, item, 1)
    # 3 places left: both testlets still fit.
    assert engine.eligible(state)[:5].all()
    engine.record(state, 12, 0)
    # 2 places left: the three-item testlet no longer fits, the pair does.
    eligible = engine.eligible(state)
    assert not eligible[:3].any()
    assert eligible[3:5].all()
    engine.record(state, 3, 1)
    # The pair begun: its last member is 1 item, and it fits in the 1 place left.
    assert engine.eligible(state)[4]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_simulation_holds_the_max_exposure_rate_exactly(bank, n_jobs):
    spec = {
        "selection": [{"rule": "max_exposure_rate", "rate": 0.2}, "max_information"],
        "stopping": [{"rule": "max_length", "n": 10}],
    }
    theta = np.random.default_rng(5).normal(size=101)
    engine = AdaptiveEngine(spec, ItemPool(bank))
    free = AdaptiveEngine({**spec, "selection": ["max_information"]}, ItemPool(bank))
    assert engine.exposure_cap == 0.2
    assert free.exposure_cap is None
    uncapped = simulate_adaptive_tests(free, theta, seed=2)
    capped = simulate_adaptive_tests(engine, theta, seed=2, n_jobs=n_jobs)
    assert uncapped.exposure.max() > 0.5  # the rule had something to do
    # Hard cap: no tolerance (floor(0.2 * block) administrations per item and block).
    assert capped.exposure.max() <= 0.2
    assert np.all(capped.n_items == 10)


def test_simulation_warns_when_the_exposure_cap_cannot_hold(bank):
    spec = {
        "selection": [{"rule": "max_exposure_rate", "rate": 0.1}, "max_information"],
        "stopping": [{"rule": "max_length", "n": 10}],
    }
    small = ItemPool(bank.take(np.arange(30)))  # 30 items x 1 use each < 10 items x 10 people
    with pytest.warns(RuntimeWarning, match="exposure cap 0.1 was exceeded"):
        sim = simulate_adaptive_tests(AdaptiveEngine(spec, small), np.zeros(10), seed=1)
    assert np.all(sim.n_items == 10)
