"""Item bank API under /api/v1: thin routes (validate, call one service, serialise).

Operators author, import and export; researchers read the bank and own parameter sets; the
lifecycle table in ``item_bank.service.TRANSITIONS`` decides who moves an item where.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from cbt.audit import record_audit
from cbt.auth import require_user
from cbt.db import db
from cbt.errors import DomainError, ErrorCode, Forbidden, ValidationError
from cbt.http import INT32_MAX, get_field, json_body, request_actor
from cbt.i18n import current_locale, translate
from cbt.models import Role
from cbt.openapi import openapi, register_schemas
from item_bank import guidance, service
from item_bank.curriculum import code_table, code_texts, describe_curriculum_code
from item_bank.media import get_media, store_media
from item_bank.models import ItemStatus
from item_bank.processing import ProcessingError
from item_bank.qti import (
    ImportOptions,
    content_scorer,
    export_package,
    import_package,
    version_scorer,
)
from item_bank.qti.agreement import qti_responses
from item_bank.schemas import SCHEMAS, item_fields, item_filters, query_float, query_int
from item_bank.types import ITEM_TYPES, get_item_type

__all__ = ["blueprint"]

blueprint = Blueprint("item_bank_api", __name__, url_prefix="/api/v1")
register_schemas(SCHEMAS)

AUTHORS = (Role.OPERATOR,)
READERS = (Role.OPERATOR, Role.RESEARCHER)
STAFF_IMPORT_STATUSES = (ItemStatus.DRAFT, ItemStatus.REVIEW, ItemStatus.PRETEST)
ITEMS = "Item bank"
PARAMS = "Parameter sets"
POOLS = "Pools"


def _list_query() -> list[tuple[str, str, str]]:
    return [
        ("q", "string", "Text in the key, title, stem or keywords."),
        ("status", "string", "Comma-separated statuses."),
        ("item_type", "string", "Comma-separated item type ids."),
        ("code_prefix", "string", "学習指導要領コード prefix, e.g. 83502."),
        ("subject", "string", "Subject."),
        ("grade", "integer", "Grade."),
        ("content_area", "string", "Content area."),
        ("difficulty_min", "number", "Lowest difficulty (b)."),
        ("difficulty_max", "number", "Highest difficulty (b)."),
        ("parameter_set_id", "integer", "Whose difficulties to filter and show."),
        ("limit", "integer", "Page size, 1 to 200 (default 50)."),
        ("cursor", "string", "next_cursor of the previous page."),
    ]


# --------------------------------------------------------------------------- item types


@blueprint.get("/item-types")
@openapi(
    summary="The item-type registry: ids, response shapes and examples.",
    tags=[ITEMS],
    roles=READERS,
)
def item_types() -> Response:
    require_user(*READERS)
    types = []
    for type_id, kind in ITEM_TYPES.items():
        content, scoring = kind.example()
        types.append(
            {
                "id": type_id,
                "label": kind.label,
                "human_scored": kind.human_scored,
                "polytomous": kind.polytomous,
                "response_example": kind.response_example,
                "example": {"content": content, "scoring": scoring},
            }
        )
    return jsonify(
        {
            "item_types": types,
            "statuses": [status.value for status in ItemStatus],
            "transitions": [
                {"from": src, "to": to, "roles": sorted(roles)}
                for (src, to), roles in service.TRANSITIONS.items()
            ],
        }
    )


# --------------------------------------------------------------------------- items


@blueprint.get("/items")
@openapi(
    summary="List and search the bank (latest version of each item), newest first.",
    tags=[ITEMS],
    roles=READERS,
    query=_list_query(),
    response="ItemPage",
)
def list_items() -> Response:
    require_user(*READERS)
    filters = item_filters(request.args)
    limit = query_int(request.args, "limit", 50)
    page = service.list_items(filters, limit=limit, cursor=request.args.get("cursor") or None)
    return jsonify(page)


@blueprint.post("/items")
@openapi(
    summary="Create an item with its first (draft) version.",
    tags=[ITEMS],
    roles=AUTHORS,
    body="ItemCreate",
    response="ItemDetail",
    status=201,
)
def create_item() -> tuple[Response, int]:
    user = require_user(*AUTHORS)
    data = json_body()
    key = get_field(data, "key", str, max_length=100)
    status = get_field(data, "status", str, default=ItemStatus.DRAFT)
    if status != ItemStatus.DRAFT:
        raise ValidationError("New items start as drafts; move them on with a transition.")
    enemies = get_field(data, "enemies", list, default=[], max_length=100)
    fields = item_fields(data)
    actor = request_actor(user)
    version = service.create_item(key=key, actor=actor, created_by_id=user.id, **fields)
    if enemies:
        service.set_enemies(version.item_id, enemies, actor=actor)
    return jsonify(service.item_detail(version.item_id, role=str(user.role))), 201


@blueprint.get("/items/<int:item_id>")
@openapi(
    summary="An item: latest version, history, enemies, allowed transitions.",
    tags=[ITEMS],
    roles=READERS,
    response="ItemDetail",
)
def get_item(item_id: int) -> Response:
    user = require_user(*READERS)
    return jsonify(service.item_detail(item_id, role=str(user.role)))


@blueprint.post("/items/<int:item_id>/versions")
@openapi(
    summary="Save an edit as a new draft version (older versions never change).",
    tags=[ITEMS],
    roles=AUTHORS,
    body="ItemRevision",
    response="ItemDetail",
)
def revise_item(item_id: int) -> Response:
    user = require_user(*AUTHORS)
    data = json_body()
    base = get_field(data, "base_version_number", int, default=None)
    fields = item_fields(data, partial=True)
    if "enemies" in data:
        service.set_enemies(item_id, get_field(data, "enemies", list), actor=request_actor(user))
    version, created = service.revise_item(
        item_id, fields, actor=request_actor(user), base_version_number=base
    )
    detail = service.item_detail(item_id, role=str(user.role))
    return jsonify({**detail, "created_version": created, "version_number": version.version_number})


@blueprint.get("/items/<int:item_id>/versions/<int:number>")
@openapi(
    summary="One version of an item, with its key.",
    tags=[ITEMS],
    roles=READERS,
    response="ItemVersion",
)
def get_version(item_id: int, number: int) -> Response:
    require_user(*READERS)
    return jsonify(service.version_dict(service.get_version_by_number(item_id, number)))


@blueprint.get("/items/<int:item_id>/diff")
@openapi(
    summary="Field-by-field differences between two versions.",
    tags=[ITEMS],
    roles=READERS,
    query=[
        ("from", "integer", "Older version number."),
        ("to", "integer", "Newer version number."),
    ],
)
def diff_item(item_id: int) -> Response:
    require_user(*READERS)
    older = query_int(request.args, "from")
    newer = query_int(request.args, "to")
    if older is None or newer is None:
        raise ValidationError("Give 'from' and 'to' version numbers.")
    return jsonify(service.diff_versions(item_id, older, newer))


@blueprint.post("/item-versions/<int:version_id>/transitions")
@openapi(
    summary="Move a version along draft -> review -> pretest -> operational -> retired.",
    tags=[ITEMS],
    roles=READERS,
    body={"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}}},
    response="ItemVersion",
)
def transition(version_id: int) -> Response:
    user = require_user(*READERS)
    to = get_field(json_body(), "to", str, max_length=20)
    version = service.transition_item(version_id, to, actor=request_actor(user))
    return jsonify(service.version_dict(version))


@blueprint.put("/items/<int:item_id>/enemies")
@openapi(
    summary="Replace an item's enemies (never in the same test), by key.",
    tags=[ITEMS],
    roles=AUTHORS,
    body={"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "string"}}}},
)
def put_enemies(item_id: int) -> Response:
    user = require_user(*AUTHORS)
    keys = get_field(json_body(), "keys", list, max_length=100)
    if not all(isinstance(key, str) for key in keys):
        raise ValidationError("'keys' must be item keys.", details={"field": "keys"})
    return jsonify({"enemies": service.set_enemies(item_id, keys, actor=request_actor(user))})


@blueprint.post("/items/preview")
@openapi(
    summary="Render unsaved content exactly as a student would receive it.",
    tags=[ITEMS],
    roles=AUTHORS,
    response="StudentView",
    body={"type": "object", "required": ["item_type", "content"]},
)
def preview() -> Response:
    require_user(*AUTHORS)
    data = json_body()
    item_type = get_field(data, "item_type", str, max_length=32)
    content = get_item_type(item_type).clean_content(get_field(data, "content", dict))
    accessibility = service.clean_accessibility(get_field(data, "accessibility", dict, default={}))
    stimulus_id = get_field(data, "stimulus_id", int, default=None)
    stimulus_html = None
    if stimulus_id is not None:
        stimulus_html = service.get_stimulus(stimulus_id).html
    view = service.student_view(
        item_type, content, stimulus_html=stimulus_html, accessibility=accessibility
    )
    return jsonify({"item": {"handle": "preview", "sequence": 1, **view}})


_RESPONSES = {
    "type": "object",
    "description": 'Responses keyed by QTI response identifier: {"RESPONSE": "ChoiceA"}; a '
    'multiple or ordered response is a list, a pair "A B", a record an object.',
    "additionalProperties": True,
}
_OUTCOMES = {
    "type": "object",
    "description": 'The outcome variables after response processing: {"SCORE": 1.0, ...}.',
    "additionalProperties": True,
}


def _outcomes(scorer: Any, responses: dict[str, Any]) -> dict[str, Any]:
    """Run the item's compiled response processing; a response it cannot take is a 422."""
    try:
        return scorer.score_json(responses)
    except ProcessingError as error:
        raise ValidationError(
            "The responses do not fit the item: %(reason)s",
            params={"reason": str(error)},
            details={"field": "responses"},
        ) from None


