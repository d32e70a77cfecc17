"""Pure IRT for the CBT engine: models, ability estimation, reporting scales, adaptive selection.

``scoring`` imports only numpy, scipy and the standard library. Everything public is listed in
``__all__``; see docs/scoring.md for a tour.
"""

from scoring.adaptive import (
    AdaptiveEngine,
    AdaptiveState,
    AdaptiveTestSpec,
    NextStep,
    step_generator,
)
from scoring.estimation import (
    ESTIMATORS,
    AbilityEstimate,
    estimate_ability,
    estimate_eap,
    estimate_map,
    estimate_mle,
    estimate_wle,
    quadrature_grid,
)
from scoring.irt import (
    category_probabilities,
    expected_score,
    item_information,
    log_category_probabilities,
    log_likelihood,
    test_information,
)
from scoring.parameters import MODEL_NAMES, ItemParameters
from scoring.pool import ItemPool
from scoring.posterior import PosteriorEAP
from scoring.reporting import ReportingScale
from scoring.selection import (
    SELECTION_RULES,
    SelectionContext,
    SelectionRule,
    make_selection_rule,
    register_selection_rule,
    select_max_information,
)
from scoring.simulation import (
    AdaptiveSimulation,
    simulate_adaptive_tests,
    simulate_responses,
    sympson_hetter_parameters,
)
from scoring.stopping import (
    STOPPING_RULES,
    StoppingContext,
    StoppingRule,
    Verdict,
    make_stopping_rule,
    register_stopping_rule,
)

__all__ = [
    "ESTIMATORS",
    "MODEL_NAMES",
    "SELECTION_RULES",
    "STOPPING_RULES",
    "AbilityEstimate",
    "AdaptiveEngine",
    "AdaptiveSimulation",
    "AdaptiveState",
    "AdaptiveTestSpec",
    "ItemParameters",
    "ItemPool",
    "NextStep",
    "PosteriorEAP",
    "ReportingScale",
    "SelectionContext",
    "SelectionRule",
    "StoppingContext",
    "StoppingRule",
    "Verdict",
    "category_probabilities",
    "estimate_ability",
    "estimate_eap",
    "estimate_map",
    "estimate_mle",
    "estimate_wle",
    "expected_score",
    "item_information",
    "log_category_probabilities",
    "log_likelihood",
    "make_selection_rule",
    "make_stopping_rule",
    "quadrature_grid",
    "register_selection_rule",
    "register_stopping_rule",
    "select_max_information",
    "simulate_adaptive_tests",
    "simulate_responses",
    "step_generator",
    "sympson_hetter_parameters",
    "test_information",
]
