"""Test helpers: a CSRF-aware JSON client and a small seeded school built through the services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flask.testing import FlaskClient
from scipy.special import expit
from sqlalchemy import func, select

from cbt.db import db
from cbt.models import Role, User
from cbt.service import (
    create_classroom,
    create_school,
    create_staff_user,
    enroll_student,
    enroll_teacher,
    new_pseudonym,
)
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    ItemResponse,
    SessionStatus,
    TestDefinition,
)
from item_bank.models import ItemStatus, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool

SECRET = "test-secret-key-not-for-production"
TEACHER_PASSWORD = "teacher-password-1"


class ApiClient:
    """Wraps Flask's test client: JSON in and out, CSRF header added like the pages do."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = ""
        self.device = ""  # the device token of the session this client started, like the page

    def _headers(self) -> dict[str, str]:
        if not self.csrf:
            self.csrf = self.client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        headers = {"X-CSRF-Token": self.csrf}
        if self.device:
            headers["X-Device-Token"] = self.device
        return headers

    def _remember(self, response):
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            if body.get("csrf_token"):
                self.csrf = body["csrf_token"]
            token = (body.get("session") or {}).get("device_token")
            if token:
                self.device = token
        return response

    def get(self, path: str, **kwargs: Any):
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self._remember(self.client.get(path, headers=headers, **kwargs))

    def post(self, path: str, json: Any = None, **kwargs: Any):
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self._remember(self.client.post(path, json=json, headers=headers, **kwargs))

    def put(self, path: str, json: Any = None, **kwargs: Any):
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self._remember(self.client.put(path, json=json, headers=headers, **kwargs))

    def login_student(self, class_code: str, number: int, code: str):
        return self.post(
            "/api/v1/auth/student-login",
            {"class_code": class_code, "student_number": number, "login_code": code},
        )

    def login_staff(self, email: str, password: str):
        return self.post("/api/v1/auth/staff-login", {"email": email, "password": password})


@dataclass
class SeededSchool:
    class_code: str
    other_class_code: str
    classroom_id: int
    other_classroom_id: int
    student_codes: dict[int, str]  # number -> login code, class 1
    student_ids: dict[int, int]
    other_student_id: int
    other_student_code: str
    teacher_email: str
    other_teacher_email: str
    researcher_email: str
    administration_id: int
    test_definition_id: int
    item_version_ids: list[int] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)  # item_version_id -> correct option


def cat_settings(
    *, min_items: int = 3, max_items: int = 5, time_limit_seconds: int | None = None, **extra: Any
) -> dict[str, Any]:
    """One adaptive section: maximum information, fixed length bounds."""
    section: dict[str, Any] = {
        "key": "main",
        "kind": "cat",
        "stopping": [
            {"rule": "min_length", "n": min_items},
            {"rule": "max_length", "n": max_items},
        ],
        **extra,
    }
    if time_limit_seconds is not None:
        section["time_limit_seconds"] = time_limit_seconds
    return {"sections": [section]}


