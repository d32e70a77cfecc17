"""axe-core over every page of the product, as the role it is for, in Japanese and in English.

Each page is checked once its module has drawn it (the network idle), with WCAG 2.1 A/AA rules:
0 serious or critical violations. The test also fails when a GET page route of the app (or a page
template) is not visited here, so a new page cannot skip its axe check.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest
from flask import template_rendered
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from cbt.app import create_app
from cbt.audit import SYSTEM
from cbt.db import db
from cbt.demo import SCHOOL_CODE, seed_marking_practice
from cbt.demo.essays import ESSAY_KEY
from cbt.migrate import upgrade
from cbt.models import Classroom, Enrollment, Role, School
from delivery.models import Administration, ExamSession, ItemResponse
from item_bank.models import Item, ParameterSet
from item_bank.service import find_item
from lti import claims as c
from lti.platforms import register_platform
from schools import service
from tests.e2e.axe import assert_accessible, axe_violations
from tests.e2e.conftest import LiveServer, start_test
from tests.e2e.test_item_types import answer_whatever_is_shown, give_all_types_to_class_2b
from tests.e2e.test_linear_navigation import free_test_for_class
from tests.unit.lti.simulator import PlatformSimulator

ADMIN_EMAIL = "axe-head@school.example"
ADMIN_PASSWORD = "axe-head-teacher-password"

# GET routes that are not pages: machine endpoints and redirects to somewhere else.
NOT_PAGES = {
    "static",
    "healthz",
    "readyz",
    "lti_views.jwks",  # JSON for the platforms
    "sso.start",  # a redirect to the identity provider
    "sso.callback",  # a redirect home (or sso_refused.html, listed below)
    "delivery_views.player_worker",  # the player's service worker script (/sw.js)
    "metrics",  # Prometheus text for the scraper (/metrics), not a page
}
# Page templates this test cannot reach with the demo, and why.
UNREACHED_TEMPLATES = {
    # An SSO refusal needs a configured OIDC provider (none in the demo):
    # test_sso_buttons_and_refusal_page below checks it on an app with one.
    "sso_refused.html",
    # Reached only through a signed LTI deep-linking launch from a platform:
    # test_lti_deep_linking_pages below checks them with the platform simulator.
    "lti_deep_link.html",
    "lti_deep_link_return.html",
}


@dataclass
class Audit:
    server: LiveServer
    locale: str
    visited: set[str] = field(default_factory=set)
    rendered: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    checked: int = 0

    def endpoint(self, url: str) -> str:
        path = urlsplit(url).path
        adapter = self.server.app.url_map.bind("127.0.0.1")
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except HTTPException:  # a redirect or a 404: not a page of ours
            return ""
        return endpoint

    def check(self, page: Page, what: str) -> None:
        """axe-core on the page as it is now; failures are collected, not raised, to list all."""
        with suppress(PlaywrightError):  # a page that polls: check it as it is
            page.wait_for_load_state("networkidle", timeout=10_000)
        self.checked += 1
        violations = axe_violations(page)
        for violation in violations:
            self.failures.append(f"{self.locale} {what} ({urlsplit(page.url).path}): {violation}")

    def visit(self, page: Page, path: str, what: str, status: int | None = 200) -> None:
        response = page.goto(f"{self.server.url}{path}")
        assert response is not None
        if status is not None:
            assert response.status == status, f"{path}: {response.status}"
        self.visited.add(self.endpoint(f"{self.server.url}{path}"))
        self.check(page, what)


def page_endpoints(app: object) -> set[str]:
    """Every GET route that answers a page: not the API, not static files, not NOT_PAGES."""
    endpoints = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
            continue
        if rule.rule.startswith(("/api/", "/static/")) or rule.rule.endswith(".json"):
            continue
        endpoints.add(rule.endpoint)
    return endpoints


def page_templates(app: object) -> set[str]:
    names = app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html"))
    return {name for name in names if not name.split("/")[-1].startswith(("_", "base"))}


@dataclass
class Site:
    server: LiveServer
    locale: str


@pytest.fixture(params=[("live_server", "en-US"), ("live_server_ja", "ja-JP")], ids=["en", "ja"])
def site(request: pytest.FixtureRequest) -> Site:
    fixture, locale = request.param
    return Site(request.getfixturevalue(fixture), locale)


@dataclass
class Ids:
    school: int
    other_school: int
    classroom: int
    student: int
    item: int
    administration: int
    types_administration: int
    free_administration: int
    essay_administration: int
    essay_version: int
    parameter_set: int


def _prepare(server: LiveServer, language: str) -> Ids:
    """A linear test of every item type for DEMO-2B, a school administrator and a 2nd school."""
    with server.app.app_context():
        if not db.session.scalars(
            select(Administration).where(Administration.name == "Types")
        ).first():
            give_all_types_to_class_2b(server)
            free_test_for_class(server, "DEMO-2B", "en")
        school = db.session.scalars(select(School).order_by(School.id)).first()
        other = db.session.scalars(select(School).where(School.code == "AXE-OTHER")).first()
        if other is None:
            other = service.create_school("AXE-OTHER", "Other school")
        if service.find_school_admin(ADMIN_EMAIL) is None:
            service.create_staff(
                school,
                email=ADMIN_EMAIL,
                display_name="Head Teacher",
                role=Role.SCHOOL_ADMIN,
                password=ADMIN_PASSWORD,
            )
        db.session.commit()
        class_code, number, _, _ = server.logins.students[40]
        classroom = db.session.scalars(
            select(Classroom).where(Classroom.class_code == class_code)
        ).one()
        student = db.session.scalars(
            select(Enrollment.user_id).where(
                Enrollment.classroom_id == classroom.id, Enrollment.student_number == number
            )
        ).one()
        types = db.session.scalars(
            select(Administration.id).where(Administration.name == "Types")
        ).one()
        item = db.session.scalars(select(Item.id).order_by(Item.id)).first()
        seed_marking_practice(language)  # the essay test with answers to mark
        db.session.commit()
        essay_version = find_item(ESSAY_KEY).versions[-1].id
        essay_administration = db.session.scalar(
            select(ExamSession.administration_id)
            .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
            .where(ItemResponse.item_version_id == essay_version)
            .limit(1)
        )
        parameter_set = db.session.scalars(
            select(ParameterSet.id).order_by(ParameterSet.id)
        ).first()
        return Ids(
            school=school.id,
            other_school=other.id,
            classroom=classroom.id,
            student=student,
            item=item,
            administration=server.logins.administration_id,
            types_administration=types,
            free_administration=db.session.scalars(
                select(Administration.id).where(Administration.name == "Navigation")
            ).one(),
            essay_administration=essay_administration,
            essay_version=essay_version,
            parameter_set=parameter_set,
        )


@pytest.fixture
def new_page(browser: Browser, site: Site) -> Iterator[Callable[..., Page]]:
    """Pages in fresh contexts (one per role) in the site's locale, all closed at the end."""
    opened: list[BrowserContext] = []

    def open_page(width: int = 1024, height: int = 768) -> Page:
        viewport = {"width": width, "height": height}
        context = browser.new_context(locale=site.locale, viewport=viewport)
        opened.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in opened:
        context.close()


