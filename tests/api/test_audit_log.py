"""The audit log: every read of student data leaves one event naming who read what; operators
view it (filtered, newest first, a page at a time) and export it as CSV, and that is audited too;
everyone else is refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import time
from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.cli import cli
from cbt.db import db
from cbt.models import AuditEvent, Role, User
from delivery.models import Administration, AdministrationClassroom
from tests.helpers import ApiClient, SeededSchool, seed_school, sit_sessions

OPERATOR_EMAIL = "operator@test.example"


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school(n_items=6, n_students=2)
    db.session.add(
        User(role=Role.OPERATOR, display_name="Operator", email=OPERATOR_EMAIL, pseudonym="P-OP")
    )
    # Finished sessions for the research exports, in an administration of their own.
    research = Administration(
        test_definition_id=school.test_definition_id, name="Research", status="closed"
    )
    db.session.add(research)
    db.session.flush()
    db.session.add(
        AdministrationClassroom(administration_id=research.id, classroom_id=school.classroom_id)
    )
    rng = np.random.default_rng(5)
    sit_sessions(
        school.item_version_ids, research.id, 0, rng, students=[*school.student_ids.values()]
    )
    db.session.commit()
    school.research_administration_id = research.id  # type: ignore[attr-defined]
    return school


def _client(app: Flask) -> ApiClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return ApiClient(client)


def _staff(app: Flask, email: str) -> ApiClient:
    """Signed in as the staff member with ``email`` (the cookie a login sets; no password hash
    to check, which keeps the many logins of these tests fast)."""
    return _as(app, db.session.scalar(select(User).where(User.email == email)))


def _as(app: Flask, user: User) -> ApiClient:
    api = _client(app)
    with api.client.session_transaction() as session:
        session.update(
            uid=user.id,
            role=str(user.role),
            name=user.display_name,
            sid=secrets.token_urlsafe(16),
            exp=int(time.time() + 3600),
        )
    return api


def _user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


def _events_after(last_id: int) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)
        )
    )


def _last_id() -> int:
    return db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


def test_each_read_of_student_data_leaves_one_event(app: Flask, school: SeededSchool) -> None:
    teacher = _staff(app, school.teacher_email)
    researcher = _staff(app, school.researcher_email)
    teacher_id, researcher_id = _user_id(school.teacher_email), _user_id(school.researcher_email)
    classroom, student = str(school.classroom_id), str(school.student_ids[1])
    research = school.research_administration_id  # type: ignore[attr-defined]
    reads: list[tuple[ApiClient, str, int, str, str, str, dict[str, Any]]] = [
        (teacher, f"/api/v1/classes/{classroom}/results", teacher_id, "view_class_results",
         "classroom", classroom, {"n_students": 2}),
        (teacher, f"/api/v1/classes/{classroom}/mastery?prefix_length=6", teacher_id,
         "view_class_mastery", "classroom", classroom, {"prefix_length": 6}),
        (teacher, f"/api/v1/classes/{classroom}/results.csv", teacher_id, "export_class_results",
         "classroom", classroom, {"format": "csv"}),
        (teacher, f"/api/v1/classes/{classroom}/answers.csv", teacher_id, "export_class_answers",
         "classroom", classroom, {"format": "csv", "n_rows": 12}),
        (teacher, f"/api/v1/classes/{classroom}/results.xlsx", teacher_id,
         "export_class_results", "classroom", classroom, {"format": "xlsx", "n_answers": 12}),
        (teacher, f"/api/v1/students/{student}/history", teacher_id, "view_answer_history",
         "student", student, {"n_sessions": 1, "n_answers": 6}),
        (teacher, f"/api/v1/administrations/{school.administration_id}/monitor", teacher_id,
         "view_monitor", "administration", str(school.administration_id),
         {"classroom_ids": [school.classroom_id]}),
        (researcher, f"/api/v1/research/responses.csv?administration={research}",
         researcher_id, "research_responses_downloaded", "administration", str(research),
         {"n_rows": 12, "n_persons": 2}),
        (researcher, f"/api/v1/research/groups.csv?administration={research}", researcher_id,
         "research_groups_downloaded", "administration", str(research), {"n_rows": 2}),
    ]  # fmt: skip
    for client, url, actor, action, target_type, target_id, details in reads:
        before = _last_id()
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        events = _events_after(before)
        assert len(events) == 1, (url, [e.action for e in events])
        event = events[0]
        assert (event.actor_id, event.action) == (actor, action), url
        assert (event.target_type, event.target_id) == (target_type, target_id), url
        assert details.items() <= event.details.items(), (url, event.details)
        assert event.actor_role in ("teacher", "researcher")


def test_a_polled_monitor_is_audited_once_a_while(app: Flask, school: SeededSchool) -> None:
    teacher = _staff(app, school.teacher_email)
    before = _last_id()
    for _ in range(3):
        monitor = teacher.get(f"/api/v1/administrations/{school.administration_id}/monitor")
        assert monitor.status_code == 200
    assert [e.action for e in _events_after(before)] == ["view_monitor"]


def test_a_refused_read_records_nothing(app: Flask, school: SeededSchool) -> None:
    other = _staff(app, school.other_teacher_email)
    before = _last_id()
    assert other.get(f"/api/v1/classes/{school.classroom_id}/results").status_code == 403
    assert other.get(f"/api/v1/students/{school.student_ids[1]}/history").status_code == 403
    assert _events_after(before) == []


# -- viewing and exporting the log -----------------------------------------------------------


def _event(action: str, target: tuple[str, str], at: dt.datetime, actor: User | None = None):
    event = record_audit(
        Actor(actor.id, str(actor.role)) if actor else Actor(), action, *target, {"n": 1}
    )
    event.at = at
    return event


@pytest.fixture
def logged(app: Flask, school: SeededSchool) -> dict[str, Any]:
    """Ten known events on known days (besides the logins the tests make)."""
    teacher = db.session.scalar(select(User).where(User.email == school.teacher_email))
    day = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)
    events = [
        _event(
            "view_class_results" if n % 2 else "pause_session",
            ("classroom", str(n % 3)),
            day + dt.timedelta(days=n),
            teacher if n < 6 else None,
        )
        for n in range(10)
    ]
    db.session.commit()
    return {"teacher": teacher, "ids": [e.id for e in events], "day": day}


def test_operators_page_through_the_log_newest_first(app: Flask, logged: dict[str, Any]) -> None:
    operator = _staff(app, OPERATOR_EMAIL)
    seen: list[int] = []
    url = "/api/v1/audit-events?limit=4&to=2026-05-01"
    while url:
        page = operator.get(url).get_json()
        assert len(page["events"]) <= 4
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        url = f"/api/v1/audit-events?limit=4&to=2026-05-01&cursor={cursor}" if cursor else ""
    assert seen == sorted(logged["ids"], reverse=True)


def test_filters_narrow_the_log(app: Flask, logged: dict[str, Any]) -> None:
    operator = _staff(app, OPERATOR_EMAIL)
    teacher_id = logged["teacher"].id
    ids = logged["ids"]

    def ids_for(query: str) -> list[int]:
        response = operator.get(f"/api/v1/audit-events?{query}")
        assert response.status_code == 200, response.get_json()
        return [e["id"] for e in response.get_json()["events"] if e["id"] in ids]

    assert ids_for(f"actor_id={teacher_id}&action=view_class_results") == [ids[5], ids[3], ids[1]]
    assert ids_for("target_type=classroom&target_id=2") == [ids[8], ids[5], ids[2]]
    assert ids_for("from=2026-04-03&to=2026-04-04") == [ids[3], ids[2]]
    assert ids_for("from=2026-04-03T09:00:00%2B09:00&to=2026-04-03T18:30:00%2B09:00") == [ids[2]]
    event = operator.get(f"/api/v1/audit-events?actor_id={teacher_id}&limit=1").get_json()
    first = event["events"][0]
    assert first["actor_name"] == "Teacher"
    assert first["actor_role"] == "teacher"


BAD_QUERIES = [
    "limit=0",
    "limit=201",
    "limit=ten",
    "actor_id=-1",
    "from=yesterday",
    "to=2026-13-01",
    "from=2026-04-05&to=2026-04-01",
    "cursor=not-a-cursor",
    "action=" + "x" * 65,
]


def test_bad_filters_are_refused_and_record_nothing(app: Flask, logged: dict[str, Any]) -> None:
    operator = _staff(app, OPERATOR_EMAIL)
    before = _last_id()
    for query in BAD_QUERIES:
        paging = query.startswith(("limit", "cursor"))  # the CSV has every match, no pages
        for path in ("/api/v1/audit-events",) + (() if paging else ("/api/v1/audit-events.csv",)):
            response = operator.get(f"{path}?{query}")
            assert response.status_code == 422, (path, query, response.get_json())
            assert response.get_json()["error"]["code"] == "validation_failed"
    assert _events_after(before) == []


def test_viewing_the_log_is_itself_audited(app: Flask, logged: dict[str, Any]) -> None:
    operator = _staff(app, OPERATOR_EMAIL)
    before = _last_id()
    page = operator.get("/api/v1/audit-events?action=pause_session&limit=2").get_json()
    assert len(page["events"]) == 2
    (event,) = _events_after(before)
    assert (event.action, event.target_type, event.actor_id) == (
        "view_audit_log",
        "audit_log",
        _user_id(OPERATOR_EMAIL),
    )
    assert event.details["filters"] == {"action": "pause_session"}
    assert event.details["n_rows"] == 2


def test_the_csv_export_has_a_bom_every_match_and_no_formulas(
    app: Flask, logged: dict[str, Any]
) -> None:
    record_audit(Actor(), '=HYPERLINK("http://x")', "classroom", "+1+1", {"note": "@SUM(A1)"})
    db.session.commit()
    operator = _staff(app, OPERATOR_EMAIL)
    before = _last_id()
    response = operator.get("/api/v1/audit-events.csv?target_type=classroom")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["id", "at", "actor_id"]
    assert len(body) == 11  # the ten, and the one with a formula; no logins, no export
    formula = body[0]
    assert formula[header.index("action")] == '\'=HYPERLINK("http://x")'
    assert formula[header.index("target_id")] == "'+1+1"
    assert [int(row[0]) for row in body[1:]] == sorted(logged["ids"], reverse=True)
    (event,) = _events_after(before)
    assert (event.action, event.details["filters"]) == (
        "export_audit_log",
        {"target_type": "classroom"},
    )


def test_only_operators_see_the_log(app: Flask, logged: dict[str, Any]) -> None:
    admin = User(
        role=Role.SCHOOL_ADMIN, display_name="Admin", pseudonym="P-AD", email="a@t.example"
    )
    db.session.add(admin)
    db.session.commit()
    for who in ("anonymous", "student", "teacher", "researcher", "school_admin"):
        _refused(app, who)


def _refused(app: Flask, who: str) -> None:
    client = _client(app)
    if who != "anonymous":
        client = _as(app, db.session.scalar(select(User).where(User.role == who).limit(1)))
    before = _last_id()
    for url in ("/api/v1/audit-events", "/api/v1/audit-events.csv"):
        response = client.get(url)
        assert response.status_code == (401 if who == "anonymous" else 403), (who, url)
        assert "HYPERLINK" not in response.get_data(as_text=True)
    assert [e.action for e in _events_after(before)] == []


def test_the_audit_page_is_for_operators_in_both_languages(
    app: Flask, logged: dict[str, Any]
) -> None:
    operator = _staff(app, OPERATOR_EMAIL)
    page = operator.get("/operator/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Audit log" in html
    assert "operator_audit.js" in html
    assert 'href="/api/v1/audit-events.csv"' in html
    japanese = operator.get("/operator/audit", headers={"Accept-Language": "ja"})
    assert "監査ログ" in japanese.get_data(as_text=True)
    teacher = _staff(app, "teacher@test.example")
    assert teacher.get("/operator/audit").status_code == 403
    assert _client(app).get("/operator/audit").status_code == 302


def test_prune_keeps_the_retention_period_and_logs_the_deletion(app: Flask, runner) -> None:
    now = dt.datetime.now(dt.UTC)
    old = _event("login", ("user", "1"), now - dt.timedelta(days=400))
    recent = _event("login", ("user", "2"), now - dt.timedelta(days=30))
    db.session.commit()
    old_id, recent_id = old.id, recent.id
    dry = runner.invoke(cli, ["audit", "prune", "--older-than-days", "365", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1" in dry.output
    assert _events_after(0)[0].id == old_id
    too_short = runner.invoke(cli, ["audit", "prune", "--older-than-days", "7"])
    assert too_short.exit_code == 2
    result = runner.invoke(cli, ["audit", "prune", "--older-than-days", "365"])
    assert result.exit_code == 0, result.output
    events = _events_after(0)
    assert [e.id for e in events][:1] == [recent_id]
    assert events[-1].action == "audit_log_pruned"
    assert events[-1].details["n_deleted"] == 1
    assert events[-1].actor_id is None
