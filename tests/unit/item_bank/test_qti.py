"""QTI 3.0: a round trip for every type, media and stimuli, and malicious packages refused."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor
from cbt.db import db
from cbt.errors import DomainError, ValidationError
from item_bank.models import Item, ItemVersion, MediaAsset
from item_bank.qti import (
    ImportOptions,
    PackageLimits,
    export_package,
    import_package,
    parse_xml,
)
from item_bank.service import (
    ItemFields,
    create_stimulus,
    revise_item,
    score_response,
    set_enemies,
)
from item_bank.types import ITEM_TYPES
from tests import DATA_DIR
from tests.helpers import row_count
from tests.unit.item_bank.conftest import make_item
from tests.unit.item_bank.test_service import png
from tests.unit.item_bank.test_types import CASES

SYSTEM = Actor()
QTI = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
MANIFEST = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"


def fields_by_key() -> dict[str, ItemFields]:
    versions = db.session.scalars(select(ItemVersion).where(ItemVersion.is_latest))
    return {version.item.key: ItemFields.of(version) for version in versions}


def fresh_bank() -> None:
    """Empty the item tables (the test's database is its own) for a clean re-import."""
    for table in ("item_enemies", "item_curriculum_codes", "item_versions", "items", "stimuli",
                  "media_assets", "audit_events"):  # fmt: skip
        db.session.execute(db.metadata.tables[table].delete())
    db.session.commit()


def package(files: dict[str, bytes | str], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def manifest(*hrefs: str) -> str:
    resources = "".join(
        f'<resource identifier="R{n}" type="imsqti_item_xmlv3p0" href="{href}">'
        f'<file href="{href}"/></resource>'
        for n, href in enumerate(hrefs)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="{MANIFEST}" identifier="m">'
        f"<resources>{resources}</resources></manifest>"
    )


CHOICE_ITEM = (
    f'<?xml version="1.0" encoding="UTF-8"?>'
    f'<qti-assessment-item xmlns="{QTI}" identifier="{{identifier}}" title="t" '
    'adaptive="false" time-dependent="false">'
    '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">'
    "<qti-correct-response><qti-value>A</qti-value></qti-correct-response>"
    "</qti-response-declaration>"
    '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>'
    "<qti-item-body><p>{{stem}}</p>"
    '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
    '<qti-simple-choice identifier="A">yes</qti-simple-choice>'
    '<qti-simple-choice identifier="B">no</qti-simple-choice>'
    "</qti-choice-interaction></qti-item-body>"
    '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/'
    'match_correct.xml"/></qti-assessment-item>'
)


def choice_item(identifier: str = "choice-1", stem: str = "Is it?") -> str:
    return CHOICE_ITEM.replace("{identifier}", identifier).replace("{{stem}}", stem)


# --------------------------------------------------------------------------- round trips


def test_export_then_import_preserves_content_and_scoring_for_every_type(
    app: Flask, every_type: dict[str, int]
) -> None:
    a, b = (db.session.get(ItemVersion, every_type[t]) for t in ("single_choice", "numeric"))
    set_enemies(a.item_id, [b.item.key], actor=SYSTEM)
    db.session.commit()
    before = fields_by_key()
    data, n_items = export_package(list(every_type.values()))
    assert n_items == len(ITEM_TYPES)
    fresh_bank()
    report = import_package(data, actor=SYSTEM)
    db.session.commit()
    assert report["created"] == len(ITEM_TYPES)
    assert report["enemy_pairs"] == 1
    after = fields_by_key()
    for key, fields in before.items():
        assert after[key].content == fields.content, key
        assert after[key].scoring == fields.scoring, key
        assert after[key].content_hash() == fields.content_hash(), key


def test_reimporting_an_unchanged_package_changes_nothing(
    app: Flask, every_type: dict[str, int]
) -> None:
    data, _ = export_package(list(every_type.values()))
    report = import_package(data, actor=SYSTEM)
    assert report["unchanged"] == len(ITEM_TYPES)
    assert row_count(ItemVersion) == len(ITEM_TYPES)


def test_reimporting_an_edited_item_adds_a_version(app: Flask) -> None:
    version = make_item("single_choice", key="edit-me")
    db.session.commit()
    data, _ = export_package([version.id])
    original = zipfile.ZipFile(io.BytesIO(data))
    files = {name: original.read(name) for name in original.namelist()}
    files["items/edit-me.xml"] = files["items/edit-me.xml"].replace(b"3 + 4?", b"3 + 40?")
    report = import_package(package(files), actor=SYSTEM)
    assert report["revised"] == 1
    skip = import_package(package(files), actor=SYSTEM, options=ImportOptions(on_existing="skip"))
    assert skip["skipped"] == 1
    with pytest.raises(ValidationError):
        import_package(package(files), actor=SYSTEM, options=ImportOptions(on_existing="error"))


# Types whose rule QTI itself states completely survive without our metadata.
PURE_QTI_EXACT = {"single_choice", "multiple_response", "ordering", "matching", "inline_choice",
                  "extended_text", "partial_credit", "hottext", "gap_match"}  # fmt: skip


def test_plain_qti_without_our_metadata_keeps_content_and_scores(
    app: Flask, every_type: dict[str, int]
) -> None:
    before = fields_by_key()
    data, _ = export_package(list(every_type.values()))
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: archive.read(name) for name in archive.namelist()}
    files["imsmanifest.xml"] = re.sub(
        rb"<cbt:item>.*?</cbt:item>", b"", files["imsmanifest.xml"], flags=re.S
    )
    fresh_bank()
    import_package(package(files), actor=SYSTEM)
    after = fields_by_key()
    for key, fields in before.items():
        type_id = fields.item_type
        assert after[key].item_type == type_id
        assert after[key].curriculum_codes == fields.curriculum_codes  # from LOM
        if type_id in PURE_QTI_EXACT:
            assert after[key].scoring == fields.scoring, key
        assert after[key].content["stem"] == fields.content["stem"]
        correct, wrong, _ = CASES[type_id]
        if type_id == "text_entry":
            correct = {"text": "とうきょう"}  # normalisation is ours, not QTI's
        if type_id == "numeric":
            correct = {"value": "7"}  # so are units
        for response in (correct, wrong):
            expected = score_response(type_id, fields.content, fields.scoring, response)
            got = score_response(type_id, after[key].content, after[key].scoring, response)
            assert got == expected, (key, response)


def test_media_and_stimuli_travel_with_the_package(app: Flask) -> None:
    from item_bank.media import store_media

    image = store_media(png(2, 2), "image/png", filename="dot.png")
    sha = image.sha256
    passage = create_stimulus(
        key="passage", html=f'<p>Look: <img src="/api/v1/media/{sha}" alt="dot"></p>'
    )
    version = make_item(
        "single_choice",
        key="with-media",
        stimulus_id=passage.id,
        content={
            "stem": f'<p><img src="/api/v1/media/{sha}" alt="a dot"> How many dots?</p>',
            "options": [{"id": "A", "text": "1"}, {"id": "B", "text": "2"}],
        },
        scoring={"correct": "A"},
    )
    db.session.commit()
    before = fields_by_key()["with-media"]
    data, _ = export_package([version.id])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"media/{sha}.png" in names
    assert "stimuli/passage-v1.xml" in names
    item_file = zipfile.ZipFile(io.BytesIO(data)).read("items/with-media.xml").decode()
    assert f'src="../media/{sha}.png"' in item_file
    fresh_bank()
    report = import_package(data, actor=SYSTEM)
    assert (report["media"], report["stimuli"]) == (1, 1)
    after = fields_by_key()["with-media"]
    assert after.content == before.content
    assert row_count(MediaAsset) == 1
    stimulus = db.session.scalars(select(ItemVersion)).one().stimulus
    assert stimulus.key == "passage"
    assert sha in stimulus.html


# --------------------------------------------------------------------------- all or nothing


def test_one_bad_item_means_nothing_is_written(app: Flask) -> None:
    bad = choice_item("bad").replace("<qti-value>A</qti-value>", "<qti-value>Z</qti-value>")
    data = package(
        {
            "imsmanifest.xml": manifest("items/good.xml", "items/bad.xml"),
            "items/good.xml": choice_item("good"),
            "items/bad.xml": bad,
        }
    )
    with pytest.raises(ValidationError) as caught:
        import_package(data, actor=SYSTEM)
    db.session.rollback()
    assert row_count(Item) == 0
    errors = caught.value.details["errors"]
    assert [error["file"] for error in errors] == ["items/bad.xml"]


def test_a_clean_plain_package_imports(app: Flask) -> None:
    data = package(
        {"imsmanifest.xml": manifest("items/one.xml"), "items/one.xml": choice_item("one")}
    )
    report = import_package(data, actor=SYSTEM)
    assert report["created"] == 1
    version = db.session.scalars(select(ItemVersion)).one()
    assert version.scoring == {"correct": "A"}
    assert version.status == "draft"


# --------------------------------------------------------------------------- malicious packages


XXE = (
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<qti-assessment-item xmlns="{QTI}" identifier="x">&xxe;</qti-assessment-item>'
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
              for n in range(1, 10))
    + f']><qti-assessment-item xmlns="{QTI}" identifier="x">&lol9;</qti-assessment-item>'
)  # fmt: skip


