"""The one registry type behind item types, selection rules and stopping rules."""

from __future__ import annotations

import pytest

from item_bank.types import ITEM_TYPES, ItemType, get_item_type
from scoring import SELECTION_RULES, STOPPING_RULES, make_selection_rule, make_stopping_rule
from scoring.registry import Registry


class Rule:
    name = "demo"

    def __init__(self, k: int = 1) -> None:
        self.k = k


def test_register_lookup_build_and_refusals() -> None:
    rules: Registry[type] = Registry("demo rule", name_of=lambda cls: cls.name)
    assert rules.register(Rule) is Rule
    assert rules.register(Rule) is Rule  # the same class again is harmless (a re-import)
    assert dict(rules) == {"demo": Rule}
    assert rules.build("demo").k == 1
    assert rules.build({"rule": "demo", "k": 3}).k == 3
    with pytest.raises(ValueError, match=r"unknown demo rule 'nope'; expected one of \['demo'\]"):
        rules.build("nope")
    with pytest.raises(ValueError, match="bad settings for demo rule 'demo'"):
        rules.build({"rule": "demo", "surprise": 1})
    with pytest.raises(ValueError, match="a name or a mapping with 'rule'"):
        rules.build({"k": 1})
    other = type("Other", (), {"name": "demo"})
    with pytest.raises(ValueError, match="already registered"):
        rules.register(other)
    with pytest.raises(ValueError, match="needs a name"):
        rules.register(type("Nameless", (), {"name": ""}))
    with pytest.raises(TypeError):
        rules["x"] = Rule  # type: ignore[index]  # read-only from outside


def test_the_three_registries_are_registries() -> None:
    for registry in (ITEM_TYPES, SELECTION_RULES, STOPPING_RULES):
        assert isinstance(registry, Registry)
        assert len(registry) >= 3
    assert all(isinstance(kind, ItemType) for kind in ITEM_TYPES.values())  # instances
    assert get_item_type("single_choice") is ITEM_TYPES["single_choice"]
    assert make_selection_rule({"rule": "randomesque", "k": 5}).settings()["k"] == 5
    with pytest.raises(ValueError, match="unknown stopping rule"):
        make_stopping_rule({"rule": "no-such-rule"})
    with pytest.raises(ValueError, match="already registered"):
        ITEM_TYPES.register(type("Impostor", (ItemType,), {"type_id": "single_choice"}))
