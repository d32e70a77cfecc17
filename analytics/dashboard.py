"""The class dashboard's numbers: scores with SEs, band probabilities, per-question statistics,
mastery by 学習指導要領コード and the trend across administrations (read side only).

Every count, sum and mean is an SQL aggregate (GROUP BY in the database), so the same queries
serve a class of 40 and a national table of a million results; Python only reshapes the few
rows that come back and adds the intervals.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

import numpy as np
from scipy.special import ndtr
from sqlalchemy import ColumnElement, Select, Text, and_, case, cast, func, select

from cbt.db import db
from cbt.errors import NotFound
from cbt.models import Classroom, Enrollment, Role
from delivery.models import (
    Administration,
    AdministrationClassroom,
    ExamSession,
    ItemResponse,
    Result,
    SessionStatus,
    TestDefinition,
)
from delivery.service import current_results
from delivery.service.rescoring import effective_scores
from item_bank.curriculum import code_texts
from item_bank.models import Item, ItemCurriculumCode, ItemVersion
from item_bank.rendering import plain_text
from item_bank.types import get_item_type
from scoring import ReportingScale

__all__ = [
    "FEW_ANSWERS",
    "FEW_ITEMS",
    "administration_summaries",
    "band_counts",
    "band_probabilities",
    "class_dashboard",
    "class_trend",
    "code_statistics",
    "item_statistics",
    "latest_results",
    "wilson_interval",
]

Z95 = 1.959964
FEW_ANSWERS = 10  # a question answered fewer times is flagged
FEW_ITEMS = 3  # a code measured by fewer questions is flagged
OPTION_TYPES = ("single_choice", "multiple_response")


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; ``successes`` may be fractional (partial credit).

    It stays inside [0, 1] and is sensible for small n and for rates near 0 or 1, unlike the
    Wald interval p ± z sqrt(p(1-p)/n).
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(max(successes / n, 0.0), 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # It contains p in exact arithmetic; at p = 0 or 1 rounding can put an end a hair past it.
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def band_probabilities(
    scores: np.ndarray, ses: np.ndarray, cut_scores: tuple[float, ...]
) -> np.ndarray:
    """``(n_students, n_bands)``: P(true score in band k) with a normal error of SD ``se``.

    P_k = Φ((c_k - s) / se) - Φ((c_{k-1} - s) / se), with c_0 = -∞ and c_K = +∞. An SE of 0
    puts all the probability in the band of the score (a score on a cut is in the band above).
    """
    scores = np.asarray(scores, dtype=float)[:, None]
    ses = np.asarray(ses, dtype=float)[:, None]
    edges = np.concatenate(([-np.inf], np.asarray(cut_scores, dtype=float), [np.inf]))[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (edges - scores) / ses
    z = np.where(ses > 0, z, np.where(edges > scores, np.inf, -np.inf))
    cdf = ndtr(z)
    return np.diff(cdf, axis=1)


# --------------------------------------------------------------------------- queries
def _class_students(classroom_id: int) -> Select:
    return select(Enrollment.user_id).where(
        Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT
    )


def latest_results(students: Any = None) -> ColumnElement[bool]:
    """The filter on ``results`` for each student's current result per administration (the
    latest of a sitting not reset: ``NOT superseded``, kept by
    ``delivery.service.refresh_superseded``), for the students of a subquery of user ids, or
    for everyone when ``students`` is None.

    One scan with a GROUP BY serves the national figures (the partial index
    ``ix_results_current``), and a class's through the ``results.student_id`` index; no join
    to the sittings and no de-duplication."""
    current = current_results()
    return current if students is None else and_(current, Result.student_id.in_(students))


def _latest_results(classroom_id: int) -> ColumnElement[bool]:
    return latest_results(_class_students(classroom_id))


def _class_answers(classroom_id: int, administration_id: int, *, operational: bool) -> Any:
    """The answers of the class's non-reset sittings of one administration: every answer (the
    questions table shows what students saw), or only the scored ones (mastery)."""
    query = (
        select(ItemResponse.id)
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .where(
            ExamSession.student_id.in_(_class_students(classroom_id)),
            ExamSession.administration_id == administration_id,
            ExamSession.status != SessionStatus.RESET,
        )
    )
    return query.where(ItemResponse.is_operational.is_(True)) if operational else query


def administration_summaries(results: ColumnElement[bool]) -> Select:
    """Per administration: count, mean and mean square of the scale score, mean SE², over the
    results a filter on ``results`` selects (``latest_results``) (SQL)."""
    return (
        select(
            Result.administration_id,
            func.count().label("n"),
            func.avg(Result.scale_score).label("mean"),
            func.avg(Result.scale_score * Result.scale_score).label("mean_square"),
            func.avg(Result.scale_se * Result.scale_se).label("mean_se2"),
        )
        .where(results)
        .group_by(Result.administration_id)
    )


def band_counts(results: ColumnElement[bool]) -> Select:
    """Per administration and band: how many of the results a filter selects fall in it by
    their point score (SQL)."""
    return (
        select(Result.administration_id, Result.band, func.count().label("n"))
        .where(results)
        .group_by(Result.administration_id, Result.band)
    )


def item_statistics(answer_ids: Any) -> Select:
    """Per item version: answers, mean score, share fully correct, first position (SQL)."""
    return (
        select(
            ItemResponse.item_version_id,
            func.count().label("n"),
            func.sum(ItemResponse.score).label("score"),
            func.sum(case((ItemResponse.is_correct, 1), else_=0)).label("n_correct"),
            func.avg(ItemResponse.sequence).label("position"),
            func.avg(ItemResponse.time_taken_ms).label("time_ms"),
        )
        .where(ItemResponse.id.in_(answer_ids))
        .group_by(ItemResponse.item_version_id)
    )


def response_tallies(answer_ids: Any, version_ids: Any) -> Select:
    """Per item version and distinct raw response (as JSON text): how many chose it (SQL)."""
    raw = cast(ItemResponse.response, Text)
    return (
        select(ItemResponse.item_version_id, raw.label("raw"), func.count().label("n"))
        .where(ItemResponse.id.in_(answer_ids), ItemResponse.item_version_id.in_(version_ids))
        .group_by(ItemResponse.item_version_id, raw)
    )


def score_tallies(answer_ids: Any, version_ids: Any) -> Select:
    """Per item version and score: how many answers earned it (SQL)."""
    return (
        select(ItemResponse.item_version_id, ItemResponse.score, func.count().label("n"))
        .where(ItemResponse.id.in_(answer_ids), ItemResponse.item_version_id.in_(version_ids))
        .group_by(ItemResponse.item_version_id, ItemResponse.score)
    )


def code_statistics(answer_ids: Any) -> Select:
    """Per curriculum code: answers, score and maximum, distinct questions and students (SQL)."""
    return (
        select(
            ItemCurriculumCode.code,
            func.count().label("n"),
            func.sum(ItemResponse.score).label("score"),
            func.sum(ItemVersion.max_score).label("max_score"),
            func.count(func.distinct(ItemResponse.item_version_id)).label("n_items"),
            func.count(func.distinct(ExamSession.student_id)).label("n_students"),
        )
        .join(
            ItemCurriculumCode, ItemCurriculumCode.item_version_id == ItemResponse.item_version_id
        )
        .join(ItemVersion, ItemVersion.id == ItemResponse.item_version_id)
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .where(ItemResponse.id.in_(answer_ids))
        .group_by(ItemCurriculumCode.code)
        .order_by(ItemCurriculumCode.code)
    )


# --------------------------------------------------------------------------- the report
def _classroom(classroom_id: int) -> Classroom:
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    return classroom


def _administrations(classroom_id: int) -> list[Any]:
    return db.session.execute(
        select(Administration.id, Administration.name, TestDefinition.title, TestDefinition.scale)
        .join(
            AdministrationClassroom, AdministrationClassroom.administration_id == Administration.id
        )
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .where(AdministrationClassroom.classroom_id == classroom_id)
        .order_by(Administration.id)
    ).all()


def class_trend(classroom_id: int) -> list[dict[str, Any]]:
    """The class mean per administration (oldest first) with a 95% interval.

    The interval is mean ± 1.96 SD / √n: the observed SD already holds measurement error, so
    it is not added again.
    """
    administrations = _administrations(classroom_id)
    rows = {
        row.administration_id: row
        for row in db.session.execute(administration_summaries(_latest_results(classroom_id)))
    }
    points = []
    for administration in administrations:
        row = rows.get(administration.id)
        n = int(row.n) if row else 0
        point: dict[str, Any] = {
            "administration_id": administration.id,
            "name": administration.name,
            "title": administration.title,
            "n": n,
            "mean": None,
            "sd": None,
            "low": None,
            "high": None,
            "mean_se": None,
        }
        if n:
            mean = float(row.mean)
            variance = max(float(row.mean_square) - mean * mean, 0.0) * n / max(n - 1, 1)
            half = Z95 * math.sqrt(variance / n) if n > 1 else math.nan
            point.update(
                mean=mean,
                sd=math.sqrt(variance),
                low=mean - half if n > 1 else None,
                high=mean + half if n > 1 else None,
                mean_se=math.sqrt(float(row.mean_se2)),
            )
        points.append(point)
    return points


def class_dashboard(
    classroom_id: int, administration_id: int | None, locale: str
) -> dict[str, Any]:
    """Everything the dashboard shows for one class and administration, with no student named.

    ``administration_id`` None picks the class's latest administration. Students appear only as
    anonymous points (score, SE, band probabilities) in score order of nothing: the list is
    sorted by score so no position says who is who, and it carries no id.
    """
    classroom = _classroom(classroom_id)
    administrations = _administrations(classroom_id)
    if administration_id is None and administrations:
        administration_id = administrations[-1].id
    chosen = next((a for a in administrations if a.id == administration_id), None)
    if administrations and chosen is None:
        raise NotFound(
            "This test was not given to this class.",
            details={"administration_id": administration_id},
        )
    report: dict[str, Any] = {
        "classroom": {"id": classroom.id, "name": classroom.name, "grade": classroom.grade},
        "administrations": [
            {"id": a.id, "name": a.name, "title": a.title} for a in administrations
        ],
        "administration": None,
        "scale": None,
        "students": [],
        "bands": [],
        "distribution": [],
        "items": [],
        "mastery": [],
        "trend": class_trend(classroom_id),
    }
    if chosen is None:
        return report
    scale = ReportingScale.from_dict(chosen.scale or {})
    cuts = tuple(float(c) for c in scale.cut_scores)
    labels = list(scale.band_labels) or [str(k + 1) for k in range(len(cuts) + 1)]
    report["administration"] = {"id": chosen.id, "name": chosen.name, "title": chosen.title}
    report["scale"] = {"cut_scores": list(cuts), "band_labels": labels}
    rows = db.session.execute(
        select(Result.scale_score, Result.scale_se, Result.band)
        .where(
            _latest_results(classroom_id),
            Result.administration_id == chosen.id,
        )
        .order_by(Result.scale_score)
    ).all()
    scores = np.array([r.scale_score for r in rows], dtype=float)
    ses = np.array([r.scale_se for r in rows], dtype=float)
    probabilities = band_probabilities(scores, ses, cuts) if rows else np.zeros((0, len(labels)))
    observed = {
        row.band: int(row.n)
        for row in db.session.execute(band_counts(_latest_results(classroom_id)))
        if row.administration_id == chosen.id
    }
    report["students"] = [
        {
            "scale_score": r.scale_score,
            "scale_se": r.scale_se,
            "band": r.band,
            "low": r.scale_score - Z95 * r.scale_se,
            "high": r.scale_score + Z95 * r.scale_se,
            "band_probabilities": [round(float(p), 4) for p in probabilities[i]],
        }
        for i, r in enumerate(rows)
    ]
    report["bands"] = [
        {
            "label": label,
            "low": cuts[k - 1] if k > 0 else None,
            "high": cuts[k] if k < len(cuts) else None,
            "n_observed": observed.get(label, 0),
            "n_clearly": int((probabilities[:, k] >= 0.95).sum()) if rows else 0,
            "n_possibly": int(((probabilities[:, k] >= 0.05) & (probabilities[:, k] < 0.95)).sum())
            if rows
            else 0,
            "expected": float(probabilities[:, k].sum()) if rows else 0.0,
        }
        for k, label in enumerate(labels)
    ]
    report["distribution"] = _histogram(scores)
    report["items"] = _items(_class_answers(classroom_id, chosen.id, operational=False))
    report["mastery"] = _mastery(_class_answers(classroom_id, chosen.id, operational=True), locale)
    return report


def _histogram(scores: np.ndarray) -> list[dict[str, Any]]:
    """Counts per score range (about eight ranges of a round width): the chart's data table."""
    if scores.size == 0:
        return []
    low, high = float(scores.min()), float(scores.max())
    raw = max((high - low) / 8, 1.0)
    width = next(w for w in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, math.inf) if w >= raw)
    if not math.isfinite(width):
        width = raw
    start = math.floor(low / width) * width
    edges = np.arange(start, high + width, width)
    if edges.size < 2:
        edges = np.array([start, start + width])
    counts, _ = np.histogram(scores, bins=edges)
    return [
        {"low": float(edges[i]), "high": float(edges[i + 1]), "n": int(counts[i])}
        for i in range(counts.size)
    ]


