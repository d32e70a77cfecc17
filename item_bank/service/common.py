"""Helpers the item bank's service modules share: key and language patterns, short-text
checks, search folding.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from cbt.errors import ValidationError

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _short(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(
            "'%(name)s' must be text of at most %(limit)s characters.",
            params={"name": name, "limit": limit},
        )
    return value.strip() or None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise ValidationError(
            "An item key is 1 to 100 letters, digits and _ . : - (starting with a letter or "
            "digit).",
            details={"field": "key"},
        )
    return key
