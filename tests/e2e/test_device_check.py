"""The device check page in Chromium, in English and Japanese: checks, summary, tone and copy."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer

# Counts the AudioContexts the page makes and the oscillators it starts (the real Web Audio
# runs underneath: headless Chromium plays into a null sink).
_OBSERVE_AUDIO = """
window.__audio = { contexts: 0, tones: 0 };
const RealAudioContext = window.AudioContext;
window.AudioContext = class extends RealAudioContext {
  constructor(...args) {
    super(...args);
    window.__audio.contexts += 1;
  }
  createOscillator() {
    const oscillator = super.createOscillator();
    const start = oscillator.start.bind(oscillator);
    oscillator.start = (...args) => {
      window.__audio.tones += 1;
      return start(...args);
    };
    return oscillator;
  }
};
"""


def _open(browser: Browser, server: LiveServer, locale: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(locale=locale, viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.add_init_script(_OBSERVE_AUDIO)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _verdict(page: Page, check: str):
    return page.get_by_test_id(f"check-{check}").locator("[data-verdict]")


def test_the_check_in_english_from_the_login_page(
    browser: Browser, live_server: LiveServer
) -> None:
    page = _open(browser, live_server, "en-US", {"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Check this device before a test").click()
    expect(page.get_by_role("heading", name="Device check", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    summary = page.get_by_role("status").filter(has_text="This device")
    expect(summary).to_contain_text(re.compile(r"Round trip \d+ ms\."))
    expect(summary).to_contain_text("1 not checked yet")  # the tone waits for a person
    expect(page.get_by_test_id("check-browser")).to_contain_text(re.compile(r"Chrome \d+ on"))
    expect(page.get_by_test_id("check-network")).to_contain_text(
        re.compile(r"Median \d+ ms, slowest \d+ ms \(10 requests\)")
    )
    expect(page.get_by_test_id("check-download")).to_contain_text(re.compile(r"256 KB in \d+ ms"))
    for check in ("modules", "storage", "offline", "cookies"):
        expect(_verdict(page, check)).to_have_text("OK")
    expect(_verdict(page, "screen")).to_have_text("OK")  # 1366x768
    expect(page.get_by_test_id("check-screen")).to_contain_text("Window 1366×768")
    expect(page.get_by_test_id("check-screen")).to_contain_text("landscape")
    expect(_verdict(page, "audio")).to_have_text("Not checked yet")

    page.get_by_role("button", name="Play a test tone").click()
    question = page.get_by_role("group", name="Did you hear it?")
    expect(question).to_be_visible()
    yes = question.get_by_role("button", name="Yes, I heard it")
    expect(yes).to_be_focused()
    assert page.evaluate("window.__audio") == {"contexts": 1, "tones": 1}
    yes.click()
    expect(_verdict(page, "audio")).to_have_text("OK")
    expect(question).to_be_hidden()
    expect(summary).not_to_contain_text("not checked yet")

    page.get_by_role("button", name="Copy the result").click()
    expect(page.get_by_text("Copied. Paste it into an e-mail or a message.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.get_by_label("The result as text").input_value()
    assert re.search(r"Summary: This device .* Round trip \d+ ms\.", copied)
    assert "- Round trip to the server: " in copied
    assert "- Sound: OK / You heard the test tone." in copied
    assert "User agent: Mozilla/5.0" in copied
    page.context.close()


def test_the_check_in_japanese_on_a_small_screen(browser: Browser, live_server: LiveServer) -> None:
    page = _open(browser, live_server, "ja-JP", {"width": 360, "height": 640})
    page.goto(f"{live_server.url}/device-check")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", name="端末チェック", level=1)).to_be_visible()
    summary = page.get_by_role("status").filter(has_text="この端末")
    expect(summary).to_contain_text(re.compile(r"往復時間 \d+ ミリ秒。"))
    expect(page.get_by_test_id("check-network")).to_contain_text(re.compile(r"中央値 \d+ ミリ秒"))
    # A phone works but is small: a warning that says so, not a failure.
    expect(_verdict(page, "screen")).to_have_text("注意")
    expect(page.get_by_test_id("check-screen")).to_contain_text("ウィンドウ 360×640")
    expect(page.get_by_test_id("check-screen")).to_contain_text("縦向き")

    page.get_by_role("button", name="テスト音を鳴らす").click()
    question = page.get_by_role("group", name="聞こえましたか？")
    question.get_by_role("button", name="いいえ、聞こえませんでした").click()
    expect(_verdict(page, "audio")).to_have_text("問題あり")
    expect(summary).to_contain_text("この端末にはテストを受けるうえで問題があります。")
    assert page.evaluate("window.__audio.contexts") == 1

    page.get_by_role("button", name="もう一度チェック").click()
    expect(_verdict(page, "audio")).to_have_text("問題あり")  # a person's answer stays
    expect(summary).to_contain_text(re.compile(r"往復時間 \d+ ミリ秒。"))
    page.get_by_role("button", name="結果をコピー").click()
    expect(page.get_by_text("コピーしました。")).to_be_visible()
    assert "- 音声: 問題あり / 音が聞こえません。" in page.evaluate(
        "navigator.clipboard.readText()"
    )
    page.context.close()
