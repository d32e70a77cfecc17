"""Human marking of rater-scored answers: queues, blind marks, double marking, adjudication,
agreement statistics, and final marks into results.

Which answers: every response to an item whose type says it is scored by a person
(``ItemType.human_scored``: ``extended_text`` and any type registered so), in a finished
sitting. Delivery records them at 0 and leaves them out of theta until marked.

Who may mark (``MarkingScope``): an operator marks anything and adjudicates; a teacher (or a
school administrator, as for every teacher route) marks the responses of the students of the
classes they see; an operator may assign any staff member to mark a whole administration, and
an assigned lead marker also adjudicates. Researchers never mark.

The final mark (``final_mark``):

1. an adjudicated response: the adjudicator's mark;
2. a response with one mark that was not drawn for double marking: that mark;
3. two marks within the plan's tolerance: their mean, rounded half up to a whole point (equal
   marks: that mark);
4. two marks further apart: none yet; the response waits for adjudication.

Which responses get a second mark is drawn per response from a hash of its id against the
plan's share, so the draw is the same on every worker and the first rater cannot know it.
A final mark goes to delivery's ``set_item_score`` (source ``rater``) and the session is
rescored at once (``rescore_sessions``), so results and answer history show it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError

from cbt.audit import Actor, record_audit
from cbt.auth import teacher_classroom_ids
from cbt.db import db, iso_utc, utcnow
from cbt.errors import Conflict, Forbidden, NotFound, ValidationError
from cbt.models import Enrollment, Role, User
from delivery.models import Administration, ExamSession, ItemResponse
from delivery.service.rescoring import RESCORABLE, rescore_sessions, set_item_score
from item_bank.models import Item, ItemVersion
from item_bank.service import apply_rubric, load_items, student_view
from item_bank.types import ITEM_TYPES, get_item_type
from marking.models import Mark, MarkingAssignment, MarkingPlan, MarkStage
from scoring import rater_agreement

#: Defaults of an administration without a plan: one response in five double-marked, and any
#: disagreement adjudicated.
DEFAULT_DOUBLE_MARKING_SHARE = 0.2
DEFAULT_TOLERANCE = 0
MAX_TOLERANCE = 10
#: Marking reason recorded with each rescore a final mark triggers.
RESCORE_REASON = "marking: final rater mark"


class MarkStatus:
    """Where a response is in the marking flow (handed to the frontend as strings)."""

    UNMARKED = "unmarked"
    AWAITING_SECOND = "awaiting_second"
    AWAITING_ADJUDICATION = "awaiting_adjudication"
    FINAL = "final"


def rater_scored_types() -> list[str]:
    """Item types whose definition says a person scores them."""
    return sorted(type_id for type_id, kind in ITEM_TYPES.items() if kind.human_scored)


# ------------------------------------------------------------------------------------ scope


@dataclass(frozen=True)
class MarkingScope:
    """What one staff member may mark in one administration."""

    user_id: int
    everything: bool  # an operator or an assigned marker: every response
    classrooms: tuple[int, ...]  # otherwise: students of these classes only
    adjudicates: bool  # operator or lead marker

    def condition(self) -> Any:
        if self.everything:
            return true()
        students = select(Enrollment.user_id).where(
            Enrollment.role == Role.STUDENT, Enrollment.classroom_id.in_(self.classrooms)
        )
        return ExamSession.student_id.in_(students)


def marking_scope(user_id: int, role: str, administration_id: int) -> MarkingScope:
    """The marking scope of a staff member in an administration (Forbidden for other roles)."""
    if role == Role.OPERATOR:
        return MarkingScope(user_id, True, (), True)
    if role not in (Role.TEACHER, Role.SCHOOL_ADMIN):
        raise Forbidden("Your role may not mark answers.", details={"role": str(role)})
    assignment = db.session.execute(
        select(MarkingAssignment).where(
            MarkingAssignment.administration_id == administration_id,
            MarkingAssignment.rater_id == user_id,
        )
    ).scalar_one_or_none()
    if assignment is not None:
        return MarkingScope(user_id, True, (), assignment.is_lead)
    return MarkingScope(user_id, False, tuple(teacher_classroom_ids(user_id)), False)


# ------------------------------------------------------------------------------------ plans


def plan_settings(administration_id: int) -> dict[str, Any]:
    _administration(administration_id)
    plan = _plan(administration_id)
    return {
        "administration_id": administration_id,
        "double_marking_share": (
            DEFAULT_DOUBLE_MARKING_SHARE if plan is None else plan.double_marking_share
        ),
        "tolerance": DEFAULT_TOLERANCE if plan is None else plan.tolerance,
        "is_default": plan is None,
        "updated_at": None if plan is None else iso_utc(plan.updated_at),
    }


def set_plan(
    administration_id: int, *, double_marking_share: Any, tolerance: Any, actor: Actor
) -> dict[str, Any]:
    """Set the share of responses double-marked (0 to 1) and the tolerance (whole points)."""
    _administration(administration_id)
    if (
        isinstance(double_marking_share, bool)
        or not isinstance(double_marking_share, int | float)
        or not 0 <= double_marking_share <= 1
    ):
        raise ValidationError("The double-marking share must be between 0 and 1.",
                              details={"field": "double_marking_share"})  # fmt: skip
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int)
        or not 0 <= tolerance <= MAX_TOLERANCE
    ):
        raise ValidationError("The tolerance must be a whole number of points from 0 to 10.",
                              details={"field": "tolerance"})  # fmt: skip
    plan = _plan(administration_id)
    if plan is None:
        plan = MarkingPlan(administration_id=administration_id)
        db.session.add(plan)
    plan.double_marking_share = float(double_marking_share)
    plan.tolerance = tolerance
    plan.updated_by_id = actor.id
    plan.updated_at = utcnow()
    settings = {"double_marking_share": float(double_marking_share), "tolerance": tolerance}
    record_audit(actor, "marking.plan", "administration", administration_id, settings)
    db.session.flush()
    return plan_settings(administration_id)


def _plan(administration_id: int) -> MarkingPlan | None:
    return db.session.execute(
        select(MarkingPlan).where(MarkingPlan.administration_id == administration_id)
    ).scalar_one_or_none()


def _share_and_tolerance(administration_id: int) -> tuple[float, int]:
    plan = _plan(administration_id)
    if plan is None:
        return DEFAULT_DOUBLE_MARKING_SHARE, DEFAULT_TOLERANCE
    return plan.double_marking_share, plan.tolerance


def _administration(administration_id: int) -> Administration:
    administration = db.session.get(Administration, administration_id)
    if administration is None:
        raise NotFound("No such administration.", details={"administration_id": administration_id})
    return administration


# ------------------------------------------------------------------------------ assignments


def list_assignments(administration_id: int) -> list[dict[str, Any]]:
    _administration(administration_id)
    rows = db.session.execute(
        select(MarkingAssignment, User.display_name, User.email, User.role)
        .join(User, User.id == MarkingAssignment.rater_id)
        .where(MarkingAssignment.administration_id == administration_id)
        .order_by(MarkingAssignment.id)
    ).all()
    return [
        {
            "id": assignment.id,
            "rater_id": assignment.rater_id,
            "display_name": name,
            "email": email,
            "role": str(role),
            "is_lead": assignment.is_lead,
        }
        for assignment, name, email, role in rows
    ]


def assign_rater(
    administration_id: int, *, email: Any, is_lead: Any, actor: Actor
) -> dict[str, Any]:
    """Let a teacher, school administrator or operator mark every response of an
    administration (a lead marker also adjudicates). Assigning again changes ``is_lead``."""
    _administration(administration_id)
    if not isinstance(email, str) or not email.strip() or len(email) > 255:
        raise ValidationError("Give the rater's e-mail address.", details={"field": "email"})
    if not isinstance(is_lead, bool):
        raise ValidationError("'is_lead' must be true or false.", details={"field": "is_lead"})
    rater = db.session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if rater is None or rater.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.OPERATOR):
        raise ValidationError("No teacher or operator has that e-mail address.",
                              details={"field": "email"})  # fmt: skip
    assignment = db.session.execute(
        select(MarkingAssignment).where(
            MarkingAssignment.administration_id == administration_id,
            MarkingAssignment.rater_id == rater.id,
        )
    ).scalar_one_or_none()
    if assignment is None:
        assignment = MarkingAssignment(
            administration_id=administration_id, rater_id=rater.id, created_by_id=actor.id
        )
        db.session.add(assignment)
    assignment.is_lead = is_lead
    db.session.flush()
    record_audit(actor, "marking.assign", "administration", administration_id,
                 {"rater_id": rater.id, "is_lead": is_lead})  # fmt: skip
    return next(a for a in list_assignments(administration_id) if a["id"] == assignment.id)


def remove_assignment(assignment_id: int, *, actor: Actor) -> None:
    assignment = db.session.get(MarkingAssignment, assignment_id)
    if assignment is None:
        raise NotFound("No such marking assignment.", details={"assignment_id": assignment_id})
    record_audit(actor, "marking.unassign", "administration", assignment.administration_id,
                 {"rater_id": assignment.rater_id})  # fmt: skip
    db.session.delete(assignment)
    db.session.flush()


# ------------------------------------------------------------------------------ final marks


def drawn_for_double_marking(response_id: int, share: float) -> bool:
    """Whether a response gets a second mark: a fixed draw per response, so every worker and
    every later look agree, and raising the share only adds responses."""
    if share >= 1:
        return True
    digest = hashlib.sha256(f"double-marking:{response_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def final_mark(marks: dict[str, int], *, drawn: bool, tolerance: int) -> tuple[str, int | None]:
    """The status and final mark of a response from its marks by stage (see the module's
    rule)."""
    if MarkStage.ADJUDICATION in marks:
        return MarkStatus.FINAL, marks[MarkStage.ADJUDICATION]
    first, second = marks.get(MarkStage.FIRST), marks.get(MarkStage.SECOND)
    if first is None:
        return MarkStatus.UNMARKED, None
    if second is None:
        return (MarkStatus.AWAITING_SECOND, None) if drawn else (MarkStatus.FINAL, first)
    if abs(first - second) <= tolerance:
        return MarkStatus.FINAL, math.floor((first + second) / 2 + 0.5)
    return MarkStatus.AWAITING_ADJUDICATION, None


@dataclass
class _Candidate:
    response_id: int
    session_id: str
    item_version_id: int
    marks: dict[str, int]
    raters: dict[str, int]  # stage -> rater id


def _candidates(
    administration_id: int, scope: MarkingScope, item_version_id: int | None = None
) -> list[_Candidate]:
    """The administration's rater-scored responses in finished sittings within the scope."""
    query = (
        select(ItemResponse.id, ItemResponse.exam_session_id, ItemResponse.item_version_id)
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .join(ItemVersion, ItemVersion.id == ItemResponse.item_version_id)
        .where(
            ExamSession.administration_id == administration_id,
            ExamSession.status.in_(RESCORABLE),
            ItemVersion.item_type.in_(rater_scored_types()),
            scope.condition(),
        )
        .order_by(ItemResponse.id)
    )
    if item_version_id is not None:
        query = query.where(ItemResponse.item_version_id == item_version_id)
    rows = db.session.execute(query).all()
    marks = _marks_of([row.id for row in rows])
    return [
        _Candidate(
            row.id,
            row.exam_session_id,
            row.item_version_id,
            {m.stage: m.points for m in marks.get(row.id, [])},
            {m.stage: m.rater_id for m in marks.get(row.id, [])},
        )
        for row in rows
    ]


