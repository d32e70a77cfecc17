"""The item bank: items and immutable versions, stimuli, media, curriculum codes, parameter sets,
pools, QTI 3.0 import and export (``item_bank.qti``), and the one student-safe rendering.

See docs/item_bank.md. Delivery uses ``load_pool_items``, ``student_view`` and
``score_response``; everything here takes plain values and only flushes.
"""

from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import (
    TRANSITIONS,
    ItemFields,
    ItemFilters,
    PoolItem,
    apply_rubric,
    create_item,
    create_parameter_set,
    create_pool,
    create_stimulus,
    diff_versions,
    find_item,
    find_pool,
    get_item,
    get_item_version,
    list_items,
    load_pool_items,
    parameter_record,
    pool_summary,
    publish_parameter_set,
    revise_item,
    score_response,
    set_enemies,
    student_view,
    transition_item,
)
from item_bank.types import ITEM_TYPES, ItemType, get_item_type, register_item_type

__all__ = [
    "ITEM_TYPES",
    "TRANSITIONS",
    "ItemFields",
    "ItemFilters",
    "ItemStatus",
    "ItemType",
    "ParameterSetStatus",
    "PoolItem",
    "apply_rubric",
    "create_item",
    "create_parameter_set",
    "create_pool",
    "create_stimulus",
    "diff_versions",
    "find_item",
    "find_pool",
    "get_item",
    "get_item_type",
    "get_item_version",
    "list_items",
    "load_pool_items",
    "parameter_record",
    "pool_summary",
    "publish_parameter_set",
    "register_item_type",
    "revise_item",
    "score_response",
    "set_enemies",
    "student_view",
    "transition_item",
]
