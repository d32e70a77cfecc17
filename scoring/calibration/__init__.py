"""Calibration: marginal maximum likelihood, linking, item fit, DIF and classical statistics."""

from scoring.calibration._data import ResponseData, as_response_data
from scoring.calibration.mml import (
    CALIBRATION_MODELS,
    ConvergenceWarning,
    MMLCalibrator,
    StandardErrors,
)
from scoring.calibration.priors import BetaPrior, LogNormalPrior, NormalPrior

__all__ = [
    "CALIBRATION_MODELS",
    "BetaPrior",
    "ConvergenceWarning",
    "LogNormalPrior",
    "MMLCalibrator",
    "NormalPrior",
    "ResponseData",
    "StandardErrors",
    "as_response_data",
]