def _expect_refusal(data: bytes, fragment: str, limits: PackageLimits | None = None) -> None:
    with pytest.raises(DomainError) as caught:
        import_package(data, actor=SYSTEM, options=ImportOptions(limits=limits or PackageLimits()))
    db.session.rollback()
    message = caught.value.message + str(caught.value.details)
    assert fragment in message, message
    assert caught.value.status in (400, 413, 415, 422)
    assert row_count(Item) == 0


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"imsmanifest.xml": manifest("items/x.xml"), "items/x.xml": XXE}, "DTD"),
        ({"imsmanifest.xml": manifest("items/x.xml"), "items/x.xml": LAUGHS}, "DTD"),
        ({"imsmanifest.xml": XXE.replace("qti-assessment-item", "manifest")}, "DTD"),
        ({"imsmanifest.xml": manifest("../outside.xml"), "items/x.xml": choice_item()},
         "path traversal"),
        ({"imsmanifest.xml": manifest("/etc/passwd")}, "not a path inside the package"),
        ({"imsmanifest.xml": manifest("items/x.xml"), "../../evil.xml": "x"}, "'..'"),
        ({"imsmanifest.xml": manifest("items/x.xml"), "/abs/evil.xml": "x"}, "absolute"),
        ({"imsmanifest.xml": manifest("items/x.xml"), "a\\..\\evil.xml": "x"}, "backslash"),
        ({"imsmanifest.xml": manifest("items/x.xml")}, "no file"),
        ({"items/x.xml": choice_item()}, "no imsmanifest.xml"),
        ({"imsmanifest.xml": manifest("items/x.xml"),
          "items/x.xml": choice_item().encode("utf-16")}, "UTF-8"),
        ({"imsmanifest.xml": manifest("items/x.xml"),
          "items/x.xml": choice_item().replace(QTI, "http://www.imsglobal.org/xsd/imsqti_v2p1")},
         "QTI 3.0"),
        ({"imsmanifest.xml": manifest("items/x.xml").replace("item_xmlv3p0", "test_xmlv3p0")},
         "assessment test items/x.xml is not in the package"),
        ({"imsmanifest.xml": manifest("items/x.xml"),
          "items/x.xml": choice_item().replace("<p>", '<p><img src="../media/missing.png"/>')},
         "not in the package"),
        ({"imsmanifest.xml": manifest("items/x.xml"),
          "items/x.xml": choice_item().replace("<p>", '<p><img src="../../../etc/passwd"/>')},
         "path traversal"),
        ({"imsmanifest.xml": manifest("items/x.xml"), "items/x.xml": "<not-closed>"},
         "not well-formed"),
    ],
)  # fmt: skip
def test_malicious_or_broken_packages_are_refused(
    app: Flask, files: dict[str, Any], fragment: str
) -> None:
    _expect_refusal(package(files), fragment)


