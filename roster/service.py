"""Roster import and export: OneRoster rows to schools, classes, people and enrolments, and back.

Mapping (docs/roster.md has the full table):

- orgs of type school -> School (other orgs are kept in their schools' roster_data);
- academicSessions -> the academic_year of the classes they are terms of (the session rows are
  kept in the classes' roster_data), courses -> kept in their classes' roster_data;
- classes -> Classroom (grade from the class's grades, else its course's);
- users -> User (role from roles.csv: student, teacher, and principal / siteAdministrator /
  districtAdministrator / systemAdministrator -> school_admin), with names and kana;
- enrollments -> Enrollment (student number from metadata.jp.ShussekiNo, else numbered).

Idempotent by sourcedId: a second import updates, never duplicates. ``status=tobedeleted``
archives (archived_at, or is_active False for users): results that refer to a row stay valid.
In a bulk file, roster rows of the package's schools that the file no longer lists are archived
the same way; rows created in the engine (no sourcedId) are never archived by absence.

roster_data keeps only what the engine cannot derive from its own columns: an export writes the
derived values back, so ``import(export(db))`` is a fixed point and reports 0 changes. Rows the
engine created itself are exported with generated sourcedIds (``cbt-<kind>-<id>``) that an
import resolves to the same rows.

All or nothing: everything happens in one savepoint; any error, or a dry run, rolls it back.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.db import db, utcnow
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.service import new_pseudonym
from roster.oneroster import (
    FILES,
    Known,
    Limits,
    Package,
    PackageRefused,
    Report,
    Row,
    check_references,
    grade_code,
    grade_number,
    read_package,
)
from roster.oneroster.reader import _
from schools.service import new_class_code  # one class-code rule for the engine

__all__ = ["ImportResult", "export_tables", "import_roster"]

ENTITIES = ("schools", "classrooms", "users", "enrollments")
COMMON = ("sourcedId", "status", "dateLastModified")

#: OneRoster roles (roles.csv) -> the engine's roles; others (guardian, aide...) are not imported.
ROLE_MAP = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "principal": Role.SCHOOL_ADMIN,
    "siteAdministrator": Role.SCHOOL_ADMIN,
    "districtAdministrator": Role.SCHOOL_ADMIN,
    "systemAdministrator": Role.SCHOOL_ADMIN,
}
EXPORT_ROLE = {
    Role.STUDENT: "student",
    Role.TEACHER: "teacher",
    Role.SCHOOL_ADMIN: "siteAdministrator",
}
# Enrollment roles: student and teacher give the engine's class access; administrator and
# proctor are kept as they are and grant nothing.
ENROLLMENT_ROLES = {"student": Role.STUDENT, "teacher": Role.TEACHER}
#: ``progress(file, n_rows)`` returns the function to call once per row (a CLI progress bar).
Progress = Callable[[str, int], Callable[[], None]]


def _no_progress(file: str, total: int) -> Callable[[], None]:
    return lambda: None


_GENERATED = re.compile(r"^cbt-(school|classroom|user|enrollment)-(\d{1,10})$")


@dataclass
class ImportResult:
    """What an import did (or, in a dry run or on error, would have done)."""

    report: Report
    dry_run: bool
    committed: bool = False
    modes: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            e: {"created": 0, "updated": 0, "archived": 0, "unchanged": 0} for e in ENTITIES
        }
    )
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(c["created"] + c["updated"] + c["archived"] for c in self.counts.values())

    def to_dict(self, translate: Callable[[str], str] | None = None) -> dict[str, Any]:
        return {
            "ok": self.report.ok,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "modes": {k: v for k, v in self.modes.items() if v != "absent"},
            "counts": self.counts,
            "changes": self.changes,
            "errors": [p.to_dict(translate) for p in self.report.errors],
            "warnings": [p.to_dict(translate) for p in self.report.warnings],
            "notices": [p.to_dict(translate) for p in self.report.notices],
            "skipped": self.skipped,
        }


def generated_id(kind: str, row_id: int) -> str:
    return f"cbt-{kind}-{row_id}"


def sid(obj: School | Classroom | User | Enrollment) -> str:
    kind = {School: "school", Classroom: "classroom", User: "user", Enrollment: "enrollment"}[
        type(obj)
    ]
    return obj.sourced_id or generated_id(kind, obj.id)


def _extras(row: Row, mapped: tuple[str, ...], drop: tuple[str, ...] = ()) -> dict[str, str]:
    """A row's values the engine does not map to columns (blank ones left out)."""
    skip = set(COMMON) | set(mapped) | set(drop)
    return {k: v for k, v in row.values.items() if k not in skip and v}


def _without_defaults(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}


