"""Teacher reports: classes, per-student results and answer history (read side only)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select

from cbt.auth import teacher_classroom_ids
from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from cbt.models import Classroom, Enrollment, Role, School, User
from delivery.accommodations import conditions_summary
from delivery.models import (
    Administration,
    AdministrationClassroom,
    ExamSession,
    ItemResponse,
    Result,
    SessionStatus,
    TestDefinition,
    latest_revisions,
)
from delivery.service.rescoring import effective_scores
from item_bank.models import Item, ItemCurriculumCode, ItemVersion
from item_bank.rendering import plain_text, sanitise_html
from item_bank.types import get_item_type
from schools.retention import shown_name


def list_classrooms(user_id: int, role: str) -> list[dict[str, Any]]:
    """Classrooms the user may see: a teacher's own, or every one for an operator."""
    students = (
        select(Enrollment.classroom_id, func.count().label("n_students"))
        .where(Enrollment.role == Role.STUDENT)
        .group_by(Enrollment.classroom_id)
        .subquery()
    )
    query = (
        select(Classroom, School.name, func.coalesce(students.c.n_students, 0))
        .join(School, School.id == Classroom.school_id)
        .outerjoin(students, students.c.classroom_id == Classroom.id)
        .order_by(School.name, Classroom.grade, Classroom.name)
    )
    query = query.where(Classroom.archived_at.is_(None))  # archived classes leave the lists
    if role != Role.OPERATOR:
        # A teacher's own classes; a school administrator's: every class of their school.
        query = query.where(Classroom.id.in_(teacher_classroom_ids(user_id)))
    return [
        {
            "id": classroom.id,
            "name": classroom.name,
            "grade": classroom.grade,
            "academic_year": classroom.academic_year,
            "school": school_name,
            "class_code": classroom.class_code,
            "n_students": n_students,
        }
        for classroom, school_name, n_students in db.session.execute(query)
    ]


def classroom_results(classroom_id: int) -> dict[str, Any]:
    """Every student of a class with their latest session and result per administration."""
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    students = db.session.execute(
        select(User.id, User.display_name, User.identity_deleted_at, Enrollment.student_number)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT)
        .order_by(Enrollment.student_number)
    ).all()
    administrations = db.session.execute(
        select(Administration.id, Administration.name, Administration.status, TestDefinition.title)
        .join(
            AdministrationClassroom,
            AdministrationClassroom.administration_id == Administration.id,
        )
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .where(AdministrationClassroom.classroom_id == classroom_id)
        .order_by(Administration.id)
    ).all()
    student_ids = [row.id for row in students]
    sessions: dict[tuple[int, int], dict[str, Any]] = {}
    if student_ids:
        rows = db.session.execute(
            select(ExamSession, Result)
            .outerjoin(Result, Result.exam_session_id == ExamSession.id)
            .where(
                ExamSession.student_id.in_(student_ids),
                ExamSession.administration_id.in_([a.id for a in administrations] or [-1]),
                ExamSession.status != SessionStatus.RESET,
            )
            .order_by(ExamSession.started_at)
        ).all()
        for session, result in rows:  # later sessions overwrite earlier ones
            sessions[(session.student_id, session.administration_id)] = _session_summary(
                session, result
            )
    return {
        "classroom": {"id": classroom.id, "name": classroom.name, "grade": classroom.grade},
        "administrations": [
            {"id": a.id, "name": a.name, "status": a.status, "title": a.title}
            for a in administrations
        ],
        "students": [
            {
                "id": student.id,
                "display_name": shown_name(student.display_name, student.identity_deleted_at),
                "student_number": student.student_number,
                "sessions": {str(a.id): sessions.get((student.id, a.id)) for a in administrations},
            }
            for student in students
        ],
    }


