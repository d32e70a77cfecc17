"""The class dashboard, the 個人票 (JSON and PDF) and next-step guidance: numbers, scope, audit."""

from __future__ import annotations

import io
import re
import uuid

import numpy as np
import pytest
from flask import Flask
from hypothesis import given as for_all
from hypothesis import strategies as st
from sqlalchemy import select

from analytics.dashboard import band_probabilities, wilson_interval
from cbt.db import db
from cbt.models import AuditEvent, Role
from cbt.service import create_staff_user
from tests.helpers import TEACHER_PASSWORD, ApiClient, SeededSchool, seed_school


def test_wilson_interval_matches_the_textbook_values() -> None:
    # Agresti and Coull (1998): 0 of 10 gives [0, 0.278]; 5 of 10 gives [0.237, 0.763].
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@for_all(st.integers(min_value=1, max_value=10_000), st.data())
def test_wilson_interval_always_contains_the_rate(n: int, data: st.DataObject) -> None:
    # All right or all wrong is common in a class; rounding once put 1.0 outside [low, high].
    successes = data.draw(st.sampled_from([0, n, data.draw(st.integers(0, n))]))
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_band_probabilities_sum_to_one_and_follow_the_normal_error() -> None:
    p = band_probabilities(np.array([500.0, 450.0, 700.0]), np.array([50.0, 0.0, 30.0]), (450, 550))
    assert p.sum(axis=1) == pytest.approx([1, 1, 1])
    # 500 with SE 50 sits one SE from both cuts: Φ(-1) below, Φ(1) - Φ(-1) inside.
    assert p[0] == pytest.approx([0.158655, 0.682689, 0.158655], abs=1e-6)
    assert p[1].tolist() == [0.0, 1.0, 0.0]  # on a cut with no error: the band above
    assert p[2][2] == pytest.approx(1.0, abs=1e-6)


@pytest.fixture
def school(app: Flask) -> SeededSchool:
    school = seed_school()
    for number in (1, 2, 3):
        student = ApiClient(app.test_client())
        student.login_student(school.class_code, number, school.student_codes[number])
        view = student.post(f"/api/v1/administrations/{school.administration_id}/sessions")
        view = view.get_json()
        while not view["finished"]:
            view = student.post(
                f"/api/v1/sessions/{view['session']['id']}/responses",
                {
                    "item": view["item"]["handle"],
                    "response": {"choice": "AB"[number % 2]},
                    "idempotency_key": uuid.uuid4().hex,
                },
            ).get_json()
    return school


@pytest.fixture
def teacher(api: ApiClient, school: SeededSchool) -> ApiClient:
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    return api


def test_dashboard_shows_scores_bands_items_mastery_and_trend(
    teacher: ApiClient, school: SeededSchool
) -> None:
    reply = teacher.get(f"/api/v1/classes/{school.classroom_id}/dashboard")
    assert reply.status_code == 200
    report = reply.get_json()
    students = report["students"]
    assert len(students) == 3
    # Anonymous points: no name, id or number; sorted by score, so order says nothing of who.
    assert all(
        set(s) == {"scale_score", "scale_se", "band", "low", "high", "band_probabilities"}
        for s in students
    )
    assert "Student 1" not in reply.get_data(as_text=True)
    assert [s["scale_score"] for s in students] == sorted(s["scale_score"] for s in students)
    for s in students:
        assert s["low"] < s["scale_score"] < s["high"]
        assert sum(s["band_probabilities"]) == pytest.approx(1, abs=1e-3)
    bands = report["bands"]
    assert [b["label"] for b in bands] == ["Low", "Middle", "High"]
    assert sum(b["n_observed"] for b in bands) == 3
    assert sum(b["expected"] for b in bands) == pytest.approx(3, abs=1e-3)
    assert sum(d["n"] for d in report["distribution"]) == 3
    items = report["items"]
    assert items
    assert [i["position"] for i in items] == list(range(1, len(items) + 1))
    for item in items:
        shares = {o["id"]: o["share"] for o in item["options"]}
        assert sum(shares.values()) == pytest.approx(1)  # single choice: the shares add up
        key = next(o for o in item["options"] if o["is_key"])
        assert item["rate"] == pytest.approx(key["share"])
        assert item["low"] <= item["rate"] <= item["high"]
        assert item["few"]  # three answers at most
    n_answers = sum(i["n"] for i in items)
    mastery = report["mastery"]
    assert sum(m["n_answers"] for m in mastery) == n_answers
    assert all(len(m["code"]) == 16 and m["low"] <= m["rate"] <= m["high"] for m in mastery)
    [point] = report["trend"]
    assert point["n"] == 3
    assert point["mean"] == pytest.approx(np.mean([s["scale_score"] for s in students]))
    assert point["low"] < point["mean"] < point["high"]


