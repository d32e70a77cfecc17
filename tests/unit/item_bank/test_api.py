"""The item bank API: filters, pagination, permissions, authoring, QTI, and the OpenAPI doc."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from flask import Flask

from cbt.audit import Actor
from cbt.cli import cli
from cbt.db import db
from cbt.models import AuditEvent
from item_bank.models import Item, ItemVersion
from item_bank.service import create_parameter_set, transition_item
from item_bank.types import ITEM_TYPES
from tests.helpers import ApiClient, row_count
from tests.unit.item_bank.conftest import CODE, OTHER_CODE, example, make_item
from tests.unit.item_bank.test_service import png


@pytest.fixture
def bank(app: Flask) -> dict[str, int]:
    """Twelve items across types, codes, statuses and difficulties."""
    ids = {}
    for n in range(12):
        type_id = ("single_choice", "numeric", "ordering")[n % 3]
        codes = [CODE] if n % 2 == 0 else [OTHER_CODE]
        version = make_item(type_id, key=f"b-{n:02d}", curriculum_codes=codes,
                            title=f"Item {n}" + (" fractions" if n == 5 else ""))  # fmt: skip
        if n < 4:
            transition_item(version.id, "review", actor=Actor(role="operator"))
        ids[f"b-{n:02d}"] = version.id
    create_parameter_set(
        name="bank-set",
        parameters={
            vid: {"model": "2pl", "discrimination": 1.0, "difficulty": -3 + n * 0.5}
            for n, vid in enumerate(ids.values())
        },
        provenance={"source": "test"},
        status="published",
    )
    db.session.commit()
    return ids


def keys(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [row["key"] for row in response.get_json()["items"]]


def test_listing_filters(operator: ApiClient, bank: dict[str, int]) -> None:
    assert len(keys(operator.get("/api/v1/items?limit=200"))) == 12
    assert keys(operator.get("/api/v1/items?item_type=numeric")) == ["b-10", "b-07", "b-04", "b-01"]
    assert len(keys(operator.get("/api/v1/items?item_type=numeric,ordering"))) == 8
    assert keys(operator.get("/api/v1/items?status=review")) == ["b-03", "b-02", "b-01", "b-00"]
    assert len(keys(operator.get(f"/api/v1/items?code_prefix={CODE[:8]}"))) == 6
    assert len(keys(operator.get("/api/v1/items?code_prefix=835022"))) == 6
    assert len(keys(operator.get("/api/v1/items?code_prefix=83502"))) == 12
    assert keys(operator.get("/api/v1/items?code_prefix=84")) == []
    assert keys(operator.get("/api/v1/items?q=FRACTIONS")) == ["b-05"]
    assert keys(operator.get("/api/v1/items?q=b-1")) == ["b-11", "b-10"]
    assert keys(operator.get("/api/v1/items?q=100%25")) == []  # % is literal, not a wildcard
    easy = operator.get("/api/v1/items?difficulty_max=-2")
    assert keys(easy) == ["b-02", "b-01", "b-00"]
    band = operator.get("/api/v1/items?difficulty_min=0&difficulty_max=1&item_type=single_choice")
    assert keys(band) == ["b-06"]
    with_set = operator.get("/api/v1/items?parameter_set_id=1&difficulty_min=2.5").get_json()
    assert [(r["key"], r["difficulty"]) for r in with_set["items"]] == [("b-11", 2.5)]


def test_listing_pages_with_a_cursor(operator: ApiClient, bank: dict[str, int]) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/items?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = operator.get(url).get_json()
        assert page["total"] == (12 if cursor is None else None)  # counted on page 1 only
        seen += [row["key"] for row in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 12


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=500", "limit=x", "status=lost", "item_type=essay", "code_prefix=8-3",
     "difficulty_min=abc", "difficulty_min=2&difficulty_max=1", "cursor=%%%", "grade=x",
     "difficulty_min=nan"],
)  # fmt: skip
def test_bad_listing_queries_are_422(operator: ApiClient, bank, query: str) -> None:
    response = operator.get(f"/api/v1/items?{query}")
    assert response.status_code == 422, query
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_who_may_do_what(
    app: Flask, api: ApiClient, teacher: ApiClient, researcher: ApiClient, operator: ApiClient, bank
) -> None:
    anonymous = ApiClient(app.test_client())
    assert anonymous.get("/api/v1/items").status_code == 401
    assert teacher.get("/api/v1/items").status_code == 403
    assert researcher.get("/api/v1/items").status_code == 200
    content, scoring = example("single_choice")
    body = {"key": "new-1", "item_type": "single_choice", "content": content, "scoring": scoring}
    assert researcher.post("/api/v1/items", body).status_code == 403
    assert teacher.post("/api/v1/items", body).status_code == 403
    assert researcher.get("/api/v1/items/export.zip").status_code == 403
    version_id = bank["b-00"]
    # operator: review -> pretest; researcher may not; only a researcher makes it operational.
    path = f"/api/v1/item-versions/{version_id}/transitions"
    assert researcher.post(path, {"to": "pretest"}).status_code == 403
    assert operator.post(path, {"to": "pretest"}).status_code == 200
    assert operator.post(path, {"to": "operational"}).status_code == 403
    assert researcher.post(path, {"to": "operational"}).status_code == 200
    assert operator.post(path, {"to": "draft"}).status_code == 409
    assert researcher.post("/api/v1/parameter-sets/1/publish").status_code == 409
    assert operator.get("/api/v1/pools").status_code == 200
    assert teacher.get("/api/v1/parameter-sets").status_code == 403


def test_student_cannot_reach_the_bank(app: Flask) -> None:
    from tests.helpers import seed_school

    school = seed_school(n_items=3)
    student = ApiClient(app.test_client())
    student.login_student(school.class_code, 1, school.student_codes[1])
    assert student.get("/api/v1/items").status_code == 403
    assert student.get(f"/api/v1/items/{school.item_version_ids[0]}").status_code == 403


def test_author_an_item_through_the_api(operator: ApiClient, staff) -> None:
    content, scoring = example("text_entry")
    created = operator.post(
        "/api/v1/items",
        {
            "key": "te-1",
            "item_type": "text_entry",
            "content": content,
            "scoring": scoring,
            "curriculum_codes": [CODE],
            "keywords": ["capital"],
            "language": "ja",
            "accessibility": {"read_aloud": "Japan's capital, in kana", "large_print": True},
        },
    )
    assert created.status_code == 201, created.get_json()
    detail = created.get_json()
    item_id = detail["id"]
    assert detail["latest"]["created_by_id"] == staff["operator"]
    assert detail["allowed_transitions"] == ["review", "retired"]
    revised = operator.post(
        f"/api/v1/items/{item_id}/versions",
        {"base_version_number": 1, "title": "Capital", "scoring": {**scoring, "match": "exact"}},
    )
    assert revised.status_code == 200, revised.get_json()
    assert revised.get_json()["version_number"] == 2
    stale = operator.post(
        f"/api/v1/items/{item_id}/versions", {"base_version_number": 1, "title": "x"}
    )
    assert stale.status_code == 409
    diff = operator.get(f"/api/v1/items/{item_id}/diff?from=1&to=2").get_json()
    changed = {c["field"] for c in diff["changes"]}
    assert {"title", "scoring.match", "scoring.normalise.spaces"} <= changed
    old = operator.get(f"/api/v1/items/{item_id}/versions/1").get_json()
    assert old["scoring"] == {
        **scoring,
        "normalise": {**scoring["normalise"], "case_insensitive": False},
    }
    assert operator.get(f"/api/v1/items/{item_id}/versions/9").status_code == 404
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert "item_created" in actions
    assert "item_revised" in actions


VALID = dict(zip(("content", "scoring"), example("single_choice"), strict=True))


@pytest.mark.parametrize(
    "body",
    [
        {"key": "k", "item_type": "single_choice", "content": {"stem": "x"}, "scoring": {}},
        {"key": "k", "item_type": "nope", "content": {}, "scoring": {}},
        {"key": "k", "item_type": "single_choice"},
        {"key": "k", "item_type": "single_choice", "content": [], "scoring": {}},
        {"key": "bad key", "item_type": "single_choice", **VALID},
        {"key": "k", "item_type": "single_choice", "status": "operational",
         **VALID},
        {"key": "k", "item_type": "single_choice", "surprise": 1,
         **VALID},
        {"key": "k", "item_type": "single_choice", "curriculum_codes": ["12345"],
         **VALID},
    ],
)  # fmt: skip
def test_bad_items_are_refused_and_nothing_is_written(operator: ApiClient, body: dict) -> None:
    before = row_count(Item), row_count(AuditEvent)
    response = operator.post("/api/v1/items", body)
    assert 400 <= response.status_code < 500
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert (row_count(Item), row_count(AuditEvent)) == before


def test_preview_is_the_student_view_and_score_tries_a_key(operator: ApiClient, staff) -> None:
    content, scoring = example("ordering")
    preview = operator.post("/api/v1/items/preview", {"item_type": "ordering", "content": content})
    assert preview.status_code == 200
    item = preview.get_json()["item"]
    assert item["handle"] == "preview"
    assert "correct" not in str(item)
    tried = operator.post(
        "/api/v1/items/score",
        {"item_type": "ordering", "content": content, "scoring": scoring,
         "response": {"order": ["A", "B", "C"]}},
    )  # fmt: skip
    assert tried.get_json() == {
        "score": 1.0,
        "max_score": 1.0,
        "human_scored": False,
        "outcomes": {"SCORE": 1.0},
    }
    malformed = operator.post(
        "/api/v1/items/score",
        {"item_type": "ordering", "content": content, "scoring": scoring, "response": {"order": 1}},
    )
    assert malformed.status_code == 422
    # The same try in the shape of `cbt items score`: keyed by response identifier.
    keyed = operator.post(
        "/api/v1/items/score",
        {"item_type": "ordering", "content": content, "scoring": scoring,
         "responses": {"RESPONSE": ["B", "A", "C"]}},
    )  # fmt: skip
    assert keyed.status_code == 200, keyed.get_json()
    assert keyed.get_json()["score"] == 0.0
    assert keyed.get_json()["outcomes"]["SCORE"] == 0.0
    for body, field in [
        ({"responses": {"NOPE": "A"}}, "responses"),
        ({"responses": "A"}, "responses"),
        ({}, "responses"),
    ]:
        refused = operator.post(
            "/api/v1/items/score",
            {"item_type": "ordering", "content": content, "scoring": scoring, **body},
        )
        assert refused.status_code == 422, body
        assert refused.get_json()["error"]["details"]["field"] == field


def test_a_stored_item_scores_responses_as_the_command_line_does(
    app: Flask, operator: ApiClient, runner, every_type
) -> None:
    from item_bank.models import ItemVersion
    from item_bank.qti.agreement import qti_responses
    from tests.unit.item_bank.test_types import CASES

    for type_id, version_id in every_type.items():
        version = db.session.get(ItemVersion, version_id)
        if type_id == "extended_text":
            continue
        response = json.dumps(qti_responses(type_id, CASES[type_id][0]))
        printed = runner.invoke(cli, ["items", "score", version.item.key, "--response", response])
        assert printed.exit_code == 0, printed.output
        reply = operator.post(
            f"/api/v1/items/{version.item_id}/score", {"responses": json.loads(response)}
        )
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        assert body["outcomes"] == json.loads(printed.output), type_id
        assert (body["key"], body["version"]) == (version.item.key, version.version_number)
    some = next(iter(every_type.values()))
    item_id = db.session.get(ItemVersion, some).item_id
    for body, status in [
        ({"responses": {"NOPE": "A"}}, 422),
        ({"responses": {}, "version": 99}, 404),
        ({"responses": {}, "version": 0}, 422),
        ({}, 422),
    ]:
        reply = operator.post(f"/api/v1/items/{item_id}/score", body)
        assert reply.status_code == status, (body, reply.get_json())
        assert set(reply.get_json()["error"]) == {"code", "message", "details"}
    assert operator.post("/api/v1/items/999999/score", {"responses": {}}).status_code == 404


def test_export_and_import_over_http(operator: ApiClient, bank: dict[str, int]) -> None:
    exported = operator.get("/api/v1/items/export.zip?item_type=numeric")
    assert exported.status_code == 200
    assert exported.mimetype == "application/zip"
    assert exported.headers["X-Item-Count"] == "4"
    data = exported.data
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "imsmanifest.xml" in names
    dry = operator.post(
        "/api/v1/items/import?dry_run=1",
        data=data,
        headers={"Content-Type": "application/zip"},
    )
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["dry_run"] is True
    assert dry.get_json()["unchanged"] == 4
    form = operator.post(
        "/api/v1/items/import",
        data={"package": (io.BytesIO(data), "bank.zip")},
        content_type="multipart/form-data",
    )
    assert form.get_json()["unchanged"] == 4
    refused = operator.post(
        "/api/v1/items/import?status=operational",
        data=data,
        headers={"Content-Type": "application/zip"},
    )
    assert refused.status_code == 422
    assert operator.post("/api/v1/items/import", {"x": 1}).status_code == 415
    by_key = operator.get("/api/v1/items/export.zip?keys=b-00,b-01")
    assert by_key.headers["X-Item-Count"] == "2"
    assert operator.get("/api/v1/items/export.zip?keys=nope").status_code == 404
    assert operator.get("/api/v1/items/export.zip?code_prefix=84").status_code == 422


def test_import_dry_run_writes_nothing(operator: ApiClient, bank: dict[str, int]) -> None:
    data = operator.get("/api/v1/items/export.zip?keys=b-00").data
    db.session.execute(db.metadata.tables["item_curriculum_codes"].delete())
    for table in ("item_parameters", "item_curriculum_codes", "item_versions", "items"):
        db.session.execute(db.metadata.tables[table].delete())
    db.session.commit()
    before = row_count(ItemVersion), row_count(AuditEvent)
    response = operator.post(
        "/api/v1/items/import?dry_run=true", data=data, headers={"Content-Type": "application/zip"}
    )
    assert response.get_json()["created"] == 1
    assert (row_count(ItemVersion), row_count(AuditEvent)) == before
    bad = operator.post(
        "/api/v1/items/import", data=b"not a zip", headers={"Content-Type": "application/zip"}
    )
    assert bad.status_code == 422
    assert (row_count(ItemVersion), row_count(AuditEvent)) == before


def test_media_upload_and_serving(app: Flask, operator: ApiClient, teacher: ApiClient) -> None:
    image = png(3, 3)
    uploaded = operator.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(image), "dot.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    url = uploaded.get_json()["url"]
    served = teacher.get(url)
    assert served.data == image
    assert served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert ApiClient(app.test_client()).get(url).status_code == 401
    fake = operator.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(b"<html>"), "x.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422


def test_parameter_sets_and_pools_over_http(
    operator: ApiClient, researcher: ApiClient, bank: dict[str, int]
) -> None:
    records = [{"item_key": "b-00", "model": "2pl", "discrimination": 1.3, "difficulty": 0.4}]
    created = researcher.post(
        "/api/v1/parameter-sets",
        {
            "name": "recal",
            "provenance": {"source": "calibration", "run": "2026-06"},
            "items": records,
        },
    )
    assert created.status_code == 201, created.get_json()
    set_id = created.get_json()["id"]
    assert created.get_json()["status"] == "draft"
    assert operator.post(f"/api/v1/parameter-sets/{set_id}/publish").status_code == 403
    assert (
        researcher.post(f"/api/v1/parameter-sets/{set_id}/publish").get_json()["status"]
        == "published"
    )
    bad = researcher.post(
        "/api/v1/parameter-sets",
        {
            "name": "bad",
            "provenance": {"source": "x"},
            "items": [{"item_key": "zzz", "model": "2pl"}],
        },
    )
    assert bad.status_code == 422
    pool = operator.post(
        "/api/v1/pools",
        {"name": "P", "item_version_ids": list(bank.values()), "active_parameter_set_id": 1},
    )
    assert pool.status_code == 201, pool.get_json()
    summary = pool.get_json()
    assert summary["n_items"] == 12
    assert sum(summary["by_difficulty"].values()) == 12
    pool_id = summary["id"]
    changed = operator.client.put(
        f"/api/v1/pools/{pool_id}/parameter-set",
        json={"parameter_set_id": set_id},
        headers=operator._headers(),
    )
    assert changed.get_json()["n_calibrated"] == 1
    members = operator.client.put(
        f"/api/v1/pools/{pool_id}/members",
        json={"item_version_ids": [bank["b-00"]]},
        headers=operator._headers(),
    )
    assert members.get_json()["n_items"] == 1
    assert operator.get(f"/api/v1/pools/{pool_id}?code_prefix_length=3").status_code == 200


def test_openapi_document_covers_every_api_route(app: Flask, client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, operations in document["paths"].items()
        for method in operations
    }  # fmt: skip
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule[len("/api/v1") :]
        for converter in ("int:", "string:", "path:"):
            path = path.replace("<" + converter, "<")
        path = path.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # Every route is described, not just listed: a declared summary and its roles.
            assert operation["summary"] != operation["operationId"].replace("_", "."), path
            assert "_api" not in operation["tags"][0], (path, method)
    items = document["paths"]["/items"]
    assert {p["name"] for p in items["get"]["parameters"]} >= {"code_prefix", "cursor", "q"}
    assert items["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ItemCreate"
    }
    login = document["paths"]["/auth/student-login"]["post"]
    assert (
        "class_code" in login["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in document["components"]["schemas"]


def test_item_types_and_curriculum_codes(operator: ApiClient, bank) -> None:
    types = operator.get("/api/v1/item-types").get_json()
    assert len(types["item_types"]) == len(ITEM_TYPES)
    assert {"from": "pretest", "to": "operational", "roles": ["researcher"]} in types["transitions"]
    codes = operator.get("/api/v1/curriculum-codes?prefix=835021").get_json()["codes"]
    assert codes == [{"code": CODE, "n_items": 6}]
    described = operator.get(f"/api/v1/curriculum-codes/{CODE}").get_json()
    assert described["school_type"] == "3"
    assert operator.get("/api/v1/curriculum-codes/123").status_code == 422


def test_stimuli_and_enemies(operator: ApiClient, bank) -> None:
    created = operator.post(
        "/api/v1/stimuli", {"key": "story", "html": "<p>Once.</p>", "language": "ja"}
    )
    assert created.status_code == 201
    assert operator.get("/api/v1/stimuli").get_json()["stimuli"][0]["key"] == "story"
    item_id = db.session.get(ItemVersion, bank["b-00"]).item_id
    response = operator.client.put(
        f"/api/v1/items/{item_id}/enemies", json={"keys": ["b-01"]}, headers=operator._headers()
    )
    assert response.get_json() == {"enemies": ["b-01"]}
    bad = operator.client.put(
        f"/api/v1/items/{item_id}/enemies", json={"keys": [1]}, headers=operator._headers()
    )
    assert bad.status_code == 422
