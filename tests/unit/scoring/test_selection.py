"""Selection primitives, the rule registries and select_max_information."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import (
    SELECTION_RULES,
    STOPPING_RULES,
    ItemParameters,
    item_information,
    make_selection_rule,
    make_stopping_rule,
    select_max_information,
)


def test_select_max_information_picks_the_most_informative_eligible_item(rng):
    params = ItemParameters.dichotomous(rng.uniform(0.5, 2.5, 200), rng.normal(size=200))
    info = item_information(params, 0.3)[0]
    best = int(np.argmax(info))
    assert select_max_information(0.3, params) == best
    eligible = np.ones(200, bool)
    eligible[best] = False
    masked = np.where(eligible, info, -np.inf)
    assert select_max_information(0.3, params, eligible) == int(np.argmax(masked))


def test_select_max_information_errors(lsat6_params):
    with pytest.raises(ValueError, match="no eligible"):
        select_max_information(0.0, lsat6_params, np.zeros(5, bool))
    with pytest.raises(ValueError, match="shape"):
        select_max_information(0.0, lsat6_params, np.ones(4, bool))
    with pytest.raises(ValueError, match="boolean"):
        select_max_information(0.0, lsat6_params, np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        select_max_information(float("nan"), lsat6_params)


def test_mixed_format_selection(mixed_params):
    info = item_information(mixed_params, -1.0)[0]
    assert select_max_information(-1.0, mixed_params) == int(np.argmax(info))


def test_registries_name_the_rules():
    for name in (
        "max_information",
        "kullback_leibler",
        "posterior_weighted_information",
        "a_stratified",
        "random",
        "enemies",
        "content_limits",
        "kingsbury_zara",
        "max_exposure_rate",
        "priority_index",
        "randomesque",
        "sympson_hetter",
    ):
        assert name in SELECTION_RULES
    for name in (
        "max_length",
        "min_length",
        "se_target",
        "information_target",
        "sprt",
        "ci_classification",
    ):
        assert name in STOPPING_RULES


def test_rules_are_built_from_configuration():
    rule = make_selection_rule({"rule": "randomesque", "k": 3})
    assert rule.k == 3
    assert rule.to_dict() == {"rule": "randomesque", "k": 3}
    assert make_selection_rule("max_information").kind == "criterion"
    assert make_stopping_rule({"rule": "se_target", "se": 0.3}).to_dict() == {
        "rule": "se_target",
        "se": 0.3,
    }
    with pytest.raises(ValueError, match="unknown selection rule"):
        make_selection_rule({"rule": "best"})
    with pytest.raises(ValueError, match="bad settings"):
        make_selection_rule({"rule": "randomesque", "size": 3})
    with pytest.raises(ValueError, match="k must be"):
        make_selection_rule({"rule": "randomesque", "k": 0})
    with pytest.raises(ValueError, match="unknown stopping rule"):
        make_stopping_rule({"rule": "never"})
