"""Item bank services: plain values in and out; they flush, the caller commits.

Every change is written with an audit event in the same transaction. Roles are plain strings
(``cbt.models.Role`` values) so the CLI and the API share one rule book (``TRANSITIONS``).

The service is split by concern: ``items`` (the fields an author sets, creating and revising
items, enemies), ``versions`` (reading versions, history, diffs), ``lifecycle`` (status moves),
``search`` (the listing and export selection), ``stimuli``, ``parameters`` (parameter sets),
``pools``, and ``runtime`` (the port delivery and marking use), with the helpers they share in
``common``. This module is its public face: every name other packages import comes from here.
"""

from cbt.audit import Actor
from item_bank.curriculum import validate_curriculum_code
from item_bank.service.items import (
    ItemFields,
    add_item,
    clean_accessibility,
    create_item,
    enemy_keys,
    enemy_keys_for,
    find_item,
    get_item,
    get_item_version,
    get_version_by_number,
    revise_item,
    set_enemies,
)
from item_bank.service.lifecycle import TRANSITIONS, allowed_transitions, transition_item
from item_bank.service.parameters import (
    MODELS,
    create_parameter_set,
    get_parameter_set,
    import_parameter_file,
    list_parameter_sets,
    parameter_record,
    parameter_set_detail,
    parameter_set_document,
    parameters_by_version,
    publish_parameter_set,
)
from item_bank.service.pools import (
    create_pool,
    find_pool,
    get_pool,
    list_pools,
    pool_summary,
    set_pool_members,
    set_pool_parameter_set,
)
from item_bank.service.runtime import (
    PoolItem,
    apply_rubric,
    is_published,
    load_items,
    load_pool_items,
    pool_enemy_pairs,
    score_response,
    student_view,
)
from item_bank.service.search import (
    ItemFilters,
    curriculum_code_counts,
    export_version_ids,
    list_items,
)
from item_bank.service.stimuli import (
    create_stimulus,
    find_stimulus,
    get_stimulus,
    list_stimuli,
    stimulus_dict,
)
from item_bank.service.versions import diff_versions, item_detail, version_dict

__all__ = [
    "MODELS",
    "TRANSITIONS",
    "Actor",
    "ItemFields",
    "ItemFilters",
    "PoolItem",
    "add_item",
    "allowed_transitions",
    "apply_rubric",
    "clean_accessibility",
    "create_item",
    "create_parameter_set",
    "create_pool",
    "create_stimulus",
    "curriculum_code_counts",
    "diff_versions",
    "enemy_keys",
    "enemy_keys_for",
    "export_version_ids",
    "find_item",
    "find_pool",
    "find_stimulus",
    "get_item",
    "get_item_version",
    "get_parameter_set",
    "get_pool",
    "get_stimulus",
    "get_version_by_number",
    "import_parameter_file",
    "is_published",
    "item_detail",
    "list_items",
    "list_parameter_sets",
    "list_pools",
    "list_stimuli",
    "load_items",
    "load_pool_items",
    "parameter_record",
    "parameter_set_detail",
    "parameter_set_document",
    "parameters_by_version",
    "pool_enemy_pairs",
    "pool_summary",
    "publish_parameter_set",
    "revise_item",
    "score_response",
    "set_enemies",
    "set_pool_members",
    "set_pool_parameter_set",
    "stimulus_dict",
    "student_view",
    "transition_item",
    "validate_curriculum_code",
    "version_dict",
]