def test_symlinks_are_refused(app: Flask) -> None:
    data = package({"imsmanifest.xml": manifest("items/x.xml")}, symlink="items/x.xml")
    _expect_refusal(data, "symbolic links")


def test_a_script_renamed_as_an_image_is_refused(app: Flask) -> None:
    data = package(
        {
            "imsmanifest.xml": manifest("items/x.xml"),
            "items/x.xml": choice_item().replace("<p>", '<p><img src="../media/a.png"/>'),
            "media/a.png": "<script>alert(1)</script>",
        }
    )
    _expect_refusal(data, "does not contain image/png")


def test_zip_bombs_are_refused_by_declared_size_and_ratio(app: Flask) -> None:
    zeros = b"\0" * (30 * 1024 * 1024)
    bomb = package({"imsmanifest.xml": manifest("items/x.xml"), "media/zeros.png": zeros})
    _expect_refusal(bomb, "unpacks to")
    ratio = package({"imsmanifest.xml": manifest("items/x.xml"), "media/z.png": zeros[: 5 * 2**20]})
    _expect_refusal(ratio, "zip bomb")
    many = package({f"f{n}.txt": "x" for n in range(30)})
    _expect_refusal(many, "at most 20", PackageLimits(max_entries=20))


def test_many_small_compressible_files_are_refused_before_unpacking(app: Flask) -> None:
    # Each file passes the per-file checks (1 MiB, under the ratio floor); together they are a
    # bomb: a few hundred KB that unpack to 70 MiB. The budget is checked from the directory.
    mebibyte = b"\0" * (1024 * 1024)
    files: dict[str, str | bytes] = {"imsmanifest.xml": manifest("items/x.xml")}
    files.update({f"media/z{n}.png": mebibyte for n in range(70)})
    bomb = package(files)
    assert len(bomb) < 1024 * 1024
    _expect_refusal(bomb, "unpacks to 70 MB from")


