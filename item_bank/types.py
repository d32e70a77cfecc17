"""Item types and their scoring rules, in a registry so content and config can name them.

Each type:

- ``clean_content``/``validate``: checks authored content and key, and keeps only the content
  fields it knows (so a stray ``"correct"`` in content can never reach a browser);
- ``validate_response``: rejects a malformed response with a 422 (wrong shape, unknown option);
- ``score``: a well-formed response's score, from 0 to ``max_score(scoring)``;
- ``student_view``: the sanitised, key-free payload a browser receives;
- ``describe_response``: what a student answered and the key, as plain text for a teacher's
  answer history and exports (text to show as text: it may hold ``<``, never markup to render).

Scores are fractions in [0, 1] for dichotomous and partial-credit-as-fraction types, and integer
score categories 0..K for the polytomous ``partial_credit`` and the human-scored
``extended_text`` (what GRM/GPCM calibrate).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from fractions import Fraction
from typing import Any, ClassVar

from cbt.errors import ValidationError
from item_bank.rendering import plain_text, sanitise_html
from scoring.registry import Registry

__all__ = [
    "ITEM_TYPES",
    "ItemType",
    "category_cuts",
    "check_category_count",
    "clean_category_map",
    "get_item_type",
    "normalise_text",
    "parse_number",
    "register_item_type",
]

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
MAX_HTML = 20_000
MAX_SHORT_TEXT = 1_000
MAX_LONG_TEXT = 20_000
MAX_OPTIONS = 26
MAX_PATTERN = 500
GAP = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_.-]{0,31})\}\}")
# A repeated group that starts with a repeated atom, like (a+)+ or (\w+\s?)*: the classic
# exponential backtracking shapes (a heuristic; Python's re has no time limit).
NESTED_QUANTIFIER = re.compile(r"\((?:\?:)?(?:\\.|\[[^\]]*\]|[^()\\])[+*{][^()]*\)\s*[+*{]")


def _fail(message: str, **details: Any) -> ValidationError:
    return ValidationError(message, details=details)


def _html(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(f"'{field}' must be non-empty text.", field=field)
    if len(value) > MAX_HTML:
        raise _fail(f"'{field}' is too long (at most {MAX_HTML} characters).", field=field)
    return sanitise_html(value)


def _identifier(value: Any, field: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise _fail(
            f"'{field}' must be an identifier (a letter or _, then letters, digits, _ . -; "
            "at most 32 characters).",
            field=field,
            value=value if isinstance(value, str | int | float) else None,
        )
    return value


def _choices(content: dict[str, Any], field: str, *, low: int = 2) -> list[dict[str, str]]:
    options = content.get(field)
    if not isinstance(options, list) or not low <= len(options) <= MAX_OPTIONS:
        raise _fail(f"'{field}' must list {low} to {MAX_OPTIONS} options.", field=field)
    cleaned = []
    for position, option in enumerate(options):
        if not isinstance(option, dict):
            raise _fail("Each option needs an id and a text.", field=field, option=position)
        cleaned.append(
            {
                "id": _identifier(option.get("id"), f"{field}[{position}].id"),
                "text": _html(option.get("text"), f"{field}[{position}].text"),
            }
        )
    ids = [option["id"] for option in cleaned]
    if len(set(ids)) != len(ids):
        raise _fail("Option ids must be unique.", field=field, ids=ids)
    return cleaned


def _view_options(options: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"id": option["id"], "html": sanitise_html(option["text"])} for option in options]


def _set_order(options: list[dict[str, str]]) -> list[dict[str, str]]:
    """Options in an order that depends only on the set of options, never on the authored order.

    Authors often list ordering items in the correct order; showing them as authored would
    give the key away.
    """
    seed = hashlib.sha256("\x1f".join(sorted(o["id"] for o in options)).encode()).digest()
    return sorted(options, key=lambda o: hashlib.sha256(seed + o["id"].encode()).digest())


def _whole(value: Any, default: int) -> int:
    """A whole number from content that may never have been cleaned, else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _label(options: list[dict[str, str]], option_id: Any) -> str:
    """An option as a teacher reads it: its text, or its id in brackets when it has no text."""
    for option in options:
        if option["id"] == option_id:
            return plain_text(option["text"]) or f"[{option_id}]"
    return f"[{option_id}]"


def _number_text(value: float) -> str:
    return f"{value:g}"


def _response(response: Any, keys: set[str], example: str) -> dict[str, Any]:
    if not isinstance(response, dict) or not set(response) <= keys or not response:
        raise _fail(f"The response must be {example}.", field="response")
    return response


def _method(scoring: dict[str, Any]) -> str:
    method = scoring.get("method", "all_or_nothing")
    if method not in ("all_or_nothing", "partial"):
        raise _fail(
            "'method' must be 'all_or_nothing' or 'partial'.", field="scoring.method", value=method
        )
    return method


def _number(value: Any, field: str, *, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"'{field}' must be a finite number.", field=field)
    if low is not None and value < low:
        raise _fail(f"'{field}' must be at least {low}.", field=field)
    return float(value)


def _mapping(
    raw: Any, allowed: set[str], field: str, *, pair_keys: bool = False
) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(f"'{field}' must map keys to points.", field=field)
    mapping = {}
    for key, value in raw.items():
        parts = key.split(" ") if pair_keys else [key]
        if not all(part in allowed for part in parts) or (pair_keys and len(parts) != 2):
            raise _fail(f"'{field}' names something the item does not have.", key=key)
        mapping[key] = _number(value, f"{field}.{key}")
    return mapping


def clean_category_map(raw: Any, max_score: float) -> dict[str, Any]:
    """The item's SCORE-to-IRT-category rule, checked.

    ``{"threshold": t}``: a dichotomous item, category 1 when SCORE >= t (0 < t <= max score).
    ``{"table": [{"min_score": s, "category": k}, ...]}``: a polytomous item, category k for
    SCORE >= s up to the next row; rows ascend in both, start at min_score 0 with category 0,
    and number the categories 0..K without gaps.
    """
    if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= {"threshold", "table"}:
        raise ValidationError(
            'The score-to-category rule needs either a "threshold" or a "table".',
            details={"field": "scoring.irt_category"},
        )
    if "threshold" in raw:
        threshold = raw["threshold"]
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
            or not 0 < threshold <= max_score
        ):
            raise ValidationError(
                "The category threshold must be more than 0 and at most the item's maximum "
                "score %(max_score)s.",
                params={"max_score": _number_text(max_score)},
                details={"field": "scoring.irt_category.threshold"},
            )
        return {"threshold": float(threshold)}
    rows = raw["table"]
    if not isinstance(rows, list) or not 2 <= len(rows) <= MAX_OPTIONS:
        raise ValidationError(
            "The category table needs 2 to %(maximum)s rows.",
            params={"maximum": MAX_OPTIONS},
            details={"field": "scoring.irt_category.table"},
        )
    cleaned = []
    for position, row in enumerate(rows):
        low = row.get("min_score") if isinstance(row, dict) else None
        category = row.get("category") if isinstance(row, dict) else None
        ok = (
            isinstance(low, int | float)
            and not isinstance(low, bool)
            and math.isfinite(low)
            and 0 <= low <= max_score
            and (position == 0) == (low == 0)
            and (not cleaned or low > cleaned[-1]["min_score"])
            and category == position
            and not isinstance(category, bool)
        )
        if not ok:
            raise ValidationError(
                "Row %(row)s of the category table is wrong: rows start at min_score 0 with "
                "category 0, rise in min_score up to the maximum score %(max_score)s, and "
                "number the categories 0, 1, 2, ... in order.",
                params={"row": position + 1, "max_score": _number_text(max_score)},
                details={"field": "scoring.irt_category.table", "row": position},
            )
        cleaned.append({"min_score": float(low), "category": position})
    return {"table": cleaned}