@blueprint.post("/items/score")
@openapi(
    summary="Try a response against an unsaved key: the score it would get, and the outcome "
    "variables of the item's response processing (as delivery and `cbt items score` run it). "
    "Give `response` in the player's shape or `responses` keyed by response identifier.",
    tags=[ITEMS],
    roles=AUTHORS,
    body={
        "type": "object",
        "required": ["item_type", "content", "scoring"],
        "properties": {
            "item_type": {"type": "string", "maxLength": 32},
            "content": {"type": "object"},
            "scoring": {"type": "object"},
            "response": {"description": 'The player\'s shape, e.g. {"choice": "A"}.'},
            "responses": _RESPONSES,
        },
    },
)
def try_score() -> Response:
    require_user(*AUTHORS)
    data = json_body()
    item_type = get_field(data, "item_type", str, max_length=32)
    kind = get_item_type(item_type)
    content = kind.clean_content(get_field(data, "content", dict))
    scoring = kind.validate_scoring(content, get_field(data, "scoring", dict))
    responses = get_field(data, "responses", dict, default=None)
    if responses is None and data.get("response") is None:
        raise ValidationError(
            "Give 'response' (as the player sends it) or 'responses' (keyed by response "
            "identifier).",
            details={"field": "responses"},
        )
    result: dict[str, Any] = {
        "score": None,
        "max_score": kind.max_score(scoring),
        "human_scored": kind.human_scored,
    }
    if responses is None:  # validated by the type, then put in the QTI shape
        result["score"] = service.score_response(item_type, content, scoring, data["response"])
        try:
            responses = qti_responses(item_type, data["response"], content)
        except ProcessingError as error:
            raise ValidationError(str(error), details={"field": "response"}) from None
    scorer = content_scorer(
        key="preview",
        title=None,
        language=get_field(data, "language", str, default="ja", max_length=16),
        item_type=item_type,
        content=content,
        scoring=scoring,
    )
    result["outcomes"] = _outcomes(scorer, responses)
    if result["score"] is None and not kind.human_scored:  # a rater's score is not SCORE's
        score = result["outcomes"].get("SCORE")
        result["score"] = None if score is None else float(score)
    return jsonify(result)