def test_a_header_that_lies_about_its_size_is_caught(app: Flask) -> None:
    honest = package(
        {"imsmanifest.xml": manifest("items/x.xml"), "items/x.xml": choice_item("x" * 2000)}
    )
    # Shrink the declared size of items/x.xml in both headers: reading must not trust it.
    name = b"items/x.xml"
    real = zipfile.ZipFile(io.BytesIO(honest)).getinfo("items/x.xml").file_size
    lying = bytearray(honest)
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := lying.find(signature, start)) != -1:
            name_length_offset = 26 if signature == b"PK\x03\x04" else 28
            name_length = int.from_bytes(
                lying[start + name_length_offset : start + name_length_offset + 2], "little"
            )
            header_size = 30 if signature == b"PK\x03\x04" else 46
            if lying[start + header_size : start + header_size + name_length] == name:
                lying[start + size_offset : start + size_offset + 4] = (real // 2).to_bytes(
                    4, "little"
                )
            start += 4
    _expect_refusal(bytes(lying), "items/x.xml")


def test_oversized_packages_are_refused(app: Flask) -> None:
    data = package({"imsmanifest.xml": manifest("items/x.xml"), "items/x.xml": choice_item()})
    _expect_refusal(data, "larger than", PackageLimits(max_package_bytes=100))
    _expect_refusal(b"this is not a zip", "not a zip")


def test_revising_an_imported_item_keeps_the_import_as_history(app: Flask) -> None:
    data = package(
        {"imsmanifest.xml": manifest("items/one.xml"), "items/one.xml": choice_item("one")}
    )
    import_package(data, actor=SYSTEM)
    item = db.session.scalars(select(Item)).one()
    version, created = revise_item(item.id, {"title": "renamed"}, actor=SYSTEM)
    assert created
    assert version.version_number == 2


# --------------------------------------------------------------------- the XML's own processing

A_OR_B = (
    "<qti-response-processing><qti-response-condition><qti-response-if><qti-or>"
    '<qti-match><qti-variable identifier="RESPONSE"/>'
    '<qti-base-value base-type="identifier">A</qti-base-value></qti-match>'
    '<qti-match><qti-variable identifier="RESPONSE"/>'
    '<qti-base-value base-type="identifier">B</qti-base-value></qti-match></qti-or>'
    '<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">1'
    "</qti-base-value></qti-set-outcome-value></qti-response-if></qti-response-condition>"
    "</qti-response-processing>"
)


def _with_processing(processing: str, identifier: str = "custom") -> str:
    return re.sub(r"<qti-response-processing.*?/>", processing, choice_item(identifier))


def test_a_custom_rule_the_model_cannot_hold_is_refused_not_guessed(app: Flask) -> None:
    """A rule crediting A or B used to import as "correct: A" with no warning."""
    data = package(
        {
            "imsmanifest.xml": manifest("items/custom.xml"),
            "items/custom.xml": _with_processing(A_OR_B),
        }
    )
    with pytest.raises(ValidationError) as caught:
        import_package(data, actor=SYSTEM)
    db.session.rollback()
    assert row_count(Item) == 0
    message = caught.value.details["errors"][0]["message"]
    assert "items/custom.xml" in message
    assert "SCORE 1.0" in message
    assert "'B'" in message


def test_an_operator_the_engine_does_not_run_is_refused_by_name(app: Flask) -> None:
    custom = (
        '<qti-response-processing><qti-set-outcome-value identifier="SCORE">'
        '<qti-custom-operator class="com.example.Fuzzy"><qti-variable identifier="RESPONSE"/>'
        "</qti-custom-operator></qti-set-outcome-value></qti-response-processing>"
    )
    data = package(
        {
            "imsmanifest.xml": manifest("items/fuzzy.xml"),
            "items/fuzzy.xml": _with_processing(custom, "fuzzy"),
        }
    )
    with pytest.raises(ValidationError) as caught:
        import_package(data, actor=SYSTEM)
    error = caught.value.details["errors"][0]
    assert "custom-operator" in error["message"]
    assert "fuzzy" in error["message"]
    assert error["details"]["operator"] == "custom-operator"


