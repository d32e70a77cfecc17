"""The role-by-scope matrix: every route of app.url_map, every role, one expectation each.

HOW TO ADD A ROUTE (one line in MATRIX below):

    Row("POST /api/v1/things/<int:thing_id>/archive", access("operator", skip="admin_s1")),

- ``route`` is the method and the rule exactly as app.url_map spells them (``flask routes``).
- ``access(...)`` names who is allowed; every role not named is refused. Roles and groups:
  anonymous, student_a (the target student, class A of school 1), classmate (another student of
  class A), student_b (class B, same school), teacher_a, teacher_b (other class, same school),
  teacher_s2 (school 2), admin_s1, admin_s2 (school administrators), researcher, operator;
  groups everyone, signed_in, students, teachers, admins.
  The first argument is ``allow`` (2xx); keywords:
  ``scoped=`` 2xx but the reply holds nothing of class A (a list of the caller's own scope),
  ``skip=`` allowed writes, not sent (so they cannot change the world for later rows),
  ``redirect=`` 3xx, ``either=`` allowed or refused (only: no 5xx and no leak).
  Refused cells must get 401/403/404 (a page may redirect to its login page) and the reply
  must hold none of class A's names, pseudonyms or class code. Researchers' replies must never
  hold a student's name or e-mail, whatever the route.
- Path parameters are filled from the world (tests/api/scope_world.py PATH_DEFAULTS: a
  classroom_id is class A, a student_id student_a, an administration_id "spring" of classes A
  and B, ...). Give ``url="/api/v1/...{class_a}..."`` to target something else (World.ids
  names: class_a, class_b, class_s2, school_1, school_2, spring, only_a, autumn_s2, session_a,
  item, pool, ...) and ``query="?x={spring}"`` for a query string.
- Writes are sent with ``body=`` (default ``{}``) only to refused roles: a refusal writes
  nothing, so the world stays the same for every row.
The same route may appear in several rows (different targets). test_every_route_is_in_the_matrix
fails when app.url_map has a route no row lists, or a row lists a route that no longer exists.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.api.scope_world import (
    ROLES,
    SCHOOL_ADMINS,
    Row,
    World,
    access,
    build_world,
    dump,
    run_matrix,
)

CLASS_A_DATA = access("teacher_a admin_s1 operator")
CLASS_A_WRITE = access(skip="teacher_a admin_s1 operator")
CLASS_A_PAGE = access("teacher_a admin_s1 operator", scoped="teacher_b teacher_s2 admin_s2")
STAFF_LIST = access("teacher_a admin_s1 operator", scoped="teacher_b teacher_s2 admin_s2")
RESEARCH = access("researcher")
BANK_READ = access("researcher operator")
BANK_WRITE = access(skip="operator")
BANK_READER_WRITE = access(skip="researcher operator")
OPERATOR = access("operator")
OPERATOR_PAGE = access("operator")
PUBLIC = access("everyone")
PUBLIC_WRITE = access(skip="everyone")
SIGNED_IN = access("signed_in")
SCHOOL_1 = access("operator admin_s1")
SCHOOL_1_WRITE = access(skip="operator admin_s1")
OPERATOR_WRITE = access(skip="operator")
STUDENT_OWN = access("student_a")
MARKING_READ = access("teacher_a admin_s1 operator", scoped="teacher_b teacher_s2 admin_s2")
ANSWER = {"item": "handle", "response": {"choice": "A"}, "idempotency_key": "scope-key-1"}
REASON = {"reason": "scope matrix", "seconds": 60}
UNLOCK_A = {"class_code": "TEST-1A", "student_number": 1}

MATRIX = [
    # public: health, login pages, catalogs, the API description
    Row("GET /", access(redirect="everyone")),
    Row("GET /healthz", PUBLIC),
    Row("GET /readyz", PUBLIC),
    # Loopback clients only, or a bearer token (CBT_METRICS_TOKEN); the test client is loopback.
    # tests/unit/cbt/test_observability.py checks the refusals.
    Row("GET /metrics", PUBLIC),
    Row("GET /login", PUBLIC),
    Row("GET /staff/login", PUBLIC),
    Row("GET /device-check", PUBLIC),
    Row("GET /api/v1/ping", PUBLIC),
    # Single sign-on: no provider is configured in this world, so each answers 404 to everyone.
    Row("GET /auth/sso/<provider>/start", access(either="everyone"), url="/auth/sso/google/start"),
    Row(
        "GET /auth/sso/<provider>/callback",
        access(either="everyone"),
        url="/auth/sso/google/callback",
    ),
    Row("GET /i18n/<locale>.json", PUBLIC),
    Row("GET /sw.js", PUBLIC),  # the player's service worker: code, no data
    Row("GET /api/v1/openapi.json", PUBLIC),
    Row("GET /api/v1/auth/csrf", PUBLIC),
    Row("POST /api/v1/auth/student-login", PUBLIC_WRITE),
    Row("POST /api/v1/auth/staff-login", PUBLIC_WRITE),
    Row("POST /api/v1/auth/logout", PUBLIC_WRITE),
    Row("PUT /api/v1/me/locale", PUBLIC_WRITE),
    Row("GET /api/v1/me", access(scoped="signed_in")),
    Row("POST /api/v1/auth/unlock", CLASS_A_WRITE, body=UNLOCK_A),
    Row("GET /api/v1/curriculum-codes/texts", SIGNED_IN),
    Row("GET /api/v1/media/<string:sha256>", SIGNED_IN),
    # students: their own tests and sessions
    Row("GET /student", access("students")),
    Row("GET /student/tests/<int:administration_id>", access(scoped="students")),
    Row("GET /api/v1/me/administrations", access(scoped="students")),
    Row(
        "POST /api/v1/administrations/<int:administration_id>/sessions",
        access(skip="student_a classmate"),
        url="/api/v1/administrations/{only_a}/sessions",
    ),
    Row("GET /api/v1/sessions/<string:session_id>", STUDENT_OWN),
    Row("GET /api/v1/sessions/<string:session_id>/status", STUDENT_OWN),
    Row(
        "POST /api/v1/sessions/<string:session_id>/responses", access(skip="student_a"), body=ANSWER
    ),
    # Free navigation (session_a is adaptive, so its owner gets 409 navigation_forward).
    Row("GET /api/v1/sessions/<string:session_id>/section/items", access(either="student_a")),
    Row(
        "PUT /api/v1/sessions/<string:session_id>/flags",
        access(skip="student_a"),
        body={"item": "handle", "flagged": True},
    ),
    Row(
        "POST /api/v1/sessions/<string:session_id>/section/submit",
        access(skip="student_a"),
        body={"idempotency_key": "scope-submit-1"},
    ),
    Row("GET /api/v1/sessions/<string:session_id>/conditions", STUDENT_OWN),
    Row(
        "PUT /api/v1/sessions/<string:session_id>/conditions",
        access(skip="student_a"),
        body={"ruby": False},
    ),
    # teachers, school administrators and operators: class A's data
    Row("GET /api/v1/classes", STAFF_LIST),
    Row("GET /api/v1/classes/<int:classroom_id>/results", CLASS_A_DATA),
    Row("GET /api/v1/classes/<int:classroom_id>/mastery", CLASS_A_DATA),
    Row("GET /api/v1/classes/<int:classroom_id>/results.csv", CLASS_A_DATA),
    Row("GET /api/v1/classes/<int:classroom_id>/answers.csv", CLASS_A_DATA),
    Row("GET /api/v1/classes/<int:classroom_id>/results.xlsx", CLASS_A_DATA),
    Row("GET /api/v1/students/<int:student_id>/history", CLASS_A_DATA),
    # class dashboard (names no student, so researchers too) and the 個人票
    Row(
        "GET /api/v1/classes/<int:classroom_id>/dashboard",
        access("teacher_a admin_s1 operator researcher"),
    ),
    Row("GET /api/v1/students/<int:student_id>/report", CLASS_A_DATA),
    Row("GET /api/v1/students/<int:student_id>/report.pdf", CLASS_A_DATA),
    Row("GET /api/v1/classes/<int:classroom_id>/reports.pdf", CLASS_A_DATA),
    Row("GET /api/v1/curriculum-guidance", BANK_READ),
    Row(
        "PUT /api/v1/curriculum-guidance/<string:code_prefix>",
        BANK_WRITE,
        url="/api/v1/curriculum-guidance/83502131",
        body={"text_ja": "scope"},
    ),
    Row(
        "DELETE /api/v1/curriculum-guidance/<string:code_prefix>",
        BANK_WRITE,
        url="/api/v1/curriculum-guidance/83502131",
    ),
    Row("GET /api/v1/students/<int:student_id>/accommodations", CLASS_A_DATA),
    Row(
        "PUT /api/v1/students/<int:student_id>/accommodations",
        CLASS_A_WRITE,
        body={"font_size": "large"},
    ),
    Row("GET /api/v1/administrations", STAFF_LIST),
    # spring is for classes A and B: teacher_b sees class B's rows only
    Row(
        "GET /api/v1/administrations/<int:administration_id>/monitor",
        access("teacher_a admin_s1 operator", scoped="teacher_b"),
    ),
    Row(
        "GET /api/v1/administrations/<int:administration_id>/monitor",
        CLASS_A_DATA,
        url="/api/v1/administrations/{only_a}/monitor",
    ),
    Row(
        "POST /api/v1/administrations/<int:administration_id>/open",
        CLASS_A_WRITE,
        url="/api/v1/administrations/{only_a}/open",
    ),
    Row(
        "POST /api/v1/administrations/<int:administration_id>/close",
        CLASS_A_WRITE,
        url="/api/v1/administrations/{only_a}/close",
    ),
    Row("POST /api/v1/sessions/<string:session_id>/pause", CLASS_A_WRITE, body=REASON),
    Row("POST /api/v1/sessions/<string:session_id>/resume", CLASS_A_WRITE, body=REASON),
    Row("POST /api/v1/sessions/<string:session_id>/extra-time", CLASS_A_WRITE, body=REASON),
    Row("POST /api/v1/sessions/<string:session_id>/reset", CLASS_A_WRITE, body=REASON),
    Row("GET /teacher", access("teachers operator admins")),
    Row("GET /teacher/classes/<int:classroom_id>", CLASS_A_PAGE),
    Row("GET /teacher/students/<int:student_id>", CLASS_A_PAGE),
    Row("GET /teacher/classes/<int:classroom_id>/dashboard", CLASS_A_PAGE),
    Row("GET /teacher/students/<int:student_id>/report", CLASS_A_PAGE),
    Row("GET /teacher/administrations/<int:administration_id>", CLASS_A_PAGE),
    # researchers: pseudonymised responses only
    Row("GET /researcher", RESEARCH),
    Row(
        "GET /researcher/parameter-sets/<int:parameter_set_id>",
        RESEARCH,
        url="/researcher/parameter-sets/{parameter_set}",
    ),
    Row("GET /api/v1/research/administrations", RESEARCH),
    Row("GET /api/v1/research/responses.csv", RESEARCH, query="?administration={spring}"),
    Row("GET /api/v1/research/groups.csv", RESEARCH, query="?administration={spring}"),
    # the researcher's loop: jobs (a researcher sees only their own), review, charts, promotion
    Row("POST /api/v1/research/calibrations", access(skip="researcher")),
    Row("POST /api/v1/research/rescorings", access(skip="researcher")),
    Row("GET /api/v1/research/jobs", RESEARCH),
    Row(
        "GET /api/v1/research/jobs/<int:job_id>",
        access(skip="researcher"),
        url="/api/v1/research/jobs/1",
    ),
    Row("GET /api/v1/research/parameter-sets/<int:parameter_set_id>/review", RESEARCH),
    Row(
        "GET /api/v1/research/parameter-sets/<int:parameter_set_id>/comparison",
        RESEARCH,
        query="?against={parameter_set}",
    ),
    Row(
        "GET /api/v1/research/parameter-sets/<int:parameter_set_id>/charts/<chart>.svg",
        RESEARCH,
        url="/api/v1/research/parameter-sets/{parameter_set}/charts/tcc.svg",
        query="?against={parameter_set}",
    ),
    Row(
        "POST /api/v1/research/parameter-sets/<int:parameter_set_id>/promote",
        access(skip="researcher"),
    ),
    # the item bank, parameter sets, pools and tests: operators (and researchers read)
    Row("GET /api/v1/item-types", BANK_READ),
    Row("GET /api/v1/items", BANK_READ),
    Row("POST /api/v1/items", BANK_WRITE),
    Row("GET /api/v1/items/<int:item_id>", BANK_READ),
    Row("POST /api/v1/items/<int:item_id>/versions", BANK_WRITE),
    Row("GET /api/v1/items/<int:item_id>/versions/<int:number>", BANK_READ),
    Row("GET /api/v1/items/<int:item_id>/diff", BANK_READ, query="?from=1&to=1"),
    Row("PUT /api/v1/items/<int:item_id>/enemies", BANK_WRITE),
    Row("POST /api/v1/item-versions/<int:version_id>/transitions", BANK_READER_WRITE),
    Row("POST /api/v1/items/preview", BANK_WRITE),
    Row("POST /api/v1/items/score", BANK_WRITE),
    Row("POST /api/v1/items/<int:item_id>/score", BANK_WRITE),
    Row("GET /api/v1/items/export.zip", OPERATOR),
    Row("POST /api/v1/items/import", BANK_WRITE),
    Row("GET /api/v1/stimuli", BANK_READ),
    Row("POST /api/v1/stimuli", BANK_WRITE),
    Row("POST /api/v1/media", BANK_WRITE),
    Row("GET /api/v1/curriculum-codes", BANK_READ),
    Row("GET /api/v1/curriculum-codes/<string:code>", BANK_READ),
    Row("GET /api/v1/parameter-sets", BANK_READ),
    Row("POST /api/v1/parameter-sets", BANK_READER_WRITE),
    Row("GET /api/v1/parameter-sets/<int:parameter_set_id>", BANK_READ),
    Row("GET /api/v1/parameter-sets/<int:parameter_set_id>/params.json", BANK_READ),
    Row("POST /api/v1/parameter-sets/<int:parameter_set_id>/publish", access(skip="researcher")),
    Row("POST /api/v1/parameter-sets/import", BANK_READER_WRITE),
    Row("GET /api/v1/pools", BANK_READ),
    Row("POST /api/v1/pools", BANK_WRITE),
    Row("GET /api/v1/pools/<int:pool_id>", BANK_READ),
    Row("PUT /api/v1/pools/<int:pool_id>/members", BANK_WRITE),
    Row("PUT /api/v1/pools/<int:pool_id>/parameter-set", BANK_READER_WRITE),
    Row("GET /api/v1/test-definitions", BANK_READ),
    Row("POST /api/v1/test-definitions", BANK_WRITE),
    Row("POST /api/v1/administrations", BANK_WRITE),
    Row("GET /operator", OPERATOR_PAGE),
    Row("GET /operator/import", OPERATOR_PAGE),
    Row("GET /operator/guidance", OPERATOR_PAGE),
    Row("GET /operator/items/new", OPERATOR_PAGE),
    Row("GET /operator/items/<int:item_id>", OPERATOR_PAGE),
    # the audit log: operators only
    Row("GET /operator/audit", OPERATOR_PAGE),
    # LTI 1.3: the platform's login and launch are open (the id_token is the credential) and
    # refuse a request without one; a deep-link request belongs to the teacher it was made for.
    Row("GET /lti/login", access(either="everyone")),
    Row("POST /lti/login", access(either="everyone")),
    Row("POST /lti/launch", access(either="everyone")),
    Row("GET /lti/jwks.json", PUBLIC),
    Row("GET /lti/deep-link/<request_id>", access(either="everyone"), url="/lti/deep-link/none"),
    Row("POST /lti/deep-link/<request_id>", access(either="everyone"), url="/lti/deep-link/none"),
    Row("GET /operator/lti", OPERATOR_PAGE),
    Row("GET /api/v1/lti/platforms", OPERATOR),
    Row("POST /api/v1/lti/platforms", access(skip="operator")),
    # schools, classes and people: operators everywhere, a school administrator in their school
    Row("GET /api/v1/schools", access("operator admin_s1", scoped="admin_s2")),
    Row("POST /api/v1/schools", OPERATOR_WRITE),
    Row("GET /api/v1/schools/<int:school_id>", SCHOOL_1),
    Row("PATCH /api/v1/schools/<int:school_id>", SCHOOL_1_WRITE),
    Row("POST /api/v1/schools/<int:school_id>/archive", OPERATOR_WRITE),
    Row(
        "GET /api/v1/schools/<int:school_id>/classes",
        access("operator admin_s1 teacher_a", scoped="teacher_b"),
    ),
    Row("POST /api/v1/schools/<int:school_id>/classes", SCHOOL_1_WRITE),
    Row("GET /api/v1/schools/<int:school_id>/teachers", SCHOOL_1),
    Row("POST /api/v1/schools/<int:school_id>/teachers", SCHOOL_1_WRITE),
    Row("GET /api/v1/classes/<int:classroom_id>", CLASS_A_DATA),
    Row("PATCH /api/v1/classes/<int:classroom_id>", SCHOOL_1_WRITE),
    Row("POST /api/v1/classes/<int:classroom_id>/archive", SCHOOL_1_WRITE),
    Row("GET /api/v1/classes/<int:classroom_id>/students", CLASS_A_DATA),
    Row("POST /api/v1/classes/<int:classroom_id>/students", SCHOOL_1_WRITE),
    Row("POST /api/v1/classes/<int:classroom_id>/teachers", SCHOOL_1_WRITE),
    Row(
        "DELETE /api/v1/classes/<int:classroom_id>/teachers/<int:user_id>",
        SCHOOL_1_WRITE,
        url="/api/v1/classes/{class_a}/teachers/{teacher_a}",
    ),
    Row("PATCH /api/v1/students/<int:student_id>", SCHOOL_1_WRITE),
    Row("POST /api/v1/students/<int:student_id>/move", SCHOOL_1_WRITE),
    Row("POST /api/v1/students/<int:student_id>/archive", SCHOOL_1_WRITE),
    Row("PATCH /api/v1/staff/<int:user_id>", SCHOOL_1_WRITE, url="/api/v1/staff/{teacher_a}"),
    Row(
        "POST /api/v1/staff/<int:user_id>/archive",
        SCHOOL_1_WRITE,
        url="/api/v1/staff/{teacher_a}/archive",
    ),
    Row(
        "POST /api/v1/staff/<int:user_id>/password-reset",
        SCHOOL_1_WRITE,
        url="/api/v1/staff/{teacher_a}/password-reset",
    ),
    Row("POST /api/v1/me/password", access(skip="teachers admins researcher operator")),
    Row("GET /school", access("operator admins")),
    Row("GET /school/<int:school_id>", SCHOOL_1),
    Row("GET /school/classes/<int:classroom_id>", access("operator admin_s1", either="teacher_a")),
    Row("GET /staff/password", access("teachers admins researcher operator")),
    # login cards: the class's teacher, its school's administrator, operators; deleting an
    # identity: the school's administrator and operators
    Row("POST /api/v1/classes/<int:classroom_id>/login-cards", CLASS_A_WRITE),
    Row("POST /api/v1/classes/<int:classroom_id>/login-cards.json", CLASS_A_WRITE),
    Row("DELETE /api/v1/students/<int:student_id>/identity", SCHOOL_1_WRITE),
    Row("GET /school/classes/<int:classroom_id>/cards", access("teacher_a admin_s1 operator")),
    # OneRoster: operators, and a school administrator for their own school
    Row("GET /roster", access("operator admins")),
    Row("GET /api/v1/roster/export.zip", access("operator admin_s1", scoped="admin_s2")),
    Row("POST /api/v1/roster/import", access(skip="operator admins")),
    # the operators' test definitions and administrations pages
    Row("GET /operator/tests", OPERATOR_PAGE),
    Row("GET /operator/administrations", OPERATOR_PAGE),
    Row(
        "PUT /api/v1/administrations/<int:administration_id>/classrooms",
        OPERATOR_WRITE,
        url="/api/v1/administrations/{only_a}/classrooms",
    ),
    Row(
        "POST /api/v1/administrations/<int:administration_id>/republish",
        OPERATOR_WRITE,
        url="/api/v1/administrations/{only_a}/republish",
    ),
    Row(
        "GET /api/v1/administrations/<int:administration_id>/start-windows",
        OPERATOR,
        url="/api/v1/administrations/{only_a}/start-windows",
    ),
    Row(
        "PUT /api/v1/administrations/<int:administration_id>/start-windows",
        OPERATOR_WRITE,
        url="/api/v1/administrations/{only_a}/start-windows",
    ),
    Row("GET /api/v1/audit-events", OPERATOR),
    Row("GET /api/v1/audit-events.csv", OPERATOR),
    # marking (marking/): teachers mark their own classes' essays blind, school administrators
    # their school's, operators everything; settings, raters and agreement are operators'
    Row("GET /marking", access("teachers admins operator")),
    Row(
        "GET /marking/administrations/<int:administration_id>/items/<int:version_id>",
        access("teachers admins operator"),
        url="/marking/administrations/{only_a}/items/{essay_version}",
    ),
    Row("GET /marking/administrations/<int:administration_id>", OPERATOR_PAGE),
    Row("GET /api/v1/marking/administrations", MARKING_READ),
    Row(
        "GET /api/v1/marking/administrations/<int:administration_id>/items/<int:version_id>/next",
        MARKING_READ,
        url="/api/v1/marking/administrations/{only_a}/items/{essay_version}/next",
    ),
    Row(
        "POST /api/v1/marking/responses/<int:response_id>/marks",
        CLASS_A_WRITE,
        url="/api/v1/marking/responses/{essay_response}/marks",
        body={"points": 1, "stage": "first"},
    ),
    Row("GET /api/v1/marking/administrations/<int:administration_id>/plan", OPERATOR),
    Row(
        "PUT /api/v1/marking/administrations/<int:administration_id>/plan",
        OPERATOR_WRITE,
        body={"double_marking_share": 1, "tolerance": 0},
    ),
    Row("GET /api/v1/marking/administrations/<int:administration_id>/assignments", OPERATOR),
    Row(
        "POST /api/v1/marking/administrations/<int:administration_id>/assignments",
        OPERATOR_WRITE,
        body={"email": "teacher@test.example"},
    ),
    Row(
        "DELETE /api/v1/marking/assignments/<int:assignment_id>",
        OPERATOR_WRITE,
        url="/api/v1/marking/assignments/1",
    ),
    Row("GET /api/v1/marking/administrations/<int:administration_id>/agreement", OPERATOR),
]

IGNORED_ENDPOINTS = {"static"}
NOT_SCHOOL_ADMINS = [role for role in ROLES if role not in SCHOOL_ADMINS]


def _routes(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in IGNORED_ENDPOINTS
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    listed = {row.route for row in MATRIX}
    missing = sorted(_routes(app) - listed)
    stale = sorted(listed - _routes(app))
    assert not missing, (
        "These routes are not in the scope matrix. Add one line per route to MATRIX in "
        "tests/api/test_scope_matrix.py saying which roles may call it (see the top of that "
        f"file): {missing}"
    )
    assert not stale, f"These scope-matrix rows name routes that no longer exist: {stale}"


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def test_scope_matrix(app: Flask, world: World) -> None:
    """Every cell for students, teachers, researchers, operators and anonymous callers."""
    failures = run_matrix(app, world, MATRIX, NOT_SCHOOL_ADMINS)
    assert not failures, f"{len(failures)} cells of the scope matrix fail:\n{dump(failures)}"


def test_scope_matrix_for_school_administrators(app: Flask, world: World) -> None:
    """School administrators: their own school, nothing of another school, no operator or
    researcher data."""
    failures = run_matrix(app, world, MATRIX, SCHOOL_ADMINS)
    assert not failures, f"{len(failures)} cells fail:\n{dump(failures)}"