@blueprint.post("/items/<int:item_id>/score")
@openapi(
    summary="Score responses keyed by response identifier against a stored item version (the "
    "latest unless `version` is given): the outcome variables, exactly as `cbt items score "
    "ITEM_ID --response JSON` prints them.",
    tags=[ITEMS],
    roles=AUTHORS,
    body={
        "type": "object",
        "required": ["responses"],
        "properties": {
            "responses": _RESPONSES,
            "version": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
        },
    },
)
def score_stored_item(item_id: int) -> Response:
    require_user(*AUTHORS)
    data = json_body()
    responses = get_field(data, "responses", dict)
    number = get_field(data, "version", int, default=None, minimum=1)
    item = service.get_item(item_id)
    if number is None:
        version = next(v for v in item.versions if v.is_latest)
    else:
        version = service.get_version_by_number(item.id, number)
    return jsonify(
        {
            "item_id": item.id,
            "key": item.key,
            "version": version.version_number,
            "human_scored": get_item_type(version.item_type).human_scored,
            "outcomes": _outcomes(version_scorer(version), responses),
        }
    )


# --------------------------------------------------------------------------- QTI


@blueprint.get("/items/export.zip")
@openapi(
    summary="Export matching items (latest versions) as a QTI 3.0 package.",
    tags=[ITEMS],
    roles=AUTHORS,
    query=[
        *_list_query()[:10],
        ("keys", "string", "Comma-separated keys."),
        (
            "usage_parameter_set",
            "integer",
            "A published parameter set whose IRT parameters travel as QTI usage data.",
        ),
    ],
    response={"type": "string", "format": "binary"},
    response_type="application/zip",
)
def export_items() -> Response:
    user = require_user(*AUTHORS)
    version_ids = service.export_version_ids(
        item_filters(request.args), keys=[k for k in request.args.get("keys", "").split(",") if k]
    )
    data, n_items = export_package(
        version_ids,
        actor=request_actor(user),
        usage_parameter_set_id=query_int(request.args, "usage_parameter_set"),
    )
    return Response(
        data,
        mimetype="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="items-qti3.zip"',
            "X-Item-Count": str(n_items),
        },
    )


