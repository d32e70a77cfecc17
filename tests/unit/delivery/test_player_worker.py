"""The player's service worker route (docs/offline.md): served from the root with a scope for
the whole site, never cached by the browser, under the same strict CSP as every reply."""

from __future__ import annotations

from pathlib import Path

SW = Path(__file__).resolve().parents[3] / "frontend" / "static" / "js" / "sw.js"


def test_the_worker_is_served_from_the_root_for_the_whole_site(client) -> None:
    reply = client.get("/sw.js")
    assert reply.status_code == 200
    assert reply.mimetype in {"text/javascript", "application/javascript"}
    assert reply.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in reply.headers["Cache-Control"]
    assert reply.get_data() == SW.read_bytes()
    reply.close()


def test_the_csp_allows_only_a_same_origin_worker(client) -> None:
    reply = client.get("/sw.js")
    policy = reply.headers["Content-Security-Policy"]
    reply.close()
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["worker-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # the fallback a browser without worker-src uses
