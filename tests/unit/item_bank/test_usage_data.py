"""QTI usage data: item statistics and IRT parameters in, a published set's parameters out."""

from __future__ import annotations

import io
import zipfile

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor
from cbt.db import db
from cbt.errors import DomainError, ValidationError
from item_bank.models import (
    Item,
    ItemParameter,
    ItemStatistic,
    ItemVersion,
    ParameterSet,
    ParameterSetStatus,
)
from item_bank.qti import ImportOptions, export_package, import_package
from item_bank.service import create_parameter_set, publish_parameter_set
from tests.helpers import row_count
from tests.unit.item_bank.test_qti import MANIFEST, choice_item, fresh_bank, package

SYSTEM = Actor()
USAGE = "http://www.imsglobal.org/xsd/imsqti_usagedata_v3p0"
USAGE_22 = "http://www.imsglobal.org/xsd/imsqti_usagedata_v2p2"
GLOSSARY = "http://www.imsglobal.org/qti/qtiv3p0/imsqti_usagedatav3p0_itemstatisticsglossary_v1p0"


def ordinary(name: str, target: str, value: str, *, context: str = "grade8-2025", **attrs: str):
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return (
        f'<ordinaryStatistic name="{name}" context="{context}"{extra}>'
        f'<targetObject identifier="{target}"/><value>{value}</value></ordinaryStatistic>'
    )


def usage_doc(*statistics: str, namespace: str = USAGE) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><usageData xmlns="{namespace}" '
        f'glossary="{GLOSSARY}">{"".join(statistics)}</usageData>'
    )


def manifest_with(items: list[str], usage: list[str], usage_type="imsqti_usagedata_xmlv3p0"):
    resources = "".join(
        f'<resource identifier="R{n}" type="imsqti_item_xmlv3p0" href="{href}">'
        f'<file href="{href}"/></resource>'
        for n, href in enumerate(items)
    ) + "".join(
        f'<resource identifier="U{n}" type="{usage_type}" href="{href}">'
        f'<file href="{href}"/></resource>'
        for n, href in enumerate(usage)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="{MANIFEST}" identifier="m">'
        f"<resources>{resources}</resources></manifest>"
    )


DISTRACTORS = (
    '<categorizedStatistic name="NumberChoosingResponse" context="grade8-2025" caseCount="1200">'
    '<targetObject identifier="q1"/><mapping defaultValue="0">'
    '<mapEntry mapKey="A" mappedValue="780"/><mapEntry mapKey="B" mappedValue="420"/>'
    "</mapping></categorizedStatistic>"
)


def two_items_with_statistics() -> bytes:
    return package(
        {
            "imsmanifest.xml": manifest_with(["items/q1.xml", "items/q2.xml"], ["usage.xml"]),
            "items/q1.xml": choice_item("q1"),
            "items/q2.xml": choice_item("q2", "Is it not?"),
            "usage.xml": usage_doc(
                ordinary("AIS", "q1", "0.65", caseCount="1200"),
                ordinary("A-Param", "q1", "1.2", stdError="0.08"),
                ordinary("B-Param", "q1", "-0.4", stdError="0.05"),
                ordinary("C-Param", "q1", "0.18"),
                ordinary("A-Param", "q2", "0.9"),
                ordinary("B-Param", "q2", "0.7"),
                ordinary("B-Param", "q2", "0.5", context="pilot"),
                DISTRACTORS,
            ),
        }
    )


def test_usage_data_becomes_item_statistics_and_a_draft_parameter_set(app: Flask) -> None:
    report = import_package(two_items_with_statistics(), actor=SYSTEM)
    db.session.commit()
    assert report["created"] == 2
    usage = report["usage_data"]
    assert usage["statistics"] == 8
    assert usage["items"] == 2
    assert usage["left_out"] == []
    version = dict(
        db.session.execute(
            select(Item.key, ItemVersion.id).join(ItemVersion, ItemVersion.item_id == Item.id)
        ).all()
    )
    p_value = db.session.scalars(select(ItemStatistic).where(ItemStatistic.name == "AIS")).one()
    assert (p_value.item_version_id, p_value.value, p_value.case_count) == (
        version["q1"],
        0.65,
        1200,
    )
    assert p_value.glossary == GLOSSARY
    assert p_value.source == "usage.xml"
    shares = db.session.scalars(
        select(ItemStatistic).where(ItemStatistic.name == "NumberChoosingResponse")
    ).one()
    assert shares.mapping == {"A": 780.0, "B": 420.0}
    assert shares.value is None

    # One draft set per group that carries IRT parameters; the model follows what is there.
    sets = {s["name"]: s for s in usage["parameter_sets"]}
    assert set(sets) == {"grade8-2025", "pilot"}
    grade8 = db.session.get(ParameterSet, sets["grade8-2025"]["id"])
    assert grade8.status == ParameterSetStatus.DRAFT
    assert grade8.scaling == 1.0
    assert grade8.provenance["source"] == "qti_usage_data"
    params = {p.item_version_id: p for p in grade8.item_parameters}
    q1, q2 = params[version["q1"]], params[version["q2"]]
    assert (q1.model, q1.discrimination, q1.difficulty, q1.guessing) == ("3pl", 1.2, -0.4, 0.18)
    assert q1.standard_errors == {"discrimination": 0.08, "difficulty": 0.05}
    assert (q2.model, q2.discrimination, q2.difficulty) == ("2pl", 0.9, 0.7)
    pilot = db.session.get(ParameterSet, sets["pilot"]["id"])
    (only,) = pilot.item_parameters
    assert (only.model, only.discrimination, only.difficulty) == ("1pl", 1.0, 0.5)
    assert any("draft parameter set" in w for w in report["warnings"])


