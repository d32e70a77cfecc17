"""QTI 3.0 response rules compiled to closures, and the standard templates as the same rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from item_bank.processing.declarations import Declaration, attr, children, kind
from item_bank.processing.expressions import (
    Context,
    Expression,
    UnsupportedOperator,
    compile_expression,
)
from item_bank.processing.values import NUMERIC, ProcessingError, Value

__all__ = ["TEMPLATES", "Rule", "compile_rules", "template_rules"]

Rule = Callable[[Context], None]


class ExitResponse(Exception):
    """``exit-response``: processing stops; outcomes keep the values set so far."""


_QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"

# The standard templates, written as the rules they stand for, so one compiler runs them.
_RESPONSE = '<qti-variable identifier="RESPONSE"/>'


def _score(expression: str) -> str:
    return f'<qti-set-outcome-value identifier="SCORE">{expression}</qti-set-outcome-value>'


def _if_else(test: str, then: str, otherwise: str) -> str:
    return (
        f"<qti-response-condition><qti-response-if>{test}{then}</qti-response-if>"
        f"<qti-response-else>{otherwise}</qti-response-else></qti-response-condition>"
    )


_ONE = _score('<qti-base-value base-type="float">1</qti-base-value>')
_ZERO = _score('<qti-base-value base-type="float">0</qti-base-value>')
_NULL = f"<qti-is-null>{_RESPONSE}</qti-is-null>"
TEMPLATES = {
    "match_correct": _if_else(
        f'<qti-match>{_RESPONSE}<qti-correct identifier="RESPONSE"/></qti-match>', _ONE, _ZERO
    ),
    "map_response": _if_else(_NULL, _ZERO, _score('<qti-map-response identifier="RESPONSE"/>')),
    "map_response_point": _if_else(
        _NULL, _ZERO, _score('<qti-map-response-point identifier="RESPONSE"/>')
    ),
}


def template_name(uri: str) -> str:
    """The template a URI names: its last path segment, without ``.xml``, lower case."""
    return uri.strip().rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml").lower()


def template_rules(uri: str) -> list[Any]:
    name = template_name(uri)
    if name not in TEMPLATES:
        raise UnsupportedOperator(f"response-processing template {uri}")
    wrapper = etree.fromstring(
        f'<qti-response-processing xmlns="{_QTI3}">{TEMPLATES[name]}</qti-response-processing>'
    )
    return children(wrapper)


def _coerce(declaration: Declaration, value: Value | None) -> Value | None:
    if value is None or declaration.cardinality != "single" or value.cardinality != "single":
        return value
    if declaration.base_type == "float" and value.base_type in NUMERIC:
        return Value("single", "float", float(value.value))
    whole = value.base_type == "float" and float(value.value).is_integer()
    if declaration.base_type == "integer" and whole:
        return Value("single", "integer", int(value.value))
    return value


def _set_outcome(element: Any, declarations: dict[str, Declaration]) -> Rule:
    identifier = attr(element, "identifier")
    if identifier not in declarations:
        raise ProcessingError(f"set-outcome-value names the undeclared variable {identifier!r}")
    declaration = declarations[identifier]
    (expression,) = [compile_expression(c, declarations) for c in children(element)]

    def run(ctx: Context) -> None:
        ctx.values[identifier] = _coerce(declaration, expression(ctx))

    return run


def _lookup_outcome(element: Any, declarations: dict[str, Declaration]) -> Rule:
    identifier = attr(element, "identifier")
    if identifier not in declarations:
        raise ProcessingError(f"lookup-outcome-value names the undeclared variable {identifier!r}")
    declaration = declarations[identifier]
    (expression,) = [compile_expression(c, declarations) for c in children(element)]
    base_type = declaration.base_type or "float"
    if declaration.match_table is not None:
        table, default = declaration.match_table

        def find(x: Any) -> Any:
            return table.get(int(x), default) if float(x).is_integer() else default
    elif declaration.interpolation is not None:
        rows, default = declaration.interpolation

        def find(x: Any) -> Any:
            for source, include, target in rows:
                if x > source or (include and x == source):
                    return target
            return default
    else:
        raise ProcessingError(f"lookup-outcome-value: {identifier!r} declares no lookup table")

    def run(ctx: Context) -> None:
        value = expression(ctx)
        if value is None:
            ctx.values[identifier] = None
            return
        found = find(value.value)
        ctx.values[identifier] = None if found is None else Value("single", base_type, found)

    return run


def _condition(element: Any, declarations: dict[str, Declaration]) -> Rule:
    branches: list[tuple[Expression | None, list[Rule]]] = []
    for branch in children(element):
        name = kind(branch)
        if name not in ("response-if", "response-else-if", "response-else"):
            raise UnsupportedOperator(name)
        parts = children(branch)
        if name == "response-else":
            branches.append((None, compile_rules(parts, declarations)))
        else:
            if not parts:
                raise ProcessingError(f"{name} has no condition")
            test = compile_expression(parts[0], declarations)
            branches.append((test, compile_rules(parts[1:], declarations)))

    def run(ctx: Context) -> None:
        for test, rules in branches:
            if test is not None:
                value = test(ctx)
                if value is None or not value.value:
                    continue
            for rule in rules:
                rule(ctx)
            return

    return run


def _exit(element: Any, declarations: dict[str, Declaration]) -> Rule:
    def run(ctx: Context) -> None:
        raise ExitResponse

    return run


def _fragment(element: Any, declarations: dict[str, Declaration]) -> Rule:
    rules = compile_rules(children(element), declarations)

    def run(ctx: Context) -> None:
        for rule in rules:
            rule(ctx)

    return run


RULES = {
    "set-outcome-value": _set_outcome,
    "lookup-outcome-value": _lookup_outcome,
    "response-condition": _condition,
    "exit-response": _exit,
    "response-processing-fragment": _fragment,
}


def compile_rules(elements: list[Any], declarations: dict[str, Declaration]) -> list[Rule]:
    rules = []
    for element in elements:
        name = kind(element)
        if name not in RULES:
            raise UnsupportedOperator(name)
        rules.append(RULES[name](element, declarations))
    return rules