def _assign(obj: Any, **values: Any) -> bool:
    """Set attributes; True when any of them changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _school_code(identifier: str) -> str:
    candidate = identifier.strip().upper()
    if (
        candidate
        and len(candidate) <= 32
        and re.fullmatch(r"[A-Z0-9_-]+", candidate)
        and db.session.scalar(select(School.id).where(School.code == candidate)) is None
    ):
        return candidate
    while True:
        code = "R-" + secrets.token_hex(4).upper()
        if db.session.scalar(select(School.id).where(School.code == code)) is None:
            return code


# --------------------------------------------------------------------------- defaults (export)


def _filled(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def default_session(year: int) -> dict[str, str]:
    return {
        "sourcedId": f"cbt-year-{year}",
        "title": f"{year}年度",
        "type": "schoolYear",
        "startDate": f"{year}-04-01",
        "endDate": f"{year + 1}-03-31",
        "schoolYear": str(year),
    }


def default_course(classroom: Classroom, school: School) -> dict[str, str]:
    return _filled(
        {
            "sourcedId": f"cbt-course-{classroom.id}",
            "schoolYearSourcedId": f"cbt-year-{classroom.academic_year}",
            "title": classroom.name,
            "grades": grade_code(classroom.grade) or "",
            "orgSourcedId": sid(school),
        }
    )


def default_class(
    classroom: Classroom, course: dict[str, str], terms: list[dict[str, Any]]
) -> dict[str, str]:
    return _filled(
        {
            "grades": grade_code(classroom.grade) or "",
            "courseSourcedId": course["sourcedId"],
            "classType": "homeroom",
            "termSourcedIds": ",".join(t["sourcedId"] for t in terms if t.get("_term", True)),
        }
    )


def class_parts(
    classroom: Classroom, school: School
) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, str]]:
    """A classroom's course, sessions and class columns, as an export writes them."""
    data = classroom.roster_data or {}
    course = data.get("course") or default_course(classroom, school)
    terms = data.get("terms") or [default_session(classroom.academic_year)]
    values = {**default_class(classroom, course, terms), **data.get("class", {})}
    return course, terms, values


def _split_name(display_name: str) -> tuple[str, str]:
    family, _sep, given = display_name.strip().partition(" ")
    return family or display_name, given.strip() or family or display_name


def default_user(user: User, school: School | None = None) -> dict[str, str]:
    fallback_family, fallback_given = _split_name(user.display_name)
    school = school or (db.session.get(School, user.school_id) if user.school_id else None)
    return {
        "enabledUser": "true",
        "username": user.email or sid(user),
        "givenName": user.given_name or fallback_given,
        "familyName": user.family_name or fallback_family,
        "email": user.email or "",
        "metadata.jp.kanaGivenName": user.given_name_kana or "",
        "metadata.jp.kanaFamilyName": user.family_name_kana or "",
        "primaryOrgSourcedId": sid(school) if school else "",
    }


def default_roles(user: User, school: School | None = None) -> list[dict[str, str]]:
    school = school or (db.session.get(School, user.school_id) if user.school_id else None)
    if school is None or user.role not in EXPORT_ROLE:
        return []
    return [
        {
            "sourcedId": f"cbt-role-{user.id}",
            "userSourcedId": sid(user),
            "roleType": "primary",
            "role": EXPORT_ROLE[Role(user.role)],
            "orgSourcedId": sid(school),
        }
    ]


# --------------------------------------------------------------------------- the state


class _State:
    """The database rows an import works on, found by sourcedId (or generated id)."""

    def __init__(self) -> None:
        self.schools = {s.sourced_id: s for s in _all(School) if s.sourced_id}
        self.classrooms = {c.sourced_id: c for c in _all(Classroom) if c.sourced_id}
        self.users = {u.sourced_id: u for u in _all(User) if u.sourced_id}
        enrollments = _all(Enrollment)
        self.enrollments = {e.sourced_id: e for e in enrollments if e.sourced_id}
        # Engine-made enrolments, which a roster row for the same person and class adopts.
        self.loose = {(e.classroom_id, e.user_id): e for e in enrollments if not e.sourced_id}
        self.by_email = {u.email: u for u in self.users.values() if u.email}
        self.by_email.update({u.email: u for u in _all(User) if u.email})
        # What lives only in roster_data: other orgs, courses and sessions.
        self.orgs: dict[str, dict[str, str]] = {}
        self.courses: dict[str, dict[str, str]] = {}
        self.sessions: dict[str, dict[str, str]] = {}
        for school in self.schools.values():
            for org in (school.roster_data or {}).get("parents", []):
                self.orgs[org["sourcedId"]] = org
        for classroom in self.classrooms.values():
            data = classroom.roster_data or {}
            if data.get("course"):
                self.courses[data["course"]["sourcedId"]] = data["course"]
            for term in data.get("terms", []):
                self.sessions[term["sourcedId"]] = term

    def find(self, model: type, sourced_id: str) -> Any:
        table = {
            School: self.schools,
            Classroom: self.classrooms,
            User: self.users,
            Enrollment: self.enrollments,
        }[model]
        if sourced_id in table:
            return table[sourced_id]
        match = _GENERATED.match(sourced_id)
        kind = {School: "school", Classroom: "classroom", User: "user", Enrollment: "enrollment"}[
            model
        ]
        if match and match.group(1) == kind:
            obj = db.session.get(model, int(match.group(2)))
            if obj is not None and obj.sourced_id is None:
                return obj
        return None

    def known(self) -> Known:
        return Known(
            ids={
                "orgs": set(self.schools) | set(self.orgs),
                "classes": set(self.classrooms),
                "users": set(self.users),
                "courses": set(self.courses),
                "academicSessions": set(self.sessions),
            },
            school_orgs=set(self.schools),
        )


def _all(model: type) -> list[Any]:
    return list(db.session.scalars(select(model)))