def category_cuts(scoring: dict[str, Any]) -> tuple[float, ...] | None:
    """The lower score bound of categories 1..K (category = how many bounds SCORE reaches),
    or None when the item states no rule (delivery then keeps its default)."""
    rule = scoring.get("irt_category")
    if not rule:
        return None
    if "threshold" in rule:
        return (float(rule["threshold"]),)
    return tuple(float(row["min_score"]) for row in rule["table"][1:])


def check_category_count(key: str, scoring: dict[str, Any], n_categories: int) -> None:
    """At form time: the item's rule must give as many categories as its IRT model has."""
    cuts = category_cuts(scoring)
    if cuts is not None and len(cuts) + 1 != n_categories:
        raise ValidationError(
            "Item %(key)s maps its score to %(mapped)s categories, but its IRT model in this "
            "parameter set has %(model)s.",
            params={"key": key, "mapped": len(cuts) + 1, "model": n_categories},
            details={"item": key, "mapped": len(cuts) + 1, "model": n_categories},
        )


class ItemType:
    """Base class: one subclass per item type, registered by ``type_id``.

    Every type's ``validate_scoring`` also keeps a valid ``irt_category`` rule (see
    :func:`clean_category_map`): it is wrapped once per subclass, so no type can drop it.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("validate_scoring")
        if own is None:
            return

        def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
            cleaned = own(self, content, scoring)
            if scoring.get("irt_category") is not None:
                cleaned["irt_category"] = clean_category_map(
                    scoring["irt_category"], self.max_score(cleaned)
                )
            return cleaned

        validate_scoring.__doc__ = own.__doc__
        cls.validate_scoring = validate_scoring  # type: ignore[method-assign]

    type_id: ClassVar[str]
    label: ClassVar[str]
    #: the response shape, for the API document and the authoring page
    response_example: ClassVar[dict[str, Any]]
    human_scored: ClassVar[bool] = False
    #: whether scores are integer categories (polytomous) rather than fractions of 1
    polytomous: ClassVar[bool] = False

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        """Validated content with only the fields this type knows, HTML sanitised."""
        raise NotImplementedError

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        """Validated scoring rule (the key); ``content`` is already clean."""
        raise NotImplementedError

    def validate(self, content: dict[str, Any], scoring: dict[str, Any]) -> None:
        if not isinstance(content, dict) or not isinstance(scoring, dict):
            raise _fail("'content' and 'scoring' must be objects.")
        self.validate_scoring(self.clean_content(content), scoring)

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        raise NotImplementedError

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        raise NotImplementedError

    def max_score(self, scoring: dict[str, Any]) -> float:
        return 1.0

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def describe_response(
        self, content: dict[str, Any], scoring: dict[str, Any], response: Any
    ) -> dict[str, str]:
        """``response_text`` (the answer) and ``correct_text`` (the key), as plain text.

        A stored response that does not fit the item (it cannot happen for answers the engine
        accepted) is shown as its JSON rather than failing the whole report.
        """
        try:
            answered = self.response_text(content, response)
        except (KeyError, TypeError, AttributeError, ValueError):
            answered = json.dumps(response, ensure_ascii=False)
        return {"response_text": answered, "correct_text": self.key_text(content, scoring)}

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        """What the student answered, in the words they saw."""
        raise NotImplementedError

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        """The key as a teacher may see it."""
        raise NotImplementedError

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A small valid (content, scoring) pair: the authoring page's starting point."""
        raise NotImplementedError


#: Type id -> the type (one instance each). Content, forms and the editor name types by id.
ITEM_TYPES: Registry[ItemType] = Registry(
    "item type", name_of=lambda cls: cls.type_id, instantiate=True
)
register_item_type = ITEM_TYPES.register


def get_item_type(type_id: str) -> ItemType:
    try:
        return ITEM_TYPES[type_id]
    except (KeyError, TypeError):
        raise ValidationError(
            "Unknown item type %(type_id)r.",
            params={"type_id": type_id},
            details={"known": sorted(ITEM_TYPES)},
        ) from None


# --------------------------------------------------------------------------- choice types


