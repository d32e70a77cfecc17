"""The roster API and page: who may import, bad input gets 4xx JSON and writes nothing."""

from __future__ import annotations

import io
import zipfile

from flask import Flask
from sqlalchemy import func, select

from cbt.db import db
from cbt.models import AuditEvent, Role, School, User
from cbt.service import create_school, create_staff_user
from tests.helpers import ApiClient
from tests.unit.roster.conftest import PASSWORD, fixture_files, replace_line, to_zip


def _post(api: ApiClient, data: bytes, dry_run: bool = False, **kwargs):
    query = "?dry_run=1" if dry_run else ""
    return api.post(
        f"/api/v1/roster/import{query}",
        data={"package": (io.BytesIO(data), "roster.zip")},
        content_type="multipart/form-data",
        **kwargs,
    )


def _users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_dry_run_then_import_then_export(operator: ApiClient) -> None:
    data = to_zip(fixture_files())
    response = _post(operator, data, dry_run=True)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["dry_run"] is True
    assert body["committed"] is False
    assert body["counts"]["users"]["created"] == 10
    assert _users() == 1
    response = _post(operator, data)
    assert response.status_code == 200
    assert response.get_json()["committed"] is True
    assert _users() == 11
    response = operator.get("/api/v1/roster/export.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert {"manifest.csv", "orgs.csv", "users.csv", "enrollments.csv"} <= set(names)
    again = _post(operator, response.data)
    assert again.get_json()["changes"] == 0
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("roster.import") == 2
    assert "roster.export" in actions


def test_bad_rows_are_422_with_every_row_and_nothing_written(operator: ApiClient) -> None:
    files = fixture_files()
    row = files["classes.csv"].splitlines()[1].split(",")
    row[7] = "seminar"
    replace_line(files, "classes.csv", 2, ",".join(row))
    files["orgs.csv"] += "dup,,,x,school,,\ndup,,,x,school,,\n"
    for dry_run in (True, False):
        response = _post(operator, to_zip(files), dry_run=dry_run)
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        problems = {(p["file"], p["line"], p["code"]) for p in error["details"]["errors"]}
        assert problems == {
            ("classes.csv", 2, "bad_enum"),
            ("orgs.csv", 5, "duplicate_sourced_id"),
        }
    assert _users() == 1
    assert db.session.scalar(select(func.count()).select_from(School)) == 0


def test_errors_are_in_the_request_language(operator: ApiClient) -> None:
    files = fixture_files()
    files["users.csv"] = files["users.csv"].replace(",true,tanaka", ",yes,tanaka")
    response = _post(operator, to_zip(files), headers={"Accept-Language": "ja"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["message"] != "The roster has errors; nothing was imported."
    assert "true" in error["details"]["errors"][0]["reason"]


def test_not_a_zip_wrong_type_empty_and_bomb(operator: ApiClient) -> None:
    response = _post(operator, b"sourcedId,status\n")
    assert response.status_code == 422
    assert "not a zip" in response.get_json()["error"]["details"]["errors"][0]["reason"]
    response = operator.post("/api/v1/roster/import", json={"package": "x"})
    assert response.status_code == 415
    response = _post(operator, b"")
    assert response.status_code == 422
    files = fixture_files()
    files["padding.csv"] = "0" * (300 * 1024 * 1024)
    response = _post(operator, to_zip(files))
    assert response.status_code == 422
    assert "zip bomb" in response.get_json()["error"]["details"]["errors"][0]["reason"]
    response = operator.post(
        "/api/v1/roster/import",
        data={"other": (io.BytesIO(b"x"), "x.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert _users() == 1


def test_roles(app: Flask, api: ApiClient) -> None:
    data = to_zip(fixture_files())
    assert _post(api, data).status_code == 401
    assert api.get("/api/v1/roster/export.zip").status_code == 401
    create_staff_user("teacher@roster.example", "T", Role.TEACHER, PASSWORD)
    db.session.commit()
    api.login_staff("teacher@roster.example", PASSWORD)
    assert _post(api, data).status_code == 403
    assert api.get("/api/v1/roster/export.zip").status_code == 403
    assert api.client.get("/roster").status_code == 403


def test_school_admin_imports_and_exports_only_their_school(app: Flask, api: ApiClient) -> None:
    school = create_school("SAKURA", "さくら中学校")
    other = create_school("OTHER", "Other school")
    create_staff_user("admin@roster.example", "Admin", Role.SCHOOL_ADMIN, PASSWORD, school)
    db.session.commit()
    api.login_staff("admin@roster.example", PASSWORD)
    response = _post(api, to_zip(fixture_files()))
    assert response.status_code == 200, response.get_json()
    db.session.refresh(school)
    assert school.sourced_id == "9a1b6c2e-2a8f-4c1e-9d3e-000000000010"
    other.sourced_id = "another"
    db.session.commit()
    files = fixture_files()
    files["orgs.csv"] += "another,,,Other school,school,,\n"
    response = _post(api, to_zip(files), dry_run=True)
    assert response.status_code == 422
    assert (
        "limited to school SAKURA" in response.get_json()["error"]["details"]["errors"][0]["reason"]
    )
    exported = zipfile.ZipFile(io.BytesIO(api.get("/api/v1/roster/export.zip").data))
    assert "another" not in exported.read("orgs.csv").decode()
    assert api.client.get("/roster").status_code == 200


def test_page_for_operator(operator: ApiClient) -> None:
    page = operator.client.get("/roster")
    assert page.status_code == 200
    assert b"js/roster.js" in page.data


def test_shift_jis_upload_is_converted_and_reported(operator: ApiClient) -> None:
    files = fixture_files()
    raw: dict[str, str | bytes] = dict(files)
    raw["users.csv"] = files["users.csv"].encode("cp932")
    response = _post(operator, to_zip(raw), dry_run=True)
    assert response.status_code == 200, response.get_json()
    notices = response.get_json()["notices"]
    assert [(n["file"], n["code"]) for n in notices] == [("users.csv", "encoding_converted")]
    raw["users.csv"] = b"\xff\xfe" + files["users.csv"].encode("utf-16-le")
    response = _post(operator, to_zip(raw), dry_run=True)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["errors"][0]["code"] == "encoding"
