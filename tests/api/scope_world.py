"""The world the scope matrix (test_scope_matrix.py) runs in, and the code that runs it.

Two schools; school 1 has classes A and B (seed_school), school 2 has one class. Each class has
a teacher and students with finished sessions and responses; each school has a school
administrator; there is one researcher and one operator. The matrix's target is class A of
school 1: its students' names and pseudonyms are the "target markers" no refused reply may
contain.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy import select

from cbt.db import db, utcnow
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.service import create_classroom, create_school, enroll_student, new_pseudonym
from delivery.models import Administration, AdministrationClassroom, ExamSession, ItemResponse
from item_bank.media import store_media
from item_bank.models import ItemVersion
from item_bank.service import create_item
from tests.helpers import SECRET, ApiClient, seed_school, sit_sessions

# Who sends the requests: one column of the matrix each, in this order.
ROLES = (
    "anonymous",
    "student_a",  # the target student, in class A (school 1)
    "classmate",  # another student of class A
    "student_b",  # a student of class B, same school
    "teacher_a",  # teaches class A
    "teacher_b",  # teaches class B, same school
    "teacher_s2",  # teaches a class of school 2
    "admin_s1",  # school administrator of school 1
    "admin_s2",  # school administrator of school 2
    "researcher",
    "operator",
)
GROUPS = {
    "everyone": ROLES,
    "signed_in": ROLES[1:],
    "students": ("student_a", "classmate", "student_b"),
    "teachers": ("teacher_a", "teacher_b", "teacher_s2"),
    "admins": ("admin_s1", "admin_s2"),
}
SCHOOL_ADMINS = GROUPS["admins"]

# What a cell expects.
ALLOW = "allow"  # 2xx
SCOPED = "scoped"  # 2xx, and nothing of the target (the reply is the caller's own scope)
DENY = "deny"  # 401/403/404 (a page may redirect to a login page), nothing of the target
REDIRECT = "redirect"  # 3xx
EITHER = "either"  # allowed or refused, but below 500 and nothing of the target
SKIP = "skip"  # an allowed write: not sent, so it cannot change the world for later rows
SENT_OUTCOMES = (ALLOW, SCOPED, DENY, REDIRECT, EITHER)

# Default world value for each path parameter name; a row overrides with its own url.
PATH_DEFAULTS = {
    "classroom_id": "class_a",
    "student_id": "student_a",
    "administration_id": "spring",
    "session_id": "session_a",
    "item_id": "item",
    "number": "item_version_number",
    "version_id": "item_version",
    "parameter_set_id": "parameter_set",
    "pool_id": "pool",
    "sha256": "media",
    "code": "curriculum_code",
    "locale": "locale",
    "school_id": "school_1",
    "user_id": "student_a",
}

_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a1d5d20000000049454e44ae426082"
)


def access(
    allow: str = "",
    *,
    scoped: str = "",
    skip: str = "",
    redirect: str = "",
    either: str = "",
) -> dict[str, str]:
    """A row's expectation per role: each argument names roles or groups (space-separated);
    every role not named is DENY. A role named twice takes the later argument."""
    cells = dict.fromkeys(ROLES, DENY)
    for outcome, names in (
        (ALLOW, allow),
        (SCOPED, scoped),
        (SKIP, skip),
        (REDIRECT, redirect),
        (EITHER, either),
    ):
        for name in names.split():
            for role in GROUPS.get(name, (name,)):
                if role not in cells:
                    raise ValueError(f"unknown role or group {name!r} in the scope matrix")
                cells[role] = outcome
    return cells


@dataclass(frozen=True)
class Row:
    """One line of the matrix: ``"METHOD /rule"`` as app.url_map spells it, the expectation per
    role, and optionally the URL (``{name}`` filled from World.ids; by default each path
    parameter takes PATH_DEFAULTS), a query string and a JSON body for writes."""

    route: str
    cells: dict[str, str]
    url: str | None = None
    query: str = ""
    body: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def rule(self) -> str:
        return self.route.split(" ", 1)[1]

    def target_url(self, ids: dict[str, Any]) -> str:
        template = self.url
        if template is None:
            template = self.rule
            for part in _path_parameters(self.rule):
                name = part.strip("<>").split(":")[-1]
                if name not in PATH_DEFAULTS:
                    raise KeyError(
                        f"{self.route}: no default for <{name}>; give the row url=... "
                        "or add the name to PATH_DEFAULTS in tests/api/scope_world.py"
                    )
                template = template.replace(part, "{" + PATH_DEFAULTS[name] + "}")
        return template.format(**ids) + self.query.format(**ids)


def _path_parameters(rule: str) -> list[str]:
    parts, start = [], rule.find("<")
    while start != -1:
        end = rule.index(">", start)
        parts.append(rule[start : end + 1])
        start = rule.find("<", end)
    return parts


@dataclass
class World:
    ids: dict[str, Any]
    users: dict[str, User]
    target_markers: list[str]  # names and pseudonyms of class A's students, its class code
    identity_markers: list[str]  # every student's names and e-mail: never for researchers
    own_markers: dict[str, set[str]] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)  # the students' device tokens


def _unique(label: str) -> str:
    return f"{label}{uuid.uuid4().hex[:8]}"


def _name_student(user: User, label: str) -> None:
    user.display_name = _unique(f"Name{label}-")
    user.family_name = _unique("姓")
    user.given_name = _unique("名")
    user.family_name_kana = _unique("セイ")
    user.given_name_kana = _unique("メイ")


def _staff(role: Role, label: str, school: School | None = None) -> User:
    user = User(
        role=role,
        display_name=_unique(f"Staff{label}-"),
        email=f"{label}-{uuid.uuid4().hex[:6]}@scope.example",
        pseudonym=new_pseudonym(),
        school_id=school.id if school else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def build_world(app: Flask) -> World:
    seeded = seed_school(n_items=6, n_students=3)
    school_1 = db.session.get(Classroom, seeded.classroom_id).school
    class_a = seeded.classroom_id
    student_a, classmate = seeded.student_ids[1], seeded.student_ids[2]
    student_b = seeded.other_student_id
    by_email = {u.email: u for u in db.session.scalars(select(User).where(User.email.is_not(None)))}
    teacher_a, teacher_b = by_email[seeded.teacher_email], by_email[seeded.other_teacher_email]
    researcher = by_email[seeded.researcher_email]

    school_2 = create_school("T2", "Second School")
    class_s2 = create_classroom(school_2, "2-A", 7, 2026, "TEST-2A")
    teacher_s2 = _staff(Role.TEACHER, "teacher-s2", school_2)
    db.session.add(Enrollment(classroom=class_s2, user=teacher_s2, role=Role.TEACHER))
    student_s2 = enroll_student(class_s2, 1, "x", "YYYY-YYYY-0001", SECRET).user
    admin_s1 = _staff(Role.SCHOOL_ADMIN, "admin-s1", school_1)
    admin_s2 = _staff(Role.SCHOOL_ADMIN, "admin-s2", school_2)
    operator = _staff(Role.OPERATOR, "operator")

    students = {u.id: u for u in db.session.scalars(select(User).where(User.role == "student"))}
    for index, user in enumerate(students.values()):
        _name_student(user, str(index))
    students[student_a].email = f"student-a-{uuid.uuid4().hex[:6]}@scope.example"

    # An administration for class A only, and one for school 2.
    spring = seeded.administration_id
    only_a = Administration(
        test_definition_id=seeded.test_definition_id, name="Class A only", status="open"
    )
    autumn_s2 = Administration(
        test_definition_id=seeded.test_definition_id, name="School 2", status="open"
    )
    db.session.add_all([only_a, autumn_s2])
    db.session.flush()
    db.session.add_all(
        [
            AdministrationClassroom(administration_id=only_a.id, classroom_id=class_a),
            AdministrationClassroom(administration_id=autumn_s2.id, classroom_id=class_s2.id),
        ]
    )
    versions = seeded.item_version_ids
    sit_sessions(versions, autumn_s2.id, 0, np.random.default_rng(13), students=[student_s2.id])
    version = db.session.get(ItemVersion, versions[0])
    media = store_media(_PNG, "image/png", filename="dot.png")
    db.session.commit()
    # Live sessions in spring, started and answered through the API like a student would.
    devices = {}
    for role, student in (
        ("student_a", student_a),
        ("classmate", classmate),
        ("student_b", student_b),
    ):
        client = _login(app, students[student])
        view = client.post(f"/api/v1/administrations/{spring}/sessions").get_json()
        answered = client.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {"item": view["item"]["handle"], "response": {"choice": "A"}, "idempotency_key": role},
        )
        assert answered.status_code == 200, answered.get_json()
        devices[role] = client.device
    essay_version, essay_response = _essay_answer(only_a.id, student_a)
    session_a = db.session.scalar(
        select(ExamSession.id).where(
            ExamSession.student_id == student_a, ExamSession.administration_id == spring
        )
    )

    class_a_students = [
        students[e.user_id]
        for e in db.session.scalars(
            select(Enrollment).where(
                Enrollment.classroom_id == class_a, Enrollment.role == Role.STUDENT
            )
        )
    ]
    users = {
        "student_a": students[student_a],
        "classmate": students[classmate],
        "student_b": students[student_b],
        "teacher_a": teacher_a,
        "teacher_b": teacher_b,
        "teacher_s2": teacher_s2,
        "admin_s1": admin_s1,
        "admin_s2": admin_s2,
        "researcher": researcher,
        "operator": operator,
    }
    ids = {
        "school_1": school_1.id,
        "school_2": school_2.id,
        "class_a": class_a,
        "class_b": seeded.other_classroom_id,
        "class_s2": class_s2.id,
        "spring": spring,
        "only_a": only_a.id,
        "autumn_s2": autumn_s2.id,
        "session_a": session_a,
        "item": version.item_id,
        "item_version": version.id,
        "item_version_number": version.version_number,
        "parameter_set": version_parameter_set(seeded.test_definition_id),
        "pool": pool_of(seeded.test_definition_id),
        "media": media.sha256,
        "curriculum_code": "83H1203111200000",
        "locale": "ja",
        "class_code_a": seeded.class_code,
        "essay_version": essay_version,
        "essay_response": essay_response,
        **{role: user.id for role, user in users.items()},
    }
    target = [seeded.class_code]
    for user in class_a_students:
        target += [*_identity(user), user.pseudonym]
    identity = [text for user in students.values() for text in _identity(user)]
    own = {role: {*_identity(user), user.pseudonym} for role, user in users.items()}
    return World(ids, users, target, identity, own, devices)


def _essay_answer(administration_id: int, student_id: int) -> tuple[int, int]:
    """A finished sitting of student_a with a written answer waiting for a rater (marking)."""
    version = create_item(
        key="scope-essay",
        item_type="extended_text",
        content={"stem": "<p>Explain.</p>"},
        scoring={"rubric": [{"points": 0, "description": "None."},
                            {"points": 1, "description": "Some."}]},
        status="operational",
    )  # fmt: skip
    administration = db.session.get(Administration, administration_id)
    session_id = uuid.uuid4().hex
    session = ExamSession(
        id=session_id,
        administration_id=administration_id,
        student_id=student_id,
        status="finished",
        seed=1,
        engine_settings={},
        state={"session_id": session_id, "student_id": student_id, "seed": 1,
               "administration_id": administration_id, "status": "finished",
               "test_definition_id": administration.test_definition_id},
    )  # fmt: skip
    db.session.add(session)
    db.session.flush()
    moment = session.started_at or utcnow()
    response = ItemResponse(
        exam_session_id=session.id, administration_id=administration_id, sequence=1,
        item_version_id=version.id, idempotency_key="scope-essay",
        response={"text": "Because."}, score=0.0,
        is_operational=False, is_correct=False, presented_at=moment, answered_at=moment,
        time_taken_ms=1000, theta_after=0.0, se_after=1.0,
    )  # fmt: skip
    db.session.add(response)
    db.session.commit()
    return version.id, response.id


def _identity(user: User) -> list[str]:
    names = [
        user.display_name,
        user.family_name,
        user.given_name,
        user.family_name_kana,
        user.given_name_kana,
        user.email,
    ]
    return [name for name in names if name]


def version_parameter_set(test_definition_id: int) -> int:
    from delivery.models import TestDefinition

    return db.session.get(TestDefinition, test_definition_id).parameter_set_id


def pool_of(test_definition_id: int) -> int:
    from delivery.models import TestDefinition

    return db.session.get(TestDefinition, test_definition_id).pool_id


def _login(app: Flask, user: User) -> ApiClient:
    """A client signed in as ``user``: the session cookie login_user would set."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as session:
        session.permanent = True
        session["uid"] = user.id
        session["role"] = str(user.role)
        session["name"] = user.display_name
        session["sid"] = secrets.token_urlsafe(16)
        session["exp"] = int(time.time() + 3600)
    return ApiClient(client)