def _items(answers: Any) -> list[dict[str, Any]]:
    stats = db.session.execute(item_statistics(answers)).all()
    if not stats:
        return []
    version_ids = [row.item_version_id for row in stats]
    versions = {
        version.id: (version, key)
        for version, key in db.session.execute(
            select(ItemVersion, Item.key)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(ItemVersion.id.in_(version_ids))
        )
    }
    with_options = [v for v in version_ids if versions[v][0].item_type in OPTION_TYPES]
    chosen: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if with_options:
        for version_id, raw, n in db.session.execute(response_tallies(answers, with_options)):
            response = json.loads(raw) if raw else {}
            picked = response.get("choices") if isinstance(response, dict) else None
            if picked is None and isinstance(response, dict) and "choice" in response:
                picked = [response["choice"]]
            for option_id in picked or []:
                chosen[version_id][str(option_id)] += n
    rated = [v for v in version_ids if get_item_type(versions[v][0].item_type).human_scored]
    marks = _rater_marks(answers, rated)
    others = [v for v in version_ids if v not in with_options and v not in marks]
    scored: dict[int, dict[float, int]] = defaultdict(dict)
    if others:
        for version_id, score, n in db.session.execute(score_tallies(answers, others)):
            scored[version_id][float(score)] = n
    items = []
    for order, row in enumerate(
        sorted(stats, key=lambda r: (float(r.position), r.item_version_id))
    ):
        version, key = versions[row.item_version_id]
        max_score = float(version.max_score or 1.0)
        n, total, n_correct = int(row.n), float(row.score or 0), int(row.n_correct or 0)
        awaiting = 0
        if version.id in marks:  # a rater's marks, not the 0 stored before marking
            given, awaiting = marks[version.id]
            n, total = len(given), sum(given)
            n_correct = sum(1 for score in given if score >= max_score)
            for score in given:
                scored[version.id][score] = scored[version.id].get(score, 0) + 1
        rate = total / (n * max_score) if n else 0.0
        low, high = wilson_interval(rate * n, n)
        item: dict[str, Any] = {
            "position": order + 1,
            "item_version_id": version.id,
            "item_key": key,
            "item_type": version.item_type,
            "label": _short(plain_text(version.content.get("stem", "")) or key),
            "n": n,
            "rate": rate,
            "low": low,
            "high": high,
            "n_correct": n_correct,
            "n_awaiting_marking": awaiting,
            "mean_time_s": round(float(row.time_ms or 0) / 1000, 1),
            "few": n < FEW_ANSWERS,
            "options": [],
            "scores": [],
        }
        if version.item_type in OPTION_TYPES:
            key_ids = _key_ids(version.scoring)
            item["multiple"] = version.item_type == "multiple_response"
            item["options"] = [
                {
                    "id": option["id"],
                    "text": _short(plain_text(option.get("text", "")), 40) or option["id"],
                    "n": chosen[version.id].get(option["id"], 0),
                    "share": chosen[version.id].get(option["id"], 0) / n if n else 0.0,
                    "is_key": option["id"] in key_ids,
                }
                for option in version.content.get("options", [])
            ]
        else:
            item["scores"] = [
                {"score": score, "n": count, "share": count / n if n else 0.0}
                for score, count in sorted(scored[version.id].items())
            ]
        items.append(item)
    return items