def test_a_package_of_usage_data_only_applies_to_the_bank_and_says_so(app: Flask) -> None:
    import_package(
        package({"imsmanifest.xml": manifest_with(["q1.xml"], []), "q1.xml": choice_item("q1")}),
        actor=SYSTEM,
    )
    db.session.commit()
    data = package(
        {
            "imsmanifest.xml": manifest_with([], ["stats/u.xml"]),
            "stats/u.xml": usage_doc(
                ordinary("AIS", "q1", "0.5"), ordinary("AIS", "nowhere", "0.3")
            ),
        }
    )
    report = import_package(data, actor=SYSTEM)
    db.session.commit()
    assert report["n_items"] == 0
    assert report["created"] == 0
    assert report["usage_data"]["statistics"] == 1
    assert report["usage_data"]["left_out"] == ["nowhere"]
    assert any("nowhere" in w for w in report["warnings"])
    assert row_count(Item) == 1
    assert row_count(ItemStatistic) == 1


def test_qti22_usage_data_reads_the_same(app: Flask) -> None:
    data = package(
        {
            "imsmanifest.xml": manifest_with(["q1.xml"], ["u.xml"], "imsqti_usagedata_xmlv2p2"),
            "q1.xml": choice_item("q1"),
            "u.xml": usage_doc(ordinary("B-Param", "q1", "0.25"), namespace=USAGE_22),
        }
    )
    report = import_package(data, actor=SYSTEM)
    assert report["usage_data"]["statistics"] == 1
    assert len(report["usage_data"]["parameter_sets"]) == 1


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (usage_doc(ordinary("B-Param", "q1", "hard")), "is not a number"),
        (usage_doc(ordinary("AIS", "q1", "0.5", caseCount="many")), "caseCount"),
        (
            usage_doc(
                '<ordinaryStatistic name="AIS"><targetObject identifier="q1"/>'
                "<value>1</value></ordinaryStatistic>"
            ),
            "needs a name and a context",
        ),
        (
            usage_doc(
                '<ordinaryStatistic name="AIS" context="c"><value>1</value></ordinaryStatistic>'
            ),
            "names no target",
        ),
        ('<?xml version="1.0"?><notUsage xmlns="x"/>', "not usageData"),
        (
            usage_doc(
                ordinary("C-Param", "q1", "0.2"),
                ordinary("B-Param", "q1", "0"),
                ordinary("A-Param", "q1", "-1"),
            ),
            "q1",
        ),
    ],
)
def test_bad_usage_data_refuses_the_package_and_writes_nothing(
    app: Flask, document: str, fragment: str
) -> None:
    data = package(
        {
            "imsmanifest.xml": manifest_with(["q1.xml"], ["u.xml"]),
            "q1.xml": choice_item("q1"),
            "u.xml": document,
        }
    )
    with pytest.raises(DomainError) as caught:
        import_package(data, actor=SYSTEM)
    db.session.rollback()
    assert fragment in caught.value.message + str(caught.value.details)
    assert row_count(Item) == 0
    assert row_count(ItemStatistic) == 0
    assert row_count(ParameterSet) == 0


def test_a_published_set_exports_as_usage_data_and_round_trips(app: Flask) -> None:
    import_package(two_items_with_statistics(), actor=SYSTEM)
    versions = dict(
        db.session.execute(
            select(Item.key, ItemVersion.id).join(ItemVersion, ItemVersion.item_id == Item.id)
        ).all()
    )
    published = create_parameter_set(
        name="national-2026",
        parameters={
            versions["q1"]: {
                "model": "3pl",
                "discrimination": 1.1,
                "difficulty": 0.3,
                "guessing": 0.2,
                "se": {"difficulty": 0.04},
            },
            versions["q2"]: {"model": "2pl", "discrimination": 0.8, "difficulty": -1.5},
        },
        provenance={"source": "calibration", "n_persons": 5000},
        actor=SYSTEM,
    )
    with pytest.raises(ValidationError, match="published"):
        export_package(list(versions.values()), usage_parameter_set_id=published.id)
    publish_parameter_set(published.id, actor=SYSTEM)
    db.session.commit()
    data, n_items = export_package(list(versions.values()), usage_parameter_set_id=published.id)
    assert n_items == 2
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = archive.read("imsmanifest.xml").decode()
    assert "usagedata/national-2026-v1.xml" in names
    assert "imsqti_usagedata_xmlv3p0" in manifest

    for table in ("item_statistics", "item_parameters", "parameter_sets"):
        db.session.execute(db.metadata.tables[table].delete())
    fresh_bank()
    report = import_package(data, actor=SYSTEM, options=ImportOptions(usage_scaling=1.0))
    db.session.commit()
    (made,) = report["usage_data"]["parameter_sets"]
    assert made["name"] == "national-2026 v1"
    assert made["n_items"] == 2
    back = {
        db.session.get(ItemVersion, p.item_version_id).item.key: p
        for p in db.session.scalars(select(ItemParameter))
    }
    assert (back["q1"].model, back["q1"].discrimination, back["q1"].difficulty) == ("3pl", 1.1, 0.3)
    assert back["q1"].guessing == 0.2
    assert back["q1"].standard_errors == {"difficulty": 0.04}
    assert (back["q2"].model, back["q2"].difficulty) == ("2pl", -1.5)
    counts = {s.case_count for s in db.session.scalars(select(ItemStatistic))}
    assert counts == {5000}
