"""The player's budgets that do not depend on timing (issue 11, point 9).

The take-test page's scripts and style sheets (every module it imports, read from the network
log) stay within 150 KB uncompressed, and no request goes to a host but the app's own. First
contentful paint is measured by benchmarks/bench_player_budget.py only: no timed assertions.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser

from tests.e2e.conftest import LiveServer

BYTES_LIMIT = 150 * 1024


def test_the_player_loads_at_most_150_kb_of_code_and_only_from_the_app(
    browser: Browser, live_server_ja: LiveServer
) -> None:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1366, "height": 768})
    own = urlsplit(live_server_ja.url).netloc
    requested: list[str] = []
    responses = []
    context.on("request", lambda request: requested.append(request.url))
    context.on("response", lambda response: responses.append(response))
    page = context.new_page()

    # Logged in through the API (as the login page does), so the player is the first page this
    # context loads: every file comes from the network, none from the cache (a 304 has no body).
    class_code, number, _, code = live_server_ja.logins.students[3]
    token = context.request.get(f"{live_server_ja.url}/api/v1/auth/csrf").json()["csrf_token"]
    login = context.request.post(
        f"{live_server_ja.url}/api/v1/auth/student-login",
        data={"class_code": class_code, "student_number": number, "login_code": code},
        headers={"X-CSRF-Token": token},
    )
    assert login.ok
    page.goto(f"{live_server_ja.url}/student/tests/{live_server_ja.logins.administration_id}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # let late (dynamic) imports arrive; not a timing assertion

    code_files = {
        urlsplit(response.url).path: len(response.body())
        for response in responses
        if response.request.resource_type in {"script", "stylesheet"}
    }
    assert "/static/js/take_test.js" in code_files
    assert "/static/js/answer_queue.js" in code_files  # the offline modules are counted too
    assert "/static/css/app.css" in code_files
    if "/sw.js" not in code_files:  # the service worker's script is part of the player
        code_files["/sw.js"] = len(context.request.get(f"{live_server_ja.url}/sw.js").body())
    total = sum(code_files.values())
    assert total <= BYTES_LIMIT, f"{total - BYTES_LIMIT} bytes over the budget: {code_files}"

    foreign = [
        url
        for url in requested
        if urlsplit(url).scheme not in {"data", "blob"} and urlsplit(url).netloc != own
    ]
    assert foreign == []
    context.close()