def _student_login(page: Page, server: LiveServer, index: int) -> None:
    class_code, number, _, code = server.logins.students[index]
    page.goto(f"{server.url}/login")
    page.locator("input[name=class_code]").fill(class_code)
    page.locator("input[name=student_number]").fill(str(number))
    page.locator("input[name=login_code]").fill(code)
    page.locator("#student-login button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/student$"))


def _staff_login(page: Page, server: LiveServer, email: str, password: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("#staff-login button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/staff/login$"))


def _staff(server: LiveServer, role: str) -> tuple[str, str]:
    _, email, password = next(s for s in server.logins.staff if s[0] == role)
    return email, password


def _wait_for_question(page: Page) -> None:
    """A question or the end screen; a new sitting's instructions are checked, then started."""
    shown = page.locator(
        "[data-intro-start]:visible, [data-progress]:not(:empty), [data-end]:not([hidden])"
    )
    expect(shown.first).to_be_visible()
    if page.locator("[data-intro-start]").is_visible():
        assert_accessible(page)
        start_test(page)
    expect(page.locator("[data-progress]:not(:empty), [data-end]:not([hidden])")).to_be_visible()


def test_every_page_has_no_serious_or_critical_violation(
    site: Site, new_page: Callable[..., Page]
) -> None:
    server = site.server
    audit = Audit(server, site.locale[:2])
    ids = _prepare(server, site.locale[:2])

    def _record(sender: object, template: object, context: dict, **extra: object) -> None:
        audit.rendered.add(template.name)

    template_rendered.connect(_record, server.app)
    try:
        _walk(audit, new_page, ids)
    finally:
        template_rendered.disconnect(_record, server.app)

    print(f"axe-core checked {audit.checked} page states ({site.locale})")
    assert audit.failures == [], "axe-core found serious or critical violations:\n" + "\n".join(
        audit.failures
    )
    missing = page_endpoints(server.app) - audit.visited
    assert missing == set(), f"pages without an axe check in this test: {sorted(missing)}"
    unrendered = page_templates(server.app) - audit.rendered - UNREACHED_TEMPLATES
    assert unrendered == set(), f"page templates without an axe check: {sorted(unrendered)}"