def test_an_edit_made_in_another_tool_wins_over_our_metadata(app: Flask) -> None:
    version = make_item("single_choice", key="edited-elsewhere")
    db.session.commit()
    key = version.scoring["correct"]
    other = next(o["id"] for o in version.content["options"] if o["id"] != key)
    data, _ = export_package([version.id])
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: archive.read(name) for name in archive.namelist()}
    path = "items/edited-elsewhere.xml"
    files[path] = files[path].replace(
        f"<qti-value>{key}</qti-value>".encode(), f"<qti-value>{other}</qti-value>".encode()
    )
    report = import_package(package(files), actor=SYSTEM)
    assert report["revised"] == 1
    assert any("the XML's rule was used" in warning for warning in report["warnings"])
    latest = db.session.scalars(
        select(ItemVersion).where(ItemVersion.is_latest, ItemVersion.item_id == version.item_id)
    ).one()
    assert latest.scoring["correct"] == other


# ------------------------------------------------------------------------- QTI 2.x packages

TAO_QTI22 = DATA_DIR / "qti" / "tao_qti22"


def _zip_folder(folder) -> bytes:
    return package(
        {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
    )


def test_a_qti22_package_from_tao_imports_by_upgrading_to_qti3(app: Flask) -> None:
    report = import_package(_zip_folder(TAO_QTI22), actor=SYSTEM)
    db.session.commit()
    assert report["created"] == 7
    found = fields_by_key()
    assert {key: fields.item_type for key, fields in found.items()} == {
        "i_choice": "single_choice",
        "i_text": "text_entry",
        "i_order": "ordering",
        "i_match": "matching",
        "i_inline": "inline_choice",
        "i_essay": "extended_text",
        "i_multi": "multiple_response",
    }
    choice = found["i_choice"]
    assert choice.scoring == {"correct": "choice_2"}
    assert "2<i>x</i> + 3 = 11" in choice.content["stem"]
    assert choice.language == "ja-JP"
    assert [o["text"] for o in choice.content["options"]] == ["x = 3", "x = 4", "x = 7"]
    cases = {
        "i_choice": ({"choice": "choice_2"}, {"choice": "choice_1"}),
        "i_text": ({"text": "東京"}, {"text": "Osaka"}),
        "i_order": ({"order": ["A", "B", "C"]}, {"order": ["B", "A", "C"]}),
        "i_match": ({"pairs": [["S1", "T2"], ["S2", "T1"]]}, {"pairs": [["S1", "T1"]]}),
        "i_inline": ({"gaps": {"RESPONSE": "even"}}, {"gaps": {"RESPONSE": "odd"}}),
        "i_multi": ({"choices": ["c2", "c3"]}, {"choices": ["c2"]}),
    }
    for key, (right, wrong) in cases.items():
        fields = found[key]
        assert score_response(fields.item_type, fields.content, fields.scoring, right) == 1.0, key
        assert score_response(fields.item_type, fields.content, fields.scoring, wrong) == 0.0, key
    essay = found["i_essay"]
    assert [level["points"] for level in essay.scoring["rubric"]] == [0, 1, 2]


def test_qti2_items_upgrade_element_and_attribute_names() -> None:
    from item_bank.qti.upgrade import upgrade

    root = parse_xml((TAO_QTI22 / "items/i_match/qti.xml").read_bytes(), "qti.xml")
    upgraded = upgrade(root)
    assert upgraded.tag == f"{{{QTI}}}qti-assessment-item"
    interaction = upgraded.find(f".//{{{QTI}}}qti-match-interaction")
    assert interaction.get("response-identifier") == "RESPONSE"
    assert interaction.get("max-associations") == "2"
    assert upgraded.get("time-dependent") == "false"
    entry = upgraded.find(f".//{{{QTI}}}qti-map-entry")
    assert (entry.get("map-key"), entry.get("mapped-value")) == ("S1 T2", "0.5")
    assert upgrade(upgraded) is upgraded  # 3.0 passes through


def test_skip_unsupported_imports_the_rest_and_says_what_it_left(app: Flask) -> None:
    hotspot = (
        choice_item("hot")
        .replace(
            '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">',
            '<qti-hotspot-interaction response-identifier="RESPONSE" max-choices="1">',
        )
        .replace("</qti-choice-interaction>", "</qti-hotspot-interaction>")
    )
    data = package(
        {
            "imsmanifest.xml": manifest("items/ok.xml", "items/custom.xml", "items/hot.xml"),
            "items/ok.xml": choice_item("ok"),
            "items/custom.xml": _with_processing(A_OR_B),
            "items/hot.xml": hotspot,
        }
    )
    with pytest.raises(ValidationError):  # all or nothing by default
        import_package(data, actor=SYSTEM)
    db.session.rollback()
    report = import_package(data, actor=SYSTEM, options=ImportOptions(skip_unsupported=True))
    db.session.commit()
    assert report["created"] == 1
    assert [p["file"] for p in report["not_imported"]] == ["items/custom.xml", "items/hot.xml"]
    assert "hotspot" in report["not_imported"][1]["message"]
    assert row_count(Item) == 1
    only_bad = package({"imsmanifest.xml": manifest("items/hot.xml"), "items/hot.xml": hotspot})
    with pytest.raises(ValidationError):  # nothing importable is still an error
        import_package(only_bad, actor=SYSTEM, options=ImportOptions(skip_unsupported=True))


# ------------------------------------------------------------------------- score -> category

PC_TABLE = {
    "table": [
        {"min_score": 0, "category": 0},
        {"min_score": 1, "category": 1},
        {"min_score": 2, "category": 2},
    ]
}


@pytest.mark.parametrize(
    ("type_id", "rule"),
    [("single_choice", {"threshold": 1.0}), ("partial_credit", PC_TABLE)],
)
def test_the_category_rule_travels_as_an_interpolation_table(
    app: Flask, type_id: str, rule: dict[str, Any]
) -> None:
    from item_bank.qti.package import version_scorer

    base = make_item(type_id, key=f"cat-{type_id}")
    version = make_item(
        type_id, key=f"cat2-{type_id}", scoring={**base.scoring, "irt_category": rule}
    )
    db.session.commit()
    data, _ = export_package([version.id])
    xml = zipfile.ZipFile(io.BytesIO(data)).read(f"items/cat2-{type_id}.xml")
    assert b'identifier="IRT_CATEGORY"' in xml
    assert b"qti-interpolation-table-entry" in xml
    # The XML's own processing computes the category, as delivery does.
    scorer = version_scorer(version)
    top = {"RESPONSE": version.scoring.get("correct", "A")}
    assert scorer.score_json(top)["IRT_CATEGORY"] == (1 if type_id == "single_choice" else 2)
    if type_id == "partial_credit":
        assert scorer.score_json({"RESPONSE": "B"})["IRT_CATEGORY"] == 1
    fresh_bank()
    import_package(data, actor=SYSTEM)
    imported = db.session.scalars(
        select(ItemVersion).join(Item).where(Item.key == f"cat2-{type_id}")
    ).one()
    assert imported.scoring["irt_category"] == rule


def test_an_edited_category_table_in_the_xml_wins_over_our_metadata(app: Flask) -> None:
    version = make_item("single_choice", key="cat-edit")
    version = make_item(
        "single_choice", key="cat-edit-2",
        scoring={**version.scoring, "irt_category": {"threshold": 1.0}},
    )  # fmt: skip
    db.session.commit()
    data, _ = export_package([version.id])
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: archive.read(name) for name in archive.namelist()}
    path = "items/cat-edit-2.xml"
    start = files[path].index(b'<qti-outcome-declaration identifier="IRT_CATEGORY"')
    end = files[path].index(b"</qti-outcome-declaration>", start) + len(
        b"</qti-outcome-declaration>"
    )
    files[path] = files[path][:start] + files[path][end:]  # another tool dropped the rule
    files[path] = re.sub(rb"<qti-lookup-outcome-value.*?</qti-lookup-outcome-value>", b"",
                         files[path], flags=re.S)  # fmt: skip
    import_package(package(files), actor=SYSTEM)
    latest = db.session.scalars(
        select(ItemVersion).where(ItemVersion.is_latest, ItemVersion.item_id == version.item_id)
    ).one()
    assert "irt_category" not in latest.scoring