def _marks_of(response_ids: Sequence[int]) -> dict[int, list[Mark]]:
    out: dict[int, list[Mark]] = defaultdict(list)
    for start in range(0, len(response_ids), 500):
        chunk = list(response_ids[start : start + 500])
        for mark in db.session.scalars(select(Mark).where(Mark.item_response_id.in_(chunk))):
            out[mark.item_response_id].append(mark)
    return out


def _stage_for(
    candidate: _Candidate, scope: MarkingScope, share: float, tolerance: int
) -> str | None:
    """The mark this rater may give the response now, if any."""
    if scope.user_id in candidate.raters.values():
        return None  # a rater marks a response once
    status, _ = final_mark(
        candidate.marks,
        drawn=drawn_for_double_marking(candidate.response_id, share),
        tolerance=tolerance,
    )
    if status == MarkStatus.UNMARKED:
        return MarkStage.FIRST
    if status == MarkStatus.AWAITING_SECOND:
        return MarkStage.SECOND
    if status == MarkStatus.AWAITING_ADJUDICATION and scope.adjudicates:
        return MarkStage.ADJUDICATION
    return None


def _status(candidate: _Candidate, share: float, tolerance: int) -> tuple[str, int | None]:
    return final_mark(
        candidate.marks,
        drawn=drawn_for_double_marking(candidate.response_id, share),
        tolerance=tolerance,
    )


