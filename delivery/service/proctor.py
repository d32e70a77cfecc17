"""Proctor controls: open, close and re-publish administrations; pause, resume, extra time and
reset sessions; the live monitor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc
from cbt.errors import Conflict, NotFound, ValidationError
from cbt.models import Classroom, Enrollment, Role, User
from delivery import engine
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    SessionStatus,
    TestDefinition,
)
from delivery.schemas import TestSpec
from delivery.service.common import _LIVE, MAX_EXTRA_SECONDS
from delivery.service.current import refresh_superseded
from delivery.service.forms import (
    current_snapshot,
    ensure_snapshot,
    publish_snapshot,
    snapshot_dict,
)
from schools.retention import shown_name


class ProctorControls:
    """What teachers and operators do to administrations and sessions."""

    def set_administration_status(
        self, administration_id: int, status: str, now: datetime, actor: Actor
    ) -> dict[str, Any]:
        """Open or close an administration; closing ends and scores the sessions still running."""
        administration = self.get_administration(administration_id)
        if status not in (AdministrationStatus.OPEN, AdministrationStatus.CLOSED):
            raise ValidationError("status must be 'open' or 'closed'.", details={"field": "status"})
        previous = administration.status
        administration.status = status
        if status == AdministrationStatus.OPEN:
            ensure_snapshot(administration_id)
        closed = 0
        if status == AdministrationStatus.CLOSED:
            live = db.session.scalars(
                select(ExamSession.id).where(
                    ExamSession.administration_id == administration_id,
                    ExamSession.status.in_(_LIVE),
                )
            ).all()
            for session_id in live:
                state = self._read_row_state(session_id)
                test = self.session_test(state)
                state.current = None
                state.presented_at = None
                state.paused_at = None
                state.finish_reason = "administration_closed"
                self._finish(test, state)
                self._persist(test, state, now)
                closed += 1
        db.session.flush()
        record_audit(actor, f"administration_{status}", "administration", administration_id,
               {"from": previous, "sessions_closed": closed})  # fmt: skip
        return {"id": administration_id, "status": status, "sessions_closed": closed}

    def republish(self, administration_id: int, reason: str, actor: Actor) -> dict[str, Any]:
        """Publish a new form for an administration (the pool or parameters changed on
        purpose). Sittings already started stay on the form they started with."""
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("A re-publish needs a reason.", details={"field": "reason"})
        self.get_administration(administration_id)
        previous = current_snapshot(administration_id)
        snapshot = publish_snapshot(
            administration_id, reason=reason.strip(), created_by_id=actor.id
        )
        record_audit(actor, "administration_republished", "administration", administration_id,
               {"reason": reason.strip(), "snapshot_id": snapshot.id,
                "revision": snapshot.revision,
                "previous_snapshot_id": None if previous is None else previous.id})  # fmt: skip
        return snapshot_dict(snapshot)

    def get_administration(self, administration_id: int) -> Administration:
        administration = db.session.get(Administration, administration_id)
        if administration is None:
            raise NotFound(
                "No such administration.", details={"administration_id": administration_id}
            )
        return administration

    def pause_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        state, test = self._live_state(session_id)
        if state.status == SessionStatus.PAUSED:
            raise Conflict("The session is already paused.", details={"session_id": session_id})
        self._apply_clock(test, state, now)
        if state.status not in _LIVE:
            return self._proctor_view(test, state, now)
        state.status = SessionStatus.PAUSED
        state.paused_at = now.timestamp()
        self._persist(test, state, now)
        record_audit(actor, "pause_session", "exam_session", session_id, {"reason": reason})
        return self._proctor_view(test, state, now)

    def resume_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        state, test = self._live_state(session_id)
        if state.status != SessionStatus.PAUSED or state.paused_at is None:
            raise Conflict("The session is not paused.", details={"session_id": session_id})
        paused = now.timestamp() - state.paused_at
        # The clock stood still while paused: push the deadline and the item's start forward.
        if state.section_deadline is not None:
            state.section_deadline += paused
        if state.presented_at is not None:
            state.presented_at += paused
        state.paused_at = None
        state.status = SessionStatus.ACTIVE
        self._persist(test, state, now)
        record_audit(actor, "resume_session", "exam_session", session_id,
               {"reason": reason, "paused_seconds": round(paused, 1)})  # fmt: skip
        return self._proctor_view(test, state, now)

    def grant_extra_time(
        self, session_id: str, seconds: int, reason: str, now: datetime, actor: Actor
    ) -> dict:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not 0 < seconds <= MAX_EXTRA_SECONDS
        ):
            raise ValidationError(
                "seconds must be an integer from 1 to %(maximum)s.",
                params={"maximum": MAX_EXTRA_SECONDS},
                details={"field": "seconds"},
            )
        state, test = self._live_state(session_id)
        self._apply_clock(test, state, now)
        if state.status not in _LIVE:
            raise Conflict("The session has already ended.", details={"session_id": session_id})
        if state.section_deadline is None:
            raise Conflict(
                "This part of the test has no time limit.", details={"session_id": session_id}
            )
        state.section_deadline += seconds
        state.extra_seconds += seconds
        self._persist(test, state, now)
        record_audit(
            actor,
            "grant_extra_time",
            "exam_session",
            session_id,
            {"seconds": seconds, "reason": reason},
        )
        return self._proctor_view(test, state, now)

    def reset_session(self, session_id: str, reason: str, now: datetime, actor: Actor) -> dict:
        """Void a session (its answers stay on record); the student may then start afresh."""
        if not reason.strip():
            raise ValidationError("A reset needs a reason.", details={"field": "reason"})
        session = db.session.get(ExamSession, session_id)
        if session is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        if session.status == SessionStatus.RESET:
            raise Conflict("The session was already reset.", details={"session_id": session_id})
        state = self._read_row_state(session_id)
        test = self.session_test(state)
        previous = state.status
        state.status = SessionStatus.RESET
        state.current = None
        state.presented_at = None
        self._persist(test, state, now)
        # The sitting's result, if it had one, is no longer the student's current one.
        refresh_superseded([state.student_id], [state.administration_id])
        record_audit(
            actor, "reset_session", "exam_session", session_id, {"reason": reason, "from": previous}
        )
        return self._proctor_view(test, state, now)

    def session_student(self, session_id: str) -> int:
        student_id = db.session.scalar(
            select(ExamSession.student_id).where(ExamSession.id == session_id)
        )
        if student_id is None:
            raise NotFound("No such session.", details={"session_id": session_id})
        return student_id

    def monitor(
        self, administration_id: int, classroom_ids: list[int] | None, now: datetime
    ) -> dict:
        """Live progress of an administration: every assigned student and their session."""
        administration = self.get_administration(administration_id)
        definition = db.session.get(TestDefinition, administration.test_definition_id)
        assert definition is not None
        classrooms = select(AdministrationClassroom.classroom_id).where(
            AdministrationClassroom.administration_id == administration_id
        )
        query = (
            select(
                User.id,
                User.display_name,
                User.identity_deleted_at,
                Enrollment.student_number,
                Classroom.name,
            )
            .join(Enrollment, Enrollment.user_id == User.id)
            .join(Classroom, Classroom.id == Enrollment.classroom_id)
            .where(Enrollment.role == Role.STUDENT, Enrollment.classroom_id.in_(classrooms))
            .order_by(Classroom.name, Enrollment.student_number)
        )
        if classroom_ids is not None:
            query = query.where(Enrollment.classroom_id.in_(classroom_ids))
        students = db.session.execute(query).all()
        sessions: dict[int, ExamSession] = {}
        for session in db.session.scalars(
            select(ExamSession)
            .where(
                ExamSession.administration_id == administration_id,
                ExamSession.student_id.in_([s.id for s in students] or [-1]),
                ExamSession.status != SessionStatus.RESET,
            )
            .order_by(ExamSession.started_at)
        ):
            sessions[session.student_id] = session
        spec = TestSpec.from_dict(definition.settings)
        rows = []
        for student in students:
            session = sessions.get(student.id)
            row: dict[str, Any] = {
                "student_id": student.id,
                "display_name": shown_name(student.display_name, student.identity_deleted_at),
                "student_number": student.student_number,
                "classroom": student.name,
                "session": None,
            }
            if session is not None:
                state = engine.clock_state(session.state)
                deadline = engine.current_deadline(state, now.timestamp())
                row["session"] = {
                    "id": session.id,
                    "status": session.status,
                    "n_answered": session.n_answered,
                    "section": session.section_index + 1,
                    "remaining_seconds": (
                        None
                        if deadline is None or session.status not in _LIVE
                        else max(0, int(deadline - now.timestamp()))
                    ),
                    "extra_seconds": state.extra_seconds,
                    "time_factor": state.time_factor,
                    "started_at": iso_utc(session.started_at),
                    "updated_at": iso_utc(session.updated_at),
                }
            rows.append(row)
        counts = {status.value: 0 for status in SessionStatus}
        counts["not_started"] = 0
        for row in rows:
            counts[row["session"]["status"] if row["session"] else "not_started"] += 1
        return {
            "administration": {
                "id": administration.id,
                "name": administration.name,
                "status": administration.status,
                "title": definition.title,
                "n_sections": len(spec.sections),
                "max_items": spec.max_items,
            },
            "counts": counts,
            "students": rows,
        }

    def _live_state(self, session_id: str) -> tuple[SessionState, CompiledTest]:
        # Proctors act rarely and must act on the truth: read the row, not the cache.
        state = self._read_row_state(session_id)
        if state.status not in _LIVE:
            raise Conflict(
                "The session has already ended.",
                details={"session_id": session_id, "status": state.status},
            )
        return state, self.session_test(state)
