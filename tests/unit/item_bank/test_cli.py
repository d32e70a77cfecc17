"""``cbt items import|export|list|validate``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from flask import Flask

from cbt.cli import cli
from item_bank.models import Item
from item_bank.types import ITEM_TYPES
from tests.helpers import row_count
from tests.unit.item_bank.test_qti import choice_item, manifest, package


def test_export_validate_import_and_list(app: Flask, runner, every_type, tmp_path: Path) -> None:
    out = tmp_path / "bank.zip"
    result = runner.invoke(cli, ["items", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Exported {len(ITEM_TYPES)} items" in result.output
    assert "imsmanifest.xml" in zipfile.ZipFile(out).namelist()

    result = runner.invoke(cli, ["items", "validate", str(out)])
    assert result.exit_code == 0, result.output
    n = len(ITEM_TYPES)
    assert f"is valid: {n} items: 0 created, 0 revised, {n} unchanged" in result.output

    result = runner.invoke(cli, ["items", "list", "--type", "numeric"])
    assert result.exit_code == 0, result.output
    assert "1 items match" in result.output
    assert "ex-numeric" in result.output

    result = runner.invoke(cli, ["items", "list", "--code-prefix", "835", "--json", "--limit", "2"])
    page = json.loads(result.output)
    assert page["total"] == len(ITEM_TYPES)
    assert len(page["items"]) == 2

    new = tmp_path / "new.zip"
    new.write_bytes(
        package({"imsmanifest.xml": manifest("items/n.xml"), "items/n.xml": choice_item("new-1")})
    )
    before = row_count(Item)
    assert runner.invoke(cli, ["items", "validate", str(new)]).exit_code == 0
    assert row_count(Item) == before  # validate writes nothing
    result = runner.invoke(cli, ["items", "import", str(new), "--status", "review"])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert row_count(Item) == before + 1


def test_bad_packages_fail_with_a_message_and_write_nothing(app: Flask, runner, tmp_path) -> None:
    bad = tmp_path / "bad.zip"
    broken = choice_item("b").replace("<qti-value>A</qti-value>", "<qti-value>Z</qti-value>")
    bad.write_bytes(
        package(
            {
                "imsmanifest.xml": manifest("items/a.xml", "items/b.xml"),
                "items/a.xml": choice_item("a"),
                "items/b.xml": broken,
            }
        )
    )
    for command in ("import", "validate"):
        result = runner.invoke(cli, ["items", command, str(bad)])
        assert result.exit_code == 1
        assert "items/b.xml" in result.output
        assert row_count(Item) == 0
    result = runner.invoke(cli, ["items", "list", "--code-prefix", "8-"])
    assert result.exit_code == 1
    assert "prefix" in result.output
    result = runner.invoke(cli, ["items", "export", "--out", str(tmp_path / "x.zip")])
    assert result.exit_code == 1
    assert "Nothing to export" in result.output


def test_score_prints_the_outcomes_of_a_package_item(app: Flask, runner, tmp_path: Path) -> None:
    from tests.unit.item_bank.test_qti import A_OR_B, _with_processing

    path = tmp_path / "p.zip"
    path.write_bytes(
        package(
            {
                "imsmanifest.xml": manifest("items/a.xml", "items/c.xml"),
                "items/a.xml": choice_item("plain"),
                "items/c.xml": _with_processing(A_OR_B, "a-or-b"),
            }
        )
    )

    def score(*args: str):
        return runner.invoke(cli, ["items", "score", str(path), *args])

    result = score("--item", "a-or-b", "--response", '{"RESPONSE": "B"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"SCORE": 1.0}
    result = score("--item", "plain", "--response", '{"RESPONSE": "B"}')
    assert json.loads(result.output) == {"SCORE": 0.0}
    for args, message in [
        (["--item", "nope", "--response", "{}"], "no item 'nope' (its items: plain, a-or-b)"),
        (["--item", "plain", "--response", "{bad"], "--response is not valid JSON"),
        (["--item", "plain", "--response", '{"X": "A"}'], "no response is declared as X"),
        (["--response", "{}"], "--item IDENTIFIER"),
    ]:
        result = score(*args)
        assert result.exit_code != 0
        assert message in result.output
        assert "Traceback" not in result.output


def test_score_a_bank_item_as_delivery_scores_it(app: Flask, runner, every_type) -> None:
    from cbt.db import db
    from item_bank.models import ItemVersion
    from item_bank.qti.agreement import qti_responses
    from item_bank.service import score_response
    from tests.unit.item_bank.test_types import CASES

    for type_id, version_id in every_type.items():
        version = db.session.get(ItemVersion, version_id)
        if type_id in ("extended_text", "numeric", "text_entry"):
            continue  # human scored, units and text normalisation are beyond QTI
        for response in CASES[type_id][:2]:
            result = runner.invoke(
                cli,
                [
                    "items", "score", version.item.key,
                    "--response", json.dumps(qti_responses(type_id, response)),
                ],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            expected = score_response(type_id, version.content, version.scoring, response)
            assert json.loads(result.output)["SCORE"] == expected, (type_id, response)
    result = runner.invoke(cli, ["items", "score", "no-such-key", "--response", "{}"])
    assert result.exit_code != 0
    assert "no such package file or bank item" in result.output


def test_import_skip_unsupported_lists_what_it_left(app: Flask, runner, tmp_path: Path) -> None:
    from tests.unit.item_bank.test_qti import A_OR_B, _with_processing

    path = tmp_path / "mixed.zip"
    path.write_bytes(
        package(
            {
                "imsmanifest.xml": manifest("items/a.xml", "items/c.xml"),
                "items/a.xml": choice_item("fine"),
                "items/c.xml": _with_processing(A_OR_B, "odd"),
            }
        )
    )
    refused = runner.invoke(cli, ["items", "import", str(path)])
    assert refused.exit_code != 0
    assert row_count(Item) == 0
    result = runner.invoke(cli, ["items", "import", str(path), "--skip-unsupported"])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert "Not imported (1):" in result.output
    assert "items/c.xml" in result.output


def test_usage_data_on_the_command_line(app: Flask, runner, tmp_path: Path) -> None:
    from tests.unit.item_bank.test_usage_data import two_items_with_statistics

    source = tmp_path / "stats.zip"
    source.write_bytes(two_items_with_statistics())
    result = runner.invoke(cli, ["items", "import", str(source), "--usage-scaling", "1.702"])
    assert result.exit_code == 0, result.output
    assert "8 item statistics, 2 draft parameter sets" in result.output
    assert "D = 1.702" in result.output
    result = runner.invoke(cli, ["items", "import", str(source), "--usage-scaling", "0"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output

    result = runner.invoke(cli, ["items", "export", "--out", str(tmp_path / "o.zip"),
                                 "--usage-data", "1"])  # fmt: skip
    assert result.exit_code == 1
    assert "Only a published parameter set" in result.output
    result = runner.invoke(cli, ["items", "export", "--out", str(tmp_path / "o.zip"),
                                 "--usage-data", "999"])  # fmt: skip
    assert result.exit_code == 1
    assert "No parameter set 999" in result.output


def test_the_item_commands_speak_the_terminal_language(
    app: Flask, runner, every_type, tmp_path: Path
) -> None:
    out = tmp_path / "bank.zip"
    result = runner.invoke(cli, ["items", "export", "--out", str(out)], env={"CBT_LOCALE": "ja"})
    assert result.exit_code == 0, result.output
    assert f"{len(ITEM_TYPES)} 問を" in result.output
    result = runner.invoke(cli, ["items", "validate", str(out)], env={"CBT_LOCALE": "ja"})
    assert f"新規 0、改版 0、変更なし {len(ITEM_TYPES)}" in result.output
    result = runner.invoke(
        cli, ["items", "export", "--out", str(out), "--usage-data", "999"], env={"CBT_LOCALE": "ja"}
    )
    assert result.exit_code == 1
    assert "パラメタセット 999 はありません。" in result.output
