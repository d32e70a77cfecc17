"""The ES modules' gettext (frontend/static/js/i18n.js) run in Node with the server's catalog."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from cbt.catalogs import ROOT
from cbt.i18n import catalog_json

I18N_JS = ROOT / "frontend" / "static" / "js" / "i18n.js"
NODE = shutil.which("node")

# A page as far as i18n.js sees one: <html lang>, the catalog <meta>, and fetch serving it.
_HARNESS = """
const [lang, module] = process.argv.slice(1);
// The catalog comes on stdin: it is larger than one command-line argument may be.
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const catalog = Buffer.concat(chunks).toString("utf8");
globalThis.document = {
  documentElement: { lang },
  querySelector: () => ({ content: "/i18n/catalog.json" }),
};
globalThis.fetch = async () => ({ ok: true, json: async () => JSON.parse(catalog) });
const i18n = await import(module);
const out = {
  d90: i18n.formatDuration(90),
  d120: i18n.formatDuration(120),
  d45: i18n.formatDuration(45),
  d60: i18n.formatDuration(60),
  q1: i18n.ngettext("up to %(n)s question", "up to %(n)s questions", 1),
  q12: i18n.ngettext("up to %(n)s question", "up to %(n)s questions", 12),
  done1: i18n.ngettext(
    "You answered %(n)s question. Your teacher will see your result.",
    "You answered %(n)s questions. Your teacher will see your result.",
    1,
  ),
  next: i18n._("Next"),
  left: i18n._("%(time)s left", { time: "1:30" }),
  big: i18n.formatNumber(12345),
};
process.stdout.write(JSON.stringify(out));
"""


def _run(locale: str) -> dict[str, str]:
    result = subprocess.run(
        [
            NODE,
            "--input-type=module",
            "-e",
            _HARNESS,
            locale,
            I18N_JS.as_uri(),
        ],
        input=catalog_json(locale)[0],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


pytestmark = pytest.mark.skipif(NODE is None, reason="needs node to run the ES module")


def test_english_plurals_and_durations() -> None:
    out = _run("en")
    assert out["d90"] == "1 minute 30 seconds"  # not "2 minutes"
    assert out["d120"] == "2 minutes"
    assert out["d45"] == "45 seconds"
    assert out["d60"] == "1 minute"
    assert out["q1"] == "up to 1 question"  # not "1 questions"
    assert out["q12"] == "up to 12 questions"
    assert out["done1"] == "You answered 1 question. Your teacher will see your result."
    assert out["next"] == "Next"
    assert out["left"] == "1:30 left"
    assert out["big"] == "12,345"


def test_japanese_from_the_same_catalog() -> None:
    out = _run("ja")
    assert out["d90"] == "1分30秒"
    assert out["d120"] == "2分"
    assert out["q1"] == "最大1問"
    assert out["q12"] == "最大12問"
    assert out["next"] == "次へ"
    assert out["left"] == "残り 1:30"