@register_item_type
class SingleChoice(ItemType):
    """One correct option among several. Response: ``{"choice": "<option id>"}``."""

    type_id = "single_choice"
    label = "Single choice"
    response_example: ClassVar[dict[str, Any]] = {"choice": "A"}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": _html(content.get("stem"), "stem"),
            "options": _choices(content, "options"),
        }

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        ids = [option["id"] for option in content["options"]]
        if scoring.get("correct") not in ids:
            raise _fail("The key must name one of the options.", correct=scoring.get("correct"))
        return {"correct": scoring["correct"]}

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        ids = {option["id"] for option in content["options"]}
        if not isinstance(response, dict) or set(response) != {"choice"}:
            raise ValidationError(
                'A single-choice response is {"choice": "<option id>"}.',
                details={"field": "response"},
            )
        if response["choice"] not in ids:
            raise ValidationError(
                "That option is not one of this item's options.",
                details={"field": "response.choice", "allowed": sorted(ids)},
            )

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        return 1.0 if response.get("choice") == scoring["correct"] else 0.0

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return _label(content["options"], response["choice"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return _label(content["options"], scoring["correct"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "options": _view_options(content["options"]),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>What is 3 + 4?</p>",
                "options": [
                    {"id": "A", "text": "6"},
                    {"id": "B", "text": "7"},
                    {"id": "C", "text": "8"},
                    {"id": "D", "text": "12"},
                ],
            },
            {"correct": "B"},
        )


@register_item_type
class MultipleResponse(ItemType):
    """Several correct options. Response: ``{"choices": ["A", "C"]}``.

    ``method`` is ``all_or_nothing`` (the exact set scores 1) or ``partial``: the sum of the
    chosen options' points from ``mapping`` (default: +1/k for each of the k correct options,
    -1/k for each wrong one), clamped to [0, 1] as QTI's map_response does.
    """

    type_id = "multiple_response"
    label = "Multiple response"
    response_example: ClassVar[dict[str, Any]] = {"choices": ["A", "C"]}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        options = _choices(content, "options")
        cleaned: dict[str, Any] = {"stem": _html(content.get("stem"), "stem"), "options": options}
        limit = content.get("max_choices", 0)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= len(options):
            raise _fail("'max_choices' must be 0 (no limit) up to the number of options.")
        cleaned["max_choices"] = limit
        return cleaned

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        ids = {option["id"] for option in content["options"]}
        correct = scoring.get("correct")
        if (
            not isinstance(correct, list)
            or not correct
            or not set(correct) <= ids
            or len(set(correct)) != len(correct)
        ):
            raise _fail("The key must list one or more distinct option ids.", correct=correct)
        cleaned: dict[str, Any] = {"correct": list(correct), "method": _method(scoring)}
        if cleaned["method"] == "partial" and scoring.get("mapping") is not None:
            cleaned["mapping"] = _mapping(scoring["mapping"], ids, "scoring.mapping")
        return cleaned

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        response = _response(response, {"choices"}, '{"choices": ["<option id>", ...]}')
        choices = response.get("choices")
        ids = {option["id"] for option in content["options"]}
        if not isinstance(choices, list) or len(set(map(str, choices))) != len(choices):
            raise _fail("'choices' must be a list of distinct option ids.", field="choices")
        if not set(choices) <= ids:
            raise _fail("A choice is not one of this item's options.", allowed=sorted(ids))
        limit = content.get("max_choices", 0)
        if limit and len(choices) > limit:
            raise _fail(f"Choose at most {limit} options.", field="choices")

    def mapping(self, scoring: dict[str, Any], ids: list[str]) -> dict[str, float]:
        if scoring.get("mapping"):
            return dict(scoring["mapping"])
        share = 1.0 / len(scoring["correct"])
        return {i: share if i in scoring["correct"] else -share for i in ids}

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        chosen = set(response["choices"])
        if scoring.get("method") != "partial":
            return 1.0 if chosen == set(scoring["correct"]) else 0.0
        mapping = self.mapping(scoring, sorted(chosen | set(scoring["correct"])))
        return min(1.0, max(0.0, round(sum(mapping.get(c, 0.0) for c in chosen), 10)))

    def _labels(self, content: dict[str, Any], chosen: list[str]) -> str:
        """Chosen options in the item's own order, so answer and key line up."""
        order = [option["id"] for option in content["options"]]
        ids = sorted(chosen, key=lambda i: order.index(i) if i in order else len(order))
        return "; ".join(_label(content["options"], i) for i in ids)

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return self._labels(content, list(response["choices"]))

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return self._labels(content, list(scoring["correct"]))

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "options": _view_options(content["options"]),
            "max_choices": content.get("max_choices", 0),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Which numbers are prime?</p>",
                "options": [
                    {"id": "A", "text": "2"},
                    {"id": "B", "text": "4"},
                    {"id": "C", "text": "7"},
                    {"id": "D", "text": "9"},
                ],
                "max_choices": 0,
            },
            {"correct": ["A", "C"], "method": "partial"},
        )


MAX_HOTTEXTS = 50


@register_item_type
class Hottext(ItemType):
    """Choose words or phrases inside a text (QTI's hottext). Response: ``{"choices": ["h2"]}``.

    ``text`` marks each choosable span as ``{{hottext id}}``; ``hottexts`` gives each span's
    text. ``max_choices`` (QTI's default 1; 0 = no limit) and ``min_choices`` bound how many a
    student may choose. Scoring is that of ``multiple_response``: ``all_or_nothing`` (the exact
    set) or ``partial`` (the sum of ``mapping`` points, default +1/k right, -1/k wrong, clamped
    to [0, 1]).
    """

    type_id = "hottext"
    label = "Hottext (choose in the text)"
    response_example: ClassVar[dict[str, Any]] = {"choices": ["h2"]}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        text = _html(content.get("text"), "text")
        spans = content.get("hottexts")
        if not isinstance(spans, list) or not 1 <= len(spans) <= MAX_HOTTEXTS:
            raise ValidationError(
                "'hottexts' must list 1 to %(maximum)s choosable spans of the text.",
                params={"maximum": MAX_HOTTEXTS},
                details={"field": "hottexts"},
            )
        hottexts = []
        for position, span in enumerate(spans):
            if not isinstance(span, dict):
                raise ValidationError(
                    "Each hottext needs an id and a text.",
                    details={"field": "hottexts", "hottext": position},
                )
            hottexts.append(
                {
                    "id": _identifier(span.get("id"), f"hottexts[{position}].id"),
                    "text": _html(span.get("text"), f"hottexts[{position}].text"),
                }
            )
        ids = [span["id"] for span in hottexts]
        found = GAP.findall(text)
        if len(set(ids)) != len(ids) or sorted(found) != sorted(ids):
            raise ValidationError(
                "Each hottext must appear exactly once in 'text' as {{id}}, and 'text' may mark "
                "no other span (hottexts: %(ids)s; marked in the text: %(found)s).",
                params={"ids": ", ".join(ids), "found": ", ".join(found) or "-"},
                details={"field": "text", "hottexts": ids, "found": found},
            )
        most = content.get("max_choices", 1)
        if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= len(ids):
            raise ValidationError(
                "'max_choices' must be 0 (no limit) up to the number of hottexts, %(count)s.",
                params={"count": len(ids)},
                details={"field": "max_choices"},
            )
        least = content.get("min_choices", 0)
        if (
            isinstance(least, bool)
            or not isinstance(least, int)
            or not 0 <= least <= (most or len(ids))
        ):
            raise ValidationError(
                "'min_choices' must be 0 up to 'max_choices' (or the number of hottexts).",
                details={"field": "min_choices"},
            )
        return {
            "stem": _html(content.get("stem"), "stem", required=False),
            "text": text,
            "hottexts": hottexts,
            "max_choices": most,
            "min_choices": least,
        }

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        ids = {span["id"] for span in content["hottexts"]}
        correct = scoring.get("correct")
        if (
            not isinstance(correct, list)
            or not correct
            or not all(isinstance(c, str) for c in correct)
            or not set(correct) <= ids
            or len(set(correct)) != len(correct)
        ):
            raise ValidationError(
                "The key must list one or more distinct hottext ids of this item.",
                details={"field": "scoring.correct", "allowed": sorted(ids)},
            )
        most = content.get("max_choices", 1)
        if most and len(correct) > most:
            raise ValidationError(
                "The key lists %(count)s hottexts, but a student may choose at most %(max)s.",
                params={"count": len(correct), "max": most},
                details={"field": "scoring.correct"},
            )
        cleaned: dict[str, Any] = {"correct": list(correct), "method": _method(scoring)}
        if cleaned["method"] == "partial" and scoring.get("mapping") is not None:
            cleaned["mapping"] = _mapping(scoring["mapping"], ids, "scoring.mapping")
        return cleaned

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        if not isinstance(response, dict) or set(response) != {"choices"}:
            raise ValidationError(
                'A hottext response is {"choices": ["<hottext id>", ...]}.',
                details={"field": "response"},
            )
        choices = response["choices"]
        ids = {span["id"] for span in content["hottexts"]}
        if (
            not isinstance(choices, list)
            or not all(isinstance(c, str) for c in choices)
            or len(set(choices)) != len(choices)
            or not set(choices) <= ids
        ):
            raise ValidationError(
                "'choices' must list distinct hottext ids of this item.",
                details={"field": "response.choices", "allowed": sorted(ids)},
            )
        most, least = content.get("max_choices", 1), content.get("min_choices", 0)
        if most and len(choices) > most:
            raise ValidationError(
                "Choose at most %(max)s.", params={"max": most}, details={"field": "choices"}
            )
        if len(choices) < least:
            raise ValidationError(
                "Choose at least %(min)s.", params={"min": least}, details={"field": "choices"}
            )

    mapping = MultipleResponse.mapping
    score = MultipleResponse.score

    def _marked(self, content: dict[str, Any], chosen: list[str]) -> str:
        """The text as plain text, each chosen hottext in brackets."""
        spans = content["hottexts"]

        def mark(match: re.Match[str]) -> str:
            label = _label(spans, match.group(1))
            return f"[{label}]" if match.group(1) in chosen else label

        # Text first, markers after: a hottext's text is never read as markup or as a marker.
        return GAP.sub(mark, plain_text(content["text"]))

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return self._marked(content, list(response["choices"]))

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return self._marked(content, list(scoring["correct"]))

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        spans = [s for s in content.get("hottexts") or [] if isinstance(s, dict)]
        known = {s.get("id") for s in spans}
        # Markers go in after sanitising: our own markup around a checked identifier.
        html = GAP.sub(
            lambda m: (
                f'<span class="hottext" data-hottext="{m.group(1)}"></span>'
                if m.group(1) in known
                else ""
            ),
            sanitise_html(content.get("text") or ""),
        )
        return {
            "stem": sanitise_html(content.get("stem") or ""),
            "html": html,
            "hottexts": _view_options(
                [{"id": str(s.get("id")), "text": str(s.get("text") or "")} for s in spans]
            ),
            "max_choices": _whole(content.get("max_choices", 1), 1),
            "min_choices": _whole(content.get("min_choices", 0), 0),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Choose the two verbs in the sentence.</p>",
                "text": "<p>The {{h1}} {{h2}} across the road and {{h3}} over the {{h4}}.</p>",
                "hottexts": [
                    {"id": "h1", "text": "dog"},
                    {"id": "h2", "text": "ran"},
                    {"id": "h3", "text": "jumped"},
                    {"id": "h4", "text": "fence"},
                ],
                "max_choices": 2,
                "min_choices": 0,
            },
            {"correct": ["h2", "h3"], "method": "partial"},
        )


