"""Stopping rules for adaptive tests, and the registry that names them.

Each rule looks at the test so far and returns a :class:`Verdict`:

* ``STOP`` - this rule would end the test now;
* ``HOLD`` - the test must go on (for example, the minimum length is not reached);
* ``CONTINUE`` - no opinion.

The test stops when no rule says ``HOLD`` and at least one says ``STOP`` (``max_length`` wins
over every ``HOLD``), or when no eligible item is left. Configuration names rules through
:data:`STOPPING_RULES` as mappings such as ``{"rule": "se_target", "se": 0.3}``.

References
----------
Wald, A. (1947). *Sequential analysis*. Wiley.

Eggen, T. J. H. M. (1999). Item selection in adaptive testing with the sequential probability
ratio test. *Applied Psychological Measurement*, 23(3), 249-261.

Spray, J. A., & Reckase, M. D. (1996). Comparison of SPRT and sequential Bayes procedures for
classifying examinees into two categories using a computerized test. *Journal of Educational and
Behavioral Statistics*, 21(4), 405-414.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from scoring.irt import _subset_information, _subset_log_likelihood
from scoring.parameters import ItemParameters
from scoring.registry import Registry

__all__ = [
    "STOPPING_RULES",
    "ConfidenceClassification",
    "InformationTarget",
    "MaxLength",
    "MinLength",
    "SETarget",
    "SequentialProbabilityRatio",
    "StoppingContext",
    "StoppingRule",
    "Verdict",
    "make_stopping_rule",
    "register_stopping_rule",
]


class Verdict(enum.Enum):
    """What a stopping rule says about the test so far."""

    CONTINUE = "continue"
    STOP = "stop"
    HOLD = "hold"


@dataclass(frozen=True, eq=False)
class StoppingContext:
    """The test so far, as stopping rules see it.

    Attributes
    ----------
    params : ItemParameters
    administered : ndarray of int
        Items administered, in order.
    scores : ndarray of int
        Their scores.
    theta, se : float
        Current ability estimate and standard error.
    """

    params: ItemParameters
    administered: np.ndarray
    scores: np.ndarray
    theta: float
    se: float

    @property
    def n_administered(self) -> int:
        return int(self.administered.shape[0])

    def log_likelihood(self, theta: Any) -> Any:
        """Log-likelihood of the responses so far at ``theta`` (a float, or an array of them)."""
        points = np.atleast_1d(np.asarray(theta, dtype=float))
        if self.n_administered == 0:
            out = np.zeros(points.shape[0])
        else:
            out = _subset_log_likelihood(self.params, self.administered, self.scores, points)
        return float(out[0]) if np.ndim(theta) == 0 else out

    def information(self, theta: float) -> float:
        """Test information of the administered items at ``theta``."""
        if self.n_administered == 0:
            return 0.0
        return float(_subset_information(self.params, self.administered, theta).sum())


class StoppingRule:
    """Base class: subclasses set ``name`` and implement ``check(ctx) -> Verdict``."""

    name: ClassVar[str] = ""

    def check(self, ctx: StoppingContext) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The keyword settings of this rule (JSON-ready)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.name, **self.settings()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


#: Name -> stopping rule class. Configuration refers to rules by these names.
STOPPING_RULES: Registry[type[StoppingRule]] = Registry(
    "stopping rule", name_of=lambda cls: cls.name
)
#: Class decorator adding a rule to :data:`STOPPING_RULES` under ``cls.name``.
register_stopping_rule = STOPPING_RULES.register


def make_stopping_rule(config: str | Mapping[str, Any] | StoppingRule) -> StoppingRule:
    """Build a rule from its name or a mapping ``{"rule": name, **settings}`` (or an instance)."""
    if isinstance(config, StoppingRule):
        return config
    return STOPPING_RULES.build(config)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out


@register_stopping_rule
class MaxLength(StoppingRule):
    """Stop after ``n`` items (overrides every HOLD)."""

    name = "max_length"

    def __init__(self, n: int) -> None:
        self.n = _count(n, "n")

    def settings(self) -> dict[str, Any]:
        return {"n": self.n}

    def check(self, ctx: StoppingContext) -> Verdict:
        return Verdict.STOP if ctx.n_administered >= self.n else Verdict.CONTINUE


@register_stopping_rule
class MinLength(StoppingRule):
    """Hold the test open until ``n`` items have been administered."""

    name = "min_length"

    def __init__(self, n: int) -> None:
        self.n = _count(n, "n")

    def settings(self) -> dict[str, Any]:
        return {"n": self.n}

    def check(self, ctx: StoppingContext) -> Verdict:
        return Verdict.HOLD if ctx.n_administered < self.n else Verdict.CONTINUE


@register_stopping_rule
class SETarget(StoppingRule):
    """Stop once the standard error of theta is at most ``se``."""

    name = "se_target"

    def __init__(self, se: float) -> None:
        self.se = _positive(se, "se")

    def settings(self) -> dict[str, Any]:
        return {"se": self.se}

    def check(self, ctx: StoppingContext) -> Verdict:
        return Verdict.STOP if ctx.se <= self.se else Verdict.CONTINUE


@register_stopping_rule
class InformationTarget(StoppingRule):
    """Stop once the test information at the current theta reaches ``information``."""

    name = "information_target"

    def __init__(self, information: float) -> None:
        self.information = _positive(information, "information")

    def settings(self) -> dict[str, Any]:
        return {"information": self.information}

    def check(self, ctx: StoppingContext) -> Verdict:
        reached = ctx.information(ctx.theta) >= self.information
        return Verdict.STOP if reached else Verdict.CONTINUE


@register_stopping_rule
class SequentialProbabilityRatio(StoppingRule):
    """Classification against a cut score by Wald's SPRT (Eggen, 1999; Spray & Reckase, 1996).

    Tests ``H0: theta = cut - delta`` against ``H1: theta = cut + delta`` with
    ``log LR = log L(cut + delta) - log L(cut - delta)``; stops when
    ``log LR >= log((1 - beta) / alpha)`` (above the cut) or ``log LR <= log(beta / (1 - alpha))``
    (below the cut).

    Parameters
    ----------
    cut : float
        Cut score on the theta scale.
    delta : float, default 0.2
        Half-width of the indifference region.
    alpha, beta : float, default 0.05
        Nominal error rates.
    """

    name = "sprt"

    def __init__(
        self, cut: float, delta: float = 0.2, alpha: float = 0.05, beta: float = 0.05
    ) -> None:
        self.cut = float(cut)
        if not math.isfinite(self.cut):
            raise ValueError("cut must be finite")
        self.delta = _positive(delta, "delta")
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0 < value < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5), got {value!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.upper = math.log((1 - self.beta) / self.alpha)
        self.lower = math.log(self.beta / (1 - self.alpha))

    def settings(self) -> dict[str, Any]:
        return {"cut": self.cut, "delta": self.delta, "alpha": self.alpha, "beta": self.beta}

    def log_ratio(self, ctx: StoppingContext) -> float:
        """``log L(cut + delta) - log L(cut - delta)``."""
        upper, lower = ctx.log_likelihood(np.array([self.cut + self.delta, self.cut - self.delta]))
        return float(upper - lower)

    def classify(self, ctx: StoppingContext) -> str | None:
        """``"above"``, ``"below"`` or ``None`` (undecided)."""
        ratio = self.log_ratio(ctx)
        if ratio >= self.upper:
            return "above"
        if ratio <= self.lower:
            return "below"
        return None

    def check(self, ctx: StoppingContext) -> Verdict:
        if ctx.n_administered == 0:
            return Verdict.CONTINUE
        return Verdict.CONTINUE if self.classify(ctx) is None else Verdict.STOP


@register_stopping_rule
class ConfidenceClassification(StoppingRule):
    """Classification by confidence interval: stop once ``theta ± z * se`` excludes the cut.

    Parameters
    ----------
    cut : float
        Cut score on the theta scale.
    z : float, default 1.96
    """

    name = "ci_classification"

    def __init__(self, cut: float, z: float = 1.96) -> None:
        self.cut = float(cut)
        if not math.isfinite(self.cut):
            raise ValueError("cut must be finite")
        self.z = _positive(z, "z")

    def settings(self) -> dict[str, Any]:
        return {"cut": self.cut, "z": self.z}

    def check(self, ctx: StoppingContext) -> Verdict:
        if ctx.n_administered == 0:
            return Verdict.CONTINUE
        half = self.z * ctx.se
        decided = ctx.theta - half > self.cut or ctx.theta + half < self.cut
        return Verdict.STOP if decided else Verdict.CONTINUE


def combine_verdicts(verdicts: list[tuple[StoppingRule, Verdict]]) -> tuple[bool, str | None]:
    """Combine rule verdicts: ``(stop, name of the deciding rule)``.

    ``max_length`` stops regardless; otherwise any HOLD keeps the test going and any STOP ends it.
    """
    for rule, verdict in verdicts:
        if isinstance(rule, MaxLength) and verdict is Verdict.STOP:
            return True, rule.name
    if any(v is Verdict.HOLD for _, v in verdicts):
        return False, None
    for rule, verdict in verdicts:
        if verdict is Verdict.STOP:
            return True, rule.name
    return False, None
