"""Item types and their scoring rules, in a registry so content and config can name them.

Each type validates authored content and keys, scores a response, and produces the student view.
The [item bank] issue adds the other types; single choice is the first.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cbt.errors import ValidationError
from item_bank.rendering import sanitise_html


class ItemType:
    """Base class: one subclass per item type, registered by ``type_id``."""

    type_id: ClassVar[str]

    def validate(self, content: dict[str, Any], scoring: dict[str, Any]) -> None:
        raise NotImplementedError

    def validate_response(self, content: dict[str, Any], response: Any) -> None:
        raise NotImplementedError

    def score(self, scoring: dict[str, Any], response: Any) -> float:
        raise NotImplementedError

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def max_score(self, scoring: dict[str, Any]) -> float:
        return 1.0


ITEM_TYPES: dict[str, ItemType] = {}


def register_item_type(cls: type[ItemType]) -> type[ItemType]:
    ITEM_TYPES[cls.type_id] = cls()
    return cls


def get_item_type(type_id: str) -> ItemType:
    try:
        return ITEM_TYPES[type_id]
    except KeyError:
        raise ValidationError(
            f"Unknown item type {type_id!r}.", details={"known": sorted(ITEM_TYPES)}
        ) from None


@register_item_type
class SingleChoice(ItemType):
    """One correct option among several. Response: ``{"choice": "<option id>"}``."""

    type_id = "single_choice"

    def validate(self, content: dict[str, Any], scoring: dict[str, Any]) -> None:
        stem = content.get("stem")
        options = content.get("options")
        if not isinstance(stem, str) or not stem.strip():
            raise ValidationError("A single-choice item needs a stem.", details={"field": "stem"})
        if not isinstance(options, list) or not 2 <= len(options) <= 10:
            raise ValidationError(
                "A single-choice item needs 2 to 10 options.", details={"field": "options"}
            )
        ids = []
        for position, option in enumerate(options):
            if (
                not isinstance(option, dict)
                or not isinstance(option.get("id"), str)
                or not isinstance(option.get("text"), str)
                or not option["text"].strip()
            ):
                raise ValidationError(
                    "Each option needs an id and a text.", details={"option": position}
                )
            ids.append(option["id"])
        if len(set(ids)) != len(ids):
            raise ValidationError("Option ids must be unique.", details={"ids": ids})
        if scoring.get("correct") not in ids:
            raise ValidationError(
                "The key must name one of the options.", details={"correct": scoring.get("correct")}
            )

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

    def student_view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "stem": sanitise_html(content["stem"]),
            "options": [
                {"id": option["id"], "html": sanitise_html(option["text"])}
                for option in content["options"]
            ],
        }
