"""The demo seed: a school, two classes, staff, a mathematics item bank and an open adaptive test.

The content is data (``cbt/demo/data``, read by ``cbt.demo.content``), in Japanese by default or
in English. Idempotent: every entity is found by its natural key before it is created, so
running ``cbt demo`` twice changes nothing; the language applies to what the run creates.
Student login codes are derived from the instance secret, so the demo can print them again on
every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from cbt.db import db
from cbt.demo.content import (
    CONTENT_AREAS,
    DEFAULT_LANGUAGE,
    DemoSchool,
    demo_guidance,
    demo_items,
    demo_school,
)
from cbt.demo.essays import seed_essay_practice
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
from item_bank.guidance import save_guidance
from item_bank.models import CurriculumGuidance, ItemStatus, ParameterSet, ParameterSetStatus
from item_bank.service import create_item, create_parameter_set, create_pool, find_item, find_pool

SCHOOL_CODE = "DEMO"
STUDENTS_PER_CLASS = 30
STAFF = (
    ("teacher@example.org", Role.TEACHER, "sakura-teacher"),
    ("researcher@example.org", Role.RESEARCHER, "sakura-research"),
    ("operator@example.org", Role.OPERATOR, "sakura-operator"),
)
PARAMETER_SET = "demo-mathematics"
POOL = "demo-mathematics"
TEST_KEY = "demo-math-cat"


# One adaptive section: every content area at least once and at most five times, randomesque
# exposure control among the three best items, 10 to 20 items, stop early at SE 0.35.
def adaptive_settings(section_title: str) -> dict:
    return {
        "sections": [
            {
                "key": "mathematics",
                "title": section_title,
                "kind": "cat",
                "time_limit_seconds": 40 * 60,
                "areas": "content_area",
                "selection": [
                    {
                        "rule": "content_limits",
                        "limits": {a: {"min": 1, "max": 5} for a in CONTENT_AREAS},
                    },
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


def reporting_scale(band_labels: tuple[str, ...]) -> dict:
    return {
        "slope": 100.0,
        "intercept": 500.0,
        "decimals": 0,
        "minimum": 100.0,
        "maximum": 900.0,
        "cut_scores": [400.0, 500.0, 600.0],
        "band_labels": list(band_labels),
    }


@dataclass
class DemoLogins:
    """What ``cbt demo`` prints: staff accounts and every student's login."""

    staff: list[tuple[str, str, str]] = field(default_factory=list)  # role, email, password
    students: list[tuple[str, int, str, str]] = field(
        default_factory=list
    )  # class, no., name, code
    administration_id: int | None = None


def student_name(class_index: int, number: int, language: str = DEFAULT_LANGUAGE) -> str:
    return demo_school(language).student_name(class_index, number)


def seed_demo(
    secret_key: str, language: str = DEFAULT_LANGUAGE, *, marking_practice: bool = True
) -> DemoLogins:
    """Create (or find) every demo entity and return the logins. Flushes; the caller commits.

    ``language`` ("ja" or "en") chooses the bank and the names of what this run creates.
    ``marking_practice`` adds the essay test with answers to mark (``seed_marking_practice``).
    """
    names = demo_school(language)
    logins = DemoLogins()
    school = find_school(SCHOOL_CODE) or create_school(SCHOOL_CODE, names.school)

    staff_users = {}
    for email, role, password in STAFF:
        user = find_user_by_email(email) or create_staff_user(
            email, names.staff[str(role)], role, password, school
        )
        staff_users[role] = user
        logins.staff.append((str(role), email, password))

    classrooms = []
    for class_index, (name, code) in enumerate(names.classes):
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
            display_name = names.student_name(class_index, number)
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

    definition = _seed_bank_and_test(names)
    _seed_guidance()
    administration = db.session.execute(
        select(Administration).where(Administration.test_definition_id == definition.id).limit(1)
    ).scalar_one_or_none()
    if administration is None:
        administration = Administration(
            test_definition_id=definition.id,
            name=names.administration,
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
    if marking_practice:
        seed_marking_practice(names.language)
    return logins


def _seed_guidance() -> None:
    """Next-step guidance for the demo bank's areas (kept when an operator has edited it)."""
    for prefix, texts in demo_guidance().items():
        if db.session.get(CurriculumGuidance, prefix) is None:
            save_guidance(prefix, texts["ja"], texts["en"], None)


def seed_marking_practice(language: str = DEFAULT_LANGUAGE) -> int | None:
    """The demo's essay test for class 2 with six finished sittings whose essays wait for a
    rater (cbt/demo/essays.py); None when it is there already. Needs the demo seeded."""
    names = demo_school(language)
    classroom = find_classroom(names.classes[1][1])
    definition = db.session.execute(
        select(TestDefinition).where(TestDefinition.key == TEST_KEY)
    ).scalar_one()
    assert classroom is not None
    scale = reporting_scale(names.band_labels)
    return seed_essay_practice(names.language, classroom, scale, definition.parameter_set_id)


def _seed_bank_and_test(names: DemoSchool) -> TestDefinition:
    definition = db.session.execute(
        select(TestDefinition).where(TestDefinition.key == TEST_KEY)
    ).scalar_one_or_none()
    if definition is not None:
        return definition
    parameters: dict[int, dict] = {}
    version_ids = []
    for demo in demo_items(names.language):
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
                language=names.language,
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
        description=names.pool_description,
    )
    definition = create_test_definition(
        key=TEST_KEY,
        title=names.test_title,
        pool=pool.name,
        parameter_set=parameter_set.name,
        parameter_set_version=parameter_set.version,
        settings=adaptive_settings(names.section_title),
        scale=reporting_scale(names.band_labels),
    )
    return definition