# --------------------------------------------------------------------------- text and numbers

_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)} | {0x309D: 0x30FD, 0x309E: 0x30FE}
SPACE_MODES = ("keep", "trim", "collapse", "remove")


def normalise_text(
    text: str,
    *,
    nfkc: bool = True,
    case_insensitive: bool = False,
    kana_insensitive: bool = False,
    spaces: str = "collapse",
) -> str:
    """Fold what a typed answer may vary in without changing its meaning.

    NFKC turns full-width letters and digits into half-width and half-width katakana into
    full-width (and the ideographic space into a space); ``kana_insensitive`` maps hiragana to
    katakana; ``spaces`` trims, collapses or removes whitespace.
    """
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    if case_insensitive:
        text = text.casefold()
    if kana_insensitive:
        text = text.translate(_HIRAGANA)
    if spaces == "trim":
        text = text.strip()
    elif spaces == "collapse":
        text = " ".join(text.split())
    elif spaces == "remove":
        text = "".join(text.split())
    return text


def _text_response(response: Any, limit: int) -> str:
    response = _response(response, {"text"}, '{"text": "<answer>"}')
    text = response.get("text")
    if not isinstance(text, str):
        raise _fail("'text' must be a string.", field="text")
    if len(text) > limit:
        raise _fail(f"The answer is too long (at most {limit} characters).", field="text")
    return text


