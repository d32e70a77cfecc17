"""The 個人票 (per-student report) for staff: score with SE, band with its probability, mastery
by curriculum area, the answer history item by item as the student saw it, and next-step
guidance per area. One builder feeds the print page (JSON), the PDF and the class-wide PDF.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from analytics.dashboard import Z95, band_probabilities, wilson_interval
from analytics.service import student_answer_history
from cbt.db import db
from cbt.errors import NotFound
from cbt.models import Classroom, Enrollment, Role, School
from delivery.models import Administration, ExamSession, SessionStatus, TestDefinition
from item_bank.curriculum import code_texts
from item_bank.guidance import guidance_for
from scoring import ReportingScale

__all__ = ["AREA_LENGTH", "class_reports", "student_report"]

AREA_LENGTH = 8  # subject, grade and domain: the area a report groups by


def student_report(
    student_id: int, session_id: str | None, locale: str, administration_id: int | None = None
) -> dict[str, Any]:
    """The report of one sitting: ``session_id``, else the student's latest sitting of
    ``administration_id``, else their latest finished sitting."""
    history = student_answer_history(student_id)
    sessions = [s for s in history["sessions"] if s["status"] != SessionStatus.RESET]
    chosen = _choose(sessions, session_id, administration_id)
    placement = _placement(student_id)
    report: dict[str, Any] = {
        "student": {**history["student"], **placement},
        "sessions": [
            {
                "session_id": s["session_id"],
                "title": s["title"],
                "administration": s["administration"],
            }
            for s in sessions
        ],
        "session": None,
    }
    if chosen is None:
        return report
    scale_row = db.session.execute(
        select(TestDefinition.scale, Administration.id)
        .join(Administration, Administration.test_definition_id == TestDefinition.id)
        .join(ExamSession, ExamSession.administration_id == Administration.id)
        .where(ExamSession.id == chosen["session_id"])
    ).one()
    scale = ReportingScale.from_dict(scale_row.scale or {})
    cuts = tuple(float(c) for c in scale.cut_scores)
    labels = list(scale.band_labels) or [str(k + 1) for k in range(len(cuts) + 1)]
    result = chosen["result"]
    bands = []
    if result is not None:
        probabilities = band_probabilities([result["scale_score"]], [result["scale_se"]], cuts)[0]
        bands = [
            {"label": label, "probability": round(float(probabilities[k]), 4)}
            for k, label in enumerate(labels)
        ]
        result = {
            **result,
            "low": result["scale_score"] - Z95 * result["scale_se"],
            "high": result["scale_score"] + Z95 * result["scale_se"],
        }
    report["session"] = {
        "session_id": chosen["session_id"],
        "administration_id": scale_row.id,
        "title": chosen["title"],
        "administration": chosen["administration"],
        "status": chosen["status"],
        "finished_at": chosen["finished_at"],
        "result": result,
        "bands": bands,
        "areas": _areas(chosen["answers"], locale),
        "answers": chosen["answers"],
    }
    return report


def _choose(
    sessions: list[dict[str, Any]], session_id: str | None, administration_id: int | None
) -> dict[str, Any] | None:
    if session_id is not None:
        for session in sessions:
            if session["session_id"] == session_id:
                return session
        raise NotFound("No such sitting of this student.", details={"session": session_id})
    if administration_id is not None:
        ids = set(
            db.session.scalars(
                select(ExamSession.id).where(ExamSession.administration_id == administration_id)
            )
        )
        sessions = [s for s in sessions if s["session_id"] in ids]
    finished = [s for s in sessions if s["result"] is not None]
    return (finished or sessions or [None])[0]  # history is newest first


def _placement(student_id: int) -> dict[str, Any]:
    row = db.session.execute(
        select(Enrollment.student_number, Classroom.name, School.name.label("school"))
        .join(Classroom, Classroom.id == Enrollment.classroom_id)
        .join(School, School.id == Classroom.school_id)
        .where(Enrollment.user_id == student_id, Enrollment.role == Role.STUDENT)
        .order_by(Classroom.archived_at.is_not(None), Enrollment.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return {"student_number": None, "classroom": "", "school": ""}
    return {"student_number": row.student_number, "classroom": row.name, "school": row.school}


def _areas(answers: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Per area (8-character prefix): questions, score, share with a 95% interval, guidance."""
    grouped: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n_items": 0, "score": 0.0, "max_score": 0.0, "codes": set(), "missed": set()}
    )
    for answer in answers:
        if answer.get("awaiting_marking"):
            continue  # not marked yet: it says nothing about the area until a rater scores it
        for code in answer["curriculum_codes"]:
            area = grouped[code[:AREA_LENGTH]]
            area["n_items"] += 1
            area["score"] += float(answer["score"] or 0)
            area["max_score"] += float(answer["max_score"] or 1)
            area["codes"].add(code)
            if (answer["score"] or 0) < (answer["max_score"] or 1):
                area["missed"].add(code)
    prefixes = sorted(grouped)
    texts = code_texts(prefixes + sorted({c for a in grouped.values() for c in a["codes"]}), locale)
    guidance = guidance_for(
        prefixes + sorted({c for a in grouped.values() for c in a["missed"]}), locale
    )
    out = []
    for prefix in prefixes:
        area = grouped[prefix]
        rate = area["score"] / area["max_score"] if area["max_score"] else 0.0
        low, high = wilson_interval(rate * area["n_items"], area["n_items"])
        notes = [guidance[prefix]] if prefix in guidance else []
        for code in sorted(area["missed"]):
            text = guidance.get(code)
            if text and text not in notes:
                notes.append(text)
        out.append(
            {
                "area": prefix,
                "text": texts.get(prefix, ""),
                "n_items": area["n_items"],
                "score": area["score"],
                "max_score": area["max_score"],
                "rate": rate,
                "low": low,
                "high": high,
                "few_items": area["n_items"] < 3,
                "guidance": notes,
                "codes": [
                    {"code": code, "text": texts.get(code, ""), "missed": code in area["missed"]}
                    for code in sorted(area["codes"])
                ],
            }
        )
    return out


def class_reports(classroom_id: int, administration_id: int | None, locale: str) -> dict[str, Any]:
    """Every student's report of one administration (the latest sitting each), by number."""
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    students = db.session.scalars(
        select(Enrollment.user_id)
        .where(Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT)
        .order_by(Enrollment.student_number)
    ).all()
    reports = [student_report(s, None, locale, administration_id) for s in students]
    return {
        "classroom": {"id": classroom.id, "name": classroom.name},
        "reports": [r for r in reports if r["session"] is not None],
    }
