"""The student player's budgets in Chromium (issue 11, point 9).

Usage::

    python benchmarks/bench_player_budget.py               # the Japanese demo, 5 loads
    python benchmarks/bench_player_budget.py --language en --loads 9
    python benchmarks/bench_player_budget.py --json         # the figures as JSON, after the table

The script serves the demo exactly as ``cbt demo`` seeds it (a temporary instance, SQLite, the
app on 127.0.0.1 and a free port, as tests/e2e/conftest.py ``serve_demo`` does), signs a demo
student in and opens the take-test page of the demo's test in Debian's Chromium
(``/usr/bin/chromium --no-sandbox --disable-gpu``, headless, 1366x768), each load in a fresh
browser context, so with an empty cache. It measures three budgets:

* **JS + CSS bytes**: the sum of the uncompressed bodies of every script and style sheet the
  page loads, read from the network log, so every module the page imports (statically, or
  dynamically within the settling time) is counted, and the player's service worker
  (``/sw.js``, read directly when the log does not show it). Limit: 150 KB (150 x 1024
  bytes). The catalog JSON and the API replies are listed, not counted.
* **First contentful paint**: the ``first-contentful-paint`` entry of a ``paint``
  PerformanceObserver, median of the loads. Limit: 1 s on localhost.
* **Other hosts**: every request of every load must go to the app's own origin (``data:``
  and ``blob:`` URLs are not requests to a host). Any other is listed.

It prints a table and exits with 1 when a budget is missed (2 when the page cannot be
measured). The player is left as it is: the script only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from _common import machine_line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CBT_CHROMIUM", "/usr/bin/chromium")
BYTES_LIMIT = 150 * 1024
FCP_LIMIT_MS = 1000.0
COUNTED_TYPES = {"script": "JS", "stylesheet": "CSS"}
# After the load event, wait until no script or style sheet has been requested for this long,
# so that modules imported late (a dynamic import) are counted too.
SETTLE_SECONDS = 1.5
# The player's service worker (docs/offline.md): part of the player's code, counted always.
WORKER = "/sw.js"
SETTLE_LIMIT_SECONDS = 15.0

_FCP = """() => new Promise((resolve) => {
  const found = () => performance.getEntriesByName("first-contentful-paint")[0];
  if (found()) return resolve(found().startTime);
  new PerformanceObserver((list) => {
    const entry = list.getEntriesByName("first-contentful-paint")[0];
    if (entry) resolve(entry.startTime);
  }).observe({ type: "paint", buffered: true });
  setTimeout(() => resolve(null), 10000);
})"""


@dataclass
class Load:
    fcp_ms: float | None
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (kind, bytes)
    others: dict[str, int] = field(default_factory=dict)  # path -> bytes (JSON, images, ...)
    foreign: list[str] = field(default_factory=list)


@contextmanager
def serve_demo(language: str) -> Iterator[tuple[str, object]]:
    """The demo as `cbt demo` seeds it, on 127.0.0.1 and a free port, in a temporary instance."""
    import logging

    from werkzeug.serving import make_server

    from cbt.app import create_app
    from cbt.db import db
    from cbt.demo import seed_demo
    from cbt.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="cbt-budget-") as instance:
        app = create_app({"INSTANCE_PATH": instance, "LOGIN_RATE_LIMIT": "1000 per minute"})
        with app.app_context():
            upgrade(db.engine)
            logins = seed_demo(app.config["SECRET_KEY"], language)
            db.session.commit()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", logins
        finally:
            server.shutdown()
            thread.join(timeout=10)


def launch(playwright: object) -> object:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def sign_in(context: object, base_url: str, student: tuple[str, int, str, str]) -> None:
    """Log a demo student in through the API, as the login page does (CSRF token first)."""
    class_code, number, _, code = student
    token = context.request.get(f"{base_url}/api/v1/auth/csrf").json()["csrf_token"]
    reply = context.request.post(
        f"{base_url}/api/v1/auth/student-login",
        data={"class_code": class_code, "student_number": number, "login_code": code},
        headers={"X-CSRF-Token": token},
    )
    if not reply.ok:
        raise SystemExit(f"the demo student could not log in: {reply.status} {reply.text()}")


def measure_load(browser: object, base_url: str, path: str, student: tuple, language: str) -> Load:
    """One cold load of ``path`` (a fresh context: empty cache, new login)."""
    locale = "ja-JP" if language == "ja" else "en-US"  # the page follows the browser's language
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale=locale)
    own = urlsplit(base_url).netloc
    foreign: list[str] = []
    responses: list[object] = []
    last_code_request = [time.monotonic()]

    def on_request(request: object) -> None:
        scheme = urlsplit(request.url).scheme
        if scheme in {"data", "blob"}:
            return
        if urlsplit(request.url).netloc != own:
            foreign.append(request.url)
        if request.resource_type in COUNTED_TYPES:
            last_code_request[0] = time.monotonic()

    context.on("request", on_request)
    context.on("response", lambda response: responses.append(response))
    try:
        sign_in(context, base_url, student)
        page = context.new_page()
        page.goto(f"{base_url}{path}", wait_until="load")
        fcp = page.evaluate(_FCP)
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if time.monotonic() - last_code_request[0] >= SETTLE_SECONDS:
                break
            page.wait_for_timeout(250)
        load = Load(fcp_ms=fcp, foreign=foreign)
        for response in list(responses):
            request = response.request
            parts = urlsplit(response.url)
            if parts.netloc != own:
                continue
            kind = COUNTED_TYPES.get(request.resource_type)
            try:
                size = len(response.body())
            except Exception:  # a redirect, a 304 or a stream (server-sent events): no body
                if kind:  # a file the budget counts must be measured, never guessed
                    raise SystemExit(f"cannot read {parts.path} ({response.status})") from None
                size = 0
            if kind:
                load.files[parts.path] = (kind, size)
            elif request.resource_type != "document" or parts.path == path:
                # The service worker fetches the page's files once more to keep them (mostly
                # from the HTTP cache, no body here): the page's own reply is the one listed.
                name = f"{request.method} {parts.path}"
                load.others[name] = max(size, load.others.get(name, 0))
        for name in [name for name in load.others if name.split(" ", 1)[1] in load.files]:
            del load.others[name]  # the worker keeping a counted file: counted once, above
        if WORKER not in load.files:  # the worker's own script is fetched off the page's log
            reply = context.request.get(f"{base_url}{WORKER}")
            if not reply.ok:
                raise SystemExit(f"cannot read {WORKER} ({reply.status})")
            load.files[WORKER] = ("JS", len(reply.body()))
        return load
    finally:
        context.close()


def run(language: str, loads: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with serve_demo(language) as (base_url, logins), sync_playwright() as playwright:
        browser = launch(playwright)
        path = f"/student/tests/{logins.administration_id}"
        student = logins.students[0]
        measured = [measure_load(browser, base_url, path, student, language) for _ in range(loads)]
        browser.close()
    files: dict[str, tuple[str, int]] = {}
    others: dict[str, int] = {}
    foreign: set[str] = set()
    for load in measured:
        files.update(load.files)
        others.update(load.others)
        foreign.update(load.foreign)
    fcps = [load.fcp_ms for load in measured if load.fcp_ms is not None]
    return {
        "page": path,
        "language": language,
        "loads": loads,
        "files": dict(sorted(files.items(), key=lambda item: -item[1][1])),
        "others": others,
        "bytes": sum(size for _, size in files.values()),
        "js_bytes": sum(size for kind, size in files.values() if kind == "JS"),
        "css_bytes": sum(size for kind, size in files.values() if kind == "CSS"),
        "fcp_ms": [round(value, 1) for value in fcps],
        "fcp_median_ms": round(statistics.median(fcps), 1) if fcps else None,
        "fcp_missing": loads - len(fcps),
        "foreign": sorted(foreign),
    }


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def report(result: dict[str, object]) -> bool:
    """Print the table; True when every budget is met."""
    print(f"Player budgets: {result['page']} ({result['language']} demo), {result['loads']} cold")
    print(f"loads in headless Chromium ({CHROMIUM}), 1366x768. Machine: {machine_line()},")
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}.\n")
    print("| file | kind | bytes |\n|---|---|---|")
    for file, (kind, size) in result["files"].items():
        print(f"| {file} | {kind} | {size:,} |")
    print("\nNot counted (data and API replies of the same loads):\n")
    for name, size in sorted(result["others"].items()):
        print(f"- {name}: {size:,} bytes")

    over = result["bytes"] - BYTES_LIMIT
    fcp = result["fcp_median_ms"]
    fcp_ok = fcp is not None and fcp <= FCP_LIMIT_MS and result["fcp_missing"] == 0
    rows = [
        (
            "JS + CSS, uncompressed",
            f"{kb(result['bytes'])} (JS {kb(result['js_bytes'])}, CSS {kb(result['css_bytes'])})",
            f"<= {kb(BYTES_LIMIT)}",
            over <= 0,
        ),
        (
            f"first contentful paint, median of {result['loads']}",
            "none"
            if fcp is None
            else f"{fcp:.0f} ms (each: {', '.join(map(str, result['fcp_ms']))})",
            f"<= {FCP_LIMIT_MS:.0f} ms",
            fcp_ok,
        ),
        (
            "requests to another host",
            str(len(result["foreign"])),
            "0",
            not result["foreign"],
        ),
    ]
    print("\n| budget | measured | limit | result |\n|---|---|---|---|")
    for name, measured, limit, ok in rows:
        print(f"| {name} | {measured} | {limit} | {'met' if ok else 'MISSED'} |")
    catalog = sum(size for name, size in result["others"].items() if "/i18n/" in name)
    if catalog:
        print(
            f"\nNot a budget: the string catalog the page fetches is {kb(catalog)} more "
            f"(JS + CSS + catalog: {kb(result['bytes'] + catalog)})."
        )
    if over > 0:
        print(
            f"\nJS + CSS is {kb(over)} over the budget; the largest files are listed first above."
        )
    for url in result["foreign"]:
        print(f"request to another host: {url}")
    return all(ok for *_, ok in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--language", choices=("ja", "en"), default="ja", help="the demo's language"
    )
    parser.add_argument("--loads", type=int, default=5, help="cold loads for the FCP median")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    if args.loads < 1:
        parser.error("--loads must be at least 1")
    result = run(args.language, args.loads)
    if not result["files"]:
        print("the take-test page loaded no script or style sheet: nothing to measure")
        return 2
    met = report(result)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