def _session_summary(session: ExamSession, result: Result | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "session_id": session.id,
        "status": session.status,
        "n_answered": session.n_answered,
        "started_at": iso_utc(session.started_at),
        "finished_at": iso_utc(session.finished_at),
        # The testing conditions (accommodations in force, changes made), for comparison.
        "conditions": conditions_summary(session.conditions),
        "result": None,
    }
    if result is not None:
        summary["result"] = {
            "theta": result.theta,
            "se": result.se,
            "scale_score": result.scale_score,
            "scale_se": result.scale_se,
            "band": result.band,
            "n_items": result.n_items,
            "subscores": result.subscores,
        }
    return summary


def student_answer_history(student_id: int) -> dict[str, Any]:
    """One student's sessions, each with every answer: item, response, correct or not, time."""
    student = db.session.execute(
        select(User).where(User.id == student_id, User.role == Role.STUDENT)
    ).scalar_one_or_none()
    if student is None:
        raise NotFound("No such student.", details={"student_id": student_id})
    sessions = db.session.execute(
        select(ExamSession, Result, Administration.name, TestDefinition.title)
        .outerjoin(Result, Result.exam_session_id == ExamSession.id)
        .join(Administration, Administration.id == ExamSession.administration_id)
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .where(ExamSession.student_id == student_id)
        .order_by(ExamSession.started_at.desc())
    ).all()
    answers = _answers_by_session([session.id for session, *_ in sessions])
    return {
        "student": {
            "id": student.id,
            "display_name": shown_name(student.display_name, student.identity_deleted_at),
        },
        "sessions": [
            {
                **_session_summary(session, result),
                "administration": name,
                "title": title,
                "answers": answers.get(session.id, []),
            }
            for session, result, name, title in sessions
        ],
    }