def test_dashboard_charts_are_titled_described_and_csp_safe(
    teacher: ApiClient, school: SeededSchool
) -> None:
    report = teacher.get(f"/api/v1/classes/{school.classroom_id}/dashboard").get_json()
    ids = [c["id"] for c in report["charts"]]
    assert ids == [
        "chart-distribution",
        "chart-bands",
        "chart-items",
        "chart-mastery",
        "chart-trend",
    ]
    for chart in report["charts"]:
        svg = chart["svg"]
        assert svg.startswith("<svg ")
        assert 'role="img"' in svg
        assert f'aria-labelledby="{chart["id"]}-title {chart["id"]}-desc"' in svg
        assert re.search(rf'<title id="{chart["id"]}-title">[^<]+</title>', svg)
        assert chart["summary"]
        assert len(chart["summary"]) > 10
        assert " style=" not in svg
        assert "<style" not in svg
        assert "<script" not in svg
    assert "Students: 3." in report["charts"][0]["summary"]


def test_dashboard_charts_speak_japanese(teacher: ApiClient, school: SeededSchool) -> None:
    report = teacher.get(
        f"/api/v1/classes/{school.classroom_id}/dashboard", headers={"Accept-Language": "ja"}
    ).get_json()
    assert "人数：3人" in report["charts"][0]["summary"]
    assert "尺度得点" in report["charts"][0]["svg"]


def sit_one(app: Flask, school: SeededSchool, number: int) -> None:
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, number, school.student_codes[number])
    view = student.post(f"/api/v1/administrations/{school.administration_id}/sessions").get_json()
    while not view["finished"]:
        view = student.post(
            f"/api/v1/sessions/{view['session']['id']}/responses",
            {
                "item": view["item"]["handle"],
                "response": {"choice": "A"},
                "idempotency_key": uuid.uuid4().hex,
            },
        ).get_json()


def test_charts_are_drawn_once_per_distinct_report_and_never_stale(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.charts.teacher as charts

    school = seed_school(n_students=4)
    for number in (1, 2, 3):
        sit_one(app, school, number)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    teacher = ApiClient(client)
    assert teacher.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    drawn = []
    real = charts.dashboard_charts
    monkeypatch.setattr(
        charts, "dashboard_charts", lambda *a, **k: drawn.append(1) or real(*a, **k)
    )
    url = f"/api/v1/classes/{school.classroom_id}/dashboard"
    first = teacher.get(url).get_json()["charts"]
    again = teacher.get(url).get_json()["charts"]
    assert again == first
    assert len(drawn) == 1
    # Another language is another drawing; a new result changes the report and the charts.
    assert (
        "人数"
        in teacher.get(url, headers={"Accept-Language": "ja"}).get_json()["charts"][0]["summary"]
    )
    assert len(drawn) == 2
    sit_one(app, school, 4)
    fresh = teacher.get(url).get_json()["charts"]
    assert len(drawn) == 3
    assert "Students: 4." in fresh[0]["summary"]


def test_charts_are_drawn_when_the_cache_is_unreachable(
    app: Flask, teacher: ApiClient, school: SeededSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.exceptions import ConnectionError as RedisDown

    store = app.extensions["cbt.state"]
    charts_prefix = store.keys.chart_cache("")

    def failing(real):
        def call(key, *args, **kwargs):
            if key.startswith(charts_prefix):
                raise RedisDown("cache down")
            return real(key, *args, **kwargs)

        return call

    monkeypatch.setattr(store, "get", failing(store.get))
    monkeypatch.setattr(store, "set", failing(store.set))
    reply = teacher.get(f"/api/v1/classes/{school.classroom_id}/dashboard")
    assert reply.status_code == 200
    assert "Students: 3." in reply.get_json()["charts"][0]["summary"]


def test_dashboard_without_charts_and_bad_input(teacher: ApiClient, school: SeededSchool) -> None:
    base = f"/api/v1/classes/{school.classroom_id}/dashboard"
    assert "charts" not in teacher.get(f"{base}?charts=0").get_json()
    for query, status in (
        ("?charts=2", 422),
        ("?administration=x", 422),
        ("?administration=999", 404),
    ):
        reply = teacher.get(base + query)
        assert reply.status_code == status, query
        assert set(reply.get_json()["error"]) >= {"code", "message"}


def test_dashboard_is_scoped_and_audited(
    app: Flask, teacher: ApiClient, school: SeededSchool
) -> None:
    assert teacher.get(f"/api/v1/classes/{school.other_classroom_id}/dashboard").status_code == 403
    assert (
        teacher.get(f"/api/v1/classes/{school.classroom_id}/dashboard?charts=0").status_code == 200
    )
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "view_class_dashboard")
    ).all()
    assert [(e.target_id, e.details["n_results"]) for e in events] == [
        (str(school.classroom_id), 3)
    ]