def _upload() -> bytes:
    if request.files:
        upload = request.files.get("package")
        if upload is None:
            raise ValidationError("Send the package as the form field 'package'.")
        return upload.read()
    if request.mimetype in ("application/zip", "application/octet-stream"):
        return request.get_data(cache=False)
    raise DomainError(
        "Send a QTI package as multipart/form-data (field 'package') or application/zip.",
        code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        status=415,
    )


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


@blueprint.post("/items/import")
@openapi(
    summary="Import a QTI 3.0 package: every item or none (one transaction).",
    tags=[ITEMS],
    roles=AUTHORS,
    body={"type": "string", "format": "binary"},
    body_type="application/zip",
    response="ImportReport",
    query=[
        ("dry_run", "boolean", "Validate and report; write nothing."),
        ("on_existing", "string", "new_version (default), skip or error."),
        ("status", "string", "Status of imported versions: draft, review or pretest."),
        ("skip_unsupported", "boolean", "Import what can be; list the rest in not_imported."),
        ("usage_scaling", "number", "The constant D of the usage data's IRT parameters (1)."),
        (
            "parameter_set_id",
            "integer",
            "A published parameter set: the package's assessment tests become linear test "
            "definitions scored with it. Without it they are mapped and reported only.",
        ),
    ],
)
def import_items() -> Response:
    user = require_user(*AUTHORS)
    data = _upload()
    status = request.args.get("status", ItemStatus.DRAFT)
    if status not in STAFF_IMPORT_STATUSES:
        raise ValidationError(
            "Imports arrive as draft, review or pretest; operational needs a researcher.",
            details={"field": "status"},
        )
    options = ImportOptions(
        status=status,
        on_existing=request.args.get("on_existing", "new_version"),
        skip_unsupported=_flag("skip_unsupported"),
        usage_scaling=query_float(request.args, "usage_scaling") or 1.0,
        parameter_set_id=query_int(request.args, "parameter_set_id"),
    )
    dry_run = _flag("dry_run")
    savepoint = db.session.begin_nested()
    try:
        report = import_package(data, actor=request_actor(user), options=options)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    report["dry_run"] = dry_run
    return jsonify(_translated_report(report))


def _translated_note(note: dict[str, Any]) -> dict[str, Any]:
    """A report note's message in the request's language, its values filled in."""
    text = translate(note["template"])
    try:
        message = text % note["params"] if note["params"] else text
    except (KeyError, TypeError, ValueError):  # a translation that does not fit its values
        message = note["message"]
    return {"code": note["code"], "message": message, "params": note["params"]}