# --------------------------------------------------------------------------- hottext

# Written from the QTI 3.0 specification's hottext interaction: qti-hottext spans inside the
# interaction's block content, max-choices (default 1), min-choices, and a response declaration
# of base type identifier, single for one choice, multiple (with a mapping) for several.
HOTTEXT_SINGLE = f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI}" identifier="hottext-error" title="Find the error"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>B</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-hottext-interaction response-identifier="RESPONSE" max-choices="1">
      <qti-prompt>Select the error in the following passage of text.</qti-prompt>
      <p>Sponsors of the Olympic Games <qti-hottext identifier="A">who bought</qti-hottext>
      advertising time on United States television <qti-hottext identifier="B">includes
      </qti-hottext> <qti-hottext identifier="C">at least</qti-hottext> a dozen international
      firms <qti-hottext identifier="D">whose</qti-hottext> names are familiar to American
      consumers. <qti-hottext identifier="E">No error.</qti-hottext></p>
    </qti-hottext-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""

# Two points: 1 for each of the two nouns, -1 for each verb, between 0 and 2.
HOTTEXT_MAPPED = f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI}" identifier="hottext-nouns" title="Nouns"
    adaptive="false" time-dependent="false" xml:lang="ja">
  <qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="identifier">
    <qti-correct-response><qti-value>N1</qti-value><qti-value>N2</qti-value></qti-correct-response>
    <qti-mapping lower-bound="0" upper-bound="2" default-value="0">
      <qti-map-entry map-key="N1" mapped-value="1"/>
      <qti-map-entry map-key="N2" mapped-value="1"/>
      <qti-map-entry map-key="V1" mapped-value="-1"/>
      <qti-map-entry map-key="V2" mapped-value="-1"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"
      normal-maximum="2"/>
  <qti-item-body>
    <p>名詞を二つ選びなさい。</p>
    <qti-hottext-interaction response-identifier="RESPONSE" max-choices="0" min-choices="1">
      <p><qti-hottext identifier="N1">ねこ</qti-hottext>が<qti-hottext identifier="V1">走る
      </qti-hottext>。<qti-hottext identifier="N2">いぬ</qti-hottext>が<qti-hottext
      identifier="V2">ねる</qti-hottext>。</p>
    </qti-hottext-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response"/>
