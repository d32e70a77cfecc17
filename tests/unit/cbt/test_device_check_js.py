"""The device check's rules (frontend/static/js/device_check_rules.js) run in Node."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from cbt.catalogs import ROOT

RULES_JS = ROOT / "frontend" / "static" / "js" / "device_check_rules.js"
NODE = shutil.which("node")

CHROMEBOOK = (
    "Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.235 Safari/537.36"
)
IPAD_DESKTOP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)
IPAD_CHROME = (
    "Mozilla/5.0 (iPad; CPU OS 15_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
FIREFOX_ESR = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
OLD_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; rv:102.0) Gecko/20100101 Firefox/102.0"
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
ODD = "SomeKiosk/2.0"

_HARNESS = """
const [module, cases] = process.argv.slice(1);
const rules = await import(module);
const out = JSON.parse(cases).map(([ua, options]) => {
  const browser = rules.detectBrowser(ua, options);
  return { ...browser, verdict: rules.browserVerdict(browser) };
});
const times = (values) => rules.roundTripVerdict(values);
process.stdout.write(JSON.stringify({
  browsers: out,
  median: [rules.median([3, 1, 2]), rules.median([4, 1, 3, 2])],
  trips: [
    times([10, 12, 11, 9, 30, 12, 11, 10, 13, 12]).state,
    times([10, 12, 11, 9, 600, 12, 11, 10, 13, 12]).state,
    times([200, 210, 190, 205, 220, 180, 199, 201, 230, 240]).state,
    times([700, 710, 690, 705, 720, 680, 699, 701, 730, 740]).state,
  ],
  downloads: [rules.downloadVerdict(26.6), rules.downloadVerdict(1), rules.downloadVerdict(0.2)],
  screens: [
    rules.screenVerdict(1366, 650),
    rules.screenVerdict(1024, 768),
    rules.screenVerdict(820, 1100),
    rules.screenVerdict(360, 640),
    rules.screenVerdict(300, 400),
  ],
  zoom: [1, 2, 1.5, 1.25].map(rules.looksZoomed),
}));
"""


@pytest.fixture(scope="module")
def rules() -> dict:
    if NODE is None:
        pytest.skip("node is not installed")
    cases = [
        [CHROMEBOOK, {"brands": [{"brand": "Google Chrome", "version": "120"}]}],
        [CHROMEBOOK, {}],
        [IPAD_DESKTOP, {"touchPoints": 5}],
        [IPAD_DESKTOP, {"touchPoints": 0}],
        [IPAD_CHROME, {}],
        [EDGE, {}],
        [FIREFOX_ESR, {}],
        [OLD_FIREFOX, {}],
        [IE11, {}],
        [ODD, {"platform": "Kiosk"}],
    ]
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", _HARNESS, RULES_JS.as_uri(), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _short(browser: dict) -> tuple:
    return browser["name"], browser["version"], browser["os"], browser["verdict"]


def test_the_school_devices_are_recognised(rules: dict) -> None:
    assert [_short(b) for b in rules["browsers"]] == [
        ("Chrome", 120, "ChromeOS", "pass"),
        ("Chrome", 120, "ChromeOS", "pass"),  # from the user agent when no client hints
        ("Safari", 17, "iPadOS", "pass"),  # an iPad asking for desktop pages
        ("Safari", 17, "macOS", "pass"),
        ("Chrome", 120, "iPadOS", "old"),  # Chrome on iPadOS 15 runs Safari 15's engine
        ("Edge", 120, "Windows", "pass"),
        ("Firefox", 115, "Linux", "pass"),
        ("Firefox", 102, "Windows", "old"),
        ("Internet Explorer", 11, "Windows", "fail"),
        (None, None, "Kiosk", "unknown"),
    ]
    assert rules["browsers"][4]["engine"] == "Safari"
    assert rules["browsers"][4]["engineVersion"] == 15


def test_the_thresholds(rules: dict) -> None:
    assert rules["median"] == [2, 2.5]
    # fast; fast with one slow request; slow (150 to 500 ms); too slow (500 ms or more)
    assert rules["trips"] == ["pass", "unsteady", "slow", "fail"]
    assert rules["downloads"] == ["pass", "warn", "fail"]
    # a Chromebook window, 1024x768, an upright iPad, a phone, a tiny window
    assert rules["screens"] == ["pass", "pass", "pass", "warn", "fail"]
    assert rules["zoom"] == [False, False, False, True]