def _translated_report(report: dict[str, Any]) -> dict[str, Any]:
    if report.get("message"):
        report["message"] = _translated_note(report["message"])
    for test in report.get("tests", []):
        test["notes"] = [_translated_note(note) for note in test["notes"]]
        if test.get("reason"):
            test["reason"] = _translated_note(test["reason"])
    return report


# --------------------------------------------------------------------------- stimuli, media, codes


@blueprint.get("/stimuli")
@openapi(summary="Stimuli (passages shared by items), every version.", tags=[ITEMS], roles=READERS)
def list_stimuli() -> Response:
    require_user(*READERS)
    return jsonify({"stimuli": service.list_stimuli()})


@blueprint.post("/stimuli")
@openapi(
    summary="Create a stimulus, or a new version of one with the same key.",
    tags=[ITEMS],
    roles=AUTHORS,
    status=201,
    body={
        "type": "object",
        "required": ["key", "html"],
        "properties": {
            "key": {"type": "string"},
            "html": {"type": "string"},
            "title": {"type": "string"},
            "language": {"type": "string"},
        },
    },
)
def create_stimulus() -> tuple[Response, int]:
    user = require_user(*AUTHORS)
    data = json_body()
    stimulus = service.create_stimulus(
        key=get_field(data, "key", str, max_length=100),
        html=get_field(data, "html", str),
        title=get_field(data, "title", str, default="", max_length=200),
        language=get_field(data, "language", str, default="en", max_length=16),
        actor=request_actor(user),
    )
    return jsonify(service.stimulus_dict(stimulus)), 201