</qti-assessment-item>"""

# response (QTI shape) -> SCORE, computed by hand from the declarations above
HOTTEXT_OUTCOMES = {
    "hottext-error": [("B", 1.0), ("A", 0.0), ("E", 0.0), (None, 0.0)],
    "hottext-nouns": [
        (["N1", "N2"], 2.0),
        (["N1"], 1.0),
        (["N1", "V1"], 0.0),
        (["N1", "N2", "V2"], 1.0),
        (["V1", "V2"], 0.0),  # -2, clamped to the lower bound
    ],
}


def _hottext_package() -> bytes:
    return package(
        {
            "imsmanifest.xml": manifest("items/error.xml", "items/nouns.xml"),
            "items/error.xml": HOTTEXT_SINGLE,
            "items/nouns.xml": HOTTEXT_MAPPED,
        }
    )


def test_hottext_items_from_the_specification_score_as_computed_by_hand(app: Flask) -> None:
    from item_bank.qti.package import package_item_scorer

    data = _hottext_package()
    for identifier, outcomes in HOTTEXT_OUTCOMES.items():
        scorer = package_item_scorer(data, identifier)
        for response, expected in outcomes:
            assert scorer.score_json({"RESPONSE": response})["SCORE"] == expected, response


def test_hottext_items_import_and_the_model_scores_as_the_xml(app: Flask) -> None:
    report = import_package(_hottext_package(), actor=SYSTEM)
    assert report["created"] == 2, report
    items = fields_by_key()
    error, nouns = items["hottext-error"], items["hottext-nouns"]
    assert error.item_type == nouns.item_type == "hottext"
    assert error.content["stem"] == "Select the error in the following passage of text."
    assert [h["id"] for h in error.content["hottexts"]] == ["A", "B", "C", "D", "E"]
    assert error.content["hottexts"][1]["text"].strip() == "includes"
    assert "{{B}} {{C}} a dozen" in error.content["text"]
    assert (error.content["max_choices"], error.content["min_choices"]) == (1, 0)
    assert error.scoring == {"correct": ["B"], "method": "all_or_nothing"}
    assert (nouns.content["max_choices"], nouns.content["min_choices"]) == (0, 1)
    assert nouns.scoring["method"] == "partial"
    # The 0-to-2 mapping read on the model's 0-to-1 scale is its default, +1/2 and -1/2.
    assert nouns.scoring == {"correct": ["N1", "N2"], "method": "partial"}
    for key, fields in (("hottext-error", error), ("hottext-nouns", nouns)):
        for response, expected in HOTTEXT_OUTCOMES[key]:
            if response is None:
                continue
            chosen = [response] if isinstance(response, str) else response
            got = score_response("hottext", fields.content, fields.scoring, {"choices": chosen})
            assert got == expected / (2.0 if key == "hottext-nouns" else 1.0), response


def test_hottext_items_survive_export_and_reimport(app: Flask) -> None:
    import_package(_hottext_package(), actor=SYSTEM)
    db.session.commit()
    before = fields_by_key()
    versions = db.session.scalars(select(ItemVersion).where(ItemVersion.is_latest)).all()
    data, _ = export_package([version.id for version in versions])
    xml = zipfile.ZipFile(io.BytesIO(data)).read("items/hottext-error.xml").decode()
    assert 'cardinality="single"' in xml
    assert "<qti-hottext " in xml
    assert 'max-choices="1"' in xml
    fresh_bank()
    import_package(data, actor=SYSTEM)
    after = fields_by_key()
    for key, fields in before.items():
        assert after[key].content == fields.content, key
        assert after[key].scoring == fields.scoring, key


# --------------------------------------------------------------------------- gap match

# After the QTI 3.0 specification's gap match example: four seasons for two gaps of Richard
# III's opening lines, gap texts that may each fill one gap, directed pairs "gap-text gap",
# and a mapping worth 1 and 2 points (no upper bound; SCORE's normal-maximum 3).
GAP_MATCH = f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI}" identifier="gap-match" title="Richard III"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="directedPair">
    <qti-correct-response><qti-value>W G1</qti-value><qti-value>Su G2</qti-value>
    </qti-correct-response>
    <qti-mapping default-value="-1" lower-bound="0">
      <qti-map-entry map-key="W G1" mapped-value="1"/>
      <qti-map-entry map-key="Su G2" mapped-value="2"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"
      normal-maximum="3"/>
  <qti-item-body>
    <qti-gap-match-interaction response-identifier="RESPONSE" shuffle="false">
      <qti-prompt>Identify the missing words in this famous quote from Shakespeare's Richard III.
      </qti-prompt>
      <qti-gap-text identifier="W" match-max="1">winter</qti-gap-text>
      <qti-gap-text identifier="Sp" match-max="1">spring</qti-gap-text>
      <qti-gap-text identifier="Su" match-max="1">summer</qti-gap-text>
      <qti-gap-text identifier="A" match-max="1">autumn</qti-gap-text>
      <blockquote><p>Now is the <qti-gap identifier="G1"/> of our discontent<br/>
      Made glorious <qti-gap identifier="G2"/> by this sun of York;</p></blockquote>
    </qti-gap-match-interaction>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response"/>
</qti-assessment-item>"""

