"""The player's free navigation at school screen sizes, in Japanese and English: the question
navigator, flags, going back, changing an answer, the review screen and its submit; the practice
question and the end screen's score; a CAT sitting; and a linear section by keyboard alone.
Screenshots go to test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from cbt.db import db
from cbt.models import Classroom, User
from delivery.definitions import create_administration, create_test_definition
from delivery.models import ExamSession, ItemResponse, Result, latest_revisions
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool
from tests.e2e.conftest import LiveServer, serve_demo, start_test

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SIZES = {"1366x768": (1366, 768), "1024x768": (1024, 768), "360x640": (360, 640)}
TITLE = {"en": "Fractions, review", "ja": "分数の復習"}
N_ITEMS = 5
CORRECT = "BCABC"  # the right option of each question, in form order


def free_test_for_class(server: LiveServer, class_code: str, language: str) -> None:
    """A linear test with free navigation (and its score on the end screen) for one class."""
    with server.app.app_context():
        keys, version_ids = [], []
        for index in range(N_ITEMS):
            version = create_item(
                key=f"nav-{index}",
                item_type="single_choice",
                content={
                    "stem": f"<p>{index + 1} + {index + 1} = ?</p>",
                    "options": [
                        {"id": c, "text": str(2 * (index + 1) + offset)}
                        for c, offset in zip("ABC", _offsets(CORRECT[index]), strict=True)
                    ],
                },
                scoring={"correct": CORRECT[index]},
                curriculum_codes=["8350213111200000"],
                status=ItemStatus.OPERATIONAL,
            )
            keys.append(f"nav-{index}")
            version_ids.append(version.id)
        parameters = create_parameter_set(
            name="nav",
            parameters={
                v: {"model": "2pl", "discrimination": 1.0, "difficulty": -1.0 + 0.5 * i}
                for i, v in enumerate(version_ids)
            },
            provenance={"source": "test"},
            status=ParameterSetStatus.PUBLISHED,
        )
        create_pool(name="nav", item_version_ids=version_ids, active_parameter_set_id=parameters.id)
        definition = create_test_definition(
            key="nav",
            title=TITLE[language],
            pool="nav",
            parameter_set="nav",
            parameter_set_version=None,
            settings={
                "sections": [{"key": "review", "kind": "linear", "forms": [keys]}],
                "end_screen": {"show_score": True, "show_band": True},
            },
            scale={"slope": 100, "intercept": 500, "cut_scores": [500], "band_labels": ["1", "2"]},
        )
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == class_code)
        ).one()
        create_administration(
            test_definition_id=definition.id,
            name="Navigation",
            classroom_ids=[classroom.id],
            status="open",
        )
        db.session.commit()


def _offsets(correct: str) -> tuple[int, int, int]:
    """Option values around the right sum, the right one at the letter given."""
    return {"A": (0, 1, 2), "B": (-1, 0, 1), "C": (-2, -1, 0)}[correct]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    with (
        serve_demo(tmp_path_factory.mktemp("nav-en"), "en") as english,
        serve_demo(tmp_path_factory.mktemp("nav-ja"), "ja") as japanese,
    ):
        free_test_for_class(english, "DEMO-2B", "en")
        free_test_for_class(japanese, "DEMO-2B", "ja")
        yield {"en": english, "ja": japanese}


WORDS = {
    "en": {
        "class": "Class code",
        "number": "Student number",
        "code": "Login code",
        "login": "Log in",
        "next": "Next",
        "previous": "Previous",
        "flag": "Flag for review",
        "review": "Review and submit",
        "submit": "Submit this part",
        "yes": "Yes, submit",
        "q3": "Question 3 not answered",
        "q2_flagged": "Question 2 answered flagged for review",
        "finished": "You have finished the test",
        "score": "Your score",
        "practice_right": "Right!",
        "check": "Check my answer",
    },
    "ja": {
        "class": "クラスコード",
        "number": "出席番号",
        "code": "ログインコード",
        "login": "ログイン",
        "next": "次へ",
        "previous": "前へ",
        "flag": "見直しの印を付ける",
        "review": "見直して提出",
        "submit": "このパートを提出する",
        "yes": "はい、提出します",
        "q3": "問3 未解答",
        "q2_flagged": "問2 解答済み 見直し",
        "finished": "テストが終わりました",
        "score": "あなたのスコア",
        "practice_right": "正解です",
        "check": "答えを確かめる",
    },
}


def _student_page(
    browser: Browser, server: LiveServer, language: str, index: int, size: str, title: str
) -> Page:
    width, height = SIZES[size]
    context = browser.new_context(
        locale="ja-JP" if language == "ja" else "en-US", viewport={"width": width, "height": height}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    words = WORDS[language]
    class_code, number, _, code = server.logins.students[index]
    page.goto(f"{server.url}/login")
    page.get_by_label(words["class"]).fill(class_code)
    page.get_by_label(words["number"]).fill(str(number))
    page.get_by_label(words["code"]).fill(code)
    page.get_by_role("button", name=words["login"]).click()
    page.get_by_test_id("test").filter(has_text=title).get_by_role("link").click()
    return page


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def _choose(page: Page, number: int, letter: str) -> None:
    item = page.locator(".free-item:visible")
    expect(page.locator("[data-question-number]")).to_contain_text(str(number))
    item.locator(f"input[value={letter}]").check()


def _session_of(server: LiveServer, index: int) -> str:
    name = server.logins.students[index][2]
    with server.app.app_context():
        return db.session.scalars(
            select(ExamSession.id)
            .join(User, User.id == ExamSession.student_id)
            .where(User.display_name == name)
        ).one()


@pytest.mark.parametrize(("language", "size"), [("en", "1366x768"), ("ja", "1024x768")])
def test_a_linear_test_with_navigator_flags_going_back_and_review(
    browser: Browser, servers: dict[str, LiveServer], language: str, size: str
) -> None:
    server, words = servers[language], WORDS[language]
    index = 31
    page = _student_page(browser, server, language, index, size, TITLE[language])
    # The practice question first: checked in the page, never sent.
    intro = page.locator("[data-intro]")
    expect(intro).to_be_visible()
    intro.locator("input[data-practice-right]").check()
    page.get_by_role("button", name=words["check"]).click()
    expect(page.locator("[data-practice-feedback]")).to_contain_text(words["practice_right"])
    _shot(page, f"linear-{language}-{size}-start")
    start_test(page)

    navigator = page.locator("[data-navigator] button")
    expect(navigator).to_have_count(N_ITEMS)
    expect(navigator.first).to_have_attribute("aria-current", "step")
    _choose(page, 1, "A")  # wrong: changed below
    page.get_by_role("button", name=words["next"], exact=True).click()
    _choose(page, 2, CORRECT[1])
    page.get_by_role("button", name=words["flag"]).click()
    expect(page.locator("[data-flag]")).to_have_attribute("aria-pressed", "true")
    navigator.nth(3).click()  # straight to question 4 (question 2 is saved on the way)
    _choose(page, 4, CORRECT[3])
    page.get_by_role("button", name=words["previous"]).click()
    expect(page.locator("[data-question-number]")).to_contain_text("3")
    navigator.first.click()  # back to question 1 and change the answer
    expect(page.locator(".free-item:visible input[value=A]")).to_be_checked()
    _choose(page, 1, CORRECT[0])
    expect(page.get_by_role("button", name=words["q2_flagged"])).to_be_visible()
    _shot(page, f"linear-{language}-{size}-question")
    page.get_by_role("button", name=words["review"]).click()
    review = page.locator("[data-review-screen]")
    expect(review).to_be_visible()
    expect(review.locator("[data-review-unanswered] button")).to_have_count(2)  # 3 and 5
    expect(review.locator("[data-review-flagged] button")).to_have_count(1)  # 2
    _shot(page, f"linear-{language}-{size}-review")
    review.get_by_role("button", name=words["q3"]).click()
    _choose(page, 3, CORRECT[2])
    page.get_by_role("button", name=words["review"]).click()
    expect(review.locator("[data-review-unanswered] button")).to_have_count(1)
    review.get_by_role("button", name=words["submit"]).click()
    page.get_by_role("button", name=words["yes"]).click()
    end = page.locator("[data-end]")
    expect(end).to_be_visible()
    expect(end).to_contain_text(words["finished"])
    expect(end.locator("[data-end-score]")).to_contain_text(words["score"])
    expect(end.locator("[data-end-range]")).to_contain_text(re.compile(r"\d+"))
    _shot(page, f"linear-{language}-{size}-end")

    session_id = _session_of(server, index)
    with server.app.app_context():
        rows = db.session.execute(
            select(ItemResponse.item_version_id, ItemResponse.revision, ItemResponse.is_correct)
            .where(ItemResponse.exam_session_id == session_id)
            .order_by(ItemResponse.sequence)
        ).all()
        assert len(rows) == 5  # question 1 twice, questions 2, 3 and 4 once
        assert len({(r.item_version_id, r.revision) for r in rows}) == len(rows)
        latest = db.session.execute(
            select(ItemResponse.is_correct).where(
                ItemResponse.exam_session_id == session_id, latest_revisions()
            )
        ).all()
        assert [r.is_correct for r in latest] == [True] * 4  # the changed answer counts
        assert [r.revision for r in rows if r.is_correct is False] == [0]
        result = db.session.execute(
            select(Result).where(Result.exam_session_id == session_id)
        ).scalar_one()
        assert result.n_items == 4
        assert db.session.scalar(
            select(func.count()).select_from(Result).where(Result.exam_session_id == session_id)
        ) == 1  # fmt: skip
    page.context.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_layout_holds_at_each_size(
    browser: Browser, servers: dict[str, LiveServer], language: str, size: str
) -> None:
    server, words = servers[language], WORDS[language]
    index = 32 + list(SIZES).index(size)
    page = _student_page(browser, server, language, index, size, TITLE[language])
    start_test(page)
    expect(page.locator("[data-navigator] button")).to_have_count(N_ITEMS)
    for name in ("next", "previous", "flag", "review"):
        button = page.get_by_role("button", name=words[name], exact=True)
        expect(button).to_be_visible()
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= SIZES[size][0] + 1, name
    _no_sideways_scroll(page)
    _shot(page, f"layout-{language}-{size}-question")
    page.get_by_role("button", name=words["review"]).click()
    expect(page.locator("[data-review-screen]")).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, f"layout-{language}-{size}-review")
    page.context.close()


def test_a_cat_sitting_on_a_phone_stays_forward_only(
    browser: Browser, servers: dict[str, LiveServer]
) -> None:
    server = servers["ja"]
    page = _student_page(browser, server, "ja", 2, "360x640", "数学（適応型）")
    start_test(page)
    expect(page.locator("[data-forward-only]")).to_contain_text("このテストは前の問題に戻れません")
    expect(page.locator("[data-navigator]")).to_be_hidden()
    expect(page.locator("[data-previous]")).to_be_hidden()
    _no_sideways_scroll(page)
    _shot(page, "cat-ja-360x640-question")
    for _ in range(25):
        if page.locator("[data-end]").is_visible():
            break
        label = page.locator("[data-progress]").inner_text()
        page.locator("[data-item] label.option").first.click()
        page.get_by_role("button", name="次へ").click()
        expect(page.locator("[data-progress]")).not_to_have_text(label)
    expect(page.locator("[data-end]")).to_be_visible()
    _shot(page, "cat-ja-360x640-end")
    page.context.close()


def _tab_to(page: Page, selector: str) -> None:
    """Press Tab until the element has the focus (as a keyboard user would)."""
    target = page.locator(selector)
    for _ in range(30):
        if target.evaluate("(node) => node === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_linear_section_by_keyboard_alone(
    browser: Browser, servers: dict[str, LiveServer]
) -> None:
    server, words = servers["en"], WORDS["en"]
    index = 36
    page = _student_page(browser, server, "en", index, "1024x768", TITLE["en"])
    expect(page.locator("[data-intro-start]")).to_be_visible()
    _tab_to(page, "[data-intro-start]")  # from the title, past the practice question
    page.keyboard.press("Enter")
    for number in range(1, N_ITEMS + 1):
        expect(page.locator("[data-question-number]")).to_contain_text(str(number))
        _tab_to(page, ".free-item:not([hidden]) input >> nth=0")
        page.keyboard.press("Space")  # the first option
        if number < N_ITEMS:
            _tab_to(page, "[data-next]")
            page.keyboard.press("Enter")
    _tab_to(page, "[data-review]")
    page.keyboard.press("Enter")
    expect(page.locator("#review-title")).to_be_focused()
    _tab_to(page, "[data-review-submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-text")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=words["yes"])).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("[data-end]")).to_be_visible()
    with server.app.app_context():
        session_id = _session_of(server, index)
        assert db.session.scalar(
            select(func.count())
            .select_from(ItemResponse)
            .where(ItemResponse.exam_session_id == session_id)
        ) == N_ITEMS  # fmt: skip
    page.context.close()
