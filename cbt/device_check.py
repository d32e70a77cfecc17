"""The device check: a public page for students and school IT, and the tiny ping it times.

``/device-check`` needs no login: a school checks its Chromebooks and iPads before test day.
Its ES module (frontend/static/js/device_check.js) checks the browser, the round trip to
``/api/v1/ping`` and the download of a known-size static file, audio and the screen, and
reports each as pass, warn or fail. The ping touches neither the database nor Redis, so it
times the network and the web server only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, render_template

from cbt.openapi import openapi, register_tags

blueprint = Blueprint("cbt_device_check", __name__)

# The throughput sample: incompressible bytes of a known size (frontend/static/device_check/).
SAMPLE_PATH = "device_check/sample-256k.bin"
SAMPLE_BYTES = 256 * 1024

DEVICE = "Device check"
register_tags({DEVICE: "What a school device needs: the round trip to the app, for timing."})


@blueprint.get("/device-check")
def device_check_page() -> str:
    return render_template("device_check.html", sample_path=SAMPLE_PATH, sample_bytes=SAMPLE_BYTES)


@blueprint.get("/api/v1/ping")
@openapi(
    summary="A tiny reply for timing the round trip (no login, no database).",
    tags=[DEVICE],
    response={
        "type": "object",
        "required": ["ok", "server_time"],
        "properties": {
            "ok": {"type": "boolean"},
            "server_time": {"type": "string", "format": "date-time"},
        },
    },
)
def ping() -> Response:
    response = jsonify({"ok": True, "server_time": datetime.now(UTC).isoformat()})
    response.headers["Cache-Control"] = "no-store"
    return response
