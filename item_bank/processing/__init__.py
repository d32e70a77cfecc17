"""Response processing: a QTI 3.0 (or 2.x) item's declarations and rules, compiled once into a
scorer that turns the student's responses into outcome variables.

    scorer = compile_item(item_element)
    scorer.score_json({"RESPONSE": "ChoiceA"})  # {"SCORE": 1.0, "MAXSCORE": 1.0}

Compilation reads every element once and refuses an operator it does not implement
(:class:`UnsupportedOperator`, naming it); nothing is approximated. The hot path only calls
closures. The standard templates (match_correct, map_response, map_response_point) compile to
the rules they stand for.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from item_bank.processing.declarations import Declaration, attr, children, kind, read_declarations
from item_bank.processing.expressions import EXPRESSIONS, Context, UnsupportedOperator
from item_bank.processing.rules import RULES, ExitResponse, Rule, compile_rules, template_rules
from item_bank.processing.values import ProcessingError, Value, from_json, to_json

__all__ = [
    "OPERATORS",
    "ProcessingError",
    "Scorer",
    "UnsupportedOperator",
    "Value",
    "compile_item",
    "compile_item_xml",
]

OPERATORS = frozenset(EXPRESSIONS) | frozenset(RULES)
# Items without random operators never touch it; those with them get a reproducible stream.
_RNG = random.Random(0)


class Scorer:
    """One item's compiled response processing."""

    __slots__ = ("_initial", "declarations", "identifier", "outcomes", "responses", "rules")

    def __init__(
        self, identifier: str, declarations: dict[str, Declaration], rules: tuple[Rule, ...]
    ) -> None:
        self.identifier = identifier
        self.declarations = declarations
        self.rules = rules
        self.responses = {
            k: d for k, d in declarations.items() if d.kind == "response" and k != "numAttempts"
        }
        self.outcomes = {
            k: d
            for k, d in declarations.items()
            if d.kind == "outcome" and k not in ("duration", "completionStatus")
        }
        # Values before processing, computed once: the hot path copies this dict.
        self._initial: dict[str, Value | None] = {
            k: d.initial() for k, d in declarations.items() if d.kind != "response"
        }
        self._initial["numAttempts"] = Value("single", "integer", 1)

    def score(
        self, responses: dict[str, Value | None], rng: random.Random | None = None
    ) -> dict[str, Value | None]:
        """Outcome variables after processing ``responses`` (missing responses are NULL)."""
        values = self._initial.copy()
        for identifier in self.responses:
            values[identifier] = responses.get(identifier)
        ctx = Context(values, self.declarations, rng or _RNG)
        try:
            for rule in self.rules:
                rule(ctx)
        except ExitResponse:
            pass
        return {k: values.get(k) for k in self.outcomes}

    def parse(self, raw: dict[str, Any]) -> dict[str, Value | None]:
        """Responses keyed by identifier, from JSON; unknown identifiers are refused."""
        if not isinstance(raw, dict):
            raise ProcessingError("responses must be an object keyed by response identifier")
        declared = self.responses
        unknown = sorted(set(raw) - set(declared))
        if unknown:
            raise ProcessingError(
                f"item {self.identifier}: no response is declared as {', '.join(unknown)}"
            )
        parsed = {}
        for identifier, value in raw.items():
            declaration = declared[identifier]
            try:
                parsed[identifier] = from_json(
                    value, declaration.cardinality, declaration.base_type
                )
            except ProcessingError as error:
                raise ProcessingError(f"{identifier}: {error}") from None
        return parsed

    def score_json(self, raw: dict[str, Any], rng: random.Random | None = None) -> dict[str, Any]:
        """``{"RESPONSE": "ChoiceA"}`` in, ``{"SCORE": 1.0, ...}`` out."""
        return {k: to_json(v) for k, v in self.score(self.parse(raw), rng).items()}


def _processing(item: Any) -> Any | None:
    found = children(item, "response-processing")
    return found[0] if found else None


def compile_item(item: Any) -> Scorer:
    """Compile a ``qti-assessment-item`` (or 2.x ``assessmentItem``) element.

    Raises :class:`UnsupportedOperator` for an operator the engine does not run and
    :class:`ProcessingError` for a malformed declaration or rule; both name the item.
    """
    identifier = attr(item, "identifier") or "(no identifier)"
    if kind(item) != "assessment-item":
        raise ProcessingError(f"{identifier}: not an assessment item")
    try:
        declarations = read_declarations(item)
        processing = _processing(item)
        if processing is None:
            elements: list[Any] = []
        elif children(processing):
            elements = children(processing)
        elif attr(processing, "template") or attr(processing, "template-location"):
            elements = template_rules(
                attr(processing, "template") or attr(processing, "template-location") or ""
            )
        else:
            elements = []
        rules = tuple(compile_rules(elements, declarations))
    except UnsupportedOperator as error:
        error.args = (f"item {identifier}: {error.args[0]}",)
        raise
    except ProcessingError as error:
        raise ProcessingError(f"item {identifier}: {error}") from None
    except ValueError as error:  # a wrong number of operands unpacks as a ValueError
        raise ProcessingError(
            f"item {identifier}: an operator has the wrong operands ({error})"
        ) from None
    return Scorer(identifier=identifier, declarations=declarations, rules=rules)


@lru_cache(maxsize=4096)
def compile_item_xml(xml: bytes) -> Scorer:
    """Compile an item from its XML text, once per distinct text (the delivery hot path)."""
    from item_bank.qti.safety import parse_xml

    return compile_item(parse_xml(xml, "item"))