# gaps -> SCORE by hand: 1 for winter in G1, 2 for summer in G2, -1 for any other pair, >= 0
GAP_MATCH_OUTCOMES = [
    ({"G1": "W", "G2": "Su"}, 3.0),
    ({"G1": "W"}, 1.0),
    ({"G2": "Su"}, 2.0),
    ({"G1": "Sp", "G2": "Su"}, 1.0),
    ({"G1": "Su", "G2": "W"}, 0.0),
]


def test_a_gap_match_item_from_the_specification_scores_and_round_trips(app: Flask) -> None:
    from item_bank.qti.agreement import qti_responses
    from item_bank.qti.package import package_item_scorer

    data = package({"imsmanifest.xml": manifest("items/gap.xml"), "items/gap.xml": GAP_MATCH})
    scorer = package_item_scorer(data, "gap-match")
    for gaps, expected in GAP_MATCH_OUTCOMES:
        as_qti = qti_responses("gap_match", {"gaps": gaps})
        assert scorer.score_json(as_qti)["SCORE"] == expected, gaps
    # The default of -1 for a wrong pair is beyond the item model: the import says so.
    with pytest.raises(ValidationError, match="gap_match item cannot score"):
        import_package(data, actor=SYSTEM)
    db.session.rollback()
    plain = package(
        {
            "imsmanifest.xml": manifest("items/gap.xml"),
            "items/gap.xml": GAP_MATCH.replace('default-value="-1"', 'default-value="0"'),
        }
    )
    report = import_package(plain, actor=SYSTEM)
    assert report["created"] == 1, report
    fields = fields_by_key()["gap-match"]
    assert fields.item_type == "gap_match"
    assert [w["id"] for w in fields.content["gap_texts"]] == ["W", "Sp", "Su", "A"]
    assert "Now is the {{G1}} of our discontent" in fields.content["text"]
    assert fields.content["stem"].startswith("Identify the missing words")
    assert fields.scoring["correct"] == {"G1": "W", "G2": "Su"}
    assert fields.scoring["mapping"] == {
        "W G1": pytest.approx(1 / 3),
        "Su G2": pytest.approx(2 / 3),
    }
    scorer = package_item_scorer(plain, "gap-match")
    for gaps, _ in GAP_MATCH_OUTCOMES:
        theirs = scorer.score_json(qti_responses("gap_match", {"gaps": gaps}))["SCORE"] / 3
        ours = score_response("gap_match", fields.content, fields.scoring, {"gaps": gaps})
        assert ours == pytest.approx(theirs), gaps
    db.session.commit()
    version = db.session.scalars(select(ItemVersion)).one()
    exported, _ = export_package([version.id])
    fresh_bank()
    import_package(exported, actor=SYSTEM)
    after = fields_by_key()["gap-match"]
    assert (after.content, after.scoring) == (fields.content, fields.scoring)
