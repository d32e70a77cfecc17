"""The item's own response processing is the source of truth: check that the scoring rule an
import infers (or that our package metadata carries) gives what the XML's processing gives.

The item model scores with one rule per type; QTI can state far more. Rather than import a
rule that silently disagrees with the XML (a custom rule crediting A or B used to import as
"correct: A"), the import runs the compiled processing and the inferred rule side by side on
probe responses built from the item (every option, the key, the key with one part changed) and
refuses the item where they differ, saying which response scored differently.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from item_bank.processing import ProcessingError, Scorer
from item_bank.types import get_item_type

__all__ = ["Disagreement", "disagreement", "probes", "qti_responses"]

RESPONSE = "RESPONSE"
TOLERANCE = 1e-9


class Disagreement(ProcessingError):
    """The inferred rule and the item's response processing score a response differently."""


def qti_responses(
    item_type: str, response: dict[str, Any], content: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A response in the item model's shape (``{"choice": "B"}``) keyed by QTI identifier.

    ``content`` tells a hottext item that takes one choice (a single-cardinality response in
    QTI, one identifier rather than a list) from one that takes several.
    """
    if item_type in ("single_choice", "partial_credit"):
        return {RESPONSE: response.get("choice")}
    if item_type == "multiple_response":
        return {RESPONSE: list(response.get("choices") or [])}
    if item_type == "hottext":
        chosen = list(response.get("choices") or [])
        if content is not None and content.get("max_choices", 1) == 1:
            return {RESPONSE: chosen[0] if chosen else None}
        return {RESPONSE: chosen}
    if item_type in ("text_entry", "extended_text"):
        return {RESPONSE: response.get("text")}
    if item_type == "numeric":
        return {RESPONSE: response.get("value")}
    if item_type == "ordering":
        return {RESPONSE: list(response.get("order") or [])}
    if item_type == "matching":
        return {RESPONSE: [f"{s} {t}" for s, t in response.get("pairs") or []]}
    if item_type == "inline_choice":
        return dict(response.get("gaps") or {})
    if item_type == "gap_match":
        return {RESPONSE: [f"{word} {gap}" for gap, word in (response.get("gaps") or {}).items()]}
    raise ProcessingError(f"no QTI response shape is known for {item_type!r}")


def _ids(options: list[dict[str, Any]]) -> list[str]:
    return [option["id"] for option in options]


def probes(item_type: str, content: dict[str, Any], scoring: dict[str, Any]) -> Iterator[dict]:
    """Responses that tell scoring rules apart, in the item model's shape."""
    if item_type in ("single_choice", "partial_credit"):
        for option in _ids(content["options"]):
            yield {"choice": option}
    elif item_type in ("multiple_response", "hottext"):
        options = _ids(content["options" if item_type == "multiple_response" else "hottexts"])
        key = list(scoring.get("correct") or [])
        yield {"choices": key}
        for option in options:
            yield {"choices": [option]}
            if option not in key:
                yield {"choices": [*key, option]}
            elif len(key) > 1:
                yield {"choices": [k for k in key if k != option]}
    elif item_type == "ordering":
        key = list(scoring.get("correct") or _ids(content["options"]))
        yield {"order": key}
        for i in range(len(key) - 1):
            swapped = key.copy()
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            yield {"order": swapped}
    elif item_type == "matching":
        key = [list(pair) for pair in scoring.get("correct") or []]
        yield {"pairs": key}
        sources, targets = _ids(content["sources"]), _ids(content["targets"])
        for source, target in itertools.product(sources, targets):
            yield {"pairs": [[source, target]]}
    elif item_type == "inline_choice":
        key = dict(scoring.get("correct") or {})
        yield {"gaps": key}
        for gap in content["gaps"]:
            for option in _ids(gap["options"]):
                yield {"gaps": {**key, gap["id"]: option}}
    elif item_type == "gap_match":
        key = dict(scoring.get("correct") or {})
        yield {"gaps": key}
        for gap in key:
            for word in _ids(content["gap_texts"]):
                yield {"gaps": {**key, gap: word}}
            yield {"gaps": {g: w for g, w in key.items() if g != gap}}
    elif item_type == "text_entry":
        for answer in scoring.get("answers") or []:
            if scoring.get("match") != "regex":
                yield {"text": answer["value"]}
    elif item_type == "numeric" and not scoring.get("units"):  # QTI cannot state units
        value = float(scoring["value"])
        yield {"value": repr(value)}
        yield {"value": repr(value + 1)}


def disagreement(
    scorer: Scorer, item_type: str, content: dict[str, Any], scoring: dict[str, Any]
) -> str | None:
    """A sentence naming the first probe response scored differently, or None if all agree.

    SCORE is compared as the fraction of the item's maximum, since packages state SCORE on
    their own scale (our own exports use 0 to 1 for most types).
    """
    kind = get_item_type(item_type)
    if kind.human_scored or "SCORE" not in scorer.outcomes:
        return None
    maximum = kind.max_score(scoring) or 1.0
    scored = []  # each probe scored once by the XML: (response, as QTI, SCORE)
    for response in probes(item_type, content, scoring):
        try:
            kind.validate_response(content, response)
        except Exception:  # a probe the type itself refuses says nothing about the rule
            continue
        as_qti = qti_responses(item_type, response, content)
        scored.append((response, as_qti, scorer.score_json(as_qti).get("SCORE")))
    qti_maximum = _qti_maximum(scorer, [outcome for _, _, outcome in scored])
    for response, as_qti, outcome in scored:
        ours = kind.score(scoring, response) / maximum
        theirs = 0.0 if outcome is None else float(outcome) / qti_maximum
        if abs(ours - theirs) > TOLERANCE:
            return (
                f"its response processing gives SCORE {outcome} of {qti_maximum:g} for "
                f"{as_qti}, but the imported rule would give {ours * maximum:g} of {maximum:g}"
            )
    return None


def _qti_maximum(scorer: Scorer, outcomes: list[Any]) -> float:
    """The SCORE of full marks: MAXSCORE when declared, else SCORE's normal-maximum, else the
    best SCORE of any probe."""
    declared = scorer.outcomes.get("MAXSCORE")
    if declared is not None and declared.default is not None and float(declared.default.value) > 0:
        return float(declared.default.value)
    normal = scorer.outcomes["SCORE"].extra.get("normal-maximum")
    if normal is not None and float(normal) > 0:
        return float(normal)
    return max([0.0, *(float(o) for o in outcomes if o is not None)]) or 1.0