def sign_in(app: Flask, world: World, role: str) -> ApiClient:
    """A client for one column of the matrix (a student keeps the device of their session)."""
    if role == "anonymous":
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        return ApiClient(client)
    api = _login(app, world.users[role])
    api.device = world.devices.get(role, "")
    return api


def _is_page(rule: str) -> bool:
    return not rule.startswith("/api/")


def _leaked(text: str, markers: Iterable[str]) -> list[str]:
    return [marker for marker in markers if marker in text]


def check_cell(row: Row, role: str, url: str, response: Any, world: World) -> str | None:
    """None when the reply meets the row's expectation for ``role``, else what went wrong."""
    expected = row.cells[role]
    status = response.status_code
    text = response.get_data().decode("utf-8", errors="replace")
    parsed = response.get_json(silent=True)
    if parsed is not None:  # JSON escapes non-ASCII: compare the decoded text too
        text += json.dumps(parsed, ensure_ascii=False)
    where = f"{row.route} as {role} ({row.method} {url}): expected {expected}, got {status}"
    markers = [m for m in world.target_markers if m not in world.own_markers.get(role, set())]
    if status >= 500:
        return f"{where} (server error)"
    if expected in (ALLOW, SCOPED) and not 200 <= status < 300:
        return where
    if expected == REDIRECT and not 300 <= status < 400:
        return where
    if expected == DENY:
        location = response.headers.get("Location", "")
        to_login = _is_page(row.rule) and status == 302 and location.endswith("login")
        if status not in (401, 403, 404) and not to_login:
            return where
    if expected in (SCOPED, DENY, EITHER):
        leaked = _leaked(text, markers)
        if leaked:
            return f"{where} but the reply holds the target's data: {leaked[:3]}"
    if role == "researcher" and 200 <= status < 300:
        leaked = _leaked(text, world.identity_markers)
        if leaked:
            return f"{where}: a researcher saw student identities {leaked[:3]}"
    return None


def send(client: ApiClient, row: Row, url: str) -> Any:
    if row.method == "GET":
        return client.get(url)
    headers = client._headers()
    return client.client.open(
        url, method=row.method, json=row.body if row.body is not None else {}, headers=headers
    )


def run_matrix(app: Flask, world: World, rows: Iterable[Row], roles: Iterable[str]) -> list[str]:
    """Send every sent cell of ``rows`` for ``roles``; the failures, one line each."""
    rows = list(rows)
    failures = []
    for role in roles:
        client = sign_in(app, world, role)
        for row in rows:
            if row.cells[role] not in SENT_OUTCOMES:
                continue
            url = row.target_url(world.ids)
            problem = check_cell(row, role, url, send(client, row, url), world)
            if problem:
                failures.append(problem)
    return failures


def dump(failures: list[str]) -> str:
    return json.dumps(failures, indent=1, ensure_ascii=False)
