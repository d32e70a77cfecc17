"""QTI assessment tests: mapped to linear test definitions, with notes on what did not map.

The packages are written here from the QTI 3.0 specification's test structure (test parts,
sections, item references, selection, ordering, time limits, branch rules), plus a QTI 2.2
``assessmentTest`` upgraded on the way in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor
from cbt.cli import cli
from cbt.db import db
from cbt.errors import ValidationError
from delivery.definitions import find_test_definition
from delivery.engine import compile_test
from delivery.service import bank_items
from item_bank.models import Item, ItemPool, ItemVersion
from item_bank.qti import ImportOptions, import_package
from item_bank.service import create_parameter_set, publish_parameter_set
from tests.helpers import row_count
from tests.unit.item_bank.test_qti import QTI, choice_item, package

SYSTEM = Actor()
MANIFEST = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"


def manifest(resources: list[tuple[str, str, str]]) -> str:
    """``(identifier, type, href)`` resources; an empty href makes a dependency-only one."""
    body = "".join(
        f'<resource identifier="{identifier}" type="{kind}"'
        + (f' href="{href}"><file href="{href}"/></resource>' if href else "/>")
        for identifier, kind, href in resources
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="{MANIFEST}" identifier="m">'
        f"<resources>{body}</resources></manifest>"
    )


def ref(identifier: str, extra: str = "", body: str = "") -> str:
    return (
        f'<qti-assessment-item-ref identifier="{identifier}" href="../items/{identifier}.xml"'
        f" {extra}>{body}</qti-assessment-item-ref>"
    )


def assessment_test(parts: str, identifier: str = "T1", head: str = "", tail: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><qti-assessment-test xmlns="{QTI}" '
        f'identifier="{identifier}" title="Test {identifier}">{head}{parts}{tail}'
        "</qti-assessment-test>"
    )


def part(sections: str, mode: str = "linear", submission: str = "individual", extra="") -> str:
    return (
        f'<qti-test-part identifier="P1" navigation-mode="{mode}" '
        f'submission-mode="{submission}">{extra}{sections}</qti-test-part>'
    )


def section(identifier: str, body: str, extra: str = "") -> str:
    return (
        f'<qti-assessment-section identifier="{identifier}" title="Section {identifier}" '
        f'visible="true" {extra}>{body}</qti-assessment-section>'
    )


def with_items(test_xml: str | None, items: tuple[str, ...] = ("q1", "q2", "q3", "q4")) -> bytes:
    resources = [(f"R_{i}", "imsqti_item_xmlv3p0", f"items/{i}.xml") for i in items]
    files: dict[str, str | bytes] = {f"items/{i}.xml": choice_item(i) for i in items}
    if test_xml is not None:
        resources.append(("R_T", "imsqti_test_xmlv3p0", "tests/test.xml"))
        files["tests/test.xml"] = test_xml
    files["imsmanifest.xml"] = manifest(resources)
    return package(files)


def only_tests(test_xml: str, kind: str = "imsqti_test_xmlv3p0") -> bytes:
    return package(
        {
            "imsmanifest.xml": manifest([("R_T", kind, "tests/test.xml")]),
            "tests/test.xml": test_xml,
        }
    )


TWO_SECTIONS = assessment_test(
    part(
        section("S1", '<qti-time-limits max-time="600"/>' + ref("q1") + ref("q2"))
        + section("S2", ref("q3") + ref("q4"))
    )
)


def the_test(report: dict) -> dict:
    (test,) = report["tests"]
    return test


def codes(test: dict) -> set[str]:
    return {note["code"] for note in test["notes"]}


def published_set(keys: tuple[str, ...] = ("q1", "q2", "q3", "q4")) -> int:
    versions = dict(
        db.session.execute(
            select(Item.key, ItemVersion.id)
            .join(ItemVersion, ItemVersion.item_id == Item.id)
            .where(ItemVersion.is_latest)
        ).all()
    )
    parameter_set = create_parameter_set(
        name="qti-set",
        parameters={
            versions[key]: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.1 * n}
            for n, key in enumerate(keys)
        },
        provenance={"source": "test"},
        actor=SYSTEM,
    )
    publish_parameter_set(parameter_set.id, actor=SYSTEM)
    db.session.commit()
    return parameter_set.id


# --------------------------------------------------------------------------- mapping


def test_a_linear_test_with_two_sections_maps_in_order_with_its_time_limit(app: Flask) -> None:
    report = import_package(with_items(TWO_SECTIONS), actor=SYSTEM)
    test = the_test(report)
    assert report["created"] == 4
    assert test["status"] == "mapped"
    assert test["reason"]["code"] == "no_parameter_set"
    assert test["settings"] == {
        "sections": [
            {"key": "S1", "title": "Section S1", "kind": "linear", "forms": [["q1", "q2"]],
             "navigation": "forward", "time_limit_seconds": 600},
            {"key": "S2", "title": "Section S2", "kind": "linear", "forms": [["q3", "q4"]],
             "navigation": "forward"},
        ]
    }  # fmt: skip
    assert test["notes"] == []
    assert report["holds"]["tests"] == 1


def test_a_shuffled_nonlinear_section_maps_to_free_navigation_and_shuffle(app: Flask) -> None:
    xml = assessment_test(
        part(
            section("S1", '<qti-ordering shuffle="true"/>' + ref("q1", 'fixed="true"') + ref("q2")),
            mode="nonlinear",
            submission="simultaneous",
        )
    )
    test = the_test(import_package(with_items(xml, ("q1", "q2")), actor=SYSTEM))
    (mapped,) = test["settings"]["sections"]
    assert mapped["navigation"] == "free"
    assert mapped["shuffle_items"] is True
    assert codes(test) == {"fixed", "submission_mode"}


def test_a_selection_becomes_one_form_per_choice_with_required_items_in_each(
    app: Flask,
) -> None:
    xml = assessment_test(
        part(
            section(
                "S1",
                '<qti-selection select="2"/>'
                + ref("q1", 'required="true"')
                + ref("q2")
                + ref("q3")
                + ref("q4"),
            )
        )
    )
    test = the_test(import_package(with_items(xml), actor=SYSTEM))
    (mapped,) = test["settings"]["sections"]
    assert mapped["forms"] == [["q1", "q2"], ["q1", "q3"], ["q1", "q4"]]
    assert mapped["assignment"] == "random"
    assert "selection_forms" in codes(test)


def test_selection_with_replacement_does_not_map_but_the_items_import(app: Flask) -> None:
    xml = assessment_test(
        part(section("S1", '<qti-selection select="2" with-replacement="true"/>' + ref("q1")))
    )
    report = import_package(with_items(xml), actor=SYSTEM)
    test = the_test(report)
    assert report["created"] == 4
    assert test["status"] == "not_mapped"
    assert "with replacement" in test["reason"]["message"]
    assert "settings" not in test


def test_branch_rules_pre_conditions_processing_and_nesting_are_noted(app: Flask) -> None:
    branch = '<qti-branch-rule target="EXIT_TEST"><qti-base-value base-type="boolean">true'
    branch += "</qti-base-value></qti-branch-rule>"
    nested = section("S1b", '<qti-ordering shuffle="true"/>' + ref("q3"))
    xml = assessment_test(
        part(
            section(
                "S1",
                ref("q1", 'category="geometry"', body=branch + '<qti-weight identifier="W" '
                    'value="2"/><qti-item-session-control max-attempts="2"/>')
                + ref("q2", body="<qti-pre-condition><qti-base-value base-type=\"boolean\">"
                      "true</qti-base-value></qti-pre-condition>")
                + nested,
            )
        ),
        head='<qti-outcome-declaration identifier="SCORE" cardinality="single" '
        'base-type="float"/><qti-time-limits max-time="1200" min-time="60"/>',
        tail="<qti-outcome-processing/>",
    )  # fmt: skip
    test = the_test(import_package(with_items(xml), actor=SYSTEM))
    assert test["status"] == "mapped"
    assert test["settings"]["sections"][0]["forms"] == [["q1", "q2", "q3"]]
    assert test["settings"]["sections"][0]["time_limit_seconds"] == 1200  # one section
    assert {
        "branch_rule",
        "pre_condition",
        "weight",
        "item_session_control",
        "category",
        "outcome_processing",
        "nested_section",
        "nested_rule",
        "min_time",
    } <= codes(test)
    branch_note = next(n for n in test["notes"] if n["code"] == "branch_rule")
    assert "EXIT_TEST" in branch_note["message"]


def test_a_qti22_test_upgrades_and_maps(app: Flask) -> None:
    xml = (
        f'<assessmentTest xmlns="{QTI22}" identifier="T22" title="Old test">'
        '<testPart identifier="P" navigationMode="nonlinear" submissionMode="individual">'
        '<assessmentSection identifier="A" title="A" visible="true">'
        '<timeLimits maxTime="300"/><ordering shuffle="true"/>'
        '<assessmentItemRef identifier="q1" href="../items/q1.xml"/>'
        '<assessmentItemRef identifier="q2" href="../items/q2.xml"/>'
        "</assessmentSection></testPart></assessmentTest>"
    )
    data = with_items(None, ("q1", "q2"))
    import_package(data, actor=SYSTEM)
    db.session.commit()
    report = import_package(only_tests(xml, "imsqti_test_xmlv2p2"), actor=SYSTEM)
    test = the_test(report)
    assert report["n_items"] == 0
    assert test["identifier"] == "T22"
    assert test["settings"]["sections"] == [
        {"key": "A", "title": "A", "kind": "linear", "forms": [["q1", "q2"]],
         "navigation": "free", "shuffle_items": True, "time_limit_seconds": 300}
    ]  # fmt: skip


# --------------------------------------------------------------------------- definitions


def test_with_a_parameter_set_a_tests_only_package_becomes_a_test_definition(
    app: Flask,
) -> None:
    import_package(with_items(None), actor=SYSTEM)
    db.session.commit()
    parameter_set_id = published_set()
    report = import_package(
        only_tests(TWO_SECTIONS),
        actor=SYSTEM,
        options=ImportOptions(parameter_set_id=parameter_set_id),
    )
    db.session.commit()
    test = the_test(report)
    assert test["status"] == "created", test
    definition = find_test_definition("T1")
    assert definition is not None
    assert definition.mode == "linear"
    assert definition.parameter_set_id == parameter_set_id
    assert definition.settings["sections"][0]["time_limit_seconds"] == 600
    pool = db.session.get(ItemPool, definition.pool_id)
    assert pool.name == test["pool"]["name"] == "qti:T1"
    compiled = compile_test(
        test_definition_id=definition.id,
        parameter_set_id=parameter_set_id,
        settings=definition.settings,
        scale=definition.scale,
        items=bank_items(pool.id, parameter_set_id),
    )
    assert compiled.spec.max_items == 4
    # Again: the definition exists and is left as it is (definitions never change).
    again = the_test(
        import_package(
            only_tests(TWO_SECTIONS),
            actor=SYSTEM,
            options=ImportOptions(parameter_set_id=parameter_set_id),
        )
    )
    assert again["status"] == "exists"


def test_a_draft_parameter_set_refuses_the_import_and_writes_nothing(app: Flask) -> None:
    import_package(with_items(None), actor=SYSTEM)
    db.session.commit()
    versions = list(db.session.scalars(select(ItemVersion.id)))
    draft = create_parameter_set(
        name="draft-set",
        parameters={
            v: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0} for v in versions
        },
        provenance={"source": "test"},
        actor=SYSTEM,
    )
    db.session.commit()
    pools = row_count(ItemPool)
    with pytest.raises(ValidationError, match="T1"):
        import_package(
            only_tests(TWO_SECTIONS),
            actor=SYSTEM,
            options=ImportOptions(parameter_set_id=draft.id),
        )
    db.session.rollback()
    assert row_count(ItemPool) == pools
    assert find_test_definition("T1") is None


# --------------------------------------------------------------------------- bad and odd input


def test_a_test_referencing_a_missing_item_refuses_the_package(app: Flask) -> None:
    xml = assessment_test(part(section("S1", ref("q1") + ref("ghost"))))
    with pytest.raises(ValidationError, match="ghost") as caught:
        import_package(with_items(xml, ("q1",)), actor=SYSTEM)
    assert caught.value.details["errors"][0]["details"]["item"] == "ghost"
    db.session.rollback()
    assert row_count(Item) == 0


def test_skip_unsupported_imports_the_items_and_lists_the_broken_test(app: Flask) -> None:
    xml = assessment_test(part(section("S1", ref("q1") + ref("ghost"))))
    report = import_package(
        with_items(xml, ("q1",)), actor=SYSTEM, options=ImportOptions(skip_unsupported=True)
    )
    assert report["created"] == 1
    assert report["tests"] == []
    assert "ghost" in report["not_imported"][0]["message"]


def test_a_links_only_package_reports_what_it_holds_and_imports_nothing(app: Flask) -> None:
    data = package(
        {
            "imsmanifest.xml": manifest(
                [
                    ("L1", "webcontent", "https://example.org/reading.html"),
                    ("L2", "webcontent", ""),
                    ("L3", "associatedcontent/learning-application-resource", ""),
                ]
            )
        }
    )
    report = import_package(data, actor=SYSTEM)
    assert report["n_items"] == 0
    assert report["tests"] == []
    assert report["holds"]["links"] == 3
    assert report["message"]["code"] == "nothing_to_import"
    assert "nothing was imported" in report["message"]["message"]


# --------------------------------------------------------------------------- HTTP and CLI


def test_the_import_route_reports_tests_in_japanese_and_refuses_a_missing_item(
    app: Flask, operator
) -> None:
    response = operator.post(
        "/api/v1/items/import",
        data=with_items(TWO_SECTIONS.replace("max-time", "min-time")),
        headers={"Content-Type": "application/zip", "Accept-Language": "ja"},
    )
    assert response.status_code == 200, response.get_json()
    test = the_test(response.get_json())
    assert test["status"] == "mapped"
    assert "パラメータ" in test["reason"]["message"]
    assert test["notes"][0]["code"] == "min_time"
    links = package({"imsmanifest.xml": manifest([("L1", "webcontent", "https://e.org/")])})
    response = operator.post(
        "/api/v1/items/import?dry_run=true", data=links, headers={"Content-Type": "application/zip"}
    )
    assert response.status_code == 200
    assert response.get_json()["message"]["code"] == "nothing_to_import"
    items = row_count(Item)
    bad = assessment_test(part(section("S1", ref("q1") + ref("ghost"))))
    response = operator.post(
        "/api/v1/items/import",
        data=with_items(bad, ("q1",)),
        headers={"Content-Type": "application/zip"},
    )
    assert response.status_code == 422
    assert "ghost" in json.dumps(response.get_json())
    assert row_count(Item) == items


def test_cli_import_with_a_parameter_set_creates_the_definition(
    app: Flask, runner, tmp_path: Path
) -> None:
    path = tmp_path / "items.zip"
    path.write_bytes(with_items(None))
    assert runner.invoke(cli, ["items", "import", str(path)]).exit_code == 0
    parameter_set_id = published_set()
    path.write_bytes(only_tests(TWO_SECTIONS))
    result = runner.invoke(cli, ["items", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "T1" in result.output
    result = runner.invoke(
        cli, ["items", "import", str(path), "--parameter-set", str(parameter_set_id)]
    )
    assert result.exit_code == 0, result.output
    assert "T1" in result.output
    assert find_test_definition("T1") is not None


def test_a_definition_exports_as_an_assessment_test_and_maps_back_the_same(
    app: Flask, runner, tmp_path: Path
) -> None:
    import_package(with_items(None), actor=SYSTEM)
    db.session.commit()
    parameter_set_id = published_set()
    xml = assessment_test(
        part(section("S1", '<qti-time-limits max-time="600"/>' + ref("q1") + ref("q2")))
        + part(section("S2", '<qti-ordering shuffle="true"/>' + ref("q3") + ref("q4")),
               mode="nonlinear")
    )  # fmt: skip
    report = import_package(
        only_tests(xml), actor=SYSTEM, options=ImportOptions(parameter_set_id=parameter_set_id)
    )
    db.session.commit()
    before = the_test(report)["settings"]
    out = tmp_path / "T1.xml"
    result = runner.invoke(cli, ["tests", "export-qti", "T1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exported = out.read_text(encoding="utf-8")
    assert "qti-assessment-test" in exported
    again = the_test(import_package(only_tests(exported.replace("T1", "T1b")), actor=SYSTEM))
    assert again["settings"] == before
    assert again["notes"] == []
    assert find_test_definition("T1").settings["sections"][1]["shuffle_items"] is True


def test_a_selection_with_too_many_choices_does_not_map(app: Flask) -> None:
    keys = tuple(f"q{n}" for n in range(1, 13))
    xml = assessment_test(
        part(section("S1", '<qti-selection select="6"/>' + "".join(ref(k) for k in keys)))
    )
    test = the_test(import_package(with_items(xml, keys), actor=SYSTEM))
    assert test["status"] == "not_mapped"
    assert test["reason"]["params"]["count"] == 924


def test_cli_refuses_a_test_with_a_missing_item_and_writes_nothing(
    app: Flask, runner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(with_items(assessment_test(part(section("S1", ref("ghost")))), ("q1",)))
    result = runner.invoke(cli, ["items", "import", str(bad)])
    assert result.exit_code == 1
    assert "ghost" in result.output
    assert row_count(Item) == 0


def test_sub_sections_are_blocks_for_shuffling_and_units_for_selection(app: Flask) -> None:
    block = section("B", ref("q3") + ref("q4"))  # visible: one block
    shuffled = assessment_test(
        part(section("S1", '<qti-ordering shuffle="true"/>' + ref("q1") + ref("q2") + block))
    )
    test = the_test(import_package(with_items(shuffled), actor=SYSTEM))
    (mapped,) = test["settings"]["sections"]
    assert "shuffle_items" not in mapped
    assert mapped["forms"] == [["q1", "q2", "q3", "q4"]]
    assert "shuffle_blocks" in codes(test)
    db.session.rollback()
    loose = block.replace('visible="true"', 'visible="false"')
    shuffled = shuffled.replace(block, loose)
    test = the_test(import_package(with_items(shuffled), actor=SYSTEM))
    assert test["settings"]["sections"][0]["shuffle_items"] is True
    db.session.rollback()
    selected = shuffled.replace('<qti-ordering shuffle="true"/>', '<qti-selection select="2"/>')
    test = the_test(import_package(with_items(selected), actor=SYSTEM))
    assert test["status"] == "not_mapped"
    assert "sub-sections" in test["reason"]["message"]