def _walk(audit: Audit, new_page: Callable[..., Page], ids: Ids) -> None:
    server = audit.server

    # Nobody signed in: the two login pages, the LTI error page, the root (a redirect).
    page = new_page()
    audit.visit(page, "/", "root", status=None)
    audit.visit(page, "/login", "student login")
    audit.visit(page, "/staff/login", "staff login")
    audit.visit(page, "/device-check", "device check")
    audit.visit(page, "/lti/login", "LTI error page", status=400)
    _refused_logins(audit, page)

    # A student: home, the CAT player (a question), a linear test of every type to its end.
    page = new_page()
    _student_login(page, server, 0)
    audit.visit(page, "/student", "student home")
    audit.visit(page, f"/student/tests/{ids.administration}", "player (CAT)", status=200)
    _wait_for_question(page)
    audit.check(page, "player (CAT), first question")
    _player_outage(audit, page)
    audit.visit(page, "/teacher", "403 page (student on a teacher page)", status=403)

    # The same on a phone-sized screen (reflow: tables and the item scroll, nothing is cut).
    page = new_page(390, 844)
    audit.visit(page, "/login", "student login, narrow screen")
    _student_login(page, server, 1)
    audit.visit(page, "/student", "student home, narrow screen")
    audit.visit(page, f"/student/tests/{ids.administration}", "player (CAT), narrow screen")
    _wait_for_question(page)
    audit.check(page, "player (CAT), first question, narrow screen")

    page = new_page()
    _student_login(page, server, 40)
    audit.visit(page, f"/student/tests/{ids.types_administration}", "player (linear)")
    for position in range(1, 40):
        _wait_for_question(page)
        if page.locator("[data-end]:not([hidden])").is_visible():
            break
        label = page.locator("[data-progress]").inner_text()
        audit.check(page, f"player (linear), question {position}")
        answer_whatever_is_shown(page)
        page.locator("[data-next]").click()
        expect(page.locator("[data-progress]")).not_to_have_text(label)
    expect(page.locator("[data-end]")).to_be_visible()
    audit.check(page, "player, end screen")
    _free_navigation(audit, new_page(), ids)
    audit.visit(page, "/student", "student home, a finished test")

    # A teacher: home, a class, a student's answer history, the monitor.
    page = new_page()
    _staff_login(page, server, *_staff(server, "teacher"))
    audit.visit(page, "/teacher", "teacher home")
    audit.visit(page, f"/teacher/classes/{ids.classroom}", "class page")
    audit.visit(page, f"/teacher/students/{ids.student}", "answer history")
    audit.visit(page, f"/teacher/classes/{ids.classroom}/dashboard", "class dashboard")
    audit.visit(page, f"/teacher/students/{ids.student}/report", "student report (個人票)")
    audit.visit(page, f"/teacher/administrations/{ids.administration}", "monitor")
    audit.visit(page, "/staff/password", "password change (teacher)")
    _marking(audit, page, ids)
    audit.visit(page, "/lti/deep-link/unknown", "LTI error page (deep link)", status=None)

    # A researcher.
    page = new_page()
    _staff_login(page, server, *_staff(server, "researcher"))
    audit.visit(page, "/researcher", "researcher home")
    page.locator("[data-administrations] tbody input[type=checkbox]:enabled").first.check()
    expect(page.locator("[data-downloads]")).to_be_visible()
    audit.check(page, "researcher home, an administration chosen")
    audit.visit(page, f"/researcher/parameter-sets/{ids.parameter_set}", "parameter set review")

    # An operator: item bank, tests, administrations, LTI, audit, schools, rosters.
    page = new_page()
    _staff_login(page, server, *_staff(server, "operator"))
    for path, what in [
        ("/operator", "items list"),
        ("/operator/items/new", "new item"),
        (f"/operator/items/{ids.item}", "an item"),
        ("/operator/import", "import and export"),
        ("/operator/guidance", "next-step guidance"),
        ("/operator/tests", "tests"),
        ("/operator/administrations", "administrations"),
        ("/operator/lti", "LTI platforms"),
        ("/operator/audit", "audit log"),
        ("/school", "schools (operator)"),
        (f"/school/{ids.school}", "a school"),
        (f"/school/classes/{ids.classroom}", "a school's class"),
        (f"/school/classes/{ids.classroom}/cards", "login cards"),
        ("/staff/password", "password change"),
        ("/roster", "roster import"),
        ("/marking", "marking (operator)"),
        (f"/marking/administrations/{ids.essay_administration}", "marking settings, agreement"),
    ]:
        audit.visit(page, path, what)
        if what in OPERATOR_STATES:
            OPERATOR_STATES[what](audit, page, what)

    # A school administrator: their school, and another school's page (403).
    page = new_page()
    _staff_login(page, server, ADMIN_EMAIL, ADMIN_PASSWORD)
    audit.visit(page, "/school", "school home (school administrator)")
    audit.visit(page, f"/school/{ids.other_school}", "403 page (another school)", status=403)
    audit.visit(page, "/roster", "roster import (school administrator)", status=None)