@register_item_type
class TextEntry(ItemType):
    """A short typed answer. Response: ``{"text": "..."}``.

    ``match`` is ``exact`` (character for character), ``normalised`` (see ``normalise_text``;
    options in ``normalise``) or ``regex`` (each answer's ``value`` is a pattern that must match
    the whole normalised answer). Each accepted answer carries a score (default 1); the best
    matching one counts.
    """

    type_id = "text_entry"
    label = "Text entry"
    response_example: ClassVar[dict[str, Any]] = {"text": "とうきょう"}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        length = content.get("expected_length", 20)
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 200:
            raise _fail("'expected_length' must be 1 to 200.", field="expected_length")
        return {"stem": _html(content.get("stem"), "stem"), "expected_length": length}

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        match = scoring.get("match", "exact")
        if match not in ("exact", "normalised", "regex"):
            raise _fail("'match' must be exact, normalised or regex.", field="scoring.match")
        answers = scoring.get("answers")
        if not isinstance(answers, list) or not 1 <= len(answers) <= 50:
            raise _fail("The key must list 1 to 50 accepted answers.", field="scoring.answers")
        cleaned_answers = []
        for position, answer in enumerate(answers):
            if not isinstance(answer, dict) or not isinstance(answer.get("value"), str):
                raise _fail("Each answer needs a 'value'.", answer=position)
            value = answer["value"]
            if not value or len(value) > (MAX_PATTERN if match == "regex" else MAX_SHORT_TEXT):
                raise _fail("An answer is empty or too long.", answer=position)
            if match == "regex":
                try:
                    re.compile(value)
                except re.error as error:
                    raise _fail(f"Answer {position} is not a valid pattern: {error}.") from error
                if NESTED_QUANTIFIER.search(value):
                    # (a+)+ and friends backtrack exponentially: one answer could stall a worker.
                    raise _fail(
                        f"Answer {position}: a repeated group that itself repeats, like (a+)+, "
                        "is not allowed in a pattern.",
                        answer=position,
                    )
            points = _number(answer.get("score", 1.0), f"answers[{position}].score")
            if not 0 < points <= 1:
                raise _fail("An answer's score must be above 0 and at most 1.", answer=position)
            cleaned_answers.append({"value": value, "score": points})
        cleaned: dict[str, Any] = {"match": match, "answers": cleaned_answers}
        if match != "exact":
            options = scoring.get("normalise") or {}
            if not isinstance(options, dict) or not set(options) <= {
                "case_insensitive",
                "kana_insensitive",
                "spaces",
            }:
                raise _fail(
                    "'normalise' takes case_insensitive, kana_insensitive and spaces.",
                    field="scoring.normalise",
                )
            spaces = options.get("spaces", "collapse")
            if spaces not in SPACE_MODES:
                raise _fail(f"'spaces' must be one of {', '.join(SPACE_MODES)}.")
            cleaned["normalise"] = {
                "case_insensitive": bool(options.get("case_insensitive", False)),
                "kana_insensitive": bool(options.get("kana_insensitive", False)),
                "spaces": spaces,
            }
        return cleaned

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        _text_response(response, MAX_SHORT_TEXT)

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        given = response["text"]
        match = scoring.get("match", "exact")
        best = 0.0
        if match == "exact":
            for answer in scoring["answers"]:
                if given == answer["value"]:
                    best = max(best, answer["score"])
            return best
        options = scoring.get("normalise", {})
        given = normalise_text(given, **options)
        for answer in scoring["answers"]:
            if match == "regex":
                hit = re.fullmatch(answer["value"], given) is not None
            else:
                hit = given == normalise_text(answer["value"], **options)
            if hit:
                best = max(best, answer["score"])
        return best

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return str(response["text"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        regex = scoring.get("match") == "regex"
        accepted = []
        for answer in scoring["answers"]:
            value = f"/{answer['value']}/" if regex else answer["value"]
            if answer.get("score", 1.0) < 1:
                value += f" ({_number_text(answer['score'])})"
            accepted.append(value)
        return " / ".join(accepted)

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "expected_length": content.get("expected_length", 20),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {"stem": "<p>Japan's capital, in kana:</p>", "expected_length": 10},
            {
                "match": "normalised",
                "answers": [{"value": "とうきょう", "score": 1.0}],
                "normalise": {"kana_insensitive": True, "spaces": "remove"},
            },
        )


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_number(text: str) -> float | None:
    """A typed number (full-width digits, typographic minus, 1,234.5 or 3/4), or None."""
    text = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        if re.fullmatch(r"[+-]?\d+/\d+", text):
            value = float(Fraction(text))
        elif re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            value = float(text)
        else:
            return None
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if math.isfinite(value) else None


@register_item_type
class Numeric(ItemType):
    """A number, within a tolerance, optionally with a unit.

    Response: ``{"value": "12.5", "unit": "cm"}`` (``unit`` optional). Scoring: ``value``,
    ``tolerance`` (absolute, or relative as a fraction of ``value``), and ``units``: accepted
    units with a ``factor`` that converts into the key's unit (``{"unit": "m", "factor": 100}``
    when the key is in cm). ``unit_required`` scores a bare number 0; otherwise a bare number is
    read in the first unit.
    """

    type_id = "numeric"
    label = "Numeric"
    response_example: ClassVar[dict[str, Any]] = {"value": "12.5", "unit": "cm"}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        unit_hint = content.get("unit_hint", "")
        if not isinstance(unit_hint, str) or len(unit_hint) > 20:
            raise _fail("'unit_hint' must be a short text.", field="unit_hint")
        return {"stem": _html(content.get("stem"), "stem"), "unit_hint": unit_hint}

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        mode = scoring.get("tolerance_mode", "absolute")
        if mode not in ("absolute", "relative"):
            raise _fail("'tolerance_mode' must be absolute or relative.")
        units = scoring.get("units", [])
        if not isinstance(units, list) or len(units) > 20:
            raise _fail("'units' must be a list of {unit, factor}.", field="scoring.units")
        cleaned_units = []
        for position, unit in enumerate(units):
            if not isinstance(unit, dict) or not isinstance(unit.get("unit"), str):
                raise _fail("Each unit needs a 'unit' text.", unit=position)
            name = unicodedata.normalize("NFKC", unit["unit"]).strip()
            if not name or len(name) > 20:
                raise _fail("A unit is empty or too long.", unit=position)
            factor = _number(unit.get("factor", 1.0), f"units[{position}].factor")
            if factor <= 0:
                raise _fail("A unit factor must be positive.", unit=position)
            cleaned_units.append({"unit": name, "factor": factor})
        return {
            "value": _number(scoring.get("value"), "scoring.value"),
            "tolerance": _number(scoring.get("tolerance", 0.0), "scoring.tolerance", low=0.0),
            "tolerance_mode": mode,
            "units": cleaned_units,
            "unit_required": bool(scoring.get("unit_required", False)) and bool(cleaned_units),
        }

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        response = _response(response, {"value", "unit"}, '{"value": "<number>", "unit": "cm"}')
        value = response.get("value")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _fail("'value' must be a number or the typed text.", field="value")
        if isinstance(value, str) and len(value) > 100:
            raise _fail("'value' is too long.", field="value")
        unit = response.get("unit")
        if unit is not None and (not isinstance(unit, str) or len(unit) > 20):
            raise _fail("'unit' must be a short text.", field="unit")

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        raw = response["value"]
        value = parse_number(raw) if isinstance(raw, str) else float(raw)
        if value is None or not math.isfinite(value):
            return 0.0
        units = scoring.get("units", [])
        unit = unicodedata.normalize("NFKC", response.get("unit") or "").strip()
        if units:
            if not unit:
                if scoring.get("unit_required"):
                    return 0.0
                factor = units[0]["factor"]
            else:
                factors = {u["unit"]: u["factor"] for u in units}
                if unit not in factors:
                    return 0.0
                factor = factors[unit]
            value *= factor
        target, tolerance = scoring["value"], scoring.get("tolerance", 0.0)
        if scoring.get("tolerance_mode") == "relative":
            tolerance *= abs(target)
        return 1.0 if abs(value - target) <= tolerance + 1e-9 * max(1.0, abs(target)) else 0.0

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return f"{response['value']} {response.get('unit') or ''}".strip()

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        units = scoring.get("units") or []
        unit = f" {units[0]['unit']}" if units else ""
        text = _number_text(scoring["value"])
        tolerance = scoring.get("tolerance", 0.0)
        if not tolerance:
            return text + unit
        if scoring.get("tolerance_mode") == "relative":
            return f"{text}{unit} ± {_number_text(tolerance * 100)}%"
        return f"{text} ± {_number_text(tolerance)}{unit}"

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {"stem": sanitise_html(content["stem"]), "unit_hint": content.get("unit_hint", "")}

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {"stem": "<p>A rectangle is 1.5 m by 2 m. Its perimeter?</p>", "unit_hint": "m"},
            {
                "value": 7.0,
                "tolerance": 0.0,
                "tolerance_mode": "absolute",
                "units": [{"unit": "m", "factor": 1.0}, {"unit": "cm", "factor": 0.01}],
                "unit_required": False,
            },
        )


# --------------------------------------------------------------------------- structure types