# --------------------------------------------------------------------------- import


def load_source(path: Path, limits: Limits | None = None) -> Package:
    """Read a zip file or a directory of CSVs."""
    if path.is_dir():
        return read_package(path, limits)
    return read_package(path.read_bytes(), limits)


def import_roster(
    source: bytes | Path | Package,
    *,
    actor: Actor,
    dry_run: bool = False,
    school: School | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a package: all of it or nothing. ``school`` limits the package to one school.

    Never raises for bad input: every problem is in ``result.report``; nothing is written
    unless the report has no errors and this is not a dry run. The caller commits.
    """
    if isinstance(source, Package):
        package = source
    else:
        try:
            package = load_source(source) if isinstance(source, Path) else read_package(source)
        except PackageRefused as refused:
            return ImportResult(refused.report, dry_run)
    result = ImportResult(package.report, dry_run, modes=dict(package.modes))
    state = _State()
    check_references(package, state.known())
    if school is not None:
        _check_school_scope(package, school)
    if not package.report.ok:
        return result
    savepoint = db.session.begin_nested()
    try:
        _Importer(package, state, result, school, progress).run()
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run or not package.report.ok:
        savepoint.rollback()
        return result
    record_audit(
        actor,
        "roster.import",
        "roster",
        school.id if school else "all",
        {
            "counts": result.counts,
            "modes": result.to_dict()["modes"],
            "notices": [p.text() for p in package.report.notices],
            "skipped": len(result.skipped),
        },
    )
    savepoint.commit()
    result.committed = True
    return result


def _check_school_scope(package: Package, school: School) -> None:
    expected = sid(school)
    for row in package.rows("orgs"):
        if row["type"] == "school" and row.sourced_id != expected and school.sourced_id:
            package.report.error(
                "orgs.csv",
                row.line,
                _("This import is limited to school %(school)s; %(value)r is another school."),
                school=school.code,
                value=row.sourced_id,
                column="sourcedId",
            )
    schools = {r.sourced_id for r in package.rows("orgs") if r["type"] == "school"}
    if school.sourced_id is None and len(schools) > 1:
        package.report.error(
            "orgs.csv",
            None,
            _("This import is limited to school %(school)s; the package has %(n)s schools."),
            school=school.code,
            n=len(schools),
        )


class _Importer:
    def __init__(
        self,
        package: Package,
        state: _State,
        result: ImportResult,
        school: School | None,
        progress: Progress | None = None,
    ) -> None:
        self.p = package
        self.s = state
        self.r = result
        self.report = package.report
        self.only_school = school
        self.progress = progress or _no_progress
        self.now = utcnow()
        self.scope: set[int] = set()  # ids of the schools the package is about
        self.skipped_users: set[str] = set()
        self.numbers: dict[int, dict[Enrollment, int | None]] = defaultdict(dict)
        self.lines: dict[Enrollment, int] = {}
        self.changed_enrollments: dict[Enrollment, bool] = {}
        # Rows by the user (or course, session) they belong to: large packages stay linear.
        self.by_user: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for name, key in (
            ("roles", "userSourcedId"),
            ("userProfiles", "userSourcedId"),
            ("demographics", "sourcedId"),
            ("enrollments", "userSourcedId"),
        ):
            for row in package.rows(name):
                self.by_user[(name, row[key])].append(row)
        self.course_rows = {r.sourced_id: r for r in package.rows("courses")}
        self.session_rows = {r.sourced_id: r for r in package.rows("academicSessions")}

    def in_scope(self, file: str, row: Row, *school_ids: int | None) -> bool:
        """In an import limited to one school, a row may touch only that school's rows."""
        if self.only_school is None:
            return True
        if all(i in (None, self.only_school.id) for i in school_ids):
            return True
        self.report.error(
            file,
            row.line,
            _("This import is limited to school %(school)s; %(value)r belongs to another school."),
            school=self.only_school.code,
            value=row.sourced_id,
            column="sourcedId",
            code="forbidden",
        )
        return False

    def count(self, entity: str, what: str) -> None:
        self.r.counts[entity][what] += 1

    def run(self) -> None:
        with db.session.no_autoflush:
            self._run()

    def _run(self) -> None:
        self.orgs()
        self.classes()
        self.users()
        self.enrollments()
        self.bulk_absences()
        self.number_students()
        db.session.flush()

    # ------------------------------------------------------------------ orgs -> School

    def school_for(self, org_id: str) -> School | None:
        return self.s.find(School, org_id) if org_id else None

    def orgs(self) -> None:
        rows = self.p.rows("orgs")
        by_id = {r.sourced_id: r for r in rows}
        for row in rows:
            if row["type"] == "school":
                self.org_school(row, by_id)
            else:
                self.s.orgs[row.sourced_id] = self._org_record(row)
        # Schools the package talks about without an orgs row (a delta of classes, say).
        for name, column in (("classes", "schoolSourcedId"), ("enrollments", "schoolSourcedId")):
            for row in self.p.rows(name):
                school = self.school_for(row[column])
                if school is not None:
                    self.scope.add(school.id)

    def _org_record(self, row: Row) -> dict[str, str]:
        return {"sourcedId": row.sourced_id, **_extras(row, ()), "name": row["name"]}

    def _parents(self, row: Row, by_id: dict[str, Row]) -> list[dict[str, str]]:
        chain, seen, parent = [], set(), row["parentSourcedId"]
        while parent and parent not in seen:
            seen.add(parent)
            record = self._org_record(by_id[parent]) if parent in by_id else self.s.orgs.get(parent)
            if record is None:
                break
            chain.append(record)
            parent = record.get("parentSourcedId", "")
        return chain

    def org_school(self, row: Row, by_id: dict[str, Row]) -> None:
        school = self.s.find(School, row.sourced_id)
        if school is None and self.only_school is not None and self.only_school.sourced_id is None:
            school = self.only_school  # an existing school takes the roster's identity
        if not self.in_scope("orgs.csv", row, school.id if school else None):
            return
        extras = _extras(row, ("name",))
        data = _without_defaults(extras, {"type": "school"})
        parents = self._parents(row, by_id)
        if parents:
            data["parents"] = parents
        archived = self.now if row.deleted else None
        if school is None:
            if row.deleted:
                return
            school = School(
                code=_school_code(row["identifier"]),
                name=row["name"][:200],
                sourced_id=row.sourced_id,
                roster_data=data,
            )
            db.session.add(school)
            db.session.flush()
            self.s.schools[row.sourced_id] = school
            self.count("schools", "created")
        else:
            keep_archive = school.archived_at if row.deleted and school.archived_at else archived
            values: dict[str, Any] = {"name": row["name"][:200], "roster_data": data}
            if school.sourced_id is not None or not _GENERATED.match(row.sourced_id):
                values["sourced_id"] = row.sourced_id
            was_archived = school.archived_at is not None
            changed = _assign(school, **values)
            if row.deleted and not was_archived:
                school.archived_at = keep_archive
                self.count("schools", "archived")
            else:
                if not row.deleted and was_archived:
                    school.archived_at = None
                    changed = True
                self.count("schools", "updated" if changed else "unchanged")
            self.s.schools[row.sourced_id] = school
        self.scope.add(school.id)

    # ------------------------------------------------------------------ classes -> Classroom

    def _course(self, course_id: str) -> dict[str, str] | None:
        row = self.course_rows.get(course_id)
        if row is not None:
            return {"sourcedId": row.sourced_id, **_extras(row, ())}
        return self.s.courses.get(course_id)

    def _session(self, session_id: str) -> dict[str, str] | None:
        row = self.session_rows.get(session_id)
        if row is not None:
            return {"sourcedId": row.sourced_id, **_extras(row, ())}
        return self.s.sessions.get(session_id)

    def _terms(self, row: Row, course: dict[str, str]) -> list[dict[str, Any]]:
        """The class's sessions, then their parents and the course's school year (kept so the
        export can write them back)."""
        terms: list[dict[str, Any]] = []
        seen: set[str] = set()
        for term_id in row.ids("termSourcedIds"):
            session = self._session(term_id)
            if session is not None and term_id not in seen:
                seen.add(term_id)
                terms.append(session)
        parents = []
        for term in [*terms, {"parentSourcedId": course.get("schoolYearSourcedId", "")}]:
            parent = term.get("parentSourcedId", "")
            while parent and parent not in seen:
                seen.add(parent)
                session = self._session(parent)
                if session is None:
                    break
                parents.append({**session, "_term": False})
                parent = session.get("parentSourcedId", "")
        return terms + parents

    def classes(self) -> None:
        step = self.progress("classes.csv", len(self.p.rows("classes")))
        for row in self.p.rows("classes"):
            step()
            school = self.school_for(row["schoolSourcedId"])
            if school is None:
                continue  # reported as an unknown reference
            classroom = self.s.find(Classroom, row.sourced_id)
            if not self.in_scope("classes.csv", row, school.id, classroom and classroom.school_id):
                continue
            course = self._course(row["courseSourcedId"]) or {"sourcedId": row["courseSourcedId"]}
            terms = self._terms(row, course)
            year = next(
                (int(t["schoolYear"]) for t in terms if t.get("schoolYear", "").isdigit()), None
            )
            codes = row.ids("grades") or [
                g.strip() for g in course.get("grades", "").split(",") if g.strip()
            ]
            if codes:
                grade = min(grade_number(c) for c in codes)
            else:
                grade = classroom.grade if classroom else 0
                self.report.warn(
                    "classes.csv",
                    row.line,
                    _("Class %(id)r has no grades, nor has its course; its grade is %(grade)s."),
                    id=row.sourced_id,
                    grade=grade,
                )
            if year is None:
                year = classroom.academic_year if classroom else utcnow().year
            created = classroom is None
            if classroom is None:
                if row.deleted:
                    continue
                classroom = Classroom(
                    school=school,
                    name=row["title"][:100],
                    grade=grade,
                    academic_year=year,
                    class_code=new_class_code(),
                    sourced_id=row.sourced_id,
                    roster_data={},
                )
                db.session.add(classroom)
                db.session.flush()
                self.s.classrooms[row.sourced_id] = classroom
            was_archived = classroom.archived_at is not None
            changed = _assign(
                classroom,
                school_id=school.id,
                name=row["title"][:100],
                grade=grade,
                academic_year=year,
            )
            if classroom.sourced_id is not None or not _GENERATED.match(row.sourced_id):
                changed |= _assign(classroom, sourced_id=row.sourced_id)
            data: dict[str, Any] = {}
            if course != default_course(classroom, school):
                data["course"] = course
            if terms != [default_session(year)]:
                data["terms"] = terms
            extras = _extras(row, ("title", "schoolSourcedId"))
            class_values = _without_defaults(extras, default_class(classroom, course, terms))
            if class_values:
                data["class"] = class_values
            changed |= _assign(classroom, roster_data=data)
            self.scope.add(school.id)
            if created:
                self.count("classrooms", "created")
            elif row.deleted and not was_archived:
                classroom.archived_at = self.now
                self.count("classrooms", "archived")
            elif row.deleted:
                self.count("classrooms", "unchanged")
            else:
                if was_archived:
                    classroom.archived_at = None
                    changed = True
                self.count("classrooms", "updated" if changed else "unchanged")

    # ------------------------------------------------------------------ users -> User

    def _attached(
        self, name: str, key: str, user_id: str, old: list[dict[str, str]]
    ) -> list[dict[str, str]]:
        """The rows of roles / userProfiles / demographics that hang off one user."""
        if name not in self.p.tables:
            return old
        rows = self.by_user.get((name, user_id), [])
        drop = ("password",)
        if self.p.mode(name) == "bulk":
            return [
                {"sourcedId": r.sourced_id, **_extras(r, (), drop)} for r in rows if not r.deleted
            ]
        merged = {item["sourcedId"]: item for item in old}
        for r in rows:
            if r.deleted:
                merged.pop(r.sourced_id, None)
            else:
                merged[r.sourced_id] = {"sourcedId": r.sourced_id, **_extras(r, (), drop)}
        return list(merged.values())

    def _role(self, row: Row, roles: list[dict[str, str]], user: User | None) -> str | None:
        ordered = sorted(roles, key=lambda r: r.get("roleType") != "primary")
        for item in ordered:
            if item.get("role") in ROLE_MAP:
                return str(ROLE_MAP[item["role"]])
        if roles:
            return None  # only roles the engine does not have (guardian, aide...)
        if user is not None:
            return user.role
        kinds = {r["role"] for r in self.by_user.get(("enrollments", row.sourced_id), [])}
        if "teacher" in kinds:
            return str(Role.TEACHER)
        if "student" in kinds:
            return str(Role.STUDENT)
        return ""

    def _user_school(
        self, row: Row, roles: list[dict[str, str]], user: User | None
    ) -> School | None:
        candidates = [row["primaryOrgSourcedId"]]
        candidates += [
            r.get("orgSourcedId", "")
            for r in sorted(roles, key=lambda r: r.get("roleType") != "primary")
        ]
        classes = {
            r["classSourcedId"] for r in self.by_user.get(("enrollments", row.sourced_id), [])
        }
        candidates += [
            c.school and sid(c.school) for c in (self.s.find(Classroom, k) for k in classes) if c
        ]
        for org_id in candidates:
            school = self.school_for(org_id) if org_id else None
            if school is not None:
                return school
        if user is not None and user.school_id is not None:
            return db.session.get(School, user.school_id)
        return None

    def users(self) -> None:
        emails: dict[str, int] = {}
        pending: list[tuple[Any, ...]] = []
        step = self.progress("users.csv", len(self.p.rows("users")))
        for row in self.p.rows("users"):
            step()
            user = self.s.find(User, row.sourced_id)
            old = (user.roster_data or {}) if user else {}
            roles = self._attached("roles", "userSourcedId", row.sourced_id, old.get("roles", []))
            role = self._role(row, roles, user)
            if role is None:
                self.skipped_users.add(row.sourced_id)
                self.r.skipped.append(
                    {
                        "file": "users.csv",
                        "line": row.line,
                        "sourcedId": row.sourced_id,
                        "roles": sorted({r.get("role", "") for r in roles}),
                    }
                )
                continue
            if role == "":
                self.report.error(
                    "users.csv",
                    row.line,
                    _("The user %(id)r has no role: add roles.csv (or an enrollment)."),
                    id=row.sourced_id,
                    code="required",
                )
                continue
            school = self._user_school(row, roles, user)
            if not self.in_scope(
                "users.csv", row, school.id if school else None, user and user.school_id
            ):
                continue
            email = row["email"].strip().lower() or None
            problems = False
            for column, limit in (
                ("givenName", 100),
                ("familyName", 100),
                ("email", 254),
                ("metadata.jp.kanaGivenName", 100),
                ("metadata.jp.kanaFamilyName", 100),
            ):
                if len(row[column]) > limit:
                    self.report.error(
                        "users.csv",
                        row.line,
                        _("%(column)s is longer than %(max)s characters."),
                        column=column,
                        max=limit,
                    )
                    problems = True
            if email is not None:
                if "@" not in email:
                    self.report.error(
                        "users.csv",
                        row.line,
                        _("email %(value)r is not an e-mail address."),
                        value=row["email"],
                        column="email",
                    )
                    problems = True
                elif email in emails:
                    self.report.error(
                        "users.csv",
                        row.line,
                        _("email %(value)r is used twice (first on line %(first)s)."),
                        value=email,
                        first=emails[email],
                        column="email",
                        code="duplicate",
                    )
                    problems = True
                else:
                    emails[email] = row.line
                    holder = self.s.by_email.get(email)
                    if holder is not None and holder is not user:
                        if (
                            user is None
                            and holder.sourced_id is None
                            and holder.role == role
                            and not row.deleted
                        ):
                            user = holder  # a person the engine knew by e-mail joins the roster
                        else:
                            self.report.error(
                                "users.csv",
                                row.line,
                                _("email %(value)r belongs to another user."),
                                value=email,
                                column="email",
                                code="conflict",
                            )
                            problems = True
            if problems:
                continue
            created = user is None
            if user is None:
                if row.deleted:
                    continue
                user = User(
                    role=role,
                    display_name="",
                    pseudonym=new_pseudonym(),
                    roster_data={},
                    sourced_id=row.sourced_id,
                )
                db.session.add(user)
            was_archived = bool((user.roster_data or {}).get("deleted"))
            names: dict[str, Any] = {
                "family_name": row["familyName"] or None,
                "given_name": row["givenName"] or None,
                "family_name_kana": row["metadata.jp.kanaFamilyName"] or None,
                "given_name_kana": row["metadata.jp.kanaGivenName"] or None,
            }
            family = row["preferredFamilyName"] or row["familyName"]
            given = row["preferredGivenName"] or row["givenName"]
            names["display_name"] = f"{family} {given}".strip()[:200]
            if not created and user.family_name is None and user.given_name is None:
                defaults = default_user(user)
                if (row["familyName"], row["givenName"]) == (
                    defaults["familyName"],
                    defaults["givenName"],
                ) and not (row["preferredFamilyName"] or row["preferredGivenName"]):
                    names.update(family_name=None, given_name=None, display_name=user.display_name)
            changed = _assign(
                user,
                role=role,
                email=email,
                school_id=school.id if school else None,
                is_active=(not row.deleted) and row["enabledUser"] != "false",
                **names,
            )
            if user.sourced_id is not None or not _GENERATED.match(row.sourced_id):
                changed |= _assign(user, sourced_id=row.sourced_id)
            self.s.users[row.sourced_id] = user
            item = (row, user, school, roles, old, created, was_archived, changed)
            if user.id is None:
                pending.append(item)  # its id (and generated defaults) after one flush
            else:
                self._finish_user(*item)
        db.session.flush()
        for item in pending:
            self._finish_user(*item)

    def _finish_user(
        self,
        row: Row,
        user: User,
        school: School | None,
        roles: list[dict[str, str]],
        old: dict[str, Any],
        created: bool,
        was_archived: bool,
        changed: bool,
    ) -> None:
        data: dict[str, Any] = {}
        extras = _extras(
            row,
            (
                "givenName",
                "familyName",
                "email",
                "enabledUser",
                "metadata.jp.kanaGivenName",
                "metadata.jp.kanaFamilyName",
            ),
            ("password",),
        )
        defaults = default_user(user, school)
        user_values = _without_defaults(extras, defaults)
        if user_values:
            data["user"] = user_values
        if roles != default_roles(user, school):
            data["roles"] = roles
        demographics = self._attached(
            "demographics",
            "sourcedId",
            row.sourced_id,
            [old["demographics"]] if old.get("demographics") else [],
        )
        if demographics:
            data["demographics"] = demographics[0]
        profiles = self._attached(
            "userProfiles", "userSourcedId", row.sourced_id, old.get("userProfiles", [])
        )
        if profiles:
            data["userProfiles"] = profiles
        if row.deleted:
            data["deleted"] = True
        changed |= _assign(user, roster_data=data)
        if created:
            self.count("users", "created")
        elif row.deleted and not was_archived:
            self.count("users", "archived")
        elif row.deleted:
            self.count("users", "unchanged")
        else:
            self.count("users", "updated" if changed else "unchanged")

    # ------------------------------------------------------------------ enrollments

    def enrollments(self) -> None:
        pairs: dict[tuple[int, int], int] = {}
        step = self.progress("enrollments.csv", len(self.p.rows("enrollments")))
        for row in self.p.rows("enrollments"):
            step()
            if row["userSourcedId"] in self.skipped_users:
                self.r.skipped.append(
                    {"file": "enrollments.csv", "line": row.line, "sourcedId": row.sourced_id}
                )
                continue
            classroom = self.s.find(Classroom, row["classSourcedId"])
            user = self.s.find(User, row["userSourcedId"])
            if classroom is None or user is None:
                continue  # an unknown reference, reported; or a deleted class that never existed
            if not self.in_scope("enrollments.csv", row, classroom.school_id, user.school_id):
                continue
            role = str(ENROLLMENT_ROLES.get(row["role"], row["role"]))
            if role == Role.STUDENT and user.role != Role.STUDENT:
                self.report.error(
                    "enrollments.csv",
                    row.line,
                    _("%(user)r is enrolled as a student but is a %(role)s."),
                    user=row["userSourcedId"],
                    role=user.role,
                    column="role",
                )
                continue
            if role == Role.TEACHER and user.role == Role.STUDENT:
                self.report.error(
                    "enrollments.csv",
                    row.line,
                    _("%(user)r is enrolled as a teacher but is a student."),
                    user=row["userSourcedId"],
                    column="role",
                )
                continue
            enrollment = self.s.find(Enrollment, row.sourced_id)
            if enrollment is None:
                # An engine enrolment of the same person and class joins the roster.
                enrollment = self.s.loose.get((classroom.id, user.id))
            key = (classroom.id, user.id)
            if not row.deleted:
                if key in pairs:
                    self.report.error(
                        "enrollments.csv",
                        row.line,
                        _("%(user)r is enrolled in %(klass)r twice (first on line %(first)s)."),
                        user=row["userSourcedId"],
                        klass=row["classSourcedId"],
                        first=pairs[key],
                        code="duplicate",
                    )
                    continue
                pairs[key] = row.line
            created = enrollment is None
            if enrollment is None:
                if row.deleted:
                    continue
                enrollment = Enrollment(
                    classroom_id=classroom.id,
                    user_id=user.id,
                    role=role,
                    sourced_id=row.sourced_id,
                    roster_data={},
                )
                db.session.add(enrollment)
            was_archived = enrollment.archived_at is not None
            changed = _assign(enrollment, classroom_id=classroom.id, user_id=user.id, role=role)
            if enrollment.sourced_id is not None or not _GENERATED.match(row.sourced_id):
                changed |= _assign(enrollment, sourced_id=row.sourced_id)
            extras = _extras(
                row,
                (
                    "classSourcedId",
                    "schoolSourcedId",
                    "userSourcedId",
                    "role",
                    "metadata.jp.ShussekiNo",
                ),
            )
            changed |= _assign(
                enrollment, roster_data=_without_defaults(extras, {"primary": "false"})
            )
            self.s.enrollments[row.sourced_id] = enrollment
            if role == Role.STUDENT:
                wanted = (
                    int(row["metadata.jp.ShussekiNo"]) if row["metadata.jp.ShussekiNo"] else None
                )
                if wanted is not None and not 1 <= wanted <= 2**31 - 1:
                    self.report.error(
                        "enrollments.csv",
                        row.line,
                        _("metadata.jp.ShussekiNo must be 1 or more."),
                        column="metadata.jp.ShussekiNo",
                        code="bad_number",
                    )
                    continue
                if not row.deleted:
                    self.numbers[classroom.id][enrollment] = wanted
                    self.lines[enrollment] = row.line
            if created:
                self.count("enrollments", "created")
            elif row.deleted and not was_archived:
                enrollment.archived_at = self.now
                self.count("enrollments", "archived")
            elif row.deleted:
                self.count("enrollments", "unchanged")
            else:
                if was_archived:
                    enrollment.archived_at = None
                    changed = True
                self.changed_enrollments[enrollment] = changed

    # ------------------------------------------------------------------ bulk files

    def bulk_absences(self) -> None:
        if self.p.mode("classes") == "bulk":
            listed = self.p.ids.get("classes", set())
            for classroom in self.s.classrooms.values():
                if (
                    classroom.school_id in self.scope
                    and classroom.sourced_id is not None
                    and classroom.sourced_id not in listed
                    and classroom.archived_at is None
                ):
                    classroom.archived_at = self.now
                    self.count("classrooms", "archived")
        if self.p.mode("users") == "bulk":
            listed = self.p.ids.get("users", set())
            for user in self.s.users.values():
                data = user.roster_data or {}
                if (
                    user.school_id in self.scope
                    and user.sourced_id is not None
                    and user.sourced_id not in listed
                    and not data.get("deleted")
                ):
                    user.is_active = False
                    user.roster_data = {**data, "deleted": True}
                    self.count("users", "archived")
        if self.p.mode("enrollments") == "bulk":
            listed = self.p.ids.get("enrollments", set())
            for enrollment in self.s.enrollments.values():
                classroom = db.session.get(Classroom, enrollment.classroom_id)
                if (
                    classroom is not None
                    and classroom.school_id in self.scope
                    and enrollment.sourced_id is not None
                    and enrollment.sourced_id not in listed
                    and enrollment.archived_at is None
                ):
                    enrollment.archived_at = self.now
                    self.count("enrollments", "archived")

    # ------------------------------------------------------------------ student numbers

    def number_students(self) -> None:
        """Numbers from metadata.jp.ShussekiNo; the others keep theirs or are numbered after
        the class's highest, in kana order (the usual 出席番号 order)."""
        db.session.flush()
        classes: dict[int, list[Enrollment]] = defaultdict(list)
        if self.numbers:
            for e in db.session.scalars(
                select(Enrollment).where(Enrollment.classroom_id.in_(list(self.numbers)))
            ):
                classes[e.classroom_id].append(e)
        for classroom_id, wanted in self.numbers.items():
            rows = classes[classroom_id]
            final: dict[Enrollment, int] = {}
            taken: dict[int, Enrollment] = {}
            # Active students not in this import keep their numbers.
            for e in rows:
                if e not in wanted and e.student_number is not None and e.archived_at is None:
                    taken[e.student_number] = e
            for e, number in wanted.items():
                if number is None:
                    continue
                if number in taken and taken[number] is not e:
                    holder = taken[number]
                    self.report.error(
                        "enrollments.csv",
                        self.lines.get(e),
                        _(
                            "metadata.jp.ShussekiNo %(n)s is already the number of %(holder)r "
                            "in this class."
                        ),
                        n=number,
                        holder=holder.sourced_id or sid(holder),
                        column="metadata.jp.ShussekiNo",
                        code="duplicate",
                    )
                    continue
                taken[number] = e
                final[e] = number
            for e, number in wanted.items():
                current = e.student_number
                if number is None and current is not None and taken.get(current, e) is e:
                    taken[current] = e
                    final[e] = current
            highest = max([*taken, *(e.student_number or 0 for e in rows)], default=0)
            users = {
                u.id: u
                for u in db.session.scalars(
                    select(User).where(User.id.in_([e.user_id for e in wanted if e not in final]))
                )
            }

            def order(e: Enrollment, users: dict[int, User] = users) -> tuple[str, str, str]:
                user = users[e.user_id]
                return (
                    user.family_name_kana or user.family_name or "",
                    user.given_name_kana or user.given_name or "",
                    user.sourced_id or "",
                )

            for e in sorted((e for e in wanted if e not in final), key=order):
                highest += 1
                final[e] = highest
            moving = [e for e in rows if e in final and e.student_number != final[e]]
            numbers = set(final.values())
            # Archived enrolments give up a number a current student now has.
            for e in rows:
                if e not in final and e.archived_at is not None and e.student_number in numbers:
                    e.roster_data = {**(e.roster_data or {}), "studentNumber": e.student_number}
                    e.student_number = None
            for e in moving:
                e.student_number = None
            db.session.flush()
            for e in moving:
                e.student_number = final[e]
                if e in self.changed_enrollments:
                    self.changed_enrollments[e] = True
            db.session.flush()
        for changed in self.changed_enrollments.values():
            self.count("enrollments", "updated" if changed else "unchanged")


# --------------------------------------------------------------------------- export


def _clean(values: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if not k.startswith("_") and v not in ("", None)}


def export_tables(school: School | None = None) -> dict[str, list[dict[str, str]]]:
    """The roster of every school (or one) as OneRoster rows: what ``write_zip`` writes.

    Archived rows are left out (a bulk file lists what is current); so are operators and
    researchers, who belong to no school.
    """
    tables: dict[str, dict[str, dict[str, str]]] = {name: {} for name in FILES}
    schools = [
        s
        for s in db.session.scalars(select(School).order_by(School.id))
        if s.archived_at is None and (school is None or s.id == school.id)
    ]
    school_ids = {s.id: s for s in schools}
    for s in schools:
        data = dict(s.roster_data or {})
        parents = data.pop("parents", [])
        tables["orgs"][sid(s)] = _clean(
            {"sourcedId": sid(s), "name": s.name, "type": "school", **data}
        )
        for org in parents:
            tables["orgs"].setdefault(org["sourcedId"], _clean(org))
    classrooms = [
        c
        for c in db.session.scalars(select(Classroom).order_by(Classroom.id))
        if c.archived_at is None and c.school_id in school_ids
    ]
    class_ids = {c.id: c for c in classrooms}
    for c in classrooms:
        s = school_ids[c.school_id]
        course, terms, values = class_parts(c, s)
        tables["courses"].setdefault(course["sourcedId"], _clean(course))
        for term in terms:
            tables["academicSessions"].setdefault(term["sourcedId"], _clean(term))
        tables["classes"][sid(c)] = _clean(
            {"sourcedId": sid(c), "title": c.name, "schoolSourcedId": sid(s), **values}
        )
    users = [
        u
        for u in db.session.scalars(select(User).order_by(User.id))
        if u.school_id in school_ids
        and u.role in EXPORT_ROLE
        and not (u.roster_data or {}).get("deleted")
        and u.identity_deleted_at is None
    ]
    user_ids = {u.id: u for u in users}
    for u in users:
        s = school_ids[u.school_id]
        data = u.roster_data or {}
        row = {"sourcedId": sid(u), **default_user(u, s), **data.get("user", {})}
        row["enabledUser"] = "true" if u.is_active else "false"
        tables["users"][sid(u)] = _clean(row)
        for role in data.get("roles") or default_roles(u, s):
            tables["roles"].setdefault(role["sourcedId"], _clean(role))
        if data.get("demographics"):
            tables["demographics"][sid(u)] = _clean(data["demographics"])
        for profile in data.get("userProfiles", []):
            tables["userProfiles"].setdefault(profile["sourcedId"], _clean(profile))
    for e in db.session.scalars(select(Enrollment).order_by(Enrollment.id)):
        if (
            e.archived_at is not None
            or e.classroom_id not in class_ids
            or e.user_id not in user_ids
        ):
            continue
        c = class_ids[e.classroom_id]
        row = {
            "sourcedId": sid(e),
            "classSourcedId": sid(c),
            "schoolSourcedId": sid(school_ids[c.school_id]),
            "userSourcedId": sid(user_ids[e.user_id]),
            "role": e.role,
            "primary": "false",
            **(e.roster_data or {}),
        }
        row.pop("studentNumber", None)
        if e.role == Role.STUDENT and e.student_number is not None:
            row["metadata.jp.ShussekiNo"] = str(e.student_number)
        tables["enrollments"][sid(e)] = _clean(row)
    return {name: list(rows.values()) for name, rows in tables.items()}
