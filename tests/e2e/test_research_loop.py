"""The researcher's closed loop in the browser: choose an administration, calibrate it as a
background job with the operational anchors held fixed (the job survives a reload), review drift,
fit and the comparison charts, publish the new version, rescore past sessions with it and read
what changed, and promote the pretest items."""

from __future__ import annotations

import uuid

import numpy as np
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from delivery.models import Administration
from item_bank.models import ItemParameter, ItemStatus, ItemVersion, ParameterSet
from item_bank.service import create_parameter_set
from tests.e2e.conftest import LiveServer, staff_login
from tests.helpers import ApiClient, seed_school_parameters, sit_sessions

N_PRETEST = 3
JOB_TIMEOUT = 240_000  # ms; the machine is shared


def _seed(server: LiveServer) -> tuple[list[int], list[str], int]:
    """400 pseudonymous sittings of the demo items, an operational anchor set of all but the last
    three items (now pretest), and two demo students' finished CAT sittings (with results)."""
    with server.app.app_context():
        administration = db.session.scalars(select(Administration)).first()
        demo_set = db.session.scalars(
            select(ParameterSet).where(ParameterSet.status == "published")
        ).first()
        versions = sorted(
            db.session.scalars(
                select(ItemParameter.item_version_id).where(
                    ItemParameter.parameter_set_id == demo_set.id
                )
            )
        )
        a, b = seed_school_parameters(len(versions))
        create_parameter_set(
            name="operational",
            parameters={
                v: {"model": "2pl", "discrimination": float(a[k]), "difficulty": float(b[k])}
                for k, v in enumerate(versions[:-N_PRETEST])
            },
            provenance={"source": "test"},
            status="published",
        )
        for version in versions[-N_PRETEST:]:
            db.session.get(ItemVersion, version).status = ItemStatus.PRETEST
        sit_sessions(versions, administration.id, 400, np.random.default_rng(11))
        db.session.commit()
        sessions = []
        for class_name, number, _, code in server.logins.students[:2]:
            client = ApiClient(server.app.test_client())
            class_code = class_name  # the demo's class code is what students type
            assert client.login_student(class_code, number, code).status_code == 200
            view = client.post(f"/api/v1/administrations/{administration.id}/sessions").get_json()
            session_id = view["session"]["id"]
            while not view["finished"]:
                view = client.post(
                    f"/api/v1/sessions/{session_id}/responses",
                    {
                        "item": view["item"]["handle"],
                        "response": {"choice": "A"},
                        "idempotency_key": uuid.uuid4().hex,
                    },
                ).get_json()
            sessions.append(session_id)
        return versions[-N_PRETEST:], sessions, len(versions)


def test_the_researcher_loop_from_download_to_a_published_rescored_version(
    page: Page, live_server: LiveServer
) -> None:
    pretest, sessions, n_items = _seed(live_server)
    staff_login(page, live_server, "researcher")
    expect(page.get_by_role("heading", name="Research", exact=True)).to_be_visible()

    # Choose the administration; its responses download as the file cbt calibrate reads.
    rows = page.get_by_test_id("administration-row")
    rows.first.get_by_role("checkbox").check()
    with page.expect_download(timeout=JOB_TIMEOUT) as info:
        page.locator("[data-download=responses]").click(timeout=JOB_TIMEOUT)
    assert info.value.suggested_filename.startswith("responses-administration-")

    # Calibrate as a background job, anchors held fixed.
    form = page.locator("[data-calibrate-form]")
    form.get_by_label("New parameter set name").fill("grade8-2026")
    form.get_by_label("Anchors held fixed").select_option(label="operational v1")
    form.get_by_role("button", name="Start calibration").click()
    job = page.get_by_test_id("job").first
    expect(job).to_be_visible()
    expect(job.locator("progress")).to_be_visible()
    page.reload()  # the job lives on the server: a reload finds it again
    job = page.get_by_test_id("job").first
    expect(job).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT)
    job.get_by_role("link", name="Review grade8-2026 version 1").click()

    # Review: drift of the anchors, fit, the comparison with the operational values.
    expect(page.get_by_role("heading", name="Parameter set review grade8-2026 v1")).to_be_visible()
    expect(page.get_by_test_id("drift-row").first).to_be_visible()
    expect(page.get_by_test_id("drift-row")).to_have_count(n_items - N_PRETEST)
    expect(page.get_by_test_id("fit-row")).to_have_count(n_items)
    expect(page.get_by_test_id("comparison-row").first).to_be_visible()
    for kind in ("scatter", "tcc", "information"):
        page.wait_for_function(
            "(kind) => { const i = document.querySelector(`[data-chart=${kind}]`);"
            " return i.complete && i.naturalWidth > 0; }",
            arg=kind,
        )
        assert (page.locator(f"[data-chart={kind}]").get_attribute("alt") or "").strip()

    # Publish the new version, then rescore the two past sessions with it.
    page.get_by_role("button", name="Publish this version").click()
    expect(page.locator("[data-publish-status]")).to_have_text("Published grade8-2026 version 1.")
    rescore = page.locator("[data-rescore-form]")
    rescore.get_by_role("checkbox").first.check()
    rescore.get_by_label("Reason (kept in the audit log)").fill("recalibration 2026")
    rescore.get_by_role("button", name="Rescore with this version").click()
    expect(page.get_by_test_id("rescore-row")).to_have_count(2, timeout=JOB_TIMEOUT)
    expect(page.locator("[data-rescore-summary]")).to_contain_text("of 2 sessions changed")

    # Promote the pretest items.
    page.get_by_role("button", name="Make the pretest items operational").click()
    expect(page.locator("[data-promote-status]")).to_contain_text(
        f"{len(pretest)} items are operational now"
    )
    with live_server.app.app_context():
        statuses = {db.session.get(ItemVersion, v).status for v in pretest}
        assert statuses == {ItemStatus.OPERATIONAL}
        new_set = db.session.scalars(
            select(ParameterSet).where(ParameterSet.name == "grade8-2026")
        ).one()
        assert new_set.status == "published"
        assert new_set.provenance["review"]["pretest_items"] == [str(v) for v in pretest]
        assert len(set(sessions)) == 2
