"""The OneRoster 1.2 CSV binding with the Japan Profile: files, columns and vocabularies.

Column lists follow the 1.2 CSV binding in its defined order; the Japan Profile adds the
``metadata.jp.*`` columns at the right of users, classes and enrollments. Other ``metadata.*``
columns are allowed after the defined ones (the binding's extension rule) and are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FILES", "GRADE_CODES", "MANIFEST_FILE_KEYS", "FileSpec", "grade_code", "grade_number"]


@dataclass(frozen=True)
class FileSpec:
    """One CSV file: its columns in order, which are required, and how values are checked."""

    name: str  # "users" for users.csv
    columns: tuple[str, ...]
    required: frozenset[str]
    enums: dict[str, frozenset[str]] = field(default_factory=dict)
    list_enums: dict[str, frozenset[str]] = field(default_factory=dict)  # comma-separated lists
    dates: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset({"dateLastModified"})
    booleans: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()
    years: frozenset[str] = frozenset()
    # The sourcedId column is the key, except for files keyed by another (demographics: a user).
    key: str = "sourcedId"

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


STATUS = frozenset({"active", "tobedeleted"})
BOOLEAN = frozenset({"true", "false"})

#: The Japan Profile's grade codes (学年): 小学校 P1-P6, 中学校 J1-J3, 高等学校 H1-H3, 幼稚園 E1-E3.
GRADE_CODES = frozenset(
    [f"P{n}" for n in range(1, 7)]
    + [f"J{n}" for n in range(1, 4)]
    + [f"H{n}" for n in range(1, 4)]
    + [f"E{n}" for n in range(1, 4)]
)
_GRADE_OFFSETS = {"E": -3, "P": 0, "J": 6, "H": 9}


def grade_number(code: str) -> int:
    """The engine's school grade (1-12, 0 and below for kindergarten) of a Japan Profile code."""
    return _GRADE_OFFSETS[code[0]] + int(code[1:])


def grade_code(number: int) -> str | None:
    """The Japan Profile code of an engine grade, or None outside the vocabulary."""
    for prefix, offset in (("H", 9), ("J", 6), ("P", 0), ("E", -3)):
        n = number - offset
        if 1 <= n <= (6 if prefix == "P" else 3):
            return f"{prefix}{n}"
    return None


_COMMON = ("sourcedId", "status", "dateLastModified")

ORGS = FileSpec(
    "orgs",
    (*_COMMON, "name", "type", "identifier", "parentSourcedId"),
    frozenset({"sourcedId", "name", "type"}),
    enums={
        "type": frozenset({"department", "school", "district", "local", "state", "national"}),
    },
)
ACADEMIC_SESSIONS = FileSpec(
    "academicSessions",
    (*_COMMON, "title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"),
    frozenset({"sourcedId", "title", "type", "startDate", "endDate", "schoolYear"}),
    enums={"type": frozenset({"gradingPeriod", "semester", "schoolYear", "term"})},
    dates=frozenset({"startDate", "endDate"}),
    years=frozenset({"schoolYear"}),
)
COURSES = FileSpec(
    "courses",
    (
        *_COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    frozenset({"sourcedId", "title", "orgSourcedId"}),
    list_enums={"grades": GRADE_CODES},
)
CLASSES = FileSpec(
    "classes",
    (
        *_COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
        "metadata.jp.specialNeeds",
    ),
    frozenset(
        {"sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"}
    ),
    enums={"classType": frozenset({"homeroom", "scheduled"})},
    list_enums={"grades": GRADE_CODES},
    booleans=frozenset({"metadata.jp.specialNeeds"}),
)
USERS = FileSpec(
    "users",
    (
        *_COMMON,
        "enabledUser",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "resourceSourcedIds",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
        "metadata.jp.kanaGivenName",
        "metadata.jp.kanaFamilyName",
        "metadata.jp.kanaMiddleName",
        "metadata.jp.homeClass",
    ),
    frozenset({"sourcedId", "enabledUser", "username", "givenName", "familyName"}),
    list_enums={"grades": GRADE_CODES},
    booleans=frozenset({"enabledUser"}),
)
ROLES = FileSpec(
    "roles",
    (
        *_COMMON,
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ),
    frozenset({"sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"}),
    enums={
        "roleType": frozenset({"primary", "secondary"}),
        "role": frozenset(
            {
                "aide",
                "counselor",
                "districtAdministrator",
                "guardian",
                "parent",
                "principal",
                "proctor",
                "relative",
                "siteAdministrator",
                "student",
                "systemAdministrator",
                "teacher",
            }
        ),
    },
    dates=frozenset({"beginDate", "endDate"}),
)
ENROLLMENTS = FileSpec(
    "enrollments",
    (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
        "metadata.jp.ShussekiNo",
        "metadata.jp.PublicFlg",
    ),
    frozenset({"sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"}),
    enums={"role": frozenset({"administrator", "proctor", "student", "teacher"})},
    dates=frozenset({"beginDate", "endDate"}),
    booleans=frozenset({"primary", "metadata.jp.PublicFlg"}),
    integers=frozenset({"metadata.jp.ShussekiNo"}),
)
DEMOGRAPHICS = FileSpec(
    "demographics",
    (
        *_COMMON,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
    frozenset({"sourcedId"}),
    enums={"sex": frozenset({"male", "female", "unspecified", "other"})},
    dates=frozenset({"birthDate"}),
    booleans=frozenset(
        {
            "americanIndianOrAlaskaNative",
            "asian",
            "blackOrAfricanAmerican",
            "nativeHawaiianOrOtherPacificIslander",
            "white",
            "demographicRaceTwoOrMoreRaces",
            "hispanicOrLatinoEthnicity",
        }
    ),
)
USER_PROFILES = FileSpec(
    "userProfiles",
    (
        *_COMMON,
        "userSourcedId",
        "profileType",
        "vendorId",
        "applicationId",
        "description",
        "credentialType",
        "username",
        "password",
    ),
    frozenset(
        {"sourcedId", "userSourcedId", "profileType", "vendorId", "credentialType", "username"}
    ),
)

#: The rostering files this engine reads and writes, in dependency order.
FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        ORGS,
        ACADEMIC_SESSIONS,
        COURSES,
        CLASSES,
        USERS,
        ROLES,
        ENROLLMENTS,
        DEMOGRAPHICS,
        USER_PROFILES,
    )
}

#: Every ``file.*`` key of a 1.2 manifest (gradebook and resources files are not read here).
MANIFEST_FILE_KEYS = (
    "academicSessions",
    "categories",
    "classResources",
    "classes",
    "courseResources",
    "courses",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItemScoreScales",
    "lineItems",
    "orgs",
    "resources",
    "resultLearningObjectiveIds",
    "resultScoreScales",
    "results",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
)