def test_researchers_see_the_dashboard_but_no_student_report(
    api: ApiClient, school: SeededSchool
) -> None:
    assert api.login_staff(school.researcher_email, TEACHER_PASSWORD).status_code == 200
    reply = api.get(f"/api/v1/classes/{school.classroom_id}/dashboard?charts=0")
    assert reply.status_code == 200
    assert len(reply.get_json()["students"]) == 3
    assert "Student" not in reply.get_data(as_text=True)
    assert api.get(f"/api/v1/students/{school.student_ids[1]}/report").status_code == 403


def test_student_report_shows_score_areas_and_items_as_seen(
    teacher: ApiClient, school: SeededSchool
) -> None:
    report = teacher.get(f"/api/v1/students/{school.student_ids[1]}/report").get_json()
    assert report["student"]["display_name"] == "Student 1"
    assert report["student"]["student_number"] == 1
    session = report["session"]
    result = session["result"]
    assert result["low"] < result["scale_score"] < result["high"]
    assert sum(b["probability"] for b in session["bands"]) == pytest.approx(1, abs=1e-3)
    assert sum(a["n_items"] for a in session["areas"]) == len(session["answers"])
    for answer in session["answers"]:
        chosen = [o["id"] for o in answer["options"] if o["chosen"]]
        assert chosen == [answer["response"]["choice"]]
        keys = [o for o in answer["options"] if o["is_key"]]
        assert len(keys) == 1
        assert answer["is_correct"] == keys[0]["chosen"]


def test_guidance_is_written_by_operators_and_reaches_the_report(
    app: Flask, api: ApiClient, school: SeededSchool
) -> None:
    create_staff_user("op@test.example", "Operator", Role.OPERATOR, TEACHER_PASSWORD)
    db.session.commit()
    assert api.login_staff("op@test.example", TEACHER_PASSWORD).status_code == 200
    report = api.get(f"/api/v1/students/{school.student_ids[1]}/report").get_json()
    area = report["session"]["areas"][0]["area"]
    assert (
        _put(api, f"/api/v1/curriculum-guidance/{area[:4]}", {"text_ja": "広い手立て"}).status_code
        == 200
    )
    saved = _put(
        api,
        f"/api/v1/curriculum-guidance/{area}",
        {"text_ja": "領域の手立て", "text_en": "Area advice"},
    )
    assert saved.status_code == 200
    assert saved.get_json()["code_prefix"] == area
    ja = api.get(
        f"/api/v1/students/{school.student_ids[1]}/report", headers={"Accept-Language": "ja"}
    ).get_json()
    assert ja["session"]["areas"][0]["guidance"][0] == "領域の手立て"  # the longest prefix wins
    en = api.get(
        f"/api/v1/students/{school.student_ids[1]}/report", headers={"Accept-Language": "en"}
    ).get_json()
    assert en["session"]["areas"][0]["guidance"][0] == "Area advice"
    listed = api.get("/api/v1/curriculum-guidance").get_json()["guidance"]
    assert [g["code_prefix"] for g in listed] == sorted([area[:4], area])
    for body, field in (({"text_ja": ""}, "text_ja"), ({"text_ja": 3}, "text_ja")):
        reply = _put(api, f"/api/v1/curriculum-guidance/{area}", body)
        assert reply.status_code == 422
        assert reply.get_json()["error"]["details"]["field"] == field
    assert _put(api, "/api/v1/curriculum-guidance/bad-code!", {"text_ja": "x"}).status_code == 422
    assert (
        api.client.delete(f"/api/v1/curriculum-guidance/{area}", headers=api._headers()).status_code
        == 200
    )
    assert (
        api.client.delete(f"/api/v1/curriculum-guidance/{area}", headers=api._headers()).status_code
        == 404
    )
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("%guidance"))
    ).all()
    assert actions == ["save_guidance", "save_guidance", "delete_guidance"]


def _put(api: ApiClient, path: str, body: dict):
    return api.client.put(path, json=body, headers=api._headers())