def _answers_by_session(session_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every answer of the sessions, in the order given, described for a teacher."""
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not session_ids:
        return answers
    rows = db.session.execute(
        select(ItemResponse, ItemVersion, Item.key)
        .join(ItemVersion, ItemVersion.id == ItemResponse.item_version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(ItemResponse.exam_session_id.in_(session_ids), latest_revisions())
        .order_by(ItemResponse.exam_session_id, ItemResponse.sequence)
    ).all()
    codes = _curriculum_codes({version.id for _, version, _ in rows})
    set_scores = effective_scores(session_ids)
    for response, version, key in rows:
        row = _answer_row(response, version, key, codes.get(version.id, []))
        entry = set_scores.get((response.exam_session_id, version.id))
        if entry is not None:  # a rater's mark (or a correction) overrides the automatic score
            row["score"] = entry.score
            row["is_correct"] = entry.score >= version.max_score
        row["score_source"] = "automatic" if entry is None else entry.source
        row["awaiting_marking"] = row["human_scored"] and entry is None
        if row["awaiting_marking"]:  # no score yet: not 0, which would read as a wrong answer
            row["score"] = None
            row["is_correct"] = None
        answers[response.exam_session_id].append(row)
    return answers


def classroom_answers(classroom_id: int) -> list[dict[str, Any]]:
    """Every answer of the class's students in the class's administrations, one row each.

    Reset sessions are left out, as in the class results.
    """
    if db.session.get(Classroom, classroom_id) is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    sessions = db.session.execute(
        select(
            ExamSession.id,
            Enrollment.student_number,
            User.display_name,
            User.identity_deleted_at,
            Administration.name,
        )
        .join(Enrollment, Enrollment.user_id == ExamSession.student_id)
        .join(User, User.id == ExamSession.student_id)
        .join(Administration, Administration.id == ExamSession.administration_id)
        .join(
            AdministrationClassroom,
            AdministrationClassroom.administration_id == Administration.id,
        )
        .where(
            Enrollment.classroom_id == classroom_id,
            Enrollment.role == Role.STUDENT,
            AdministrationClassroom.classroom_id == classroom_id,
            ExamSession.status != SessionStatus.RESET,
        )
        .order_by(Enrollment.student_number, Administration.id, ExamSession.started_at)
    ).all()
    answers = _answers_by_session([row.id for row in sessions])
    return [
        {
            "student_number": row.student_number,
            "student": shown_name(row.display_name, row.identity_deleted_at),
            "administration": row.name,
            "session_id": row.id,
            **answer,
        }
        for row in sessions
        for answer in answers.get(row.id, [])
    ]


def _curriculum_codes(version_ids: set[int]) -> dict[int, list[str]]:
    codes: dict[int, list[str]] = defaultdict(list)
    if version_ids:
        for version_id, code in db.session.execute(
            select(ItemCurriculumCode.item_version_id, ItemCurriculumCode.code).where(
                ItemCurriculumCode.item_version_id.in_(version_ids)
            )
        ):
            codes[version_id].append(code)
    return codes


def _answer_row(
    response: ItemResponse, version: ItemVersion, key: str, codes: list[str]
) -> dict[str, Any]:
    kind = get_item_type(version.item_type)
    # Plain text, to be shown as text: a typed answer may well contain "<script>".
    described = kind.describe_response(version.content, version.scoring, response.response)
    return {
        "sequence": response.sequence,
        "item_key": key,
        "item_version": version.version_number,
        "content_area": version.content_area,
        "curriculum_codes": codes,
        "item_type": version.item_type,
        "stem": sanitise_html(version.content.get("stem", "")),
        # The options as the student saw them, with what they chose and the key (staff only).
        "options": _options_seen(version, response.response),
        "response": response.response,
        "response_text": described["response_text"],
        "correct_text": described["correct_text"],
        "is_correct": response.is_correct,
        "human_scored": kind.human_scored,
        "score": response.score,
        "max_score": version.max_score,
        "time_taken_ms": response.time_taken_ms,
        "answered_at": iso_utc(response.answered_at),
        "theta_after": response.theta_after,
        "se_after": response.se_after,
    }


def _options_seen(version: ItemVersion, response: Any) -> list[dict[str, Any]]:
    """Each option of a choice item as plain text, marked chosen and key; [] for other types."""
    options = version.content.get("options")
    if version.item_type not in ("single_choice", "multiple_response") or not options:
        return []
    response = response if isinstance(response, dict) else {}
    chosen = response.get("choices") or ([response["choice"]] if "choice" in response else [])
    correct = version.scoring.get("correct")
    keys = set(correct) if isinstance(correct, list) else {correct}
    return [
        {
            "id": option["id"],
            "text": plain_text(option.get("text", "")),
            "chosen": option["id"] in chosen,
            "is_key": option["id"] in keys,
        }
        for option in options
    ]


def classroom_mastery(classroom_id: int, prefix_length: int = 8) -> dict[str, Any]:
    """Share of correct answers per curriculum-code prefix, over the class's operational answers."""
    if not 1 <= prefix_length <= 16:
        raise ValidationError("prefix_length must be 1 to 16.", details={"field": "prefix_length"})
    if db.session.get(Classroom, classroom_id) is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    prefix = func.substr(ItemCurriculumCode.code, 1, prefix_length)
    rows = db.session.execute(
        select(
            prefix.label("prefix"),
            func.count().label("n_answers"),
            func.sum(case((ItemResponse.is_correct, 1), else_=0)).label("n_correct"),
            func.count(func.distinct(ExamSession.student_id)).label("n_students"),
        )
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .join(
            ItemCurriculumCode, ItemCurriculumCode.item_version_id == ItemResponse.item_version_id
        )
        .join(Enrollment, Enrollment.user_id == ExamSession.student_id)
        .where(
            Enrollment.classroom_id == classroom_id,
            Enrollment.role == Role.STUDENT,
            ItemResponse.is_operational.is_(True),
            ExamSession.status != SessionStatus.RESET,
            latest_revisions(),
        )
        .group_by(prefix)
        .order_by(prefix)
    ).all()
    return {
        "classroom_id": classroom_id,
        "prefix_length": prefix_length,
        "codes": [
            {
                "curriculum_prefix": row.prefix,
                "n_answers": row.n_answers,
                "n_correct": int(row.n_correct or 0),
                "share_correct": (row.n_correct or 0) / row.n_answers,
                "n_students": row.n_students,
            }
            for row in rows
        ],
    }