def _marking(audit: Audit, page: Page, ids: Ids) -> None:
    """The teacher's marking overview and the blind rater page with an answer and its rubric
    (nothing is marked: the walk leaves the demo as it found it)."""
    audit.visit(page, "/marking", "marking overview")
    expect(page.locator("[data-testid=marking-item]").first).to_be_visible()
    audit.check(page, "marking overview, items listed")
    path = f"/marking/administrations/{ids.essay_administration}/items/{ids.essay_version}"
    audit.visit(page, path, "rater page")
    expect(page.locator("[data-rubric] button").first).to_be_visible()
    audit.check(page, "rater page, an answer with its rubric")


def test_the_harness_runs_axe_under_the_csp(page: Page, live_server: LiveServer) -> None:
    """axe-core really runs on the app's pages (strict CSP) and reports what it finds."""
    page.goto(f"{live_server.url}/login")
    assert axe_violations(page) == []
    page.evaluate(
        """() => {
          const field = document.createElement('input');
          field.id = 'axe-probe';
          document.querySelector('main').append(field);
          document.querySelector('html').removeAttribute('lang');
        }"""
    )
    found = {(v.rule, v.impact): v for v in axe_violations(page)}
    assert found[("label", "critical")].targets == ("#axe-probe",)
    assert ("html-has-lang", "serious") in found
    with pytest.raises(AssertionError, match=r"\[critical\] label: Form elements must have labels"):
        assert_accessible(page)


def _refused_logins(audit: Audit, page: Page) -> None:
    """The login pages with their error shown (wrong code, wrong password)."""
    page.goto(f"{audit.server.url}/login")
    page.locator("input[name=class_code]").fill("NO-SUCH")
    page.locator("input[name=student_number]").fill("1")
    page.locator("input[name=login_code]").fill("WRONG")
    page.locator("#student-login button[type=submit]").click()
    expect(page.locator("[data-error]")).not_to_be_empty()
    audit.check(page, "student login, refused")
    page.goto(f"{audit.server.url}/staff/login")
    page.locator("input[name=email]").fill("nobody@example.org")
    page.locator("input[name=password]").fill("wrong password")
    page.locator("#staff-login button[type=submit]").click()
    expect(page.locator("[data-error]")).not_to_be_empty()
    audit.check(page, "staff login, refused")


def _free_navigation(audit: Audit, page: Page, ids: Ids) -> None:
    """A linear test with free navigation: the practice question, the navigator with a flag,
    the review screen, its confirm step, and the end screen with the score."""
    _student_login(page, audit.server, 42)
    audit.visit(page, f"/student/tests/{ids.free_administration}", "player (free navigation)")
    intro = page.locator("[data-intro]")
    expect(intro).to_be_visible()
    intro.locator("input[data-practice-right]").check()
    page.locator("[data-practice-check]").click()
    expect(page.locator("[data-practice-feedback]")).not_to_be_empty()
    audit.check(page, "player, start screen with the practice question answered")
    start_test(page)
    expect(page.locator("[data-navigator] button").first).to_be_visible()
    page.locator(".free-item:visible input").first.check()
    page.locator("[data-flag]").click()
    expect(page.locator("[data-flag]")).to_have_attribute("aria-pressed", "true")
    audit.check(page, "player, navigator with a flagged question")
    page.locator("[data-review]").click()
    expect(page.locator("[data-review-screen]")).to_be_visible()
    audit.check(page, "player, review screen")
    page.locator("[data-review-submit]").click()
    expect(page.locator("[data-review-confirm]")).to_be_visible()
    audit.check(page, "player, review screen, confirm step")
    page.locator("[data-confirm-yes]").click()
    expect(page.locator("[data-end-score]")).to_be_visible()
    audit.check(page, "player, end screen with the score")


