"""Operator pages: the bank (list and search), the item editor with live preview, import/export.

Pages are shells; their ES modules call /api/v1. The item-type registry, statuses and the
lifecycle table are handed to the page from Python, never typed twice (STYLE habit 10).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import gettext
from werkzeug.wrappers import Response

from cbt.models import Role
from cbt.views import page_guard
from item_bank.models import ItemStatus
from item_bank.service import TRANSITIONS
from item_bank.types import ITEM_TYPES

__all__ = ["blueprint", "page_constants"]

blueprint = Blueprint("item_bank_views", __name__)


def page_constants() -> dict[str, Any]:
    types = []
    for type_id, kind in ITEM_TYPES.items():
        content, scoring = kind.example()
        types.append(
            {
                "id": type_id,
                "label": gettext(kind.label),  # translated from the same catalog
                "humanScored": kind.human_scored,
                "responseExample": kind.response_example,
                "example": {"content": content, "scoring": scoring},
            }
        )
    return {
        "itemTypes": types,
        "itemStatuses": [status.value for status in ItemStatus],
        "transitions": [
            {"from": src, "to": to, "roles": sorted(roles)}
            for (src, to), roles in TRANSITIONS.items()
        ],
    }


@blueprint.get("/operator")
def operator_home() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_items.html", item_bank=page_constants()
    )


@blueprint.get("/operator/items/new")
def new_item() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_item.html", item_bank=page_constants(), item_id=None
    )


@blueprint.get("/operator/items/<int:item_id>")
def edit_item(item_id: int) -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_item.html", item_bank=page_constants(), item_id=item_id
    )


@blueprint.get("/operator/guidance")
def curriculum_guidance() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_guidance.html", item_bank=page_constants()
    )


@blueprint.get("/operator/import")
def import_export() -> Response | str:
    return page_guard(Role.OPERATOR) or render_template(
        "operator_import.html", item_bank=page_constants()
    )
