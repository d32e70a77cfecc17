"""Selection and stopping rules, each on its own (through SelectionContext / StoppingContext)."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import (
    ItemParameters,
    ItemPool,
    PosteriorEAP,
    SelectionContext,
    StoppingContext,
    Verdict,
    item_information,
    log_likelihood,
    make_selection_rule,
    make_stopping_rule,
)
from scoring.selection import run_selection


@pytest.fixture
def bank(rng) -> ItemParameters:
    return ItemParameters.dichotomous(rng.uniform(0.5, 2.5, 300), rng.normal(size=300))


def _ctx(pool, theta=0.0, administered=(), eligible=None, rng=None, **kw) -> SelectionContext:
    administered = np.asarray(administered, dtype=np.intp)
    if eligible is None:
        eligible = np.ones(len(pool), bool)
        eligible[administered] = False
    return SelectionContext(
        pool=pool,
        theta=theta,
        se=1.0,
        administered=administered,
        eligible=eligible,
        rng_factory=(lambda: rng) if rng is not None else None,
        **kw,
    )


def _select(pool, rules, **ctx_kw):
    rules = [make_selection_rule(r) for r in rules]
    for r in rules:
        r.prepare(pool)
    ctx = _ctx(pool, **ctx_kw)
    return run_selection(
        ctx,
        [r for r in rules if r.kind == "filter"],
        next(r for r in rules if r.kind == "criterion"),
        [r for r in rules if r.kind == "weight"],
        [r for r in rules if r.kind == "order"],
    )


def test_max_information_rule(bank):
    item, passed = _select(ItemPool(bank), ["max_information"], theta=0.7)
    assert item == int(np.argmax(item_information(bank, 0.7)[0]))
    assert passed == []


def test_kullback_leibler_is_non_negative_and_local_limit_is_fisher(bank):
    pool = ItemPool(bank)
    kl = make_selection_rule({"rule": "kullback_leibler", "z": 1e-3})
    scores = kl.scores(_ctx(pool, theta=0.4))
    info = item_information(bank, 0.4)[0]
    # Over a tiny interval KL ≈ I δ^3 / 3: the same ranking as Fisher information.
    assert np.all(scores >= 0)
    np.testing.assert_allclose(scores / scores.max(), info / info.max(), rtol=1e-3)
    wide = make_selection_rule({"rule": "kullback_leibler"}).scores(_ctx(pool, theta=0.4))
    assert np.all(wide > 0)


def test_posterior_weighted_information(bank):
    pool = ItemPool(bank)
    post = PosteriorEAP()
    for j in range(20):
        post.update(bank, j, j % 2)
    rule = make_selection_rule("posterior_weighted_information")
    scores = rule.scores(_ctx(pool, posterior=post))
    expected = post.posterior() @ item_information(bank, post.nodes)
    np.testing.assert_allclose(scores, expected)


def test_a_stratified_moves_through_strata_and_matches_b(bank):
    pool = ItemPool(bank)
    order = np.argsort(bank.discrimination, kind="stable")
    low, high = set(order[:75].tolist()), set(order[-75:].tolist())
    first, _ = _select(pool, [{"rule": "a_stratified", "n_strata": 4}], theta=0.2, max_items=20)
    assert first in low
    in_low = np.array(sorted(low))
    assert first == in_low[np.argmin(np.abs(bank.difficulty[in_low] - 0.2))]
    late, _ = _select(
        pool,
        [{"rule": "a_stratified", "n_strata": 4}],
        theta=0.2,
        administered=list(range(16)),
        max_items=20,
    )
    assert late in high


def test_enemies_are_excluded(bank):
    pool = ItemPool(bank, enemy_sets=[(1, 2, 3), (10, 11)])
    rule = make_selection_rule("enemies")
    mask = rule.filter(_ctx(pool, administered=[2, 50]))
    assert not mask[[1, 2, 3, 50]].any()
    assert mask[[10, 11, 0]].all()
    with pytest.raises(ValueError, match="outside"):
        ItemPool(bank, enemy_sets=[(1, 999)])


def test_content_limits_close_full_areas_and_force_minimums(bank):
    areas = ["A"] * 100 + ["B"] * 100 + ["C"] * 100
    pool = ItemPool(bank, content_areas=areas)
    rule = make_selection_rule(
        {"rule": "content_limits", "limits": {"A": {"max": 2}, "C": {"min": 3}}}
    )
    rule.prepare(pool)
    mask = rule.filter(_ctx(pool, administered=[0, 1], max_items=10))
    assert not mask[:100].any()
    assert mask[100:].all()
    # 8 items given, 2 places left, C still needs 3: only C stays eligible.
    mask = rule.filter(
        _ctx(pool, administered=[100, 101, 102, 103, 104, 105, 0, 250], max_items=10)
    )
    assert mask[200:].sum() == 99
    assert not mask[:200].any()
    assert rule.hold_stop(_ctx(pool, administered=[0, 250]))
    assert not rule.hold_stop(_ctx(pool, administered=[0, 250, 251, 252]))
    with pytest.raises(ValueError, match="not in the pool"):
        make_selection_rule({"rule": "content_limits", "limits": {"Z": {"min": 1}}}).prepare(pool)


def test_content_limits_judge_a_testlet_whole(bank):
    areas = ["A"] * 100 + ["B"] * 100 + ["C"] * 100
    # Testlet (5, 6, 7) is all A; (110, 210) spans B and C; (111, 112) is all B.
    pool = ItemPool(bank, content_areas=areas, testlets=[(5, 6, 7), (110, 210), (111, 112)])
    rule = make_selection_rule(
        {"rule": "content_limits", "limits": {"A": {"max": 3}, "C": {"min": 3}}}
    )
    rule.prepare(pool)
    # One A given: A alone still fits (2 of 3), the A testlet (3 more) does not.
    mask = rule.filter(_ctx(pool, administered=[0], max_items=20))
    assert mask[1:5].all()
    assert not mask[[5, 6, 7]].any()
    # Once begun, what is left of it is what counts: 5 given, 6 and 7 still fit under max 3.
    mask = rule.filter(_ctx(pool, administered=[5], max_items=20))
    assert mask[[6, 7]].all()
    # 6 given, 4 places left, C needs 3: any item on its own still fits (4 - 1 >= 3), the B+C
    # testlet fits (4 - 2 >= 3 - 1), the B-only and the A testlets do not (4 - 2 < 3, 4 - 3 < 3).
    given = [100, 101, 102, 103, 104, 105]
    mask = rule.filter(_ctx(pool, administered=given, max_items=10))
    assert mask[[110, 210]].all()
    assert not mask[[111, 112, 5, 6, 7]].any()
    assert mask[:5].all()
    assert mask[113:200].all()
    assert mask[211:].all()
    # With one place fewer, C on its own is all that fits; no testlet does.
    mask = rule.filter(_ctx(pool, administered=[*given, 106], max_items=10))
    assert not mask[:200].any()
    assert not mask[210]
    assert mask[211:].all()


def test_testlets_are_validated_and_kept(bank):
    with pytest.raises(ValueError, match="outside"):
        ItemPool(bank, testlets=[(1, 999)])
    with pytest.raises(ValueError, match="shares items"):
        ItemPool(bank, testlets=[(1, 2), (2, 3)])
    pool = ItemPool(bank, testlets=[(3, 1), (7,)])
    assert pool.testlets == ((1, 3),)  # sorted; a single item is no testlet
    assert pool.with_exposure_parameters(np.ones(300)).testlets == ((1, 3),)
    assert [m.tolist() for m in pool.testlets_left(np.array([1]))] == [[3]]
    assert pool.testlets_left(np.array([1, 3])) == []


def test_kingsbury_zara_picks_the_area_furthest_below_target(bank):
    areas = ["A"] * 100 + ["B"] * 100 + ["C"] * 100
    pool = ItemPool(bank, content_areas=areas)
    rule = make_selection_rule({"rule": "kingsbury_zara", "targets": {"A": 2, "B": 1, "C": 1}})
    rule.prepare(pool)
    mask = rule.filter(_ctx(pool, administered=[]))
    assert mask[:100].all()
    assert not mask[100:].any()
    mask = rule.filter(_ctx(pool, administered=[0, 1, 150]))  # A 2/3 > .5, B 1/3, C 0 < .25
    assert mask[200:].all()
    assert not mask[:200].any()


def test_max_exposure_rate_filter(bank):
    pool = ItemPool(bank)
    rates = np.zeros(300)
    rates[:10] = 0.5
    rule = make_selection_rule({"rule": "max_exposure_rate", "rate": 0.3})
    mask = rule.filter(_ctx(pool, exposure_rates=rates))
    assert not mask[:10].any()
    assert mask[10:].all()
    assert rule.filter(_ctx(pool)).all()


def test_priority_index_weights(bank):
    areas = ["A"] * 150 + ["B"] * 150
    pool = ItemPool(bank, content_areas=areas)
    rule = make_selection_rule(
        {"rule": "priority_index", "quotas": {"A": 4, "B": 2}, "weights": {"A": 2.0}}
    )
    rule.prepare(pool)
    w = rule.weights(_ctx(pool, administered=[0, 151]))
    np.testing.assert_allclose(w[:150], 2.0 * 3 / 4)
    np.testing.assert_allclose(w[150:], 1 / 2)
    w = rule.weights(_ctx(pool, administered=[150, 151]))
    assert np.all(w[150:] == 0)


def test_randomesque_stays_in_the_top_k(bank):
    pool = ItemPool(bank)
    info = item_information(bank, 0.0)[0]
    top = set(np.argsort(-info)[:5].tolist())
    chosen = {
        _select(
            pool, ["max_information", {"rule": "randomesque", "k": 5}], rng=np.random.default_rng(s)
        )[0]
        for s in range(60)
    }
    assert chosen <= top
    assert len(chosen) >= 4


def test_sympson_hetter_passes_over_items(bank):
    info = item_information(bank, 0.0)[0]
    order = np.argsort(-info)
    k = np.ones(300)
    k[order[:3]] = 0.0
    pool = ItemPool(bank, exposure_parameters=k)
    item, passed = _select(
        pool, ["max_information", "sympson_hetter"], rng=np.random.default_rng(1)
    )
    assert item == order[3]
    assert passed == order[:3].tolist()
    never = ItemPool(bank, exposure_parameters=np.zeros(300))
    item, passed = _select(
        never, ["max_information", "sympson_hetter"], rng=np.random.default_rng(1)
    )
    assert item == order[0]
    assert passed == []


def test_filters_that_empty_the_pool_end_selection(bank):
    pool = ItemPool(bank)
    item, _ = _select(pool, ["max_information"], eligible=np.zeros(300, bool))
    assert item is None


# ---------------------------------------------------------------------------- stopping
def _sctx(params, items, scores, theta=0.0, se=1.0) -> StoppingContext:
    return StoppingContext(
        params, np.asarray(items, dtype=np.intp), np.asarray(scores, dtype=np.intp), theta, se
    )


def test_length_and_precision_rules(bank):
    ctx = _sctx(bank, [0, 1, 2], [1, 0, 1], theta=0.1, se=0.28)
    assert make_stopping_rule({"rule": "max_length", "n": 3}).check(ctx) is Verdict.STOP
    assert make_stopping_rule({"rule": "max_length", "n": 4}).check(ctx) is Verdict.CONTINUE
    assert make_stopping_rule({"rule": "min_length", "n": 4}).check(ctx) is Verdict.HOLD
    assert make_stopping_rule({"rule": "se_target", "se": 0.3}).check(ctx) is Verdict.STOP
    assert make_stopping_rule({"rule": "se_target", "se": 0.2}).check(ctx) is Verdict.CONTINUE
    total = item_information(bank, 0.1)[0, :3].sum()
    rule = make_stopping_rule({"rule": "information_target", "information": total * 0.99})
    assert rule.check(ctx) is Verdict.STOP
    rule = make_stopping_rule({"rule": "information_target", "information": total * 1.01})
    assert rule.check(ctx) is Verdict.CONTINUE


def test_sprt_matches_its_definition(bank):
    rule = make_stopping_rule({"rule": "sprt", "cut": 0.5, "delta": 0.3})
    items, scores = list(range(12)), [1] * 12
    ctx = _sctx(bank, items, scores)
    x = np.full(300, np.nan)
    x[items] = scores
    expected = log_likelihood(bank, x, 0.8) - log_likelihood(bank, x, 0.2)
    assert rule.log_ratio(ctx) == pytest.approx(expected)
    assert rule.classify(ctx) == "above"
    assert rule.check(ctx) is Verdict.STOP
    low = _sctx(bank, items, [0] * 12)
    assert rule.classify(low) == "below"
    undecided = _sctx(bank, [0], [1])
    assert rule.check(undecided) is Verdict.CONTINUE
    assert rule.check(_sctx(bank, [], [])) is Verdict.CONTINUE


def test_ci_classification(bank):
    rule = make_stopping_rule({"rule": "ci_classification", "cut": 0.0, "z": 2.0})
    assert rule.check(_sctx(bank, [0], [1], theta=0.7, se=0.3)) is Verdict.STOP
    assert rule.check(_sctx(bank, [0], [1], theta=0.5, se=0.3)) is Verdict.CONTINUE


@pytest.mark.parametrize(
    "config",
    [
        {"rule": "max_length", "n": 0},
        {"rule": "se_target", "se": -1},
        {"rule": "sprt", "cut": 0.0, "alpha": 0.7},
        {"rule": "information_target"},
    ],
)
def test_stopping_settings_are_validated(config):
    with pytest.raises(ValueError):
        make_stopping_rule(config)


def test_stopping_context_sums_over_administered_items(mixed_params, rng):
    items = np.array([7, 2, 13, 4, 19])
    scores = np.array([rng.integers(0, k) for k in mixed_params.n_categories[items]])
    ctx = _sctx(mixed_params, items, scores)
    row = np.full(len(mixed_params), np.nan)
    row[items] = scores
    points = np.array([-2.0, 0.3, 1.7])
    np.testing.assert_allclose(
        ctx.log_likelihood(points), log_likelihood(mixed_params, row, points)
    )
    assert ctx.log_likelihood(0.3) == pytest.approx(log_likelihood(mixed_params, row, 0.3))
    info = item_information(mixed_params, 0.3)[0, items].sum()
    assert ctx.information(0.3) == pytest.approx(info)
    assert _sctx(mixed_params, [], []).information(0.0) == 0.0