# ---------------------------------------------------------------------------------- queues


def marking_overview(user_id: int, role: str) -> list[dict[str, Any]]:
    """Per administration and rater-scored item the user may mark: how far marking has got
    and how many responses wait for this user."""
    administrations = db.session.execute(
        select(ExamSession.administration_id, Administration.name)
        .join(Administration, Administration.id == ExamSession.administration_id)
        .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
        .join(ItemVersion, ItemVersion.id == ItemResponse.item_version_id)
        .where(
            ExamSession.status.in_(RESCORABLE),
            ItemVersion.item_type.in_(rater_scored_types()),
        )
        .distinct()
        .order_by(ExamSession.administration_id)
    ).all()
    out = []
    for administration_id, name in administrations:
        scope = marking_scope(user_id, role, administration_id)
        candidates = _candidates(administration_id, scope)
        if not candidates:
            continue
        share, tolerance = _share_and_tolerance(administration_id)
        items: dict[int, dict[str, int]] = {}
        for candidate in candidates:
            counts = items.setdefault(
                candidate.item_version_id,
                {"n_responses": 0, "for_you": 0, **dict.fromkeys(_STATUSES, 0)},
            )
            counts["n_responses"] += 1
            counts[_status(candidate, share, tolerance)[0]] += 1
            if _stage_for(candidate, scope, share, tolerance) is not None:
                counts["for_you"] += 1
        labels = _item_labels(items)
        out.append(
            {
                "administration_id": administration_id,
                "name": name,
                "adjudicates": scope.adjudicates,
                "double_marking_share": share,
                "tolerance": tolerance,
                "items": [
                    {"item_version_id": version_id, **labels[version_id], **counts}
                    for version_id, counts in items.items()
                ],
            }
        )
    return out


