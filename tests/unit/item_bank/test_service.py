"""Versions, lifecycle, parameter sets, pools, enemies, stimuli, media and curriculum codes."""

from __future__ import annotations

import struct
import zlib

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor
from cbt.db import db
from cbt.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from cbt.models import AuditEvent
from item_bank.curriculum import (
    describe_curriculum_code,
    prefix_bounds,
    validate_code_prefix,
    validate_curriculum_code,
)
from item_bank.media import get_media, sniff_mime, store_media
from item_bank.models import ItemParameter, ItemStatus, ItemVersion, ParameterSet
from item_bank.service import (
    create_parameter_set,
    create_pool,
    create_stimulus,
    diff_versions,
    item_detail,
    load_pool_items,
    pool_summary,
    publish_parameter_set,
    revise_item,
    set_enemies,
    set_pool_parameter_set,
    student_view,
    transition_item,
)
from tests.helpers import row_count
from tests.unit.item_bank.conftest import CODE, OTHER_CODE, make_item

OPERATOR = Actor(id=None, role="operator")
RESEARCHER = Actor(id=None, role="researcher")


def png(width: int = 1, height: int = 1) -> bytes:
    """A real, tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x00" * width)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- curriculum codes


@pytest.mark.parametrize("code", ["8350213111200000", "83H1203111200003", "8320213111A00000"])
def test_valid_curriculum_codes(code: str) -> None:
    assert validate_curriculum_code(code) == code


@pytest.mark.parametrize(
    "code", ["835021311120000", "83502131112000000", "8350213111200a00", "0350213111200000",
             "A350213111200000", 8350213111200000, "", "8350-13111200000"],
)  # fmt: skip
def test_invalid_curriculum_codes(code) -> None:
    with pytest.raises(ValidationError):
        validate_curriculum_code(code)


def test_code_parts_and_prefixes() -> None:
    parts = describe_curriculum_code("8350213111200000")
    assert parts["revision"] == "8"
    assert parts["school_type_label"].startswith("lower secondary")
    assert parts["subject"] == "5"
    assert parts["grade"] == "1"
    assert parts["domain"] == "1"
    assert validate_code_prefix(" 83h ") == "83H"
    with pytest.raises(ValidationError):
        validate_code_prefix("83-")
    assert prefix_bounds("835") == ("835", "836")
    assert prefix_bounds("83Z") == ("83Z", "84")
    assert prefix_bounds("8359") == ("8359", "835A")
    assert prefix_bounds("ZZ") == ("ZZ", None)


# --------------------------------------------------------------------------- versions


def test_create_item_validates_and_audits(app: Flask) -> None:
    version = make_item("single_choice", key="sc-1")
    assert version.version_number == 1
    assert version.is_latest
    assert version.status == ItemStatus.DRAFT
    assert version.max_score == 1.0
    assert "what is 3 + 4" in version.search_text
    assert row_count(AuditEvent) == 1
    with pytest.raises(Conflict):
        make_item("single_choice", key="sc-1")
    with pytest.raises(ValidationError):
        make_item("single_choice", key="bad key!")
    with pytest.raises(ValidationError):
        make_item("single_choice", key="sc-2", curriculum_codes=["123"])
    with pytest.raises(ValidationError):
        make_item("single_choice", key="sc-3", scoring={"correct": "Z"})


def test_an_edit_is_a_new_version_and_old_ones_never_change(app: Flask) -> None:
    first = make_item("single_choice", key="sc")
    db.session.commit()
    original = dict(first.content)
    content = {**first.content, "stem": "<p>What is 3 + 5?</p>"}
    second, created = revise_item(
        first.item_id,
        {"content": content, "scoring": {"correct": "C"}, "curriculum_codes": [CODE, OTHER_CODE]},
        actor=OPERATOR,
        base_version_number=1,
    )
    db.session.commit()
    assert created
    assert (second.version_number, second.status, second.is_latest) == (2, "draft", True)
    db.session.refresh(first)
    assert first.content == original
    assert not first.is_latest
    diff = diff_versions(first.item_id, 1, 2)["changes"]
    fields = {change["field"] for change in diff}
    assert {"content.stem", "scoring.correct", "curriculum_codes"} <= fields
    again, created_again = revise_item(first.item_id, {"content": content}, actor=OPERATOR)
    assert not created_again
    assert again.id == second.id
    with pytest.raises(Conflict):  # someone else's version 2 exists: no lost update
        revise_item(first.item_id, {"title": "x"}, actor=OPERATOR, base_version_number=1)
    history = item_detail(first.item_id, role="operator")["history"]
    assert [h["version_number"] for h in history] == [2, 1]


def test_versions_are_immutable_below_the_services(app: Flask) -> None:
    version = make_item("single_choice")
    db.session.commit()
    version.content = {**version.content, "stem": "<p>changed</p>"}
    with pytest.raises(Conflict):
        db.session.flush()
    db.session.rollback()
    version = db.session.get(ItemVersion, version.id)
    db.session.delete(version)
    with pytest.raises(Conflict):
        db.session.flush()
    db.session.rollback()


def test_lifecycle_roles(app: Flask) -> None:
    version = make_item("single_choice")
    assert transition_item(version.id, "review", actor=OPERATOR).status == "review"
    with pytest.raises(Forbidden):
        transition_item(version.id, "pretest", actor=RESEARCHER)
    transition_item(version.id, "pretest", actor=OPERATOR)
    with pytest.raises(Forbidden):
        transition_item(version.id, "operational", actor=OPERATOR)
    with pytest.raises(Conflict):  # no published parameters yet
        transition_item(version.id, "operational", actor=RESEARCHER)
    create_parameter_set(
        name="pretest",
        parameters={version.id: {"model": "2pl", "discrimination": 1.1, "difficulty": 0.2}},
        provenance={"source": "calibration"},
        status="published",
    )
    assert transition_item(version.id, "operational", actor=RESEARCHER).status == "operational"
    with pytest.raises(Conflict):
        transition_item(version.id, "draft", actor=OPERATOR)
    with pytest.raises(ValidationError):
        transition_item(version.id, "archived", actor=OPERATOR)
    transition_item(version.id, "retired", actor=OPERATOR)
    with pytest.raises(NotFound):
        transition_item(10_000, "review", actor=OPERATOR)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert "item_status_changed" in actions


def test_enemies_are_symmetric(app: Flask) -> None:
    a = make_item("single_choice", key="a")
    b = make_item("single_choice", key="b")
    c = make_item("single_choice", key="c")
    set_enemies(a.item_id, ["b", "c"], actor=OPERATOR)
    assert item_detail(b.item_id)["enemies"] == ["a"]
    set_enemies(b.item_id, [], actor=OPERATOR)
    assert item_detail(a.item_id)["enemies"] == ["c"]
    with pytest.raises(ValidationError):
        set_enemies(c.item_id, ["nope"], actor=OPERATOR)
    with pytest.raises(ValidationError):
        set_enemies(c.item_id, ["c"], actor=OPERATOR)


def test_stimulus_is_shared_and_rendered(app: Flask) -> None:
    passage = create_stimulus(key="passage-1", html="<p>Once upon a time</p><script>x</script>")
    assert passage.version == 1
    assert "<script>" not in passage.html
    assert create_stimulus(key="passage-1", html="<p>Once upon a time</p>").id == passage.id
    newer = create_stimulus(key="passage-1", html="<p>Twice upon a time</p>")
    assert newer.version == 2
    version = make_item("single_choice", stimulus_id=passage.id)
    assert version.stimulus_id == passage.id
    with pytest.raises(ValidationError):
        make_item("single_choice", key="x2", stimulus_id=999)


# --------------------------------------------------------------------------- parameter sets


def test_parameter_sets_are_versioned_validated_and_immutable(app: Flask) -> None:
    one = make_item("single_choice", key="one")
    poly = make_item("partial_credit", key="poly")
    first = create_parameter_set(
        name="bank",
        parameters={
            one.id: {"model": "3pl", "discrimination": 1.2, "difficulty": 0.1, "guessing": 0.2},
            poly.id: {"model": "grm", "discrimination": 0.9, "thresholds": [-0.5, 0.8]},
        },
        provenance={"source": "import", "file": "params.json"},
    )
    assert (first.version, first.status, first.model) == (1, "draft", "mixed")
    second = create_parameter_set(
        name="bank",
        parameters={one.id: {"model": "rasch", "difficulty": 0.0}},
        provenance={"source": "calibration", "run": "r1"},
    )
    assert second.version == 2
    assert second.model == "1pl"
    bad = [
        {one.id: {"model": "2pl", "discrimination": -1, "difficulty": 0}},
        {one.id: {"model": "4pl", "discrimination": 1, "difficulty": 0}},
        {one.id: {"model": "3pl", "discrimination": 1, "difficulty": 0, "guessing": 1.5}},
        {poly.id: {"model": "grm", "discrimination": 1, "thresholds": [0.5, -0.5]}},
        {poly.id: {"model": "grm", "discrimination": 1, "thresholds": [0.5]}},
        {poly.id: {"model": "2pl", "discrimination": 1, "difficulty": 0}},
        {9999: {"model": "2pl", "discrimination": 1, "difficulty": 0}},
    ]
    for parameters in bad:
        with pytest.raises(ValidationError):
            create_parameter_set(name="bad", parameters=parameters, provenance={"source": "x"})
    with pytest.raises(ValidationError):
        create_parameter_set(name="bad", parameters={}, provenance={"source": "x"})
    with pytest.raises(ValidationError):
        create_parameter_set(name="bad", parameters={one.id: {"model": "1pl", "difficulty": 0}},
                             provenance={})  # fmt: skip
    db.session.commit()
    publish_parameter_set(first.id, actor=RESEARCHER)
    with pytest.raises(Conflict):
        publish_parameter_set(first.id, actor=RESEARCHER)
    row = db.session.scalars(
        select(ItemParameter).where(ItemParameter.parameter_set_id == first.id)
    ).first()
    row.difficulty = 2.0
    with pytest.raises(Conflict):
        db.session.flush()
    db.session.rollback()
    parameter_set = db.session.get(ParameterSet, first.id)
    parameter_set.scaling = 1.7
    with pytest.raises(Conflict):
        db.session.flush()
    db.session.rollback()


def test_pool_counts_and_delivery_loading(app: Flask) -> None:
    versions = [make_item("single_choice", key=f"p{n}", curriculum_codes=[CODE]) for n in range(3)]
    versions.append(make_item("partial_credit", key="pc", curriculum_codes=[OTHER_CODE]))
    passage = create_stimulus(key="s", html="<p>Read this.</p>")
    versions.append(make_item("single_choice", key="with-passage", stimulus_id=passage.id,
                              accessibility={"read_aloud": "three plus four"}))  # fmt: skip
    parameters = {
        v.id: {"model": "2pl", "discrimination": 1.0, "difficulty": d}
        for v, d in zip([*versions[:3], versions[4]], [-2.5, 0.3, 1.5, 0.0], strict=True)
    }
    parameters[versions[3].id] = {"model": "gpcm", "discrimination": 1.0, "thresholds": [0, 1]}
    parameter_set = create_parameter_set(
        name="pool-set", parameters=parameters, provenance={"source": "test"}, status="published"
    )
    pool = create_pool(
        name="pool", item_version_ids=[v.id for v in versions], active_parameter_set_id=None
    )
    set_pool_parameter_set(pool.id, parameter_set.id, actor=OPERATOR)
    summary = pool_summary(pool.id)
    assert summary["n_items"] == 5
    assert summary["n_calibrated"] == 5
    assert summary["by_item_type"] == {"single_choice": 4, "partial_credit": 1}
    assert summary["by_curriculum_code"] == {CODE: 4, OTHER_CODE: 1}
    assert pool_summary(pool.id, code_prefix_length=5)["by_curriculum_code"] == {"83502": 5}
    assert summary["by_difficulty"]["< -2"] == 1
    assert summary["by_difficulty"]["polytomous"] == 1
    loaded = load_pool_items(pool.id, parameter_set.id)
    assert len(loaded) == 5
    with_passage = next(item for item in loaded if item.stimulus_html)
    view = student_view(
        with_passage.item_type,
        with_passage.content,
        stimulus_html=with_passage.stimulus_html,
        accessibility=with_passage.accessibility,
    )
    assert view["stimulus"] == {"html": "<p>Read this.</p>"}
    assert view["accessibility"] == {"read_aloud": "three plus four"}
    with pytest.raises(Conflict):
        create_pool(name="pool", item_version_ids=[], active_parameter_set_id=None)
    with pytest.raises(ValidationError):
        create_pool(name="pool-2", item_version_ids=[424242], active_parameter_set_id=None)


# --------------------------------------------------------------------------- media


def test_media_is_stored_once_by_hash_with_type_checks(app: Flask) -> None:
    image = png()
    assert sniff_mime(image) == "image/png"
    asset = store_media(image, "image/png", filename="dot.png")
    assert store_media(image, "image/png").id == asset.id
    assert get_media(asset.sha256).data == image
    with pytest.raises(ValidationError):  # a script called picture.png
        store_media(b"<script>alert(1)</script>", "image/png", filename="picture.png")
    with pytest.raises(DomainError) as caught:
        store_media(b"<svg onload='x()'/>", "image/svg+xml")
    assert caught.value.status == 415
    with pytest.raises(DomainError) as caught:
        store_media(b"\x89PNG\r\n\x1a\n" + b"0" * (21 * 1024 * 1024), "image/png")
    assert caught.value.status == 413
    with pytest.raises(NotFound):
        get_media("0" * 64)


def test_listing_runs_a_fixed_number_of_queries(app: Flask, count_queries: list[str]) -> None:
    from item_bank.service import ItemFilters, list_items

    for n in range(30):
        make_item("single_choice", key=f"q{n:02d}", curriculum_codes=[CODE, OTHER_CODE])
    db.session.commit()
    count_queries.clear()
    page = list_items(ItemFilters(code_prefix="83502"), limit=20)
    assert len(page["items"]) == 20
    assert all(len(row["curriculum_codes"]) == 2 for row in page["items"])
    assert len(count_queries) == 3  # the page, its codes, the total: no query per item
    count_queries.clear()
    list_items(ItemFilters(), limit=20, cursor=page["next_cursor"])
    assert len(count_queries) == 2  # later pages are not counted again


def test_large_totals_are_capped(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from item_bank.service import ItemFilters, list_items, search

    for n in range(7):
        make_item("single_choice", key=f"cap{n}")
    # The cap is read in the listing's own module, so that is where it is patched.
    monkeypatch.setattr(search, "COUNT_CAP", 5)
    page = list_items(ItemFilters(), limit=2)
    assert (page["total"], page["total_is_exact"]) == (5, False)
    monkeypatch.setattr(search, "COUNT_CAP", 10)
    page = list_items(ItemFilters(), limit=2)
    assert (page["total"], page["total_is_exact"]) == (7, True)
