"""Researcher API under /api/v1/research: the administrations to choose from, and their
responses as the files ``cbt calibrate`` reads. Persons appear only as pseudonyms, items as item
version ids; every download is audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import numpy as np
from flask import Blueprint, Response, jsonify, request

from analytics.calibration import (
    AdministrationResponses,
    load_administration_responses,
    research_administrations,
)
from analytics.conditions import conditions_by_person
from analytics.exports import BOM, csv_download
from cbt.audit import record_audit
from cbt.auth import require_user
from cbt.errors import ValidationError
from cbt.http import INT32_MAX, request_actor
from cbt.models import Role
from cbt.openapi import openapi

blueprint = Blueprint("research_api", __name__, url_prefix="/api/v1/research")

RESEARCH = "Research"
_CHOSEN = [
    (
        "administration",
        {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX},
        "An administration id (repeat for several).",
    )
]
_ROWS_PER_CHUNK = 100_000


@blueprint.get("/administrations")
@openapi(
    summary="Administrations with their test, window and counts of sessions and responses.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
)
def administrations() -> Response:
    require_user(Role.RESEARCHER)
    return jsonify({"administrations": research_administrations()})


def _chosen() -> list[int]:
    raw = request.args.getlist("administration")
    if not raw:
        raise ValidationError(
            "Choose at least one administration: ?administration=ID (repeatable).",
            details={"field": "administration"},
        )
    try:
        chosen = sorted({int(value) for value in raw})
    except ValueError:
        raise ValidationError(
            "administration must be an integer id.", details={"field": "administration"}
        ) from None
    if not all(0 <= value <= INT32_MAX for value in chosen):
        raise ValidationError(
            "administration is not a valid id.", details={"field": "administration"}
        )
    return chosen


def _rows_as_csv(header: list[str], columns: list[np.ndarray]) -> Iterator[str]:
    """CSV text in chunks, so a national export never sits in memory as one string."""
    buffer = io.StringIO()
    buffer.write(BOM)  # for Excel; cbt calibrate reads utf-8-sig
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    n = len(columns[0]) if columns else 0
    for start in range(0, n, _ROWS_PER_CHUNK):
        chunk = [column[start : start + _ROWS_PER_CHUNK] for column in columns]
        writer.writerows(zip(*chunk, strict=True))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header alone (no rows)
        yield buffer.getvalue()


def _name(ids: list[int], what: str) -> str:
    return f"{what}-administration-{'-'.join(map(str, ids))}.csv"


@blueprint.get("/responses.csv")
@openapi(
    summary="Responses of the chosen administrations, long format person_id,item_id,score "
    "(pseudonyms, item version ids; reset sessions left out, a repeated answer to an item "
    "keeps the latest), as read by cbt calibrate --format long.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    query=_CHOSEN,
    response_type="text/csv",
)
def responses_csv() -> Response:
    user = require_user(Role.RESEARCHER)
    ids = _chosen()
    loaded: AdministrationResponses = load_administration_responses(ids)
    data = loaded.data
    persons = np.asarray(data.person_ids, dtype=object)
    items = np.asarray(data.item_ids, dtype=object)
    person_of = np.repeat(np.arange(len(persons)), np.diff(data.indptr))
    record_audit(
        request_actor(user),
        "research_responses_downloaded",
        "administration",
        ",".join(map(str, ids)),
        {
            "n_persons": len(persons),
            "n_responses": int(data.score.size),
            "n_rows": int(data.score.size),
        },
    )
    columns = [persons[person_of], items[data.item], data.score.astype(np.int64)]
    return csv_download(
        _rows_as_csv(["person_id", "item_id", "score"], columns), _name(ids, "responses")
    )


@blueprint.get("/groups.csv")
@openapi(
    summary="person_id,group,conditions for the chosen administrations (the group is the "
    "administration of the person's latest session; conditions are that session's testing "
    "conditions, see docs/accommodations.md), as read by cbt calibrate --groups.",
    tags=[RESEARCH],
    roles=(Role.RESEARCHER,),
    query=_CHOSEN,
    response_type="text/csv",
)
def groups_csv() -> Response:
    user = require_user(Role.RESEARCHER)
    ids = _chosen()
    loaded = load_administration_responses(ids)
    persons = np.asarray(loaded.data.person_ids, dtype=object)
    record_audit(
        request_actor(user),
        "research_groups_downloaded",
        "administration",
        ",".join(map(str, ids)),
        {"n_persons": len(persons), "n_rows": len(persons)},
    )
    groups = np.asarray(loaded.administration_of_person).astype(str).astype(object)
    by_person = conditions_by_person(ids)
    conditions = np.asarray(
        [by_person.get((p, int(g)), "") for p, g in zip(persons, groups, strict=True)],
        dtype=object,
    )
    return csv_download(
        _rows_as_csv(["person_id", "group", "conditions"], [persons, groups, conditions]),
        _name(ids, "groups"),
    )