_STATUSES = (
    MarkStatus.UNMARKED,
    MarkStatus.AWAITING_SECOND,
    MarkStatus.AWAITING_ADJUDICATION,
    MarkStatus.FINAL,
)


def _item_labels(version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = db.session.execute(
        select(ItemVersion.id, Item.key, ItemVersion.title, ItemVersion.scoring)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(ItemVersion.id.in_(list(version_ids)))
    ).all()
    return {
        row.id: {
            "item_key": row.key,
            "title": row.title,
            "max_points": row.scoring.get("max_points"),
        }
        for row in rows
    }


def response_code(secret_key: str, response_id: int) -> str:
    """The anonymous name a rater sees for a response (no student, class or session in it)."""
    digest = hmac.new(secret_key.encode(), f"marking:{response_id}".encode(), hashlib.sha256)
    return "R-" + digest.hexdigest()[:8].upper()


def next_task(
    user_id: int,
    role: str,
    administration_id: int,
    item_version_id: int,
    *,
    secret_key: str,
    actor: Actor,
) -> dict[str, Any]:
    """The next response this rater may mark for the item, blind to the student: the item as
    the student saw it, the answer, the rubric, and (only to adjudicate) the two marks."""
    _administration(administration_id)
    scope = marking_scope(user_id, role, administration_id)
    share, tolerance = _share_and_tolerance(administration_id)
    candidates = _candidates(administration_id, scope, item_version_id)
    waiting = [
        (candidate, stage)
        for candidate in candidates
        if (stage := _stage_for(candidate, scope, share, tolerance)) is not None
    ]
    progress = {
        "n_responses": len(candidates),
        "n_final": sum(1 for c in candidates if _status(c, share, tolerance)[0] == "final"),
        "for_you": len(waiting),
    }
    if not waiting:
        return {"task": None, "progress": progress}
    candidate, stage = waiting[0]
    record_audit(actor, "marking.view_response", "item_response", candidate.response_id,
                 {"stage": stage})  # fmt: skip
    return {
        "task": _task(candidate, stage, secret_key),
        "progress": progress,
    }


def _task(candidate: _Candidate, stage: str, secret_key: str) -> dict[str, Any]:
    response = db.session.get(ItemResponse, candidate.response_id)
    assert response is not None
    item = load_items([candidate.item_version_id], 0)[0]
    kind = get_item_type(item.item_type)
    described = kind.describe_response(item.content, item.scoring, response.response)
    rubric = sorted(item.scoring.get("rubric", []), key=lambda level: level["points"])
    task: dict[str, Any] = {
        "response_id": candidate.response_id,
        "code": response_code(secret_key, candidate.response_id),
        "stage": stage,
        "item_key": item.key,
        "item": student_view(
            item.item_type,
            item.content,
            stimulus_html=item.stimulus_html,
            accessibility=item.accessibility,
        ),
        "response": response.response,
        "response_text": described["response_text"],
        "rubric": rubric,
        "max_points": item.scoring.get("max_points", int(item.max_score)),
    }
    if stage == MarkStage.ADJUDICATION:
        task["marks"] = [
            {"stage": s, "points": candidate.marks[s]} for s in (MarkStage.FIRST, MarkStage.SECOND)
        ]
    return task


# ------------------------------------------------------------------------------------ marks


def record_mark(
    user_id: int,
    role: str,
    response_id: int,
    *,
    points: Any,
    stage: Any,
    actor: Actor,
) -> dict[str, Any]:
    """Record this rater's mark for the stage the response is at; when it settles the final
    mark, the score goes to the session's result (set and rescored in this transaction)."""
    if stage not in MarkStage.__members__.values():
        raise ValidationError("'stage' must be first, second or adjudication.",
                              details={"field": "stage"})  # fmt: skip
    row = db.session.execute(
        select(ExamSession.administration_id)
        .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
        .where(ItemResponse.id == response_id)
    ).one_or_none()
    if row is None:
        raise NotFound("No such response to mark.", details={"response_id": response_id})
    administration_id = row.administration_id
    scope = marking_scope(user_id, role, administration_id)
    found = [c for c in _candidates(administration_id, scope) if c.response_id == response_id]
    if not found:  # not rater-scored, not finished, or outside the rater's scope
        raise NotFound("No such response to mark.", details={"response_id": response_id})
    candidate = found[0]
    share, tolerance = _share_and_tolerance(administration_id)
    allowed = _stage_for(candidate, scope, share, tolerance)
    if allowed != stage:
        raise Conflict(
            "This response is not waiting for that mark from you (it may have been marked "
            "meanwhile); take the next one.",
            details={"response_id": response_id, "stage": stage, "waiting_for": allowed},
        )
    version = db.session.get(ItemVersion, candidate.item_version_id)
    assert version is not None
    awarded = int(apply_rubric(version.item_type, version.scoring, points))
    mark = Mark(
        item_response_id=response_id,
        administration_id=administration_id,
        item_version_id=candidate.item_version_id,
        rater_id=user_id,
        stage=stage,
        points=awarded,
    )
    try:
        with db.session.begin_nested():
            db.session.add(mark)
    except IntegrityError:
        raise Conflict(
            "Another rater marked this response at the same moment; take the next one.",
            details={"response_id": response_id},
        ) from None
    record_audit(actor, "marking.mark", "item_response", response_id,
                 {"stage": stage, "points": awarded})  # fmt: skip
    candidate.marks[stage] = awarded
    candidate.raters[stage] = user_id
    status, final = _status(candidate, share, tolerance)
    if status == MarkStatus.FINAL and final is not None:
        apply_final_mark(candidate.session_id, candidate.item_version_id, final, actor_id=user_id)
    return {"response_id": response_id, "stage": stage, "points": awarded, "status": status}


def apply_final_mark(
    session_id: str, item_version_id: int, points: int, *, actor_id: int | None
) -> None:
    """A final mark into the result: a set score (source ``rater``), then a rescore."""
    set_item_score(session_id, item_version_id, float(points), source="rater", actor_id=actor_id)
    rescore_sessions([session_id], actor_id=actor_id, reason=RESCORE_REASON)


# -------------------------------------------------------------------------------- agreement


def agreement(administration_id: int) -> dict[str, Any]:
    """Agreement of the double-marked responses, per item and per rater: exact and adjacent
    agreement and quadratic-weighted kappa, with how many were adjudicated."""
    _administration(administration_id)
    scope = MarkingScope(0, True, (), True)
    share, tolerance = _share_and_tolerance(administration_id)
    candidates = _candidates(administration_id, scope)
    by_item: dict[int, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_item[candidate.item_version_id].append(candidate)
    labels = _item_labels(by_item)
    items = []
    per_rater: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # (mine, other, K)
    marks_by_rater: dict[int, int] = defaultdict(int)
    for version_id, members in by_item.items():
        k = int(labels[version_id]["max_points"] or 0) + 1
        pairs = [c for c in members if MarkStage.FIRST in c.marks and MarkStage.SECOND in c.marks]
        first = [c.marks[MarkStage.FIRST] for c in pairs]
        second = [c.marks[MarkStage.SECOND] for c in pairs]
        for c in members:
            for rater in c.raters.values():
                marks_by_rater[rater] += 1
        for c in pairs:
            a, b = c.marks[MarkStage.FIRST], c.marks[MarkStage.SECOND]
            per_rater[c.raters[MarkStage.FIRST]].append((a, b, k))
            per_rater[c.raters[MarkStage.SECOND]].append((b, a, k))
        figures = rater_agreement(first, second, n_categories=k)
        statuses = [_status(c, share, tolerance)[0] for c in members]
        items.append(
            {
                "item_version_id": version_id,
                **labels[version_id],
                "n_responses": len(members),
                "n_final": statuses.count(MarkStatus.FINAL),
                "n_double_marked": len(pairs),
                "n_adjudicated": sum(1 for c in members if MarkStage.ADJUDICATION in c.marks),
                "n_awaiting_adjudication": statuses.count(MarkStatus.AWAITING_ADJUDICATION),
                **_figures(figures),
            }
        )
    names = dict(
        db.session.execute(
            select(User.id, User.display_name).where(User.id.in_(list(marks_by_rater)))
        ).all()
    )
    raters = []
    for rater_id in sorted(marks_by_rater, key=lambda r: names.get(r, "")):
        pairs = per_rater.get(rater_id, [])
        mine, others = [p[0] for p in pairs], [p[1] for p in pairs]
        k = max((p[2] for p in pairs), default=None)
        raters.append(
            {
                "rater_id": rater_id,
                "display_name": names.get(rater_id, ""),
                "n_marks": marks_by_rater[rater_id],
                **_figures(rater_agreement(mine, others, n_categories=k)),
            }
        )
    return {
        "administration_id": administration_id,
        "double_marking_share": share,
        "tolerance": tolerance,
        "items": items,
        "raters": raters,
    }


def _figures(figures: Any) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 4)

    return {
        "n_pairs": figures.n_pairs,
        "exact_agreement": number(figures.exact),
        "adjacent_agreement": number(figures.adjacent),
        "quadratic_weighted_kappa": number(figures.kappa),
        "mean_difference": number(figures.mean_difference),
    }


# ------------------------------------------------------------------------------ CSV exchange


EXPORT_COLUMNS = ("response_id", "code", "item_key", "stage", "rater_email", "points", "marked_at")


def export_marks(administration_id: int, *, secret_key: str) -> list[dict[str, Any]]:
    """Every mark of an administration, one row each (for ``cbt marking export``)."""
    _administration(administration_id)
    rows = db.session.execute(
        select(Mark, Item.key, User.email)
        .join(ItemVersion, ItemVersion.id == Mark.item_version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .join(User, User.id == Mark.rater_id)
        .where(Mark.administration_id == administration_id)
        .order_by(Mark.item_response_id, Mark.id)
    ).all()
    return [
        {
            "response_id": mark.item_response_id,
            "code": response_code(secret_key, mark.item_response_id),
            "item_key": key,
            "stage": mark.stage,
            "rater_email": email,
            "points": mark.points,
            "marked_at": iso_utc(mark.created_at),
        }
        for mark, key, email in rows
    ]


def import_marks(rows: Iterable[dict[str, str]], *, actor: Actor) -> dict[str, int]:
    """Marks given elsewhere (paper, another system), one per row: ``response_id``,
    ``rater_email``, ``stage`` and ``points``. Each is recorded as that rater's mark, with
    the same checks as the rater page; the first bad row stops the import and nothing is kept
    (the caller rolls back)."""
    recorded = 0
    for line, row in enumerate(rows, start=2):
        try:
            response_id = int(row.get("response_id", ""))
            points = int(row.get("points", ""))
        except ValueError:
            raise ValidationError("A row's response_id and points must be whole numbers.",
                                  details={"line": line}) from None  # fmt: skip
        email = (row.get("rater_email") or "").strip().lower()
        rater = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if rater is None:
            raise ValidationError("No staff member has that e-mail address.",
                                  details={"line": line, "rater_email": email})  # fmt: skip
        try:
            record_mark(rater.id, str(rater.role), response_id, points=points,
                        stage=(row.get("stage") or "").strip(), actor=actor)  # fmt: skip
        except (ValidationError, NotFound, Conflict, Forbidden) as error:
            error.details = {**error.details, "line": line}
            raise
        recorded += 1
    return {"recorded": recorded}
