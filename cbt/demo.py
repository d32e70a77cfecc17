"""The demo seed: a school, two classes, staff, a mathematics item bank and an open adaptive test.

Idempotent: every entity is found by its natural key before it is created, so running
``cbt demo`` twice changes nothing. Student login codes are derived from the instance secret,
so the demo can print them again on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from cbt.db import db
from cbt.models import Enrollment, Role
from cbt.security import derived_login_code, login_code_hmac
from cbt.service import (
    create_classroom,
    create_school,
    create_staff_user,
    enroll_student,
    enroll_teacher,
    find_classroom,
    find_school,
    find_user_by_email,
)
from delivery.definitions import create_test_definition
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    TestDefinition,
)
from item_bank.demo_content import demo_items
from item_bank.models import ItemStatus, ParameterSet, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool, find_item, find_pool

SCHOOL_CODE = "DEMO"
CLASSES = (("2-A", "DEMO-2A"), ("2-B", "DEMO-2B"))
STUDENTS_PER_CLASS = 30
STAFF = (
    ("teacher@example.org", "Ms. Sato (demo teacher)", Role.TEACHER, "sakura-teacher"),
    ("researcher@example.org", "Dr. Ito (demo researcher)", Role.RESEARCHER, "sakura-research"),
    ("operator@example.org", "Mr. Kato (demo operator)", Role.OPERATOR, "sakura-operator"),
)
PARAMETER_SET = "demo-mathematics"
POOL = "demo-mathematics"
TEST_KEY = "demo-math-cat"
ADMINISTRATION = "Mathematics check (demo)"

FAMILY_NAMES = (
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto",
)  # fmt: skip
GIVEN_NAMES = (
    "Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Mei", "Minato", "Sakura",
    "Hinata", "Rin", "Kaito", "Yuna", "Ren", "Mio", "Sora", "Koharu", "Asahi", "Akari",
)  # fmt: skip

AREAS = ("arithmetic", "fractions", "ratios", "linear_equations", "geometry", "data")
# One adaptive section: every content area at least once and at most five times, randomesque
# exposure control among the three best items, 10 to 20 items, stop early at SE 0.35.
TEST_SETTINGS = {
    "sections": [
        {
            "key": "mathematics",
            "title": "Mathematics",
            "kind": "cat",
            "time_limit_seconds": 40 * 60,
            "areas": "content_area",
            "selection": [
                {"rule": "content_limits", "limits": {a: {"min": 1, "max": 5} for a in AREAS}},
                {"rule": "max_information"},
                {"rule": "randomesque", "k": 3},
            ],
            "stopping": [
                {"rule": "min_length", "n": 10},
                {"rule": "max_length", "n": 20},
                {"rule": "se_target", "se": 0.35},
            ],
            "exposure": {"max_rate": 0.5},
        }
    ],
    "subscore_prefix_length": 8,
}
REPORTING_SCALE = {
    "slope": 100.0,
    "intercept": 500.0,
    "decimals": 0,
    "minimum": 100.0,
    "maximum": 900.0,
    "cut_scores": [400.0, 500.0, 600.0],
    "band_labels": ["Beginning", "Developing", "Proficient", "Advanced"],
}


@dataclass
class DemoLogins:
    """What ``cbt demo`` prints: staff accounts and every student's login."""

    staff: list[tuple[str, str, str]] = field(default_factory=list)  # role, email, password
    students: list[tuple[str, int, str, str]] = field(
        default_factory=list
    )  # class, no., name, code
    administration_id: int | None = None


def student_name(class_index: int, number: int) -> str:
    family = FAMILY_NAMES[(number * 7 + class_index * 3) % len(FAMILY_NAMES)]
    given = GIVEN_NAMES[(number * 11 + class_index * 5) % len(GIVEN_NAMES)]
    return f"{family} {given}"


