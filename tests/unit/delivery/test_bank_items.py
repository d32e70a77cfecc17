"""The item bank's ``PoolItem`` and the engine's ``BankItem`` are one item at two stages.

They stay two definitions because the layer contracts keep them apart: the item bank may not
import delivery, and the pure engine may import neither the item bank nor cbt (``cbt simulate``
builds ``BankItem`` with no database). These tests keep the twins in step: every field they share
has the same name, type and default, and ``bank_items`` carries each one across unchanged.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, fields

from flask import Flask

from cbt.db import db
from delivery.engine import BankItem
from delivery.models import TestDefinition
from delivery.service import bank_items
from item_bank.service import PoolItem, load_pool_items
from tests.helpers import seed_school

#: The bank's raw stimulus and accessibility variants become the engine's rendered view.
POOL_ONLY = {"stimulus_html", "accessibility"}
#: What delivery derives: the student view, rendered once, and the SCORE-to-category cuts.
BANK_ONLY = {"student_view", "category_cuts"}


def _signature(field: Field) -> tuple[object, object, object]:
    return (field.type, field.default, field.default_factory is not MISSING)


def test_the_twins_share_every_other_field() -> None:
    pool = {f.name: _signature(f) for f in fields(PoolItem)}
    bank = {f.name: _signature(f) for f in fields(BankItem)}
    assert set(pool) - set(bank) == POOL_ONLY
    assert set(bank) - set(pool) == BANK_ONLY
    assert {name: pool[name] for name in set(pool) & set(bank)} == {
        name: bank[name] for name in set(pool) & set(bank)
    }


def test_bank_items_carries_the_shared_fields_across(app: Flask) -> None:
    school = seed_school(n_items=6)
    definition = db.session.get(TestDefinition, school.test_definition_id)
    assert definition is not None
    assert definition.parameter_set_id is not None
    loaded = load_pool_items(definition.pool_id, definition.parameter_set_id)
    compiled = bank_items(definition.pool_id, definition.parameter_set_id)
    shared = sorted({f.name for f in fields(BankItem)} - BANK_ONLY)
    assert len(compiled) == len(loaded) == 6
    for raw, item in zip(loaded, compiled, strict=True):
        assert {name: getattr(item, name) for name in shared} == {
            name: getattr(raw, name) for name in shared
        }
        assert item.student_view["item_type"] == raw.item_type
        assert "scoring" not in item.student_view
