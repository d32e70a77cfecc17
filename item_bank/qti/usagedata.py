"""QTI usage data (item statistics) in and out: ``imsqti_usagedata_xmlv3p0`` resources.

A usage-data document lists statistics, each naming its targets (items by identifier), the
group it was computed on (``context``), a term of a glossary (``name``), a case count and
standard error, and either one value (``ordinaryStatistic``) or a table of values per
response (``categorizedStatistic``). The 1EdTech item-statistics glossary names the IRT
parameters ``A-Param``, ``B-Param`` and ``C-Param`` and the p-value ``AIS``; where a group's
statistics carry IRT parameters for an item they become a draft parameter set for that group.
QTI 2.1 and 2.2 usage data has the same structure under its own namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from cbt.errors import ValidationError
from item_bank.qti.items import local_name

USAGE_NS = "http://www.imsglobal.org/xsd/imsqti_usagedata_v3p0"
USAGE_RESOURCE = "imsqti_usagedata_xmlv3p0"
USAGE_RESOURCES = ("imsqti_usagedata_xmlv3p0", "imsqti_usagedata_xmlv2p")
ITEM_GLOSSARY = (
    "http://www.imsglobal.org/qti/qtiv3p0/imsqti_usagedatav3p0_itemstatisticsglossary_v1p0"
)
# Glossary terms that are IRT item parameters, and the parameter-record field each fills.
IRT_TERMS = {"a-param": "discrimination", "b-param": "difficulty", "c-param": "guessing"}
MAX_STATISTICS = 200_000


@dataclass(frozen=True)
class Statistic:
    """One statistic of a usage-data document, for one or more target objects."""

    name: str
    context: str
    targets: tuple[str, ...]
    glossary: str | None = None
    value: float | None = None
    text: str | None = None
    mapping: dict[str, float] | None = None
    case_count: int | None = None
    std_error: float | None = None
    std_deviation: float | None = None
    last_updated: str | None = None

    @property
    def irt_field(self) -> str | None:
        return IRT_TERMS.get(self.name.strip().lower())


@dataclass
class UsageData:
    statistics: list[Statistic] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _number(raw: str | None, what: str, path: str) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(
            "%(path)s: %(what)s %(raw)r is not a number.",
            params={"path": path, "what": what, "raw": raw.strip()[:40]},
            details={"file": path},
        ) from None
    if not math.isfinite(value):
        raise ValidationError(
            "%(path)s: %(what)s must be finite.",
            params={"path": path, "what": what},
            details={"file": path},
        )
    return value


def read_usage_data(root: etree._Element, path: str) -> UsageData:
    """The statistics of a usage-data document (any QTI version's namespace)."""
    if local_name(root.tag) != "usageData":
        raise ValidationError(
            "%(path)s: the root element is not usageData.",
            params={"path": path},
            details={"file": path},
        )
    glossary = root.get("glossary")
    found = UsageData()
    for element in root:
        if not isinstance(element.tag, str):
            continue
        kind = local_name(element.tag)
        value_element = next((c for c in element if local_name(c.tag) == "value"), None)
        mapping_element = next((c for c in element if local_name(c.tag) == "mapping"), None)
        name = (element.get("name") or "").strip()
        context = (element.get("context") or "").strip()
        if not name or not context:
            raise ValidationError(
                "%(path)s: a %(kind)s needs a name and a context.",
                params={"path": path, "kind": kind},
                details={"file": path},
            )
        targets = tuple(
            (t.get("identifier") or "").strip()
            for t in element
            if isinstance(t.tag, str) and local_name(t.tag) == "targetObject"
        )
        if not targets or not all(targets):
            raise ValidationError(
                "%(path)s: statistic %(name)r names no target object.",
                params={"path": path, "name": name},
                details={"file": path},
            )
        what = f"statistic {name!r}"
        case_count = _number(element.get("caseCount"), f"{what}: caseCount", path)
        common = {
            "name": name[:100],
            "context": context[:200],
            "targets": targets,
            "glossary": (element.get("glossary") or glossary or None),
            "case_count": int(case_count) if case_count is not None else None,
            "std_error": _number(element.get("stdError"), f"{what}: stdError", path),
            "std_deviation": _number(element.get("stdDeviation"), f"{what}: stdDeviation", path),
            "last_updated": (element.get("lastUpdated") or None),
        }
        if mapping_element is not None:
            table: dict[str, float] = {}
            for entry in mapping_element:
                if isinstance(entry.tag, str) and local_name(entry.tag) == "mapEntry":
                    mapped = _number(entry.get("mappedValue"), f"{what}: mappedValue", path)
                    if entry.get("mapKey") is None or mapped is None:
                        raise ValidationError(
                            "%(path)s: %(what)s has a mapEntry without mapKey or mappedValue.",
                            params={"path": path, "what": what},
                            details={"file": path},
                        )
                    table[entry.get("mapKey")] = mapped
            found.statistics.append(Statistic(**common, mapping=table))
        elif value_element is not None:
            text = "".join(value_element.itertext()).strip()
            try:
                number = _number(text, what, path)
            except ValidationError:
                number = None
            if number is None and Statistic(**common).irt_field:
                raise ValidationError(
                    "%(path)s: %(what)s is not a number (%(text)r).",
                    params={"path": path, "what": what, "text": text[:40]},
                    details={"file": path},
                )
            found.statistics.append(
                Statistic(**common, value=number, text=None if number is not None else text[:200])
            )
        else:
            found.warnings.append(f"{path}: statistic {name!r} has no value; left out.")
        if len(found.statistics) > MAX_STATISTICS:
            raise ValidationError(
                "%(path)s: more than %(maximum)s statistics.",
                params={"path": path, "maximum": MAX_STATISTICS},
                details={"file": path},
            )
    return found


def irt_records(statistics: list[Statistic]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{context: {target: parameter record}}`` for the targets with a B-Param.

    The model follows what is there: A, B and C give 3PL; A and B give 2PL; B alone, 1PL.
    Standard errors travel in the record's ``se``.
    """
    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    for statistic in statistics:
        field_name = statistic.irt_field
        if field_name is None or statistic.value is None:
            continue
        for target in statistic.targets:
            record = by_group.setdefault(statistic.context, {}).setdefault(target, {"se": {}})
            record[field_name] = statistic.value
            if statistic.std_error is not None:
                record["se"][field_name] = statistic.std_error
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for context, targets in by_group.items():
        for target, record in targets.items():
            if "difficulty" not in record:
                continue
            if "guessing" in record:
                record["model"] = "3pl"
            elif "discrimination" in record:
                record["model"] = "2pl"
            else:
                record["model"] = "1pl"
            records.setdefault(context, {})[target] = record
    return records


def usage_data_xml(context: str, rows: list[tuple[str, dict[str, Any], int | None]]) -> bytes:
    """A usage-data document of IRT parameters: ``rows`` of (item identifier, record, N)."""
    root = etree.Element(
        f"{{{USAGE_NS}}}usageData", nsmap={None: USAGE_NS}, attrib={"glossary": ITEM_GLOSSARY}
    )
    for identifier, record, case_count in rows:
        terms = [("B-Param", "difficulty")]
        if record["model"] not in ("rasch", "1pl"):
            terms.insert(0, ("A-Param", "discrimination"))
        if record["model"] == "3pl":
            terms.append(("C-Param", "guessing"))
        for term, name in terms:
            value = record.get(name)
            if value is None:
                continue
            attrib = {"name": term, "context": context}
            if case_count is not None:
                attrib["caseCount"] = str(case_count)
            se = (record.get("se") or {}).get(name)
            if isinstance(se, int | float) and math.isfinite(se):
                attrib["stdError"] = repr(float(se))
            statistic = etree.SubElement(root, f"{{{USAGE_NS}}}ordinaryStatistic", attrib)
            etree.SubElement(statistic, f"{{{USAGE_NS}}}targetObject", {"identifier": identifier})
            etree.SubElement(statistic, f"{{{USAGE_NS}}}value").text = repr(float(value))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
