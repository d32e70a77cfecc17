"""Accommodations end to end, in Japanese: a teacher sets 大 and 高コントラスト for a student; the
student's player opens with them, the student turns ruby off, uses the line reader by keyboard
and read-aloud, and the sitting's recorded conditions follow every change."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from cbt.db import db
from cbt.models import User
from delivery.models import ExamSession
from item_bank.models import ItemVersion
from tests.e2e.conftest import LiveServer

# Observe the browser's speech API (it still speaks): which utterances the page asked for.
WATCH_SPEECH = """
window.__spoken = [];
if (window.speechSynthesis) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (utterance) => {
    window.__spoken.push({ text: utterance.text, lang: utterance.lang });
    return speak(utterance);
  };
}
"""


def _page(browser: Browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1366, "height": 768})
    return context.new_page()


def _conditions(server: LiveServer, student_id: int) -> dict:
    with server.app.app_context():
        row = db.session.scalars(
            select(ExamSession)
            .where(ExamSession.student_id == student_id)
            .order_by(ExamSession.started_at.desc())
        ).first()
        assert row is not None
        return dict(row.conditions)


def _wait_for_conditions(server: LiveServer, student_id: int, expected: dict) -> dict:
    deadline = time.monotonic() + 15
    while True:
        conditions = _conditions(server, student_id)
        current = conditions.get("current", {})
        if all(current.get(k) == v for k, v in expected.items()) or time.monotonic() > deadline:
            return conditions
        time.sleep(0.2)


def test_teacher_sets_accommodations_and_the_player_records_the_students_changes(
    browser: Browser, live_server_ja: LiveServer
) -> None:
    server = live_server_ja
    class_code, number, name, code = server.logins.students[3]
    with server.app.app_context():
        student_id = db.session.scalar(select(User.id).where(User.display_name == name))

    # The teacher: 大 and high contrast on the student's page.
    teacher = _page(browser)
    _, email, password = next(s for s in server.logins.staff if s[0] == "teacher")
    teacher.goto(f"{server.url}/staff/login")
    teacher.get_by_label("メールアドレス").fill(email)
    teacher.get_by_label("パスワード").fill(password)
    teacher.get_by_role("button", name="ログイン").click()
    expect(teacher.get_by_role("heading", name="担当クラス")).to_be_visible()
    teacher.goto(f"{server.url}/teacher/students/{student_id}")
    expect(teacher.get_by_role("heading", name="合理的配慮")).to_be_visible()
    teacher.get_by_label("文字の大きさ").select_option("large")
    teacher.get_by_label("高コントラスト").check()
    teacher.get_by_role("button", name="配慮を保存").click()
    expect(teacher.locator("[data-acc-status]")).to_contain_text("保存しました")
    with server.app.app_context():
        saved = db.session.get(User, student_id).accommodations
    assert saved["font_size"] == "large"
    assert saved["high_contrast"] is True
    teacher.context.close()

    # The student: the player opens with them applied.
    page = _page(browser)
    page.add_init_script(WATCH_SPEECH)
    page.goto(f"{server.url}/login")
    page.get_by_label("クラスコード").fill(class_code)
    page.get_by_label("出席番号").fill(str(number))
    page.get_by_label("ログインコード").fill(code)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_test_id("test").get_by_role("link", name="はじめる").click()
    page.get_by_role("button", name="テストをはじめる").click()
    expect(page.locator("[data-stem]")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-accommodations", "ready")
    expect(page.locator("html")).to_have_class(re.compile(r"\bacc-font-large\b"))
    expect(page.locator("body")).to_have_class(re.compile(r"\bacc-high-contrast\b"))
    stem_px = page.locator("[data-stem]").evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
    assert stem_px >= 19.5, stem_px  # 16 px x 125 %
    started = _conditions(server, student_id)
    assert started["current"]["font_size"] == "large"
    assert started["current"]["high_contrast"] is True
    assert started["changes"] == []

    # The settings panel, by keyboard only.
    toggle = page.get_by_role("button", name="表示と読み上げの設定")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("radio", name="大", exact=True)).to_be_focused()
    expect(page.get_by_role("radio", name="大", exact=True)).to_be_checked()
    ruby = page.get_by_label("ふりがな（ルビ）を表示")
    expect(ruby).to_be_checked()
    ruby.focus()
    page.keyboard.press("Space")
    expect(ruby).not_to_be_checked()
    expect(page.locator("body")).to_have_class(re.compile(r"\bacc-ruby-off\b"))

    # The line reader: on by keyboard, moved with Alt+Down.
    line_reader = page.get_by_label("ラインリーダー")
    line_reader.focus()
    page.keyboard.press("Space")
    band = page.locator("[data-line-reader]")
    expect(band).to_have_count(1)
    top = int(band.get_attribute("data-top"))
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.press("Alt+ArrowDown")
    expect(band).not_to_have_attribute("data-top", str(top))
    assert int(band.get_attribute("data-top")) > top

    # Read-aloud: the buttons show once it is on; the stem is read with a Japanese voice.
    read_aloud = page.get_by_label("読み上げボタン")
    read_aloud.focus()
    page.keyboard.press("Space")
    speak_stem = page.get_by_role("button", name="問題文を読み上げる")
    expect(speak_stem).to_be_visible()
    speak_stem.focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="選択肢1を読み上げる").click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 2, spoken
    assert spoken[0]["lang"] == "ja-JP"
    assert spoken[0]["text"]
    assert spoken[1]["lang"] in ("ja-JP", "en-US")
    assert spoken[1]["text"]

    # Answer on until an item with ruby: its readings stay hidden while ruby is off.
    for _ in range(20):
        if page.locator("[data-stem] rt").count():
            break
        progress = page.locator("[data-progress]").text_content()
        page.locator("label.option").first.click()
        page.get_by_role("button", name="次へ").click()
        expect(page.locator("[data-progress]")).not_to_have_text(progress)
    assert page.locator("[data-stem] rt").count(), "no item with ruby came up"
    expect(page.locator("[data-stem] rt").first).to_be_hidden()
    expect(page.locator("body")).to_have_class(re.compile(r"\bacc-high-contrast\b"))  # kept

    # Everything the student changed is recorded on the sitting.
    expected = {
        "font_size": "large",
        "high_contrast": True,
        "ruby": False,
        "line_reader": True,
        "read_aloud": True,
    }
    conditions = _wait_for_conditions(server, student_id, expected)
    assert conditions["current"] == expected
    assert [c["setting"] for c in conditions["changes"]] == ["ruby", "line_reader", "read_aloud"]
    assert conditions["extra_time_factor"] == 1.0
    page.screenshot(path=f"{server.app.instance_path}/accommodations-player.png", full_page=True)
    page.context.close()


def test_read_aloud_speaks_the_authors_text_in_english(
    browser: Browser, live_server: LiveServer
) -> None:
    """An item's accessibility.read_aloud is what the stem button says; English gets en-US."""
    server = live_server
    # As if the demo bank had been authored with read-aloud texts (set before any sitting
    # compiles the form; versions are immutable to the app, so this is a plain UPDATE).
    with server.app.app_context():
        db.session.execute(
            update(ItemVersion).values(accessibility={"read_aloud": "Spoken by the author."})
        )
        db.session.commit()
    class_code, number, _name, code = server.logins.students[4]
    context = browser.new_context(locale="en-US", viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.add_init_script(WATCH_SPEECH)
    page.goto(f"{server.url}/login")
    page.get_by_label("Class code").fill(class_code)
    page.get_by_label("Student number").fill(str(number))
    page.get_by_label("Login code").fill(code)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("test").get_by_role("link", name=re.compile("Start")).click()
    page.get_by_role("button", name="Start the test").click()
    expect(page.locator("body")).to_have_attribute("data-accommodations", "ready")
    expect(page.locator("html")).to_have_class(re.compile(r"\bacc-font-standard\b"))
    speak = page.get_by_role("button", name="Read the question aloud")
    expect(speak).to_be_hidden()  # read-aloud is off in the default profile
    toggle = page.get_by_role("button", name="Display and reading settings")
    toggle.click()
    page.get_by_label("Read-aloud buttons").check()
    page.get_by_label("Extra large").check()
    expect(page.locator("html")).to_have_class(re.compile(r"\bacc-font-x_large\b"))
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    speak.click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1, spoken
    assert spoken[0]["text"] == "Spoken by the author."
    assert spoken[0]["lang"] == "en-US"
    context.close()
