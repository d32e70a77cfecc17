"""Calibration from the database and the provenance every calibration records (read side).

* :func:`load_administration_responses` reads the responses of chosen administrations
  (``ItemResponse`` joined to ``ExamSession``), keyed by the student's **pseudonym** only: a
  researcher never sees names, logins or internal user ids.
* :func:`calibrate_administrations` calibrates them with :class:`scoring.MMLCalibrator` and
  writes a **draft** ``ParameterSet`` through :func:`item_bank.service.create_parameter_set`
  with full provenance. It only flushes; the caller (the ``cbt calibrate`` command) commits.
* :func:`response_data_hash` and :func:`provenance` are shared with the file-based commands.

Rules for database responses: sessions that were reset are left out; a student who answered
the same item version in more than one chosen session keeps the latest answer; item ids are
the item version ids (as text), which is what a ParameterSet is keyed by.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from analytics.provenance import provenance, response_data_hash, software_versions
from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from cbt.models import User
from delivery.models import (
    Administration,
    ExamSession,
    ItemResponse,
    SessionStatus,
)
from item_bank.models import Item, ItemParameter, ItemVersion, ParameterSet, ParameterSetStatus
from item_bank.service import create_parameter_set

__all__ = [
    "AdministrationResponses",
    "anchors_from_parameter_set",
    "calibrate_administrations",
    "load_administration_responses",
    "provenance",
    "response_data_hash",
    "software_versions",
]

_BATCH = 50_000


@dataclass(frozen=True)
class AdministrationResponses:
    """Responses of chosen administrations, ready for calibration.

    Attributes
    ----------
    data : scoring.ResponseData
        Persons are pseudonyms; item ids are item version ids (text).
    administration_of_person : ndarray of int
        The administration of each person's latest session (for multi-group calibration).
    administrations : list of dict
        ``{"id", "name", "test_definition_id"}`` of each chosen administration.
    item_keys : dict of str to str
        Item version id -> ``"<item key> v<version>"`` (for reports).
    n_duplicates : int
        Earlier answers replaced by a later answer to the same item version.
    """

    data: Any
    administration_of_person: np.ndarray
    administrations: list[dict[str, Any]]
    item_keys: dict[str, str]
    n_duplicates: int


# One row of the binary COPY below: a field count, then (length, value) per field, big-endian.
_COPY_ROW = np.dtype(
    [
        ("n_fields", ">i2"),
        ("l_student", ">i4"), ("student", ">i4"),
        ("l_item", ">i4"), ("item", ">i4"),
        ("l_score", ">i4"), ("score", ">f8"),
        ("l_admin", ">i4"), ("admin", ">i4"),
        ("l_when", ">i4"), ("when", ">i8"),
        ("l_id", ">i4"), ("id", ">i8"),
    ]
)  # fmt: skip
_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4, zero)


def _copy_postgresql(ids: list[int], progress: Any) -> tuple[np.ndarray, ...]:
    """(student, item version, score, administration, answered_at in us, response id) of every
    response of live sessions, by one binary ``COPY ... TO STDOUT`` parsed with numpy: no
    Python per response, and memory for the arrays only (the stream is parsed as it comes)."""
    chosen = ",".join(str(int(a)) for a in ids)  # checked integers
    # r.administration_id as well as s.administration_id: it prunes item_responses' partitions
    # (LIST by administration) before the join.
    where = (
        f"r.administration_id IN ({chosen}) AND s.administration_id IN ({chosen}) "
        f"AND s.status <> '{SessionStatus.RESET}' AND r.score IS NOT NULL"
    )
    connection = db.session.connection().connection.dbapi_connection
    cursor = connection.cursor()
    # For the progress fraction only: the sittings' answer counts, not a count(*) of the join,
    # which would cost as much as the COPY itself.
    cursor.execute(
        f"SELECT coalesce(sum(n_answered), 0) FROM exam_sessions WHERE administration_id IN "
        f"({chosen}) AND status <> '{SessionStatus.RESET}'"
    )
    expected = int(cursor.fetchone()[0]) or 1
    parts: list[np.ndarray] = []
    pending = b""
    chunks: list[bytes] = []
    size = 0
    skipped_header = False
    done = 0
    query = (
        "COPY (SELECT s.student_id, r.item_version_id, r.score::float8, s.administration_id, "
        "(extract(epoch FROM r.answered_at) * 1000000)::int8, r.id::int8 "
        "FROM item_responses r JOIN exam_sessions s ON s.id = r.exam_session_id "
        f"WHERE {where}) TO STDOUT (FORMAT BINARY)"
    )

    def parse(final: bool) -> None:
        nonlocal pending, chunks, size, skipped_header, done
        pending = pending + b"".join(chunks)
        chunks, size = [], 0
        if not skipped_header:
            if len(pending) < _COPY_HEADER:
                return
            pending = pending[_COPY_HEADER:]
            skipped_header = True
        whole = len(pending) // _COPY_ROW.itemsize * _COPY_ROW.itemsize
        if final and len(pending) - whole == 2:  # the trailer
            pending = pending[:whole] + pending[whole + 2 :]
        rows = np.frombuffer(pending, dtype=_COPY_ROW, count=whole // _COPY_ROW.itemsize)
        parts.append(
            np.stack([rows["student"], rows["item"], rows["admin"]], axis=1).astype(np.int64)
        )
        parts.append(rows["score"].astype(np.float64))
        parts.append(np.stack([rows["when"], rows["id"]], axis=1).astype(np.int64))
        pending = pending[whole:]
        done += rows.size
        if progress is not None:
            progress(min(1.0, done / expected))  # changed answers add rows beyond n_answered

    with cursor.copy(query) as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
            size += len(chunk)
            if size >= 1 << 24:  # parse about 16 MB at a time
                parse(final=False)
    parse(final=True)
    if pending:
        raise RuntimeError("unexpected end of the COPY stream")
    if not any(part.size for part in parts[1::3]):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), empty, empty, empty
    ints = np.concatenate(parts[0::3])
    scores = np.concatenate(parts[1::3])
    order = np.concatenate(parts[2::3])
    return ints[:, 0], ints[:, 1], scores, ints[:, 2], order[:, 0], order[:, 1]


def _fetch_rows(ids: list[int]) -> tuple[np.ndarray, ...]:
    """The same columns through the ORM (SQLite, the embedded default): batched rows."""
    live = ExamSession.status != SessionStatus.RESET
    query = (
        select(
            ExamSession.student_id,
            ItemResponse.item_version_id,
            ItemResponse.score,
            ExamSession.administration_id,
        )
        .join(ExamSession, ExamSession.id == ItemResponse.exam_session_id)
        .where(ExamSession.administration_id.in_(ids), live)
        .order_by(ItemResponse.answered_at, ItemResponse.id)
        .execution_options(yield_per=_BATCH)
    )
    parts = [
        np.array([tuple(r) for r in batch], dtype=float).reshape(-1, 4)
        for batch in db.session.execute(query).partitions(_BATCH)
    ]
    table = np.concatenate(parts) if parts else np.zeros((0, 4))
    n = table.shape[0]
    student, item, admin = (table[:, k].astype(np.int64) for k in (0, 1, 3))
    # Rows come in answer order already: the position is the order key.
    return student, item, table[:, 2], admin, np.arange(n, dtype=np.int64), np.zeros(n, np.int64)


def load_administration_responses(
    administration_ids: Sequence[int], *, progress: Any = None
) -> AdministrationResponses:
    """Pseudonymised responses of the given administrations (see the module docstring).

    On PostgreSQL the responses come by one binary COPY parsed with numpy (30 million responses
    in well under a minute); elsewhere through batched ORM rows. ``progress(fraction)`` is called
    as the rows arrive (PostgreSQL).

    Raises
    ------
    NotFound
        An administration does not exist.
    ValidationError
        No responses, or a score that is not a whole number.
    """
    from scoring.calibration import ResponseData

    ids = sorted({int(a) for a in administration_ids})
    if not ids:
        raise ValidationError("Choose at least one administration.")
    found = db.session.execute(
        select(Administration.id, Administration.name, Administration.test_definition_id).where(
            Administration.id.in_(ids)
        )
    ).all()
    missing = sorted(set(ids) - {row.id for row in found})
    if missing:
        raise NotFound("No such administration.", details={"administration_ids": missing})
    if db.session.get_bind().dialect.name == "postgresql":
        student, item, score, admin, when, response_id = _copy_postgresql(ids, progress)
    else:
        student, item, score, admin, when, response_id = _fetch_rows(ids)
    if not student.size:
        raise ValidationError(
            "The chosen administrations have no responses.", details={"administration_ids": ids}
        )
    bad = ~np.isfinite(score) | (score != np.floor(score))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            "Item version %(item_version)s: score %(score)s is not a whole number; "
            "polytomous scores must be categories 0, 1, 2, ...",
            params={"item_version": int(item[k]), "score": float(score[k])},
            details={"item_version_id": int(item[k])},
        )
    # Answer order (answered_at, then id); each student keeps the latest answer to an item.
    order = np.lexsort((response_id, when))
    student, item, score, admin = student[order], item[order], score[order], admin[order]
    key = student * (int(item.max()) + 1) + item
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = np.sort(key.size - 1 - last_rev)
    n_duplicates = int(key.size - keep.size)
    data = ResponseData.from_long(student[keep], item[keep], score[keep])
    # Persons by pseudonym (one query row per person, never per response).
    students = np.asarray([int(p) for p in data.person_ids], dtype=np.int64)
    pseudonym_of = dict(
        db.session.execute(
            select(User.id, User.pseudonym)
            .join(ExamSession, ExamSession.student_id == User.id)
            .where(ExamSession.administration_id.in_(ids))
            .distinct()
        ).all()
    )
    data = dataclasses.replace(data, person_ids=tuple(pseudonym_of[s] for s in students.tolist()))
    # Administration of each person: the one of their latest answer.
    person_of = np.repeat(np.arange(data.n_persons), np.diff(data.indptr))
    first_of = {int(s): k for k, s in enumerate(students.tolist())}
    position = np.fromiter((first_of[int(s)] for s in np.unique(student)), np.int64)
    del person_of
    uniques, inverse = np.unique(student, return_inverse=True)
    latest = np.zeros(uniques.size, dtype=np.int64)
    latest[inverse] = admin  # rows are in answer order: the last write wins
    admin_of_person = np.empty(data.n_persons, dtype=np.int64)
    admin_of_person[position] = latest
    version_ids = sorted({int(i) for i in data.item_ids})
    keys = {
        str(version_id): f"{key} v{number}"
        for version_id, key, number in db.session.execute(
            select(ItemVersion.id, Item.key, ItemVersion.version_number)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(ItemVersion.id.in_(version_ids))
        )
    }
    administrations = [
        {"id": row.id, "name": row.name, "test_definition_id": row.test_definition_id}
        for row in sorted(found, key=lambda r: r.id)
    ]
    return AdministrationResponses(
        data=data,
        administration_of_person=admin_of_person,
        administrations=administrations,
        item_keys=keys,
        n_duplicates=n_duplicates,
    )


def anchors_from_parameter_set(parameter_set_id: int, item_ids: Sequence[str]) -> Any:
    """The items of a parameter set that occur in ``item_ids``, as anchors (``None`` if none).

    Raises
    ------
    NotFound
        No such parameter set.
    """
    from scoring import ItemParameters

    parameter_set = db.session.get(ParameterSet, int(parameter_set_id))
    if parameter_set is None:
        raise NotFound("No such parameter set.", details={"parameter_set_id": parameter_set_id})
    wanted = {int(i) for i in item_ids}
    rows = db.session.execute(
        select(ItemParameter)
        .where(ItemParameter.parameter_set_id == parameter_set.id)
        .order_by(ItemParameter.item_version_id)
    ).scalars()
    records = []
    for row in rows:
        if row.item_version_id not in wanted:
            continue
        records.append(parameter_record(row))
    if not records:
        return None
    return ItemParameters.from_records(records, scaling=parameter_set.scaling)


def calibrate_administrations(
    administration_ids: Sequence[int],
    *,
    parameter_set_name: str,
    calibrator: Any,
    group_by_administration: bool = False,
    seed: int | None = None,
    created_by_id: int | None = None,
    loaded: AdministrationResponses | None = None,
    review: Any = None,
) -> tuple[ParameterSet, Any, AdministrationResponses]:
    """Calibrate the responses of ``administration_ids`` and store a draft ParameterSet.

    Parameters
    ----------
    administration_ids : sequence of int
    parameter_set_name : str
        Name of the parameter set; its next version is created, with status ``draft``.
    calibrator : scoring.MMLCalibrator
        Configured, not yet fitted (anchors included, if any).
    group_by_administration : bool
        Multi-group calibration with one group per administration (the first is the
        reference group).
    seed : int, optional
        Recorded in the provenance (the EM algorithm itself is deterministic).
    loaded : AdministrationResponses, optional
        Responses already loaded by :func:`load_administration_responses`.
    review : callable, optional
        ``review(calibrator, loaded) -> dict`` after the fit (fit statistics, anchor drift,
        linking); stored in the provenance as ``"review"``, since a set is immutable once made.

    Returns
    -------
    (ParameterSet, fitted calibrator, AdministrationResponses)
    """
    started = dt.datetime.now(dt.UTC)
    loaded = loaded or load_administration_responses(administration_ids)
    groups = None
    if group_by_administration:
        groups = loaded.administration_of_person
        if calibrator.reference_group is None:
            calibrator.reference_group = int(loaded.administrations[0]["id"])
    try:
        calibrator.fit(loaded.data, groups=groups)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    document = calibrator.to_params_document()
    record = provenance(
        calibrator,
        loaded.data,
        sources={"administrations": loaded.administrations},
        started_at=started,
        seed=seed,
    )
    record.update(
        administrations=loaded.administrations,
        n_duplicate_answers_replaced=loaded.n_duplicates,
        fit={
            key: document[key]
            for key in (
                "model",
                "log_likelihood",
                "aic",
                "bic",
                "n_parameters",
                "n_iter",
                "converged",
                "se_method",
                "groups",
            )
        },
        item_keys=loaded.item_keys,
    )
    if review is not None:
        record["review"] = review(calibrator, loaded)
    fixed = set(document.get("fixed_items", []))
    parameters: dict[int, dict[str, Any]] = {}
    for rec in document["items"]:
        out = {
            key: value
            for key, value in rec.items()
            if key in ("model", "discrimination", "difficulty", "guessing", "thresholds", "se")
        }
        if rec["item_id"] in fixed:
            out["se"] = {"fixed": True}
        parameters[int(rec["item_id"])] = out
    parameter_set = create_parameter_set(
        name=parameter_set_name,
        parameters=parameters,
        provenance=_json_ready(record),
        status=ParameterSetStatus.DRAFT,
        scaling=float(calibrator.scaling),
        created_by_id=created_by_id,
    )
    return parameter_set, calibrator, loaded


def _json_ready(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def research_administrations() -> list[dict[str, Any]]:
    """Every administration with what a researcher chooses by: its test, window, status and
    how many sessions (reset ones left out) and responses it holds. No person data."""
    from sqlalchemy import func

    from delivery.models import TestDefinition

    live = ExamSession.status != SessionStatus.RESET
    sessions = (
        select(ExamSession.administration_id, func.count().label("n"))
        .where(live)
        .group_by(ExamSession.administration_id)
        .subquery()
    )
    responses = (
        select(ExamSession.administration_id, func.count().label("n"))
        .join(ItemResponse, ItemResponse.exam_session_id == ExamSession.id)
        .where(live)
        .group_by(ExamSession.administration_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Administration,
            TestDefinition.key,
            TestDefinition.title,
            func.coalesce(sessions.c.n, 0),
            func.coalesce(responses.c.n, 0),
        )
        .join(TestDefinition, TestDefinition.id == Administration.test_definition_id)
        .outerjoin(sessions, sessions.c.administration_id == Administration.id)
        .outerjoin(responses, responses.c.administration_id == Administration.id)
        .order_by(Administration.id)
    ).all()

    return [
        {
            "id": administration.id,
            "name": administration.name,
            "status": administration.status,
            "opens_at": iso_utc(administration.opens_at),
            "closes_at": iso_utc(administration.closes_at),
            "test_key": key,
            "test_title": title,
            "n_sessions": int(n_sessions),
            "n_responses": int(n_responses),
        }
        for administration, key, title, n_sessions, n_responses in rows
    ]


def parameter_record(row: Any) -> dict[str, Any]:
    """An ItemParameter row as the record ``ItemParameters.from_records`` reads."""
    record: dict[str, Any] = {
        "item_id": str(row.item_version_id),
        "model": row.model,
        "discrimination": row.discrimination,
    }
    if row.thresholds and row.model in ("grm", "gpcm"):
        record["thresholds"] = list(row.thresholds)
    else:
        record["difficulty"] = row.difficulty
        if row.model == "3pl":
            record["guessing"] = row.guessing
    return record