def _item_types(audit: Audit, page: Page, what: str) -> None:
    """The editor's live student preview of every item type."""
    select = page.locator("select[name=item_type]")
    for value in select.locator("option").evaluate_all("(os) => os.map((o) => o.value)"):
        select.select_option(value)
        audit.check(page, f"{what}, type {value}")


def _test_kinds(audit: Audit, page: Page, what: str) -> None:
    """The new-pool panel open, each section kind's panel, and the form's error summary."""
    page.locator("details[data-new-pool] > summary").click()
    audit.check(page, f"{what}, new pool open")
    for kind in ("loft", "linear"):
        page.locator(f"input[name=kind][value={kind}]").check()
        expect(page.locator(f"[data-kind-panel={kind}]")).to_be_visible()
        audit.check(page, f"{what}, {kind} section")
    page.locator("[data-test-form] button[type=submit]").click()
    expect(page.locator("[data-error-summary]").first).to_be_visible()
    audit.check(page, f"{what}, errors shown")


def _class_dialogs(audit: Audit, page: Page, what: str) -> None:
    """The student editor and the move dialog of a school's class page."""
    rows = page.locator("[data-students] tbody tr")
    expect(rows.first).to_be_visible()
    rows.first.locator("button").nth(0).click()
    expect(page.locator("[data-student-dialog]")).to_be_visible()
    audit.check(page, f"{what}, student dialog")
    page.keyboard.press("Escape")
    rows.first.locator("button").nth(1).click()
    expect(page.locator("[data-move-dialog]")).to_be_visible()
    audit.check(page, f"{what}, move dialog")
    page.keyboard.press("Escape")


def _password_refused(audit: Audit, page: Page, what: str) -> None:
    page.locator("input[name=current_password]").fill("not my password")
    page.locator("input[name=new_password]").fill("a new password 1")
    page.locator("input[name=confirm_password]").fill("another password")
    page.locator("#change-password button[type=submit]").click()
    expect(page.locator("#change-password [data-error]")).not_to_be_empty()
    audit.check(page, f"{what}, refused")


def _roster_errors(audit: Audit, page: Page, what: str) -> None:
    """A dry run of a zip that is not a roster: the error report."""
    page.locator("[data-roster-file]").set_input_files(
        {"name": "roster.zip", "mimeType": "application/zip", "buffer": _bad_roster()}
    )
    page.locator("[data-check]").click()
    expect(page.locator("[data-errors], [data-status][data-kind=error]").first).to_be_visible()
    audit.check(page, f"{what}, errors")


def _bad_roster() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.csv", "propertyName,value\nmanifest.version,1.0\n")
        archive.writestr("users.csv", "sourcedId,status\nu1,bogus\n")
    return buffer.getvalue()


def _player_outage(audit: Audit, page: Page) -> None:
    """The player while the server does not answer: its retry notice."""
    responses = re.compile(r".*/api/v1/sessions/[^/]+/responses$")
    page.route(responses, lambda route: route.fulfill(status=503, body="{}"))
    page.locator("label.option").first.click()
    page.locator("[data-next]").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-kind", "warn")
    audit.check(page, "player (CAT), server not answering")
    page.unroute(responses)


def _administration_dialogs(audit: Audit, page: Page, what: str) -> None:
    """Each confirmation dialog of the administrations page."""
    for action in ("close", "republish", "classes"):
        button = page.locator(f"[data-administrations] button[data-action={action}]").first
        if not button.count():
            continue
        button.click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        audit.check(page, f"{what}, {action} dialog")
        dialog.locator("[data-cancel]").click()
        expect(dialog).to_have_count(0)


def _item_history(audit: Audit, page: Page, what: str) -> None:
    expect(page.locator("[data-history]")).to_be_visible()
    audit.check(page, f"{what}, history shown")