def seed_school(
    *,
    n_items: int = 30,
    n_students: int = 3,
    settings: dict[str, Any] | None = None,
    time_limit_seconds: int | None = None,
    status: str = AdministrationStatus.OPEN,
) -> SeededSchool:
    """A school with two classes, two teachers, a researcher, an item pool and an open CAT."""
    school = create_school("T1", "Test School")
    classroom = create_classroom(school, "1-A", 7, 2026, "TEST-1A")
    other = create_classroom(school, "1-B", 7, 2026, "TEST-1B")
    teacher = create_staff_user("teacher@test.example", "Teacher", Role.TEACHER, TEACHER_PASSWORD)
    other_teacher = create_staff_user(
        "other@test.example", "Other Teacher", Role.TEACHER, TEACHER_PASSWORD
    )
    create_staff_user("research@test.example", "Researcher", Role.RESEARCHER, TEACHER_PASSWORD)
    enroll_teacher(classroom, teacher)
    enroll_teacher(other, other_teacher)
    codes, ids = {}, {}
    for number in range(1, n_students + 1):
        code = f"ABCD-EFGH-{number:04d}"
        enrollment = enroll_student(classroom, number, f"Student {number}", code, SECRET)
        codes[number], ids[number] = code, enrollment.user_id
    other_enrollment = enroll_student(other, 1, "Other Student", "ZZZZ-ZZZZ-0001", SECRET)

    version_ids, keys, parameters = [], {}, {}
    discrimination, difficulty = seed_school_parameters(n_items)
    for index in range(n_items):
        correct = "ABCD"[index % 4]
        version = create_item(
            key=f"t-{index:03d}",
            item_type="single_choice",
            content={
                "stem": f"<p>What is {index} + 1?</p><script>alert(1)</script>",
                "options": [{"id": c, "text": f"{c}: {index + n}"} for n, c in enumerate("ABCD")],
            },
            scoring={"correct": correct},
            curriculum_codes=[f"83H120311120{index % 10:04d}"],
            content_area=("arithmetic", "geometry")[index % 2],
            grade=7,
            status=ItemStatus.OPERATIONAL,
        )
        version_ids.append(version.id)
        keys[version.id] = correct
        parameters[version.id] = {
            "model": "2pl",
            "discrimination": float(discrimination[index]),
            "difficulty": float(difficulty[index]),
        }
    parameter_set = create_parameter_set(
        name="test-set",
        parameters=parameters,
        provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )
    pool = create_pool(
        name="test-pool", item_version_ids=version_ids, active_parameter_set_id=parameter_set.id
    )
    definition = TestDefinition(
        key="test-cat",
        title="Test CAT",
        mode="cat",
        pool_id=pool.id,
        parameter_set_id=parameter_set.id,
        settings=settings or cat_settings(time_limit_seconds=time_limit_seconds),
        scale={
            "slope": 100.0,
            "intercept": 500.0,
            "cut_scores": [450.0, 550.0],
            "band_labels": ["Low", "Middle", "High"],
        },
    )
    db.session.add(definition)
    db.session.flush()
    administration = Administration(test_definition_id=definition.id, name="Spring", status=status)
    db.session.add(administration)
    db.session.flush()
    db.session.add_all(
        [
            AdministrationClassroom(administration_id=administration.id, classroom_id=c.id)
            for c in (classroom, other)
        ]
    )
    db.session.commit()
    return SeededSchool(
        class_code="TEST-1A",
        other_class_code="TEST-1B",
        classroom_id=classroom.id,
        other_classroom_id=other.id,
        student_codes=codes,
        student_ids=ids,
        other_student_id=other_enrollment.user_id,
        other_student_code="ZZZZ-ZZZZ-0001",
        teacher_email="teacher@test.example",
        other_teacher_email="other@test.example",
        researcher_email="research@test.example",
        administration_id=administration.id,
        test_definition_id=definition.id,
        item_version_ids=version_ids,
        keys=keys,
    )


