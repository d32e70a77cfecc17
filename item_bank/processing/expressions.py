"""QTI 3.0 expressions compiled to Python closures.

Each builder reads one element once, at compile time, and returns ``f(ctx) -> Value | None``;
scoring a response only calls closures. NULL (``None``) propagates as the specification says:
most operators are NULL when an operand is NULL; ``is-null``, ``container-size``, ``and``,
``or``, ``any-n`` and the container builders have their own rules.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from typing import Any

from item_bank.processing.declarations import Declaration, attr, children, kind
from item_bank.processing.values import NUMERIC, ProcessingError, Value, parse_base

__all__ = ["EXPRESSIONS", "Context", "Expression", "UnsupportedOperator", "compile_expression"]


class UnsupportedOperator(ProcessingError):
    """An operator this engine does not implement: refused at import, never approximated."""

    def __init__(self, operator: str):
        super().__init__(f"the response-processing operator {operator!r} is not supported")
        self.operator = operator


class Context:
    """The variables of one attempt while its response processing runs."""

    __slots__ = ("declarations", "rng", "values")

    def __init__(self, values: dict[str, Value | None], declarations, rng) -> None:
        self.values = values
        self.declarations = declarations
        self.rng = rng


Expression = Callable[[Context], Value | None]
Builder = Callable[[Any, dict[str, Declaration]], Expression]
EXPRESSIONS: dict[str, Builder] = {}


def _op(*names: str):
    def register(builder: Builder) -> Builder:
        for name in names:
            EXPRESSIONS[name] = builder
        return builder

    return register


def compile_expression(element: Any, declarations: dict[str, Declaration]) -> Expression:
    name = kind(element)
    builder = EXPRESSIONS.get(name)
    if builder is None:
        raise UnsupportedOperator(name)
    return builder(element, declarations)


def _args(element: Any, declarations: dict[str, Declaration]) -> list[Expression]:
    return [compile_expression(child, declarations) for child in children(element)]


def _declared(declarations: dict[str, Declaration], identifier: str | None) -> Declaration:
    if not identifier or identifier not in declarations:
        raise ProcessingError(f"the variable {identifier!r} is not declared")
    return declarations[identifier]


def _single(base_type: str, value: Any) -> Value:
    return Value("single", base_type, value)


def _bool(value: bool) -> Value:
    return Value("single", "boolean", value)


def _number_type(values: list[Value]) -> str:
    return "integer" if all(v.base_type == "integer" for v in values) else "float"


def _numbers(values: list[Value | None]) -> list[Value] | None:
    """Operands as numeric singles; None when any is NULL."""
    if any(v is None for v in values):
        return None
    for v in values:
        if v.cardinality != "single" or v.base_type not in NUMERIC:
            raise ProcessingError(f"a numeric operand was a {v.cardinality} {v.base_type}")
    return values  # type: ignore[return-value]


def _finite(base_type: str, number: float) -> Value | None:
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return _single(base_type, number)


def _reference(element: Any, name: str, parse: Callable[[str], Any]):
    """An attribute that may hold a literal or ``{variable}``: returns f(ctx) -> value."""
    text = attr(element, name)
    if text is None:
        return None
    if text.startswith("{") and text.endswith("}"):
        identifier = text[1:-1]

        def variable(ctx: Context) -> Any:
            found = ctx.values.get(identifier)
            return None if found is None else found.value

        return variable
    literal = parse(text)
    return lambda ctx: literal


# ----------------------------------------------------------------- variables and constants


@_op("base-value")
def _base_value(element, declarations):
    base_type = attr(element, "base-type") or "string"
    value = _single(base_type, parse_base(element.text or "", base_type))
    return lambda ctx: value


@_op("null")
def _null(element, declarations):
    return lambda ctx: None


@_op("variable")
def _variable(element, declarations):
    identifier = attr(element, "identifier")
    _declared(declarations, identifier)
    return lambda ctx: ctx.values.get(identifier)


@_op("correct")
def _correct(element, declarations):
    value = _declared(declarations, attr(element, "identifier")).correct
    return lambda ctx: value


@_op("default")
def _default(element, declarations):
    value = _declared(declarations, attr(element, "identifier")).default
    return lambda ctx: value


@_op("math-constant")
def _math_constant(element, declarations):
    name = attr(element, "name")
    constants = {"pi": math.pi, "e": math.e}
    if name not in constants:
        raise ProcessingError(f"unknown math constant {name!r}")
    value = _single("float", constants[name])
    return lambda ctx: value


@_op("random-integer")
def _random_integer(element, declarations):
    low = _reference(element, "min", int) or (lambda ctx: 0)
    high = _reference(element, "max", int)
    step = _reference(element, "step", int) or (lambda ctx: 1)
    if high is None:
        raise ProcessingError("random-integer needs max")
    return lambda ctx: _single("integer", ctx.rng.randrange(low(ctx), high(ctx) + 1, step(ctx)))


@_op("random-float")
def _random_float(element, declarations):
    low = _reference(element, "min", float) or (lambda ctx: 0.0)
    high = _reference(element, "max", float)
    if high is None:
        raise ProcessingError("random-float needs max")
    return lambda ctx: _single("float", ctx.rng.uniform(low(ctx), high(ctx)))


# ----------------------------------------------------------------------------- mappings


@_op("map-response")
def _map_response(element, declarations):
    declaration = _declared(declarations, attr(element, "identifier"))
    mapping = declaration.mapping
    identifier = declaration.identifier
    if mapping is None:
        # No mapping declared: the result is 0, as the specification's processors return.
        return lambda ctx: _single("float", 0.0)
    if declaration.cardinality == "record":
        raise ProcessingError(f"map-response cannot map the record {identifier!r}")

    def mapped(ctx: Context) -> Value:
        response = ctx.values.get(identifier)
        if response is None:
            return _single("float", mapping.clamp(mapping.default))
        total = 0.0
        for member in dict.fromkeys(response.singles()):  # each value counts once
            found = mapping.lookup(member)
            total += mapping.default if found is None else found
        return _single("float", mapping.clamp(total))

    return mapped


def inside(shape: str, coords: tuple[float, ...], point: tuple[int, int]) -> bool:
    """Whether a point lies in a QTI area (rect, circle, ellipse, poly, default)."""
    x, y = point
    if shape == "default":
        return True
    if shape == "rect" and len(coords) >= 4:
        left, top, right, bottom = coords[:4]
        return left <= x <= right and top <= y <= bottom
    if shape == "circle" and len(coords) >= 3:
        cx, cy, r = coords[:3]
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if shape == "ellipse" and len(coords) >= 4:
        cx, cy, rx, ry = coords[:4]
        return rx > 0 and ry > 0 and ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
    if shape == "poly" and len(coords) >= 6:
        xs, ys = coords[0::2], coords[1::2]
        result = False
        j = len(xs) - 1
        for i in range(len(xs)):  # even-odd rule
            crosses = (ys[i] > y) != (ys[j] > y)
            if crosses and x < (xs[j] - xs[i]) * (y - ys[i]) / (ys[j] - ys[i]) + xs[i]:
                result = not result
            j = i
        return result
    raise ProcessingError(f"the area shape {shape!r} with coordinates {coords} is not valid")


@_op("map-response-point")
def _map_response_point(element, declarations):
    declaration = _declared(declarations, attr(element, "identifier"))
    if declaration.base_type != "point":
        raise ProcessingError("map-response-point needs a response of base type point")
    identifier = declaration.identifier
    areas = declaration.areas
    default = declaration.area_default
    lower, upper = declaration.area_bounds

    def mapped(ctx: Context) -> Value:
        response = ctx.values.get(identifier)
        total = 0.0
        if response is None:
            total = default
        else:
            counted: set[int] = set()
            for point in response.singles():
                hits = [i for i, a in enumerate(areas) if inside(a.shape, a.coords, point)]
                if not hits:
                    total += default
                # The first area a point falls in takes it; each area counts once.
                elif hits[0] not in counted:
                    counted.add(hits[0])
                    total += areas[hits[0]].points
        if lower is not None:
            total = max(total, lower)
        if upper is not None:
            total = min(total, upper)
        return _single("float", total)

    return mapped


@_op("inside")
def _inside(element, declarations):
    (operand,) = _args(element, declarations)
    shape = attr(element, "shape", "default") or "default"
    text = attr(element, "coords", "") or ""
    try:
        coords = tuple(float(p) for p in text.replace(",", " ").split())
    except ValueError:
        raise ProcessingError(f"inside has coordinates {text!r} that are not numbers") from None
    inside(shape, coords, (0, 0))  # validates the shape now, not during a sitting

    def run(ctx: Context) -> Value | None:
        value = operand(ctx)
        if value is None:
            return None
        return _bool(any(inside(shape, coords, point) for point in value.singles()))

    return run


# --------------------------------------------------------------------------- comparison


def _both(element, declarations, combine: Callable[[Value, Value], Value | None]) -> Expression:
    """A two-operand expression that is NULL when either operand is."""
    a, b = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        left, right = a(ctx), b(ctx)
        if left is None or right is None:
            return None
        return combine(left, right)

    return run


@_op("match")
def _match(element, declarations):
    return _both(element, declarations, lambda left, right: _bool(left.same(right)))


@_op("member")
def _member(element, declarations):
    return _both(element, declarations, lambda value, c: _bool(value.value in c.singles()))


def _holds(outer: Value, inner: Value) -> Value:
    if outer.cardinality == "ordered":
        whole, part = outer.singles(), inner.singles()
        n = len(part)
        return _bool(any(whole[i : i + n] == part for i in range(len(whole) - n + 1)))
    have, need = Counter(outer.singles()), Counter(inner.singles())
    return _bool(all(have[k] >= n for k, n in need.items()))


@_op("contains")
def _contains(element, declarations):
    return _both(element, declarations, _holds)


def _comparison(compare: Callable[[float, float], bool]) -> Builder:
    def builder(element, declarations):
        a, b = _args(element, declarations)

        def run(ctx: Context) -> Value | None:
            values = _numbers([a(ctx), b(ctx)])
            return None if values is None else _bool(compare(values[0].value, values[1].value))

        return run

    return builder


EXPRESSIONS["lt"] = _comparison(lambda x, y: x < y)
EXPRESSIONS["gt"] = _comparison(lambda x, y: x > y)
EXPRESSIONS["lte"] = _comparison(lambda x, y: x <= y)
EXPRESSIONS["gte"] = _comparison(lambda x, y: x >= y)
EXPRESSIONS["duration-lt"] = EXPRESSIONS["lt"]
EXPRESSIONS["duration-gte"] = EXPRESSIONS["gte"]


@_op("equal")
def _equal(element, declarations):
    a, b = _args(element, declarations)
    mode = attr(element, "tolerance-mode", "exact")
    if mode not in ("exact", "absolute", "relative"):
        raise ProcessingError(f"equal has an unknown tolerance-mode {mode!r}")
    text = attr(element, "tolerance") or ""
    parts = text.split()
    if mode != "exact" and not 1 <= len(parts) <= 2:
        raise ProcessingError("equal with a tolerance needs one or two tolerance values")
    tolerances = [_tolerance(part) for part in parts]
    if len(tolerances) == 1:
        tolerances.append(tolerances[0])
    include_lower = attr(element, "include-lower-bound", "true") != "false"
    include_upper = attr(element, "include-upper-bound", "true") != "false"

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        if values is None:
            return None
        x, y = values[0].value, values[1].value
        if mode == "exact":
            return _bool(x == y)
        t0, t1 = (t(ctx) for t in tolerances)
        if t0 is None or t1 is None:
            return None
        if mode == "absolute":
            low, high = x - t0, x + t1
        else:
            low, high = x * (1 - t0 / 100), x * (1 + t1 / 100)
        above = y >= low if include_lower else y > low
        below = y <= high if include_upper else y < high
        return _bool(above and below)

    return run


def _tolerance(text: str) -> Callable[[Context], float | None]:
    if text.startswith("{") and text.endswith("}"):
        identifier = text[1:-1]

        def variable(ctx: Context) -> float | None:
            found = ctx.values.get(identifier)
            return None if found is None else float(found.value)

        return variable
    try:
        value = float(text)
    except ValueError:
        raise ProcessingError(f"equal has a tolerance {text!r} that is not a number") from None
    return lambda ctx: value


def _round_to(x: float, mode: str, figures: int) -> Decimal:
    number = Decimal(repr(x))
    if mode == "decimalPlaces":
        return number.quantize(Decimal(1).scaleb(-figures), rounding=ROUND_HALF_UP)
    if number == 0:
        return number
    exponent = number.adjusted() - figures + 1
    return number.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


@_op("equal-rounded")
def _equal_rounded(element, declarations):
    a, b = _args(element, declarations)
    mode = attr(element, "rounding-mode", "significantFigures")
    if mode not in ("significantFigures", "decimalPlaces"):
        raise ProcessingError(f"equal-rounded has an unknown rounding-mode {mode!r}")
    figures = _reference(element, "figures", int)
    if figures is None:
        raise ProcessingError("equal-rounded needs figures")

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        n = figures(ctx)
        if values is None or n is None:
            return None
        x, y = (_round_to(v.value, mode, n) for v in values)
        return _bool(x == y)

    return run


@_op("string-match", "substring")
def _string_match(element, declarations):
    sensitive = attr(element, "case-sensitive", "true") != "false"
    # substring: the first operand is a part of the second; string-match says so by attribute.
    substring = kind(element) == "substring" or attr(element, "substring", "false") == "true"

    def compare(left: Value, right: Value) -> Value:
        x, y = str(left.value), str(right.value)
        if not sensitive:
            x, y = x.casefold(), y.casefold()
        return _bool(x in y if substring else x == y)

    return _both(element, declarations, compare)


_XSD_ESCAPES = {r"\i": r"[_:A-Za-z]", r"\I": r"[^_:A-Za-z]", r"\c": r"[-._:A-Za-z0-9]"}


def xsd_regex(pattern: str) -> re.Pattern[str]:
    """An XML Schema regular expression (implicitly anchored) as a Python pattern."""
    for escape, replacement in _XSD_ESCAPES.items():
        pattern = pattern.replace(escape, replacement)
    if re.search(r"\\[pP]\{", pattern):
        raise UnsupportedOperator("pattern-match with a Unicode category escape")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ProcessingError(
            f"pattern-match has an invalid pattern {pattern!r}: {error}"
        ) from None


@_op("pattern-match")
def _pattern_match(element, declarations):
    (operand,) = _args(element, declarations)
    text = attr(element, "pattern") or ""
    if text.startswith("{") and text.endswith("}"):
        identifier = text[1:-1]

        def pattern(ctx: Context) -> re.Pattern[str] | None:
            found = ctx.values.get(identifier)
            return None if found is None else xsd_regex(str(found.value))
    else:
        compiled = xsd_regex(text)

        def pattern(ctx: Context) -> re.Pattern[str] | None:
            return compiled

    def run(ctx: Context) -> Value | None:
        value, regex = operand(ctx), pattern(ctx)
        if value is None or regex is None:
            return None
        return _bool(regex.fullmatch(str(value.value)) is not None)

    return run


# ------------------------------------------------------------------------------- logic


@_op("is-null")
def _is_null(element, declarations):
    (operand,) = _args(element, declarations)
    return lambda ctx: _bool(operand(ctx) is None)


@_op("not")
def _not(element, declarations):
    (operand,) = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        value = operand(ctx)
        return None if value is None else _bool(not value.value)

    return run


@_op("and")
def _and(element, declarations):
    operands = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        null = False
        for operand in operands:
            value = operand(ctx)
            if value is None:
                null = True
            elif not value.value:
                return _bool(False)
        return None if null else _bool(True)

    return run


@_op("or")
def _or(element, declarations):
    operands = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        null = False
        for operand in operands:
            value = operand(ctx)
            if value is None:
                null = True
            elif value.value:
                return _bool(True)
        return None if null else _bool(False)

    return run


@_op("any-n")
def _any_n(element, declarations):
    operands = _args(element, declarations)
    low = _reference(element, "min", int)
    high = _reference(element, "max", int)
    if low is None or high is None:
        raise ProcessingError("any-n needs min and max")

    def run(ctx: Context) -> Value | None:
        values = [operand(ctx) for operand in operands]
        true = sum(1 for v in values if v is not None and v.value)
        null = sum(1 for v in values if v is None)
        n_low, n_high = low(ctx), high(ctx)
        if n_low <= true <= n_high:
            return _bool(True)
        if true + null < n_low or true > n_high:
            return _bool(False)
        return None

    return run


# -------------------------------------------------------------------------- arithmetic


@_op("sum", "product")
def _sum_product(element, declarations):
    operands = _args(element, declarations)
    product = kind(element) == "product"

    def run(ctx: Context) -> Value | None:
        values = [operand(ctx) for operand in operands]
        if any(v is None for v in values):
            return None
        numbers = [n for v in values for n in v.singles()]
        base_type = _number_type(values)
        if product:
            return _finite(base_type, reduce(lambda x, y: x * y, numbers, 1))
        return _finite(base_type, sum(numbers))

    return run


@_op("subtract")
def _subtract(element, declarations):
    a, b = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        if values is None:
            return None
        return _finite(_number_type(values), values[0].value - values[1].value)

    return run


@_op("divide")
def _divide(element, declarations):
    a, b = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        if values is None or values[1].value == 0:
            return None
        return _finite("float", values[0].value / values[1].value)

    return run


@_op("integer-divide", "integer-modulus")
def _integer_divide(element, declarations):
    a, b = _args(element, declarations)
    modulus = kind(element) == "integer-modulus"

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        if values is None or values[1].value == 0:
            return None
        x, y = int(values[0].value), int(values[1].value)
        return _single("integer", x % y if modulus else x // y)

    return run


@_op("power")
def _power(element, declarations):
    a, b = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        values = _numbers([a(ctx), b(ctx)])
        if values is None:
            return None
        try:
            result = math.pow(values[0].value, values[1].value)
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
        return _finite("float", result)

    return run


@_op("round", "truncate", "integer-to-float")
def _round(element, declarations):
    (operand,) = _args(element, declarations)
    name = kind(element)

    def run(ctx: Context) -> Value | None:
        values = _numbers([operand(ctx)])
        if values is None:
            return None
        x = values[0].value
        if not math.isfinite(x):
            return None
        if name == "integer-to-float":
            return _single("float", float(x))
        if name == "round":  # n.5 rounds up, towards positive infinity
            return _single("integer", math.floor(x + 0.5))
        return _single("integer", math.trunc(x))

    return run


@_op("round-to")
def _round_to_op(element, declarations):
    (operand,) = _args(element, declarations)
    mode = attr(element, "rounding-mode", "significantFigures")
    figures = _reference(element, "figures", int)
    if figures is None or mode not in ("significantFigures", "decimalPlaces"):
        raise ProcessingError("round-to needs figures and a known rounding-mode")

    def run(ctx: Context) -> Value | None:
        values = _numbers([operand(ctx)])
        if values is None or not math.isfinite(values[0].value):
            return None
        return _single("float", float(_round_to(values[0].value, mode, figures(ctx))))

    return run


@_op("min", "max", "gcd", "lcm")
def _min_max(element, declarations):
    operands = _args(element, declarations)
    name = kind(element)

    def run(ctx: Context) -> Value | None:
        values = [operand(ctx) for operand in operands]
        if any(v is None for v in values):
            return None
        numbers = [n for v in values for n in v.singles()]
        if name in ("gcd", "lcm"):
            ints = [int(n) for n in numbers]
            if name == "gcd":
                return _single("integer", math.gcd(*ints))
            return _single("integer", 0 if 0 in ints else math.lcm(*ints))
        base_type = _number_type(values)
        return _single(base_type, min(numbers) if name == "min" else max(numbers))

    return run


_MATH = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "log": math.log10,
    "ln": math.log,
    "exp": math.exp,
    "abs": abs,
    "signum": lambda x: (x > 0) - (x < 0),
    "floor": math.floor,
    "ceil": math.ceil,
    "toDegrees": math.degrees,
    "toRadians": math.radians,
    "atan2": math.atan2,
}


@_op("math-operator")
def _math_operator(element, declarations):
    operands = _args(element, declarations)
    name = attr(element, "name")
    if name not in _MATH:
        raise UnsupportedOperator(f"math-operator {name}")
    function = _MATH[name]

    def run(ctx: Context) -> Value | None:
        values = _numbers([operand(ctx) for operand in operands])
        if values is None:
            return None
        try:
            result = function(*(v.value for v in values))
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
        if name in ("floor", "ceil", "signum"):
            return _single("integer", int(result))
        if name == "abs":
            return _finite(values[0].base_type, result)
        return _finite("float", float(result))

    return run


# -------------------------------------------------------------------------- containers


def _container_builder(cardinality: str) -> Builder:
    def builder(element, declarations):
        operands = _args(element, declarations)

        def run(ctx: Context) -> Value | None:
            members: list[Any] = []
            base_type = None
            for operand in operands:
                value = operand(ctx)
                if value is None:
                    continue  # NULL sub-expressions are ignored
                base_type = value.base_type
                members.extend(value.singles())
            return Value(cardinality, base_type, tuple(members)) if members else None

        return run

    return builder


EXPRESSIONS["multiple"] = _container_builder("multiple")
EXPRESSIONS["ordered"] = _container_builder("ordered")


@_op("container-size")
def _container_size(element, declarations):
    (operand,) = _args(element, declarations)

    def run(ctx: Context) -> Value:
        value = operand(ctx)
        return _single("integer", 0 if value is None else len(value.singles()))

    return run


@_op("index")
def _index(element, declarations):
    (operand,) = _args(element, declarations)
    position = _reference(element, "n", int)
    if position is None:
        raise ProcessingError("index needs n")

    def run(ctx: Context) -> Value | None:
        value, n = operand(ctx), position(ctx)
        if value is None or n is None:
            return None
        members = value.singles()
        if not 1 <= n <= len(members):
            return None
        return _single(value.base_type, members[n - 1])

    return run


def _without(value: Value, container: Value) -> Value | None:
    kept = tuple(m for m in container.singles() if m != value.value)
    return Value(container.cardinality, container.base_type, kept) if kept else None


@_op("delete")
def _delete(element, declarations):
    return _both(element, declarations, _without)


@_op("repeat")
def _repeat(element, declarations):
    operands = _args(element, declarations)
    times = _reference(element, "number-repeats", int)
    if times is None:
        raise ProcessingError("repeat needs number-repeats")

    def run(ctx: Context) -> Value | None:
        members: list[Any] = []
        base_type = None
        for _ in range(max(0, times(ctx))):
            for operand in operands:
                value = operand(ctx)
                if value is not None:
                    base_type = value.base_type
                    members.extend(value.singles())
        return Value("ordered", base_type, tuple(members)) if members else None

    return run


@_op("field-value")
def _field_value(element, declarations):
    (operand,) = _args(element, declarations)
    name = attr(element, "field-identifier")

    def run(ctx: Context) -> Value | None:
        record = operand(ctx)
        if record is None or record.cardinality != "record":
            return None
        return record.value.get(name)

    return run


@_op("random")
def _random(element, declarations):
    (operand,) = _args(element, declarations)

    def run(ctx: Context) -> Value | None:
        value = operand(ctx)
        if value is None:
            return None
        return _single(value.base_type, ctx.rng.choice(value.singles()))

    return run


@_op("stats-operator")
def _stats(element, declarations):
    (operand,) = _args(element, declarations)
    name = attr(element, "name")
    if name not in ("mean", "sampleVariance", "sampleSD", "popVariance", "popSD"):
        raise UnsupportedOperator(f"stats-operator {name}")

    def run(ctx: Context) -> Value | None:
        value = operand(ctx)
        if value is None or value.base_type not in NUMERIC:
            return None
        xs = [float(x) for x in value.singles()]
        n = len(xs)
        mean = sum(xs) / n
        if name == "mean":
            return _single("float", mean)
        squares = sum((x - mean) ** 2 for x in xs)
        if name.startswith("sample"):
            if n < 2:
                return None
            variance = squares / (n - 1)
        else:
            variance = squares / n
        return _single("float", variance if name.endswith("Variance") else math.sqrt(variance))

    return run