def seed_demo(secret_key: str) -> DemoLogins:
    """Create (or find) every demo entity and return the logins. Flushes; the caller commits."""
    logins = DemoLogins()
    school = find_school(SCHOOL_CODE) or create_school(SCHOOL_CODE, "Sakura Junior High (demo)")

    staff_users = {}
    for email, name, role, password in STAFF:
        user = find_user_by_email(email) or create_staff_user(email, name, role, password, school)
        staff_users[role] = user
        logins.staff.append((str(role), email, password))

    classrooms = []
    for class_index, (name, code) in enumerate(CLASSES):
        classroom = find_classroom(code) or create_classroom(school, name, 8, 2026, code)
        classrooms.append(classroom)
        enrolled = set(
            db.session.scalars(
                select(Enrollment.user_id).where(Enrollment.classroom_id == classroom.id)
            )
        )
        if staff_users[Role.TEACHER].id not in enrolled:
            enroll_teacher(classroom, staff_users[Role.TEACHER])
        numbers = set(
            db.session.scalars(
                select(Enrollment.student_number).where(
                    Enrollment.classroom_id == classroom.id, Enrollment.role == Role.STUDENT
                )
            )
        )
        for number in range(1, STUDENTS_PER_CLASS + 1):
            display_name = student_name(class_index, number)
            login_code = derived_login_code(secret_key, f"{code}:{number}")
            if number not in numbers:
                enroll_student(classroom, number, display_name, login_code, secret_key)
            else:
                # The instance secret may have been replaced: re-key so printed codes work.
                db.session.execute(
                    update(Enrollment)
                    .where(
                        Enrollment.classroom_id == classroom.id,
                        Enrollment.student_number == number,
                    )
                    .values(login_code_hmac=login_code_hmac(secret_key, login_code))
                )
            logins.students.append((code, number, display_name, login_code))

    definition = _seed_bank_and_test()
    administration = db.session.execute(
        select(Administration).where(Administration.name == ADMINISTRATION)
    ).scalar_one_or_none()
    if administration is None:
        administration = Administration(
            test_definition_id=definition.id,
            name=ADMINISTRATION,
            status=AdministrationStatus.OPEN,
        )
        db.session.add(administration)
        db.session.flush()
        db.session.add_all(
            AdministrationClassroom(administration_id=administration.id, classroom_id=c.id)
            for c in classrooms
        )
        db.session.flush()
    logins.administration_id = administration.id
    return logins


def _seed_bank_and_test() -> TestDefinition:
    definition = db.session.execute(
        select(TestDefinition).where(TestDefinition.key == TEST_KEY)
    ).scalar_one_or_none()
    if definition is not None:
        return definition
    parameters: dict[int, dict] = {}
    version_ids = []
    for demo in demo_items():
        item = find_item(demo.key)
        if item is not None:
            version = item.versions[-1]
        else:
            version = create_item(
                key=demo.key,
                item_type="single_choice",
                content={
                    "stem": demo.stem,
                    "options": [
                        {"id": "ABCD"[i], "text": text} for i, text in enumerate(demo.options)
                    ],
                },
                scoring={"correct": "ABCD"[demo.correct_index]},
                curriculum_codes=[demo.curriculum_code],
                content_area=demo.content_area,
                grade=demo.grade,
                status=ItemStatus.OPERATIONAL,
                rationale=demo.rationale,
            )
        version_ids.append(version.id)
        parameters[version.id] = {
            "model": "2pl",
            "discrimination": demo.discrimination,
            "difficulty": demo.difficulty,
        }
    parameter_set = db.session.execute(
        select(ParameterSet).where(ParameterSet.name == PARAMETER_SET)
    ).scalar_one_or_none() or create_parameter_set(
        name=PARAMETER_SET,
        parameters=parameters,
        provenance={
            "source": "demo seed",
            "note": "plausible 2PL parameters set by hand for the demo, not calibrated",
        },
        status=ParameterSetStatus.PUBLISHED,
    )
    pool = find_pool(POOL) or create_pool(
        name=POOL,
        item_version_ids=version_ids,
        active_parameter_set_id=parameter_set.id,
        description="Lower-secondary mathematics: arithmetic, fractions, ratios, equations, "
        "geometry and data.",
    )
    definition = create_test_definition(
        key=TEST_KEY,
        title="Mathematics (adaptive)",
        pool=pool.name,
        parameter_set=parameter_set.name,
        parameter_set_version=parameter_set.version,
        settings=TEST_SETTINGS,
        scale=REPORTING_SCALE,
    )
    return definition