def seed_school_parameters(n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2PL discrimination and difficulty seed_school gives its items, in order."""
    index = np.arange(n_items)
    return 0.8 + (index % 5) * 0.2, -2.5 + 5.0 * index / max(1, n_items - 1)


def sit_sessions(
    item_version_ids: list[int],
    administration_id: int,
    n_students: int,
    rng: np.random.Generator,
    *,
    mean: float = 0.0,
    status: str = SessionStatus.FINISHED,
    students: list[int] | None = None,
    when: dt.datetime | None = None,
) -> list[int]:
    """Students sit a test straight into the database: one session each, every item answered
    under seed_school's 2PL for that many items. New students unless ``students`` names them."""
    a, b = seed_school_parameters(len(item_version_ids))
    if students is None:
        users = [
            User(
                role=Role.STUDENT,
                display_name=f"Student {uuid.uuid4().hex[:6]}",
                pseudonym=new_pseudonym(),
            )
            for _ in range(n_students)
        ]
        db.session.add_all(users)
        db.session.flush()
        students = [u.id for u in users]
    moment = when or dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    for student in students:
        session = ExamSession(
            id=uuid.uuid4().hex,
            administration_id=administration_id,
            student_id=student,
            status=status,
            seed=int(rng.integers(1, 2**31)),
            engine_settings={},
            started_at=moment,
        )
        db.session.add(session)
        theta = rng.normal(mean, 1.0)
        correct = rng.random(len(item_version_ids)) < expit(a * (theta - b))
        for k, version_id in enumerate(item_version_ids):
            db.session.add(
                ItemResponse(
                    exam_session_id=session.id,
                    administration_id=session.administration_id,
                    sequence=k + 1,
                    item_version_id=version_id,
                    idempotency_key=uuid.uuid4().hex,
                    response={"choice": "A"},
                    score=float(correct[k]),
                    is_correct=bool(correct[k]),
                    presented_at=moment,
                    answered_at=moment + dt.timedelta(seconds=k),
                    time_taken_ms=1000,
                    theta_after=0.0,
                    se_after=1.0,
                )
            )
    db.session.flush()
    return students


def row_count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


#: The essay seed_essay_school adds: a 0-2 rubric in Japanese, GPCM parameters.
ESSAY_RUBRIC = [
    {"points": 0, "description": "関連する記述がない。"},
    {"points": 1, "description": "理由の一部が書けている。"},
    {"points": 2, "description": "理由が筋道立てて書けている。"},
]


def seed_essay_school(*, n_choice: int = 4, n_essays: int = 1, **options: Any) -> SeededSchool:
    """seed_school with one linear form: its first ``n_choice`` items and then ``n_essays``
    essays (``extended_text``, keys ``essay-1``, ...) that have GPCM parameters, so a rater's
    mark can move theta once the session is rescored."""
    from cbt.audit import SYSTEM
    from item_bank.service import set_pool_members, set_pool_parameter_set

    keys = [f"t-{i:03d}" for i in range(n_choice)] + [f"essay-{k + 1}" for k in range(n_essays)]
    settings = {
        "sections": [{"key": "main", "kind": "linear", "navigation": "forward", "forms": [keys]}]
    }
    n_items = max(n_choice, 6)
    school = seed_school(n_items=n_items, settings=settings, **options)
    definition = db.session.get(TestDefinition, school.test_definition_id)
    assert definition is not None
    a, b = seed_school_parameters(n_items)
    parameters: dict[int, dict[str, Any]] = {
        version_id: {"model": "2pl", "discrimination": float(a[i]), "difficulty": float(b[i])}
        for i, version_id in enumerate(school.item_version_ids)
    }
    essays = []
    for k in range(n_essays):
        version = create_item(
            key=f"essay-{k + 1}",
            item_type="extended_text",
            content={"stem": f"<p>三角形の内角の和が180°になる理由を説明しなさい。({k + 1})</p>"},
            scoring={"rubric": ESSAY_RUBRIC},
            curriculum_codes=["83H1203111200000"],
            content_area="geometry",
            grade=7,
            language="ja",
            status=ItemStatus.OPERATIONAL,
        )
        essays.append(version.id)
        parameters[version.id] = {"model": "gpcm", "discrimination": 1.2,
                                  "thresholds": [-0.5, 0.5]}  # fmt: skip
    parameter_set = create_parameter_set(
        name="essay-set",
        parameters=parameters,
        provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )
    set_pool_members(definition.pool_id, [*school.item_version_ids, *essays], actor=SYSTEM)
    set_pool_parameter_set(definition.pool_id, parameter_set.id, actor=SYSTEM)
    definition.parameter_set_id = parameter_set.id
    db.session.commit()
    school.item_version_ids = [*school.item_version_ids, *essays]
    return school
