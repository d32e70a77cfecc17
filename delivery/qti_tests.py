"""Linear test definitions made from a QTI package's assessment tests.

The item bank maps each ``qti-assessment-test`` to plain data (``item_bank.qti.tests``) and
sends ``cbt.signals.qti_tests_imported`` inside the import's transaction; the app connects
``on_qti_tests_imported`` (``cbt.app``). Each mapped test becomes a pool of exactly its item
versions and a linear ``TestDefinition`` scored with the chosen published parameter set, on the
default reporting scale. A test whose key is already a definition is left as it is (definitions
are immutable). Anything else that does not fit refuses the whole import.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from cbt.audit import Actor
from cbt.db import db
from cbt.errors import DomainError, NotFound, ValidationError
from delivery.definitions import create_test_definition, find_test_definition
from delivery.models import TestDefinition
from item_bank.models import ParameterSet
from item_bank.qti.items import QTI_NS
from item_bank.service import create_pool, find_pool

__all__ = ["create_linear_definition_from_qti", "definition_test_xml", "on_qti_tests_imported"]


def _(message: str) -> str:
    """Marks a report message for the catalog; the API and the CLI translate it."""
    return message


def create_linear_definition_from_qti(
    test: dict[str, Any], *, parameter_set: ParameterSet, actor: Actor
) -> dict[str, Any]:
    """One mapped test as a pool and a linear test definition; the report entry's new fields."""
    key = test["identifier"][:100]
    existing = find_test_definition(key)
    if existing is not None:
        return {
            "status": "exists",
            "definition": {"id": existing.id, "key": existing.key},
            "reason": {
                "code": "definition_exists",
                "template": _(
                    "A test definition with key %(key)s exists; it was left as it is "
                    "(definitions do not change)."
                ),
                "params": {"key": key},
                "message": f"A test definition with key {key} exists; it was left as it is "
                "(definitions do not change).",
            },
        }
    base = f"qti:{key}"[:96]
    name, n = base, 1
    while find_pool(name) is not None:
        n += 1
        name = f"{base}:{n}"
    pool = create_pool(
        name=name,
        item_version_ids=list(test["item_version_ids"]),
        active_parameter_set_id=parameter_set.id,
        description=f"Items of the QTI assessment test {key}",
        actor=actor,
    )
    try:
        definition = create_test_definition(
            key=key,
            title=test["title"] or key,
            pool=pool.name,
            parameter_set=parameter_set.name,
            parameter_set_version=parameter_set.version,
            settings=test["settings"],
            scale={},
            created_by_id=actor.id,
        )
    except DomainError as error:
        raise ValidationError(
            "Test %(test)s could not become a test definition: %(problem)s",
            params={"test": key, "problem": error.message},
            details={"test": key, **error.details},
        ) from None
    return {
        "status": "created",
        "definition": {"id": definition.id, "key": definition.key, "mode": definition.mode},
        "pool": {"id": pool.id, "name": pool.name},
    }


def on_qti_tests_imported(
    sender: Actor, *, tests: list[dict[str, Any]], parameter_set_id: int
) -> dict[str, dict[str, Any]]:
    """The receiver of ``qti_tests_imported``: every mapped test as a definition."""
    parameter_set = db.session.get(ParameterSet, parameter_set_id)
    if parameter_set is None:
        raise NotFound(
            "No parameter set %(parameter_set_id)s.", params={"parameter_set_id": parameter_set_id}
        )
    return {
        test["identifier"]: create_linear_definition_from_qti(
            test, parameter_set=parameter_set, actor=sender
        )
        for test in tests
    }


_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _ncname(key: str, prefix: str) -> str:
    return key if _NCNAME.match(key) else prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def definition_test_xml(definition: TestDefinition) -> bytes:
    """A linear definition as a QTI 3.0 ``qti-assessment-test`` (the inverse of the import).

    Consecutive sections with the same navigation share a test part (``free`` is nonlinear,
    ``forward`` linear). Item references name the item by its key, with ``href`` as our own
    package export writes it (``../items/<key>.xml`` from ``tests/``). Only linear sections with
    one form export: LOFT, adaptive and multi-form sections have no exact QTI form here.
    """
    sections = definition.settings.get("sections", [])
    for section in sections:
        if section.get("kind") != "linear" or len(section.get("forms", [])) != 1:
            raise ValidationError(
                "Only linear test definitions with one form per section export as a QTI "
                "assessment test; section %(section)s does not.",
                params={"section": section.get("key")},
                details={"test": definition.key, "section": section.get("key")},
            )
    q = f"{{{QTI_NS}}}"
    root = etree.Element(
        q + "qti-assessment-test",
        {"identifier": _ncname(definition.key, "T_"), "title": definition.title},
        nsmap={None: QTI_NS},
    )
    part = None
    for section in sections:
        mode = "nonlinear" if section.get("navigation", "free") == "free" else "linear"
        if part is None or part.get("navigation-mode") != mode:
            part = etree.SubElement(
                root,
                q + "qti-test-part",
                {
                    "identifier": f"P{len(root) + 1}",
                    "navigation-mode": mode,
                    "submission-mode": "individual",
                },
            )
        element = etree.SubElement(
            part,
            q + "qti-assessment-section",
            {
                "identifier": _ncname(section["key"], "S_"),
                "title": section.get("title") or section["key"],
                "visible": "true",
            },
        )
        if section.get("time_limit_seconds"):
            etree.SubElement(
                element, q + "qti-time-limits", {"max-time": str(section["time_limit_seconds"])}
            )
        if section.get("shuffle_items"):
            etree.SubElement(element, q + "qti-ordering", {"shuffle": "true"})
        for key in section["forms"][0]:
            stem = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
            etree.SubElement(
                element,
                q + "qti-assessment-item-ref",
                {"identifier": _ncname(key, "I_"), "href": f"../items/{stem}.xml"},
            )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