def _rater_marks(answers: Any, version_ids: list[int]) -> dict[int, tuple[list[float], int]]:
    """Per human-scored item version: the scores raters gave, and how many answers await a
    mark (those are left out of the item's rate, not counted as 0)."""
    if not version_ids:
        return {}
    rows = db.session.execute(
        select(ItemResponse.exam_session_id, ItemResponse.item_version_id).where(
            ItemResponse.id.in_(answers), ItemResponse.item_version_id.in_(version_ids)
        )
    ).all()
    entries = effective_scores(sorted({session for session, _ in rows}))
    marks: dict[int, tuple[list[float], int]] = {v: ([], 0) for v in version_ids}
    for session_id, version_id in rows:
        given, awaiting = marks[version_id]
        entry = entries.get((session_id, version_id))
        if entry is None:
            marks[version_id] = (given, awaiting + 1)
        else:
            given.append(float(entry.score))
    return marks


def _key_ids(scoring: dict[str, Any]) -> set[str]:
    correct = scoring.get("correct")
    if isinstance(correct, list):
        return {str(c) for c in correct}
    return {str(correct)} if correct is not None else set()


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mastery(answers: Any, locale: str) -> list[dict[str, Any]]:
    rows = db.session.execute(code_statistics(answers)).all()
    texts = code_texts([row.code for row in rows], locale)
    out = []
    for row in rows:
        maximum = float(row.max_score or 0)
        rate = float(row.score or 0) / maximum if maximum else 0.0
        low, high = wilson_interval(rate * row.n, row.n)
        text = texts.get(row.code, "")
        out.append(
            {
                "code": row.code,
                "text": text,
                "short_label": _short(text or row.code, 28),
                "n_answers": int(row.n),
                "n_items": int(row.n_items),
                "n_students": int(row.n_students),
                "rate": rate,
                "low": low,
                "high": high,
                "few_items": int(row.n_items) < FEW_ITEMS,
            }
        )
    return out
