"""A researcher downloads pseudonymised responses and a parameter set, and publishes a draft."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt.db import db
from cbt.models import Role, User
from delivery.models import Administration
from item_bank.models import ItemVersion
from item_bank.service import create_parameter_set
from tests.e2e.conftest import LiveServer, staff_login
from tests.helpers import sit_sessions


def _sit_three_students(server: LiveServer) -> tuple[int, set[str]]:
    """Three demo students with five answers each, and a draft parameter set."""
    with server.app.app_context():
        administration = db.session.scalars(select(Administration)).first()
        versions = db.session.scalars(select(ItemVersion.id).order_by(ItemVersion.id).limit(5))
        versions = list(versions)
        students = list(
            db.session.scalars(
                select(User.id).where(User.role == Role.STUDENT).order_by(User.id).limit(3)
            )
        )
        sit_sessions(versions, administration.id, 0, np.random.default_rng(2), students=students)
        create_parameter_set(
            name="e2e-draft",
            parameters={versions[0]: {"model": "2pl", "discrimination": 1.1, "difficulty": 0.3}},
            provenance={"source": "test"},
        )
        db.session.commit()
        pseudonyms = db.session.scalars(select(User.pseudonym).where(User.id.in_(students)))
        return administration.id, set(pseudonyms)


def test_researcher_downloads_files_and_publishes_a_draft(
    page: Page, live_server: LiveServer
) -> None:
    _, pseudonyms = _sit_three_students(live_server)
    staff_login(page, live_server, "researcher")
    expect(page.get_by_role("heading", name="Research")).to_be_visible()

    rows = page.get_by_test_id("administration-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("15")  # responses
    download = page.locator("[data-download=responses]")
    expect(download).to_have_attribute("aria-disabled", "true")
    rows.first.get_by_role("checkbox").check()
    with page.expect_download() as info:
        download.click()
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel on Japanese Windows needs
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert records[0] == ["person_id", "item_id", "score"]
    assert len(records) == 16
    assert {r[0] for r in records[1:]} == pseudonyms  # pseudonyms, never names

    draft = page.get_by_test_id("parameter-set-row").filter(has_text="e2e-draft")
    with page.expect_download() as info:
        draft.get_by_role("link", name="Download e2e-draft version 1 as PARAMS.json").click()
    document = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert document["items"][0]["discrimination"] == 1.1
    draft.get_by_role("button", name="Publish e2e-draft version 1").click()
    expect(page.locator("[data-status]")).to_have_text("Published e2e-draft version 1.")
    expect(draft.locator(".badge")).to_have_text("published")
    expect(draft.get_by_role("button")).to_have_count(0)

    # A PARAMS.json from cbt calibrate or cbt link comes back as a draft, or not at all.
    version_id = document["items"][0]["item_id"]
    linked = {
        "model": "2pl",
        "items": [{"item_id": version_id, "discrimination": 0.9, "difficulty": -0.2}],
        "linking": {"method": "stocking-lord"},
    }
    form = page.locator("[data-import-form]")
    form.get_by_label("File").set_input_files(
        files=[
            {
                "name": "linked.json",
                "mimeType": "application/json",
                "buffer": json.dumps(linked).encode(),
            }
        ]
    )
    form.get_by_label("Parameter set name").fill("e2e-linked")
    form.get_by_role("button", name="Import as draft").click()
    expect(form.locator("[data-import-status]")).to_have_text(
        "Imported 1 items as e2e-linked version 1 (draft)."
    )
    imported = page.get_by_test_id("parameter-set-row").filter(has_text="e2e-linked")
    expect(imported.locator(".badge")).to_have_text("draft")
    linked["items"][0]["item_id"] = "999999"
    form.get_by_label("File").set_input_files(
        files=[
            {
                "name": "bad.json",
                "mimeType": "application/json",
                "buffer": json.dumps(linked).encode(),
            }
        ]
    )
    form.get_by_label("Parameter set name").fill("e2e-bad")
    form.get_by_role("button", name="Import as draft").click()
    expect(form.locator("[data-import-status]")).to_contain_text("Unknown item versions.")
    expect(page.get_by_test_id("parameter-set-row").filter(has_text="e2e-bad")).to_have_count(0)