def _pdf_text(body: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_student_report_pdf_holds_the_name_and_score(
    teacher: ApiClient, school: SeededSchool
) -> None:
    report = teacher.get(f"/api/v1/students/{school.student_ids[1]}/report").get_json()
    reply = teacher.get(
        f"/api/v1/students/{school.student_ids[1]}/report.pdf", headers={"Accept-Language": "ja"}
    )
    assert reply.status_code == 200
    assert reply.mimetype == "application/pdf"
    assert reply.data.startswith(b"%PDF-")
    _, text = _pdf_text(reply.data)
    assert "Student 1" in text
    assert f"{report['session']['result']['scale_score']:.0f}" in text
    assert "個人票" in text


def test_class_reports_pdf_has_every_student_and_is_audited(
    teacher: ApiClient, school: SeededSchool
) -> None:
    reply = teacher.get(f"/api/v1/classes/{school.classroom_id}/reports.pdf")
    assert reply.status_code == 200
    pages, text = _pdf_text(reply.data)
    assert pages >= 3
    for number in (1, 2, 3):
        assert f"Student {number}" in text
    assert "Other Student" not in text
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export_student_reports")
    ).one()
    assert event.details == {"format": "pdf", "n_students": 3}
    assert (
        teacher.get(f"/api/v1/classes/{school.other_classroom_id}/reports.pdf").status_code == 403
    )
    assert teacher.get(f"/api/v1/students/{school.other_student_id}/report.pdf").status_code == 403


def test_multiple_response_and_other_types_in_the_questions_table(
    app: Flask, api: ApiClient
) -> None:
    """A multiple-response item counts each ticked option (shares may pass 100%); a numeric
    item shows the share at each score."""
    from delivery.definitions import create_administration, create_test_definition
    from item_bank.models import ItemStatus, ParameterSetStatus
    from item_bank.service import create_item, create_parameter_set, create_pool
    from item_bank.types import get_item_type

    school = seed_school()
    versions = []
    for type_id in ("multiple_response", "numeric"):
        content, scoring = get_item_type(type_id).example()
        versions.append(
            create_item(
                key=f"mixed-{type_id}",
                item_type=type_id,
                content=content,
                scoring=scoring,
                curriculum_codes=["8350213111200000"],
                status=ItemStatus.OPERATIONAL,
            ).id
        )
    parameters = create_parameter_set(
        name="mixed",
        parameters={
            v: {"model": "2pl", "discrimination": 1.0, "difficulty": 0.0} for v in versions
        },
        provenance={"source": "test"},
        status=ParameterSetStatus.PUBLISHED,
    )
    create_pool(name="mixed", item_version_ids=versions, active_parameter_set_id=parameters.id)
    definition = create_test_definition(
        key="mixed",
        title="Mixed",
        pool="mixed",
        parameter_set="mixed",
        parameter_set_version=None,
        settings={
            "sections": [
                {
                    "kind": "linear",
                    "navigation": "forward",
                    "forms": [["mixed-multiple_response", "mixed-numeric"]],
                }
            ]
        },
        scale={"slope": 100, "intercept": 500},
    )
    administration = create_administration(
        test_definition_id=definition.id,
        name="Mixed",
        classroom_ids=[school.classroom_id],
        status="open",
    )
    db.session.commit()
    answers = {
        1: ({"choices": ["A", "C"]}, {"value": "7"}),
        2: ({"choices": ["A", "B"]}, {"value": "8"}),
    }
    for number, given in answers.items():
        student = ApiClient(app.test_client())
        student.login_student(school.class_code, number, school.student_codes[number])
        view = student.post(f"/api/v1/administrations/{administration.id}/sessions").get_json()
        for response in given:
            view = student.post(
                f"/api/v1/sessions/{view['session']['id']}/responses",
                {
                    "item": view["item"]["handle"],
                    "response": response,
                    "idempotency_key": uuid.uuid4().hex,
                },
            ).get_json()
        assert view["finished"]
    assert api.login_staff(school.teacher_email, TEACHER_PASSWORD).status_code == 200
    report = api.get(
        f"/api/v1/classes/{school.classroom_id}/dashboard?administration={administration.id}&charts=0"
    ).get_json()
    multiple, numeric = report["items"]
    assert multiple["multiple"] is True
    shares = {o["id"]: o["share"] for o in multiple["options"]}
    assert shares == {"A": 1.0, "B": 0.5, "C": 0.5, "D": 0.0}
    assert {o["id"] for o in multiple["options"] if o["is_key"]} == {"A", "C"}
    assert numeric["options"] == []
    assert {s["share"] for s in numeric["scores"]} == {0.5}
    assert sum(s["share"] for s in numeric["scores"]) == pytest.approx(1)
