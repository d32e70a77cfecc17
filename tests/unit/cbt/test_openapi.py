"""One OpenAPI mechanism: every /api/v1 route describes itself with @openapi beside its code."""

from __future__ import annotations

from flask import Flask

import cbt.openapi


def test_every_api_route_carries_its_own_description(app: Flask) -> None:
    assert not hasattr(cbt.openapi, "DECLARED")
    undescribed = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and not hasattr(app.view_functions[rule.endpoint], "__openapi__")
    ]
    assert undescribed == []


def test_integer_path_parameters_declare_what_the_server_accepts(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    parameter = next(
        p for p in document["paths"]["/items/{item_id}"]["get"]["parameters"] if p["in"] == "path"
    )
    assert parameter["schema"] == {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 2**31 - 1,
    }
    tags = {tag["name"]: tag.get("description") for tag in document["tags"]}
    assert tags["Authentication"]
    assert tags["Proctoring"]
