"""References between the files of a package, and to what the database already holds.

A reference resolves when the target is a row of the package (even a bad one, which is reported
once, for itself) or, for delta files and absent files, a row the engine imported before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roster.oneroster.reader import Package, _

__all__ = ["Known", "check_references"]


@dataclass
class Known:
    """sourcedIds the database already knows, by file name (orgs, classes, users...)."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    school_orgs: set[str] = field(default_factory=set)

    def get(self, name: str) -> set[str]:
        return self.ids.get(name, set())


# (file, column, target file, is a comma-separated list, required to be a school org)
REFERENCES: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("orgs", "parentSourcedId", "orgs", False, False),
    ("academicSessions", "parentSourcedId", "academicSessions", False, False),
    ("courses", "orgSourcedId", "orgs", False, False),
    ("courses", "schoolYearSourcedId", "academicSessions", False, False),
    ("classes", "courseSourcedId", "courses", False, False),
    ("classes", "schoolSourcedId", "orgs", False, True),
    ("classes", "termSourcedIds", "academicSessions", True, False),
    ("users", "primaryOrgSourcedId", "orgs", False, False),
    ("users", "agentSourcedIds", "users", True, False),
    ("users", "metadata.jp.homeClass", "classes", False, False),
    ("roles", "userSourcedId", "users", False, False),
    ("roles", "orgSourcedId", "orgs", False, False),
    ("enrollments", "classSourcedId", "classes", False, False),
    ("enrollments", "schoolSourcedId", "orgs", False, True),
    ("enrollments", "userSourcedId", "users", False, False),
    ("demographics", "sourcedId", "users", False, False),
    ("userProfiles", "userSourcedId", "users", False, False),
)


def check_references(package: Package, known: Known) -> None:
    """Report every reference that resolves to nothing (file, line, column, the missing id)."""
    report = package.report
    school_orgs = set(known.school_orgs)
    school_orgs.update(r.sourced_id for r in package.rows("orgs") if r["type"] == "school")
    all_orgs = package.ids.get("orgs", set()) | known.get("orgs")
    for source, column, target, many, must_be_school in REFERENCES:
        if source not in package.tables:
            continue
        targets = package.ids.get(target, set()) | known.get(target)
        for row in package.rows(source):
            values = row.ids(column) if many else ([row[column]] if row[column] else [])
            for value in values:
                if value not in targets:
                    report.error(
                        f"{source}.csv",
                        row.line,
                        _("%(column)s %(value)r refers to no row of %(target)s."),
                        column=column,
                        value=value,
                        target=f"{target}.csv",
                        code="unknown_reference",
                    )
                elif must_be_school and value in all_orgs and value not in school_orgs:
                    report.error(
                        f"{source}.csv",
                        row.line,
                        _("%(column)s %(value)r is not an org of type school."),
                        column=column,
                        value=value,
                        code="unknown_reference",
                    )
    # A class's course and school must agree with each other's org only loosely (a course may
    # belong to the district); an enrollment's school must be its class's school.
    class_school = {r.sourced_id: r["schoolSourcedId"] for r in package.rows("classes")}
    for row in package.rows("enrollments"):
        school = class_school.get(row["classSourcedId"])
        if school and row["schoolSourcedId"] and school != row["schoolSourcedId"]:
            report.error(
                "enrollments.csv",
                row.line,
                _("schoolSourcedId %(value)r is not the school of class %(klass)r."),
                value=row["schoolSourcedId"],
                klass=row["classSourcedId"],
                column="schoolSourcedId",
                code="unknown_reference",
            )