def _printable_cards(audit: Audit, page: Page, what: str) -> None:
    """New login cards shown for printing (voids DEMO-2B's codes: the last student step)."""
    page.locator("#issue-cards input[name=confirm]").check()
    page.locator("[data-print-view]").click()
    expect(page.locator("[data-cards]")).to_be_visible()
    audit.check(page, f"{what}, cards for printing")


# After the page itself, these states of it (keyed by the page's name in _walk).
OPERATOR_STATES = {
    "an item": _item_history,
    "administrations": _administration_dialogs,
    "login cards": _printable_cards,
    "new item": _item_types,
    "tests": _test_kinds,
    "a school's class": _class_dialogs,
    "password change": _password_refused,
    "roster import": _roster_errors,
}


@pytest.fixture(scope="module")
def sso_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """An app with a Google provider whose discovery document does not answer (port 9)."""
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance-axe-sso")),
            "SSO_PROVIDERS": "google",
            "SSO_GOOGLE_CLIENT_ID": "axe-client",
            "SSO_GOOGLE_CLIENT_SECRET": "axe-secret",
            "SSO_GOOGLE_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
        }
    )
    with app.app_context():
        upgrade(db.engine)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
def test_sso_buttons_and_refusal_page(
    browser: Browser, sso_app_url: tuple[str, object], locale: str
) -> None:
    """The login pages with their SSO button, and the refusal page of an unreachable provider."""
    url, app = sso_app_url
    rendered: set[str] = set()
    failures: list[str] = []

    def _record(sender: object, template: object, context: dict, **extra: object) -> None:
        rendered.add(template.name)

    context = browser.new_context(locale=locale, viewport={"width": 1024, "height": 768})
    page = context.new_page()
    template_rendered.connect(_record, app)
    try:
        for path in ("/login", "/staff/login"):
            page.goto(f"{url}{path}")
            expect(page.locator("a[href^='/auth/sso/google/start']").first).to_be_visible()
            failures += [f"{locale} {path}: {v}" for v in axe_violations(page)]
        response = page.goto(f"{url}/auth/sso/google/start")
        assert response is not None
        assert response.status >= 400
        failures += [f"{locale} SSO refused: {v}" for v in axe_violations(page)]
    finally:
        template_rendered.disconnect(_record, app)
        context.close()
    assert "sso_refused.html" in rendered
    assert failures == [], "\n".join(failures)


def test_lti_deep_linking_pages(browser: Browser, site: Site) -> None:
    """A teacher's deep-linking launch from the simulated platform: the picker, the return page."""
    server = site.server
    failures: list[str] = []
    context = browser.new_context(locale=site.locale, viewport={"width": 1024, "height": 768})
    page = context.new_page()
    with PlatformSimulator() as platform:
        with server.app.app_context():
            register_platform(
                SYSTEM,
                name=f"axe platform {site.locale}",
                issuer=platform.issuer,
                client_id=platform.client_id,
                auth_login_url=platform.auth_url,
                token_url=platform.token_url,
                jwks_url=platform.jwks_url,
                deployment_ids=[platform.deployment_id],
                school_code=SCHOOL_CODE,
            )
            db.session.commit()
        platform.tool_jwks = server.app.test_client().get("/lti/jwks.json").get_json()
        platform.next_launch = {
            "sub": f"axe-teacher-{site.locale}",
            "roles": [c.INSTRUCTOR],
            "message_type": c.DEEP_LINKING_REQUEST,
            c.CONTEXT: {"id": f"axe-course-{site.locale}", "title": "LTI class"},
        }
        query = {
            "iss": platform.issuer,
            "login_hint": "hint",
            "target_link_uri": f"{server.url}/lti/launch",
            "client_id": platform.client_id,
        }
        page.goto(f"{server.url}/lti/login?{urlencode(query)}")
        expect(page).to_have_url(re.compile(r"/lti/deep-link/"))
        failures += [f"{site.locale} deep-link picker: {v}" for v in axe_violations(page)]
        # Keep the return page on screen: its module would post it to the platform at once.
        page.route(
            re.compile(r".*/static/js/lti_autosubmit\.js.*"),
            lambda route: route.fulfill(content_type="text/javascript", body=""),
        )
        page.locator("form button[type=submit]").first.click()
        expect(page.locator("input[name=JWT]")).to_be_attached()
        failures += [f"{site.locale} deep-link return: {v}" for v in axe_violations(page)]
    context.close()
    assert failures == [], "\n".join(failures)
