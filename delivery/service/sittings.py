"""A student's sitting: listing, start, resume, reading it, its clock and its end."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from cbt.db import db, iso_utc
from cbt.errors import Conflict, DomainError, ErrorCode, NotFound
from cbt.models import Enrollment, Role, User
from cbt.signals import session_finished
from delivery import engine
from delivery.accommodations import initial_conditions
from delivery.engine import CompiledTest, SessionState
from delivery.models import (
    Administration,
    AdministrationClassroom,
    AdministrationStatus,
    ExamSession,
    Result,
    SessionStatus,
    TestDefinition,
)
from delivery.schemas import TestSpec
from delivery.service.common import _LIVE
from delivery.service.current import refresh_superseded
from delivery.service.forms import ensure_snapshot
from delivery.service.persistence import _StaleState


def _assigned_administrations(student_id: int):
    return (
        select(AdministrationClassroom.administration_id)
        .join(Enrollment, Enrollment.classroom_id == AdministrationClassroom.classroom_id)
        .where(Enrollment.user_id == student_id, Enrollment.role == Role.STUDENT)
    )


def _student_assigned(student_id: int, administration_id: int) -> bool:
    return (
        db.session.scalar(
            select(func.count()).select_from(
                _assigned_administrations(student_id)
                .where(AdministrationClassroom.administration_id == administration_id)
                .subquery()
            )
        )
        > 0
    )


def _window_open(administration: Administration, now: datetime) -> bool:
    if administration.opens_at is not None and now < administration.opens_at:
        return False
    return administration.closes_at is None or now < administration.closes_at


class Sittings:
    """Listing, starting, resuming and reading a sitting; its clock and its end."""

    def list_student_administrations(self, student_id: int, now: datetime) -> list[dict[str, Any]]:
        """Administrations open now for the student's classrooms, with the student's progress."""
        rows = db.session.execute(
            select(Administration, TestDefinition)
            .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
            .where(
                Administration.status == AdministrationStatus.OPEN,
                Administration.id.in_(_assigned_administrations(student_id)),
            )
            .order_by(Administration.id)
        ).all()
        sessions = {
            row.administration_id: row
            for row in db.session.execute(
                select(ExamSession.administration_id, ExamSession.status, ExamSession.n_answered)
                .where(
                    ExamSession.student_id == student_id,
                    ExamSession.status != SessionStatus.RESET,
                )
                .order_by(ExamSession.started_at)
            )
        }
        listed = []
        for administration, definition in rows:
            if not _window_open(administration, now):
                continue
            spec = TestSpec.from_dict(definition.settings)
            limits = [s.time_limit_seconds for s in spec.sections]
            session = sessions.get(administration.id)
            listed.append(
                {
                    "administration_id": administration.id,
                    "name": administration.name,
                    "title": definition.title,
                    "mode": definition.mode,
                    "max_items": spec.max_items,
                    "n_sections": len(spec.sections),
                    "free_navigation": any(s.navigation == "free" for s in spec.sections),
                    "time_limit_seconds": sum(limits) if all(limits) else None,
                    "closes_at": iso_utc(administration.closes_at),
                    "session_status": session.status if session else None,
                    "n_answered": session.n_answered if session else 0,
                }
            )
        return listed

    def start_session(self, student_id: int, administration_id: int, now: datetime) -> dict:
        """Start the student's session, or resume the live one exactly where it was.

        Every call hands out a new device token: the device that calls last holds the session,
        and any other device gets 409 ``session_taken_over`` on its next request.
        """
        administration = db.session.get(Administration, administration_id)
        if administration is None or not _student_assigned(student_id, administration_id):
            raise NotFound(
                "No such test for you.", details={"administration_id": administration_id}
            )
        existing = db.session.execute(
            select(ExamSession)
            .where(
                ExamSession.administration_id == administration_id,
                ExamSession.student_id == student_id,
                ExamSession.status != SessionStatus.RESET,
            )
            .order_by(ExamSession.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if existing is not None:
            return self._resume(existing.id, now)
        if administration.status != AdministrationStatus.OPEN or not _window_open(
            administration, now
        ):
            raise DomainError(
                "This test is not open now.",
                code=ErrorCode.ADMINISTRATION_NOT_OPEN,
                status=409,
                details={"administration_id": administration_id},
            )
        snapshot = ensure_snapshot(administration_id)
        test = self.form_test(snapshot.id)
        student = db.session.get(User, student_id)
        assert student is not None
        state = SessionState(
            session_id=uuid.uuid4().hex,
            student_id=student_id,
            administration_id=administration_id,
            test_definition_id=test.test_definition_id,
            status=SessionStatus.ACTIVE,
            seed=secrets.randbits(62),
            snapshot_id=snapshot.id,
            device_token=secrets.token_urlsafe(16),
            time_factor=float(student.extra_time_factor or 1.0),
        )
        engine.start(test, state, now.timestamp(), self._rates(test))
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(ExamSession).values(
                        id=state.session_id,
                        administration_id=administration_id,
                        student_id=student_id,
                        status=state.status,
                        seed=state.seed,
                        snapshot_id=snapshot.id,
                        engine_settings=test.settings,
                        conditions=initial_conditions(student),
                        state=engine.state_to_row(test, state),
                        revision=0,
                        started_at=now,
                        updated_at=now,
                        **self._row_values(test, state),
                    )
                )
        except IntegrityError:
            # Another device started the same session a moment ago: resume that one.
            return self.start_session(student_id, administration_id, now)
        self.exposure.count_session(test.test_definition_id)
        self._count_presentation(test, state)
        self._cache_on_commit(test, state, revision=0)
        return self._view(test, state, now, include_token=True)

    def _resume(self, session_id: str, now: datetime) -> dict:
        state = self._load_state(session_id)
        for _attempt in range(3):
            test = self.session_test(state)
            if state.status not in _LIVE:
                return self._view(test, state, now)
            self._apply_clock(test, state, now)
            if state.status in _LIVE:
                state.device_token = secrets.token_urlsafe(16)
            try:
                self._persist(test, state, now)
            except _StaleState:
                # Another device resumed at the same moment: take over from where it left it.
                state = self._read_row_state(session_id)
                continue
            return self._view(test, state, now, include_token=state.status in _LIVE)
        raise Conflict("The session is busy; try again.", details={"session_id": session_id})

    def get_session(
        self, student_id: int, session_id: str, device_token: str, now: datetime
    ) -> dict:
        def read(state: SessionState) -> dict:
            test = self.session_test(state)
            if state.status in _LIVE:
                self._check_device(state, device_token)
                if self._apply_clock(test, state, now):
                    self._persist(test, state, now)
            return self._view(test, state, now)

        return self._on_fresh_state(self._owned_state(student_id, session_id), read)

    def session_status(
        self, student_id: int, session_id: str, device_token: str, now: datetime
    ) -> dict:
        """What the player polls every few seconds: the session's state without the item.

        Like ``get_session`` it ends a part whose time ran out, so a poll notices it.
        """

        def read(state: SessionState) -> dict:
            test = self.session_test(state)
            if state.status in _LIVE:
                self._check_device(state, device_token)
                if self._apply_clock(test, state, now):
                    self._persist(test, state, now)
            return self._status_view(test, state, now)

        return self._on_fresh_state(self._owned_state(student_id, session_id), read)

    def _check_device(self, state: SessionState, device_token: str) -> None:
        if not device_token or not hmac.compare_digest(device_token, state.device_token):
            raise DomainError(
                "This test was opened on another device. Continue there, or open it again here.",
                code=ErrorCode.SESSION_TAKEN_OVER,
                status=409,
            )

    @staticmethod
    def _time_ran_out(test: CompiledTest, state: SessionState, now: datetime) -> bool:
        return (
            state.status == SessionStatus.ACTIVE
            and state.section_deadline is not None
            and now.timestamp() >= state.section_deadline
        )

    def _apply_clock(self, test: CompiledTest, state: SessionState, now: datetime) -> bool:
        changed = False
        while (
            state.status == SessionStatus.ACTIVE
            and state.section_deadline is not None
            and now.timestamp() >= state.section_deadline
        ):
            engine.expire_section(test, state, state.section_deadline, self._rates(test))
            if engine.is_over(test, state):
                self._finish(test, state)
            else:
                self._count_presentation(test, state)
            changed = True
        return changed

    def _finish(self, test: CompiledTest, state: SessionState) -> None:
        """End the session: its result is computed now and recorded by the next ``_persist``."""
        expired = state.finish_reason in {"time_expired", "administration_closed"}
        state.status = SessionStatus.EXPIRED if expired else SessionStatus.FINISHED
        state._final = engine.final_result(test, state)

    def _record_result(self, test: CompiledTest, state: SessionState, now: datetime) -> None:
        result = state._final
        assert result is not None
        state._final = None
        db.session.execute(
            insert(Result).values(
                exam_session_id=state.session_id,
                administration_id=state.administration_id,
                student_id=state.student_id,
                test_definition_id=test.test_definition_id,
                theta=result.theta,
                se=result.se,
                scale_score=result.scale_score,
                scale_se=result.scale_se,
                band=result.band,
                n_items=result.n_items,
                subscores=result.subscores,
                finish_reason=state.finish_reason or "completed",
                parameter_set_id=test.parameter_set_id,
                item_version_ids=[
                    int(test.item_version_ids[i]) for i in engine.latest_answers(state)
                ],
                engine_settings=test.settings,
                seed=state.seed,
                snapshot_id=test.snapshot_id,
                engine_version=engine.ENGINE_VERSION,
                created_at=now,
            )
        )
        # A retake after a reset: the earlier result stops being the current one.
        refresh_superseded([state.student_id], [state.administration_id])
        session_finished.send(
            self,
            session_id=state.session_id,
            administration_id=state.administration_id,
            student_id=state.student_id,
        )