@register_item_type
class Ordering(ItemType):
    """Put every option in order. Response: ``{"order": ["C", "A", "B"]}`` (all ids once).

    Options reach the browser in an order that depends only on the option set, so an item
    authored in its correct order gives nothing away.
    """

    type_id = "ordering"
    label = "Ordering"
    response_example: ClassVar[dict[str, Any]] = {"order": ["C", "A", "B"]}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": _html(content.get("stem"), "stem"),
            "options": _choices(content, "options"),
        }

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        ids = [option["id"] for option in content["options"]]
        correct = scoring.get("correct")
        if not isinstance(correct, list) or sorted(map(str, correct)) != sorted(ids):
            raise _fail("The key must list every option id once, in order.", correct=correct)
        return {"correct": list(correct)}

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        response = _response(response, {"order"}, '{"order": ["<option id>", ...]}')
        order = response.get("order")
        ids = sorted(option["id"] for option in content["options"])
        if not isinstance(order, list) or sorted(map(str, order)) != ids:
            raise _fail("'order' must list every option id exactly once.", allowed=ids)

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        return 1.0 if list(response["order"]) == list(scoring["correct"]) else 0.0

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return " → ".join(_label(content["options"], i) for i in response["order"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return " → ".join(_label(content["options"], i) for i in scoring["correct"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "options": _view_options(_set_order(content["options"])),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Order from smallest to largest.</p>",
                "options": [
                    {"id": "A", "text": "1/3"},
                    {"id": "B", "text": "0.4"},
                    {"id": "C", "text": "1/2"},
                ],
            },
            {"correct": ["A", "B", "C"]},
        )


@register_item_type
class Matching(ItemType):
    """Match each source to a target. Response: ``{"pairs": [["S1", "T2"], ...]}``.

    A source is matched at most once; a target may take several sources (sorting into
    categories). ``all_or_nothing`` needs exactly the key's pairs; ``partial`` scores each key
    pair chosen at 1/n (or the points in ``mapping``, keyed ``"S1 T2"``), clamped to [0, 1].
    """

    type_id = "matching"
    label = "Matching"
    response_example: ClassVar[dict[str, Any]] = {"pairs": [["S1", "T2"], ["S2", "T1"]]}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        sources = _choices(content, "sources", low=1)
        targets = _choices(content, "targets", low=1)
        overlap = {s["id"] for s in sources} & {t["id"] for t in targets}
        if overlap:
            raise _fail("Source and target ids must differ.", ids=sorted(overlap))
        return {"stem": _html(content.get("stem"), "stem"), "sources": sources, "targets": targets}

    def _pairs(self, content: dict[str, Any], pairs: Any, field: str) -> list[tuple[str, str]]:
        sources = {s["id"] for s in content["sources"]}
        targets = {t["id"] for t in content["targets"]}
        if not isinstance(pairs, list) or len(pairs) > len(sources):
            raise _fail(f"'{field}' must be a list of [source, target] pairs.", field=field)
        seen: set[str] = set()
        cleaned = []
        for pair in pairs:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or pair[0] not in sources
                or pair[1] not in targets
            ):
                raise _fail(f"'{field}' holds a pair the item does not have.", pair=str(pair)[:80])
            if pair[0] in seen:
                raise _fail(f"Source {pair[0]!r} is matched twice.", field=field)
            seen.add(pair[0])
            cleaned.append((pair[0], pair[1]))
        return cleaned

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        correct = self._pairs(content, scoring.get("correct"), "scoring.correct")
        if not correct:
            raise _fail("The key must list at least one pair.", field="scoring.correct")
        cleaned: dict[str, Any] = {
            "correct": [list(pair) for pair in correct],
            "method": _method(scoring),
        }
        if cleaned["method"] == "partial" and scoring.get("mapping") is not None:
            ids = {s["id"] for s in content["sources"]} | {t["id"] for t in content["targets"]}
            cleaned["mapping"] = _mapping(
                scoring["mapping"], ids, "scoring.mapping", pair_keys=True
            )
        return cleaned

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        response = _response(response, {"pairs"}, '{"pairs": [["<source>", "<target>"], ...]}')
        self._pairs(content, response.get("pairs"), "pairs")

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        chosen = {f"{s} {t}" for s, t in response["pairs"]}
        key = {f"{s} {t}" for s, t in scoring["correct"]}
        if scoring.get("method") != "partial":
            return 1.0 if chosen == key else 0.0
        mapping = scoring.get("mapping") or {pair: 1.0 / len(key) for pair in key}
        return min(1.0, max(0.0, round(sum(mapping.get(p, 0.0) for p in chosen), 10)))

    def _pairs_text(self, content: dict[str, Any], pairs: list[list[str]]) -> str:
        return "; ".join(
            f"{_label(content['sources'], s)} → {_label(content['targets'], t)}" for s, t in pairs
        )

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return self._pairs_text(content, response["pairs"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return self._pairs_text(content, scoring["correct"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "sources": _view_options(content["sources"]),
            "targets": _view_options(_set_order(content["targets"])),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Match each shape to its number of sides.</p>",
                "sources": [{"id": "S1", "text": "triangle"}, {"id": "S2", "text": "pentagon"}],
                "targets": [{"id": "T3", "text": "3"}, {"id": "T5", "text": "5"}],
            },
            {"correct": [["S1", "T3"], ["S2", "T5"]], "method": "partial"},
        )


@register_item_type
class InlineChoice(ItemType):
    """Gaps in a text, each a drop-down. Response: ``{"gaps": {"g1": "tokyo", ...}}``.

    ``text`` marks each gap as ``{{gap id}}``. ``all_or_nothing`` needs every gap right;
    ``partial`` scores the share of gaps right. A gap left out of the response counts as wrong.
    """

    type_id = "inline_choice"
    label = "Inline choice (gaps)"
    response_example: ClassVar[dict[str, Any]] = {"gaps": {"g1": "tokyo"}}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        text = _html(content.get("text"), "text")
        gaps = content.get("gaps")
        if not isinstance(gaps, list) or not 1 <= len(gaps) <= 20:
            raise _fail("'gaps' must list 1 to 20 gaps.", field="gaps")
        cleaned_gaps = []
        for position, gap in enumerate(gaps):
            if not isinstance(gap, dict):
                raise _fail("Each gap needs an id and options.", gap=position)
            cleaned_gaps.append(
                {
                    "id": _identifier(gap.get("id"), f"gaps[{position}].id"),
                    "options": _choices(gap, "options"),
                }
            )
        ids = [gap["id"] for gap in cleaned_gaps]
        if sorted(GAP.findall(text)) != sorted(ids) or len(set(ids)) != len(ids):
            raise _fail(
                "Each gap must appear once in 'text' as {{id}}.", gaps=ids, found=GAP.findall(text)
            )
        return {"stem": _html(content.get("stem"), "stem", required=False), "text": text} | {
            "gaps": cleaned_gaps
        }

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        correct = scoring.get("correct")
        options = {gap["id"]: {o["id"] for o in gap["options"]} for gap in content["gaps"]}
        if (
            not isinstance(correct, dict)
            or set(correct) != set(options)
            or any(correct[gap] not in allowed for gap, allowed in options.items())
        ):
            raise _fail("The key must give one option for every gap.", correct=str(correct)[:200])
        return {"correct": dict(correct), "method": _method(scoring)}

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        response = _response(response, {"gaps"}, '{"gaps": {"<gap id>": "<option id>"}}')
        gaps = response.get("gaps")
        options = {gap["id"]: {o["id"] for o in gap["options"]} for gap in content["gaps"]}
        if not isinstance(gaps, dict) or not set(gaps) <= set(options):
            raise _fail("'gaps' must map this item's gap ids to options.", gaps=sorted(options))
        for gap, choice in gaps.items():
            if choice not in options[gap]:
                raise _fail(f"{choice!r} is not an option of gap {gap!r}.", gap=gap)

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        key = scoring["correct"]
        right = sum(response["gaps"].get(gap) == choice for gap, choice in key.items())
        if scoring.get("method") == "partial":
            return round(right / len(key), 10)
        return 1.0 if right == len(key) else 0.0

    def _filled(self, content: dict[str, Any], chosen: dict[str, Any]) -> str:
        """The item's text with each gap filled in brackets (``[ ]`` when left empty)."""
        options = {gap["id"]: gap["options"] for gap in content["gaps"]}

        def fill(match: re.Match[str]) -> str:
            gap = match.group(1)
            if chosen.get(gap) is None:
                return "[ ]"
            return f"[{_label(options.get(gap, []), chosen[gap])}]"

        # Text first, gaps after: an option text is never read as markup or as a gap.
        return GAP.sub(fill, plain_text(content["text"]))

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return self._filled(content, dict(response["gaps"]))

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return self._filled(content, scoring["correct"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        # Gap markers go in after sanitising: our own markup around a checked identifier.
        html = GAP.sub(
            lambda m: f'<span class="gap" data-gap="{m.group(1)}"></span>',
            sanitise_html(content["text"]),
        )
        return {
            "stem": sanitise_html(content.get("stem") or ""),
            "html": html,
            "gaps": [
                {"id": gap["id"], "options": _view_options(gap["options"])}
                for gap in content["gaps"]
            ],
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Choose the words.</p>",
                "text": "<p>3 × 4 is {{g1}}, and 12 is {{g2}}.</p>",
                "gaps": [
                    {"id": "g1", "options": [{"id": "a", "text": "12"}, {"id": "b", "text": "7"}]},
                    {
                        "id": "g2",
                        "options": [{"id": "c", "text": "even"}, {"id": "d", "text": "odd"}],
                    },
                ],
            },
            {"correct": {"g1": "a", "g2": "c"}, "method": "partial"},
        )


@register_item_type
class GapMatch(ItemType):
    """Fill gaps in a text from one shared list of words (QTI's gap match).

    Response: ``{"gaps": {"G1": "W2", ...}}`` (a gap left out is empty). ``text`` marks each gap
    as ``{{gap id}}``; ``gap_texts[{id, text, match_max}]`` are the words, each usable in up to
    ``match_max`` gaps (default 1; 0 = any number). ``all_or_nothing`` needs every gap right;
    ``partial`` scores the share of gaps right, or the points in ``mapping`` (keyed
    ``"W2 G1"``, word then gap, as QTI's directed pairs), clamped to [0, 1].
    """

    type_id = "gap_match"
    label = "Gap match (fill gaps from a list)"
    response_example: ClassVar[dict[str, Any]] = {"gaps": {"G1": "W2"}}

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        text = _html(content.get("text"), "text")
        words = content.get("gap_texts")
        if not isinstance(words, list) or not 1 <= len(words) <= MAX_OPTIONS:
            raise ValidationError(
                "'gap_texts' must list 1 to %(maximum)s words to fill the gaps with.",
                params={"maximum": MAX_OPTIONS},
                details={"field": "gap_texts"},
            )
        gap_texts = []
        for position, word in enumerate(words):
            if not isinstance(word, dict):
                raise ValidationError(
                    "Each gap text needs an id and a text.",
                    details={"field": "gap_texts", "gap_text": position},
                )
            most = word.get("match_max", 1)
            if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= 20:
                raise ValidationError(
                    "A gap text's 'match_max' must be 0 (any number of gaps) to 20.",
                    details={"field": f"gap_texts[{position}].match_max"},
                )
            gap_texts.append(
                {
                    "id": _identifier(word.get("id"), f"gap_texts[{position}].id"),
                    "text": _html(word.get("text"), f"gap_texts[{position}].text"),
                    "match_max": most,
                }
            )
        gaps = GAP.findall(text)
        word_ids = [word["id"] for word in gap_texts]
        if (
            not 1 <= len(gaps) <= 20
            or len(set(gaps)) != len(gaps)
            or len(set(word_ids)) != len(word_ids)
            or set(gaps) & set(word_ids)
        ):
            raise ValidationError(
                "'text' must mark 1 to 20 gaps as {{id}}, each once, and gap ids and gap text "
                "ids must all differ (gaps: %(gaps)s).",
                params={"gaps": ", ".join(gaps) or "-"},
                details={"field": "text", "gaps": gaps},
            )
        return {
            "stem": _html(content.get("stem"), "stem", required=False),
            "text": text,
            "gap_texts": gap_texts,
        }

    def _check_filling(self, content: dict[str, Any], filling: Any, field: str) -> None:
        gaps = set(GAP.findall(content["text"]))
        words = {word["id"]: word.get("match_max", 1) for word in content["gap_texts"]}
        if (
            not isinstance(filling, dict)
            or not set(filling) <= gaps
            or not all(word in words for word in filling.values())
        ):
            raise ValidationError(
                "'gaps' must map this item's gap ids to its gap text ids.",
                details={"field": field, "gaps": sorted(gaps), "gap_texts": sorted(words)},
            )
        for word, most in words.items():
            used = sum(chosen == word for chosen in filling.values())
            if most and used > most:
                raise ValidationError(
                    "Gap text %(word)s fills %(used)s gaps, but may fill at most %(max)s.",
                    params={"word": word, "used": used, "max": most},
                    details={"field": field, "gap_text": word},
                )

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        correct = scoring.get("correct")
        gaps = set(GAP.findall(content["text"]))
        if not isinstance(correct, dict) or set(correct) != gaps:
            raise ValidationError(
                "The key must give a gap text for every gap.",
                details={"field": "scoring.correct", "gaps": sorted(gaps)},
            )
        self._check_filling(content, correct, "scoring.correct")
        cleaned: dict[str, Any] = {"correct": dict(correct), "method": _method(scoring)}
        if cleaned["method"] == "partial" and scoring.get("mapping") is not None:
            ids = gaps | {word["id"] for word in content["gap_texts"]}
            cleaned["mapping"] = _mapping(
                scoring["mapping"], ids, "scoring.mapping", pair_keys=True
            )
        return cleaned

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        if not isinstance(response, dict) or set(response) != {"gaps"}:
            raise ValidationError(
                'A gap match response is {"gaps": {"<gap id>": "<gap text id>", ...}}.',
                details={"field": "response"},
            )
        self._check_filling(content, response["gaps"], "response.gaps")

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        key = scoring["correct"]
        chosen = response["gaps"]
        if scoring.get("method") != "partial":
            return 1.0 if all(chosen.get(gap) == word for gap, word in key.items()) else 0.0
        mapping = scoring.get("mapping")
        if not mapping:
            right = sum(chosen.get(gap) == word for gap, word in key.items())
            return round(right / len(key), 10)
        points = sum(mapping.get(f"{word} {gap}", 0.0) for gap, word in chosen.items())
        return min(1.0, max(0.0, round(points, 10)))

    def _filled(self, content: dict[str, Any], chosen: dict[str, Any]) -> str:
        words = content["gap_texts"]

        def fill(match: re.Match[str]) -> str:
            word = chosen.get(match.group(1))
            return "[ ]" if word is None else f"[{_label(words, word)}]"

        return GAP.sub(fill, plain_text(content["text"]))

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return self._filled(content, dict(response["gaps"]))

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        return self._filled(content, scoring["correct"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        words = [w for w in content.get("gap_texts") or [] if isinstance(w, dict)]
        html = GAP.sub(
            lambda m: f'<span class="gap" data-gap="{m.group(1)}"></span>',
            sanitise_html(content.get("text") or ""),
        )
        return {
            "stem": sanitise_html(content.get("stem") or ""),
            "html": html,
            "gaps": GAP.findall(content.get("text") or ""),
            # In an order that depends only on the set of words, never on the key's order.
            "gap_texts": [
                {"id": w["id"], "html": sanitise_html(w["text"]), "match_max": w["match_max"]}
                for w in _set_order(
                    [
                        {
                            "id": str(w.get("id")),
                            "text": str(w.get("text") or ""),
                            "match_max": _whole(w.get("match_max", 1), 1),
                        }
                        for w in words
                    ]
                )
            ],
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Fill each gap with a word from the list.</p>",
                "text": "<p>Water freezes at {{G1}} °C and boils at {{G2}} °C.</p>",
                "gap_texts": [
                    {"id": "W0", "text": "0", "match_max": 1},
                    {"id": "W50", "text": "50", "match_max": 1},
                    {"id": "W100", "text": "100", "match_max": 1},
                ],
            },
            {"correct": {"G1": "W0", "G2": "W100"}, "method": "partial"},
        )


# --------------------------------------------------------------------------- polytomous types


@register_item_type
class ExtendedText(ItemType):
    """A written answer scored by a person with a rubric. Response: ``{"text": "..."}``.

    ``score`` gives 0 until a rater applies the rubric (``apply_rubric``): the awarded score
    points, 0 to ``max_points``.
    """

    type_id = "extended_text"
    label = "Extended text (rubric)"
    response_example: ClassVar[dict[str, Any]] = {
        "text": "Because the angles of a triangle add up to 180°, ..."
    }
    human_scored = True
    polytomous = True

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        lines = content.get("expected_lines", 6)
        if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= 60:
            raise _fail("'expected_lines' must be 1 to 60.", field="expected_lines")
        return {"stem": _html(content.get("stem"), "stem"), "expected_lines": lines}

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        rubric = scoring.get("rubric")
        if not isinstance(rubric, list) or not 2 <= len(rubric) <= 11:
            raise _fail("The rubric must describe 2 to 11 score points.", field="scoring.rubric")
        cleaned = []
        for position, level in enumerate(rubric):
            points = level.get("points") if isinstance(level, dict) else None
            if isinstance(points, bool) or not isinstance(points, int) or points < 0:
                raise _fail("Each rubric level needs whole 'points'.", level=position)
            description = level.get("description")
            if not isinstance(description, str) or not description.strip():
                raise _fail("Each rubric level needs a description.", level=position)
            cleaned.append({"points": points, "description": description[:MAX_SHORT_TEXT]})
        points = sorted(level["points"] for level in cleaned)
        if points != list(range(len(points))):
            raise _fail("Rubric points must run 0, 1, 2, ... without gaps.", points=points)
        return {"rubric": cleaned, "max_points": points[-1]}

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        _text_response(response, MAX_LONG_TEXT)

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        return 0.0  # provisional until a rater applies the rubric

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return str(response["text"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        levels = sorted(scoring["rubric"], key=lambda level: -level["points"])
        return "\n".join(f"{level['points']}: {level['description']}" for level in levels)

    def apply_rubric(self, scoring: dict[str, Any], points: Any) -> float:
        if isinstance(points, bool) or not isinstance(points, int):
            raise _fail("Rubric points must be a whole number.", field="points")
        if not 0 <= points <= scoring["max_points"]:
            raise _fail(f"Points must be 0 to {scoring['max_points']}.", field="points")
        return float(points)

    def max_score(self, scoring: dict[str, Any]) -> float:
        return float(scoring["max_points"])

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "expected_lines": content.get("expected_lines", 6),
        }

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {"stem": "<p>Explain why the angles of a triangle add up to 180°.</p>"},
            {
                "rubric": [
                    {"points": 0, "description": "No relevant reasoning."},
                    {"points": 1, "description": "Uses parallel lines, reasoning incomplete."},
                    {"points": 2, "description": "Complete argument with alternate angles."},
                ]
            },
        )


@register_item_type
class PartialCredit(ItemType):
    """A choice whose options earn ordered score categories 0..K (GRM/GPCM items).

    Response: ``{"choice": "<option id>"}``; scoring: ``{"scores": {"A": 2, "B": 1, "C": 0}}``.
    """

    type_id = "partial_credit"
    label = "Polytomous partial credit"
    response_example: ClassVar[dict[str, Any]] = {"choice": "A"}
    polytomous = True

    def clean_content(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": _html(content.get("stem"), "stem"),
            "options": _choices(content, "options"),
        }

    def validate_scoring(self, content: dict[str, Any], scoring: dict[str, Any]) -> dict:
        ids = {option["id"] for option in content["options"]}
        scores = scoring.get("scores")
        if not isinstance(scores, dict) or set(scores) != ids:
            raise _fail(
                "'scores' must give a score category for every option.", options=sorted(ids)
            )
        for option, category in scores.items():
            if isinstance(category, bool) or not isinstance(category, int) or category < 0:
                raise _fail("Score categories are whole numbers from 0.", option=option)
        categories = sorted(set(scores.values()))
        if categories[0] != 0 or categories[-1] < 1 or categories[-1] > 10:
            raise _fail("Categories must include 0 and top out at 1 to 10.", categories=categories)
        return {"scores": dict(scores)}

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        SingleChoice.validate_response(self, content, response)  # same shape

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        return float(scoring["scores"].get(response["choice"], 0))

    def response_text(self, content: dict[str, Any], response: Any) -> str:
        return _label(content["options"], response["choice"])

    def key_text(self, content: dict[str, Any], scoring: dict[str, Any]) -> str:
        ranked = sorted(content["options"], key=lambda o: -scoring["scores"].get(o["id"], 0))
        return "; ".join(
            f"{_label(content['options'], o['id'])} ({scoring['scores'].get(o['id'], 0)})"
            for o in ranked
        )

    def max_score(self, scoring: dict[str, Any]) -> float:
        return float(max(scoring["scores"].values()))

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return SingleChoice.student_view(self, content)

    def example(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "stem": "<p>Which expression equals 2(x + 3)?</p>",
                "options": [
                    {"id": "A", "text": "2x + 6"},
                    {"id": "B", "text": "2x + 3"},
                    {"id": "C", "text": "x + 6"},
                ],
            },
            {"scores": {"A": 2, "B": 1, "C": 0}},
        )
