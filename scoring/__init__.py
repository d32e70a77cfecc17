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
from scoring.agreement import RaterAgreement, quadratic_weighted_kappa, rater_agreement
from scoring.estimation import (
    DEFAULT_BOUNDS,
    DEFAULT_N_NODES,
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
from scoring.item_analysis import ChoiceAnalysis, analyse_choices
from scoring.lockstep import (
    LockstepPlan,
    LockstepResult,
    LockstepUnsupported,
    plan_lockstep,
    run_lockstep,
)
from scoring.parameters import MODEL_NAMES, ItemParameters, record_categories
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
    simulate_lockstep,
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
    "DEFAULT_BOUNDS",
    "DEFAULT_N_NODES",
    "ESTIMATORS",
    "LINKING_METHODS",
    "MODEL_NAMES",
    "SELECTION_RULES",
    "STOPPING_RULES",
    "AbilityEstimate",
    "AdaptiveEngine",
    "AdaptiveSimulation",
    "AdaptiveState",
    "AdaptiveTestSpec",
    "ChoiceAnalysis",
    "ConvergenceWarning",
    "ItemParameters",
    "ItemPool",
    "LinkingResult",
    "LockstepPlan",
    "LockstepResult",
    "LockstepUnsupported",
    "MMLCalibrator",
    "NextStep",
    "PosteriorEAP",
    "RaterAgreement",
    "ReportingScale",
    "ResponseData",
    "SelectionContext",
    "SelectionRule",
    "StoppingContext",
    "StoppingRule",
    "Verdict",
    "analyse_choices",
    "category_probabilities",
    "chain_link",
    "classical_item_analysis",
    "estimate_ability",
    "estimate_eap",
    "estimate_map",
    "estimate_mle",
    "estimate_wle",
    "expected_score",
    "item_information",
    "link",
    "log_category_probabilities",
    "log_likelihood",
    "lr_dif",
    "make_selection_rule",
    "make_stopping_rule",
    "mantel_haenszel",
    "plan_lockstep",
    "quadratic_weighted_kappa",
    "quadrature_grid",
    "rasch_item_fit",
    "rater_agreement",
    "record_categories",
    "register_selection_rule",
    "register_stopping_rule",
    "run_lockstep",
    "select_max_information",
    "simulate_adaptive_tests",
    "simulate_lockstep",
    "simulate_responses",
    "step_generator",
    "sx2_item_fit",
    "sympson_hetter_parameters",
    "test_information",
    "transform_parameters",
]

# Calibration (scoring.calibration) pulls in scipy.sparse and scipy.optimize; it is imported on
# first use so that ``import scoring`` stays light for the delivery hot path (PEP 562).
_CALIBRATION_EXPORTS = frozenset(
    {
        "LINKING_METHODS",
        "ConvergenceWarning",
        "LinkingResult",
        "MMLCalibrator",
        "ResponseData",
        "chain_link",
        "classical_item_analysis",
        "link",
        "lr_dif",
        "mantel_haenszel",
        "rasch_item_fit",
        "sx2_item_fit",
        "transform_parameters",
    }
)


def __getattr__(name: str):
    if name in _CALIBRATION_EXPORTS:
        from scoring import calibration

        return getattr(calibration, name)
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")