@blueprint.post("/media")
@openapi(
    summary="Upload an image, audio or video file (stored by SHA-256).",
    tags=[ITEMS],
    roles=AUTHORS,
    body_type="multipart/form-data",
    status=201,
    body={"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
)
def upload_media() -> tuple[Response, int]:
    user = require_user(*AUTHORS)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("Send the file as multipart/form-data field 'file'.")
    asset = store_media(
        upload.read(),
        upload.mimetype or "",
        filename=upload.filename or "",
        created_by_id=user.id,
    )
    return jsonify(
        {
            "sha256": asset.sha256,
            "url": f"/api/v1/media/{asset.sha256}",
            "mime_type": asset.mime_type,
            "size_bytes": asset.size_bytes,
        }
    ), 201


@blueprint.get("/media/<string:sha256>")
@openapi(
    summary="A media file by its SHA-256 (any logged-in user: students see images).",
    tags=[ITEMS],
    roles=("student", "teacher", "researcher", "operator"),
    response={"type": "string", "format": "binary"},
    response_type="*/*",
)
def media_file(sha256: str) -> Response:
    require_user()
    asset = get_media(sha256)
    response = Response(asset.data, mimetype=asset.mime_type)
    # Content-addressed: the bytes behind a hash never change.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blueprint.get("/curriculum-codes")
@openapi(
    summary="Curriculum codes in the bank under a prefix, with item counts.",
    tags=[ITEMS],
    roles=READERS,
    query=[("prefix", "string", "Code prefix.")],
)
def curriculum_codes() -> Response:
    require_user(*READERS)
    return jsonify({"codes": service.curriculum_code_counts(request.args.get("prefix") or "")})


@blueprint.get("/curriculum-codes/texts")
@openapi(
    summary="The text of 学習指導要領コード and report prefixes, in the request's language.",
    tags=[ITEMS],
    query=[("code", "string", "A code or prefix (repeatable); none gives the whole table.")],
)
def curriculum_code_texts() -> Response:
    require_user()
    codes = request.args.getlist("code")[:200] or list(code_table()["codes"])
    return jsonify({"texts": code_texts(codes, current_locale()), "source": code_table()["source"]})


@blueprint.get("/curriculum-codes/<string:code>")
@openapi(summary="The parts of one 学習指導要領コード.", tags=[ITEMS], roles=READERS)
def curriculum_code(code: str) -> Response:
    require_user(*READERS)
    return jsonify(describe_curriculum_code(code))


@blueprint.get("/curriculum-guidance")
@openapi(
    summary="Next-step guidance per curriculum code or area (prefix), in Japanese and English.",
    tags=[ITEMS],
    roles=READERS,
)
def curriculum_guidance_list() -> Response:
    require_user(*READERS)
    return jsonify({"guidance": guidance.list_guidance()})


_GUIDANCE_BODY = {
    "type": "object",
    "properties": {
        "text_ja": {"type": "string", "maxLength": guidance.MAX_GUIDANCE_LENGTH},
        "text_en": {"type": "string", "maxLength": guidance.MAX_GUIDANCE_LENGTH},
    },
    "additionalProperties": False,
}


@blueprint.put("/curriculum-guidance/<string:code_prefix>")
@openapi(
    summary="Write the next-step guidance of a curriculum code or area (1-16 characters).",
    tags=[ITEMS],
    roles=AUTHORS,
    body=_GUIDANCE_BODY,
)
def curriculum_guidance_save(code_prefix: str) -> Response:
    user = require_user(*AUTHORS)
    data = json_body()
    saved = guidance.save_guidance(
        code_prefix,
        get_field(data, "text_ja", str, default="", max_length=guidance.MAX_GUIDANCE_LENGTH),
        get_field(data, "text_en", str, default="", max_length=guidance.MAX_GUIDANCE_LENGTH),
        user.id,
    )
    record_audit(request_actor(user), "save_guidance", "curriculum_code", saved["code_prefix"])
    return jsonify(saved)


@blueprint.delete("/curriculum-guidance/<string:code_prefix>")
@openapi(summary="Remove the guidance of a curriculum code or area.", tags=[ITEMS], roles=AUTHORS)
def curriculum_guidance_delete(code_prefix: str) -> Response:
    user = require_user(*AUTHORS)
    guidance.delete_guidance(code_prefix)
    record_audit(request_actor(user), "delete_guidance", "curriculum_code", code_prefix[:16])
    return jsonify({"deleted": code_prefix[:16]})


# --------------------------------------------------------------------------- parameter sets


@blueprint.get("/parameter-sets")
@openapi(
    summary="Every parameter set with its provenance (no person data).",
    tags=[PARAMS],
    roles=READERS,
)
def parameter_sets() -> Response:
    require_user(*READERS)
    return jsonify({"parameter_sets": service.list_parameter_sets()})


@blueprint.get("/parameter-sets/<int:parameter_set_id>")
@openapi(summary="A parameter set with every item's parameters.", tags=[PARAMS], roles=READERS)
def parameter_set(parameter_set_id: int) -> Response:
    require_user(*READERS)
    return jsonify(service.parameter_set_detail(parameter_set_id))


@blueprint.get("/parameter-sets/<int:parameter_set_id>/params.json")
@openapi(
    summary="A parameter set as a PARAMS.json file (for cbt score, cbt link and --anchors).",
    tags=[PARAMS],
    roles=READERS,
    query=[("item_ids", "string", "'version' (item version ids, the default) or 'key'.")],
)
def parameter_set_params_json(parameter_set_id: int) -> Response:
    require_user(*READERS)
    item_ids = request.args.get("item_ids", "version")
    document = service.parameter_set_document(parameter_set_id, item_ids=item_ids)
    origin = document["provenance"]["parameter_set"]
    response = jsonify(document)
    # Only safe characters in the header: the name is free text.
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", origin["name"]).strip("_") or "parameter-set"
    filename = f"{stem}-v{origin['version']}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.post("/parameter-sets")
@openapi(
    summary="Create a new immutable version of a parameter set (draft unless published).",
    tags=[PARAMS],
    roles=READERS,
    body="ParameterSetCreate",
    status=201,
)
def create_parameter_set() -> tuple[Response, int]:
    user = require_user(*READERS)
    data = json_body()
    records = get_field(data, "items", list, max_length=200_000)
    status = get_field(data, "status", str, default="draft")
    if status == "published" and user.role != Role.RESEARCHER:
        raise Forbidden("Only researchers publish parameter sets.")
    parameters = service.parameters_by_version(records)
    created = service.create_parameter_set(
        name=get_field(data, "name", str, max_length=100),
        parameters=parameters,
        provenance=get_field(data, "provenance", dict),
        status=status,
        scaling=get_field(data, "scaling", (int, float), default=1.0),
        actor=request_actor(user),
    )
    return jsonify(service.parameter_set_detail(created.id)), 201


@blueprint.post("/parameter-sets/import")
@openapi(
    summary="Import a PARAMS.json file (from cbt calibrate or cbt link) as the next draft "
    "version of a parameter set: all its items or none.",
    tags=[PARAMS],
    roles=READERS,
    body_type="multipart/form-data",
    status=201,
    body={
        "type": "object",
        "required": ["file", "name"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "name": {"type": "string", "maxLength": 100},
            "item_ids": {"type": "string", "enum": ["version", "key"]},
        },
    },
)
def import_parameter_set() -> tuple[Response, int]:
    user = require_user(*READERS)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError(
            "Send the PARAMS.json as multipart/form-data field 'file'.", details={"field": "file"}
        )
    created = service.import_parameter_file(
        upload.read(),
        filename=upload.filename or "PARAMS.json",
        name=request.form.get("name", "").strip(),
        item_ids=request.form.get("item_ids", "version"),
        actor=request_actor(user),
    )
    return jsonify(service.parameter_set_detail(created.id)), 201


@blueprint.post("/parameter-sets/<int:parameter_set_id>/publish")
@openapi(
    summary="Publish a draft parameter set (its values never change).",
    tags=[PARAMS],
    roles=(Role.RESEARCHER,),
)
def publish_parameter_set(parameter_set_id: int) -> Response:
    user = require_user(Role.RESEARCHER)
    service.publish_parameter_set(parameter_set_id, actor=request_actor(user))
    return jsonify(service.parameter_set_detail(parameter_set_id))


# --------------------------------------------------------------------------- pools


@blueprint.get("/pools")
@openapi(
    summary="Item pools with their sizes and active parameter sets.", tags=[POOLS], roles=READERS
)
def pools() -> Response:
    require_user(*READERS)
    return jsonify({"pools": service.list_pools()})


@blueprint.post("/pools")
@openapi(
    summary="Create a pool of item versions.",
    tags=[POOLS],
    roles=AUTHORS,
    status=201,
    body={"type": "object", "required": ["name", "item_version_ids"]},
)
def create_pool() -> tuple[Response, int]:
    user = require_user(*AUTHORS)
    data = json_body()
    ids = get_field(data, "item_version_ids", list, max_length=100_000)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("'item_version_ids' must be whole numbers.")
    pool = service.create_pool(
        name=get_field(data, "name", str, max_length=100),
        description=get_field(data, "description", str, default="", max_length=2000),
        item_version_ids=ids,
        active_parameter_set_id=get_field(data, "active_parameter_set_id", int, default=None),
        actor=request_actor(user),
    )
    return jsonify(service.pool_summary(pool.id)), 201


@blueprint.get("/pools/<int:pool_id>")
@openapi(
    summary="A pool's counts by curriculum code, item type, status and difficulty.",
    tags=[POOLS],
    roles=READERS,
    query=[("code_prefix_length", "integer", "Group codes by this many characters.")],
)
def pool(pool_id: int) -> Response:
    require_user(*READERS)
    length = query_int(request.args, "code_prefix_length", 16)
    return jsonify(service.pool_summary(pool_id, code_prefix_length=length or 16))


@blueprint.put("/pools/<int:pool_id>/members")
@openapi(
    summary="Replace a pool's item versions.",
    tags=[POOLS],
    roles=AUTHORS,
    body={"type": "object", "required": ["item_version_ids"]},
)
def put_pool_members(pool_id: int) -> Response:
    user = require_user(*AUTHORS)
    ids = get_field(json_body(), "item_version_ids", list, max_length=100_000)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("'item_version_ids' must be whole numbers.")
    service.set_pool_members(pool_id, ids, actor=request_actor(user))
    return jsonify(service.pool_summary(pool_id))


@blueprint.put("/pools/<int:pool_id>/parameter-set")
@openapi(
    summary="Name the pool's active (published) parameter set.",
    tags=[POOLS],
    roles=READERS,
    body={"type": "object", "required": ["parameter_set_id"]},
)
def put_pool_parameter_set(pool_id: int) -> Response:
    user = require_user(*READERS)
    parameter_set_id = get_field(json_body(), "parameter_set_id", int)
    service.set_pool_parameter_set(pool_id, parameter_set_id, actor=request_actor(user))
    return jsonify(service.pool_summary(pool_id))
