"""An operator uploads a OneRoster zip on the roster page, reads the dry run, then imports it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, staff_login
from tests.unit.roster.conftest import fixture_files, replace_line, to_zip


def test_operator_checks_then_imports_a_roster(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    files = fixture_files()
    bad = dict(files)
    row = bad["classes.csv"].splitlines()[1].split(",")
    row[7] = "seminar"
    replace_line(bad, "classes.csv", 2, ",".join(row))
    (tmp_path / "bad.zip").write_bytes(to_zip(bad))
    (tmp_path / "good.zip").write_bytes(to_zip(files))

    staff_login(page, live_server, "operator")
    expect(page.get_by_role("heading", name="Item bank")).to_be_visible()
    page.goto(f"{live_server.url}/roster")
    expect(page.get_by_role("heading", name="Import a roster (OneRoster 1.2 CSV)")).to_be_visible()

    # A bad roster: every bad row in the table, nothing to import.
    page.get_by_label("Roster zip").set_input_files(str(tmp_path / "bad.zip"))
    page.get_by_role("button", name="Check (dry run)").click()
    expect(page.locator("[data-status]")).to_contain_text("nothing was imported")
    errors = page.locator("[data-error-table] tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("classes.csv")
    expect(errors.first).to_contain_text("classType")
    expect(page.get_by_role("button", name="Import", exact=True)).to_be_disabled()

    # The good one: the dry run shows what would change, then the import does it.
    page.get_by_label("Roster zip").set_input_files(str(tmp_path / "good.zip"))
    page.get_by_role("button", name="Check (dry run)").click()
    expect(page.locator("[data-status]")).to_contain_text("The roster is valid")
    people = page.locator("[data-counts] tbody tr", has_text="People")
    expect(people.locator("td").first).to_have_text("10")
    expect(page.locator("[data-counts] caption")).to_contain_text("Dry run")
    expect(page.locator("[data-errors]")).to_be_hidden()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("[data-status]")).to_have_text("The roster was imported.")
    expect(page.locator("[data-counts] caption")).to_have_text("Imported.")

    # Checking the same file again: nothing left to change.
    page.get_by_role("button", name="Check (dry run)").click()
    expect(page.locator("[data-status]")).to_contain_text("The roster is valid")
    expect(people.locator("td").nth(3)).to_have_text("10")  # unchanged
