"""Calibration for researchers: MML-EM estimation, linking, item fit, DIF, classical analysis.

* :class:`MMLCalibrator` - marginal maximum likelihood (Bock-Aitkin EM, SQUAREM) for Rasch/1PL,
  2PL, 3PL, GRM, GPCM/PCM and mixed formats, on dense, sparse or long-format responses, with
  priors, multiple groups, anchors (fixed-parameter calibration) and standard errors.
* :func:`link` - mean/mean, mean/sigma, Haebara and Stocking-Lord linking; :func:`chain_link`.
* :func:`sx2_item_fit`, :func:`rasch_item_fit`, :func:`observed_expected` - item fit.
* :func:`mantel_haenszel`, :func:`lr_dif` - differential item functioning.
* :func:`classical_item_analysis` - p-values, point-biserials, coefficient alpha.

See docs/calibration.md for a tour.
"""

from scoring.calibration._data import ResponseData, as_response_data
from scoring.calibration.classical import (
    ClassicalItemAnalysis,
    UnscoredChoicesWarning,
    classical_item_analysis,
    unscored_choice_items,
)
from scoring.calibration.dif import LRDif, MantelHaenszelDif, lr_dif, mantel_haenszel
from scoring.calibration.fit import (
    ItemFit,
    ObservedExpected,
    RaschFit,
    free_parameter_counts,
    observed_expected,
    rasch_item_fit,
    sx2_item_fit,
)
from scoring.calibration.linking import (
    LINKING_METHODS,
    LinkingResult,
    chain_link,
    common_item_ids,
    link,
    transform_parameters,
)
from scoring.calibration.mml import (
    CALIBRATION_MODELS,
    ConvergenceWarning,
    MMLCalibrator,
    StandardErrors,
)
from scoring.calibration.priors import BetaPrior, LogNormalPrior, NormalPrior

__all__ = [
    "CALIBRATION_MODELS",
    "LINKING_METHODS",
    "BetaPrior",
    "ClassicalItemAnalysis",
    "ConvergenceWarning",
    "ItemFit",
    "LRDif",
    "LinkingResult",
    "LogNormalPrior",
    "MMLCalibrator",
    "MantelHaenszelDif",
    "NormalPrior",
    "ObservedExpected",
    "RaschFit",
    "ResponseData",
    "StandardErrors",
    "UnscoredChoicesWarning",
    "as_response_data",
    "chain_link",
    "classical_item_analysis",
    "common_item_ids",
    "free_parameter_counts",
    "link",
    "lr_dif",
    "mantel_haenszel",
    "observed_expected",
    "rasch_item_fit",
    "sx2_item_fit",
    "transform_parameters",
    "unscored_choice_items",
]
