"""Helpers of the school management tests: the seeded schools' ids, logins and a PATCH/DELETE
client call. The fixtures are in school_fixtures (a pytest plugin the test modules name), so this
folder needs no conftest.py."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from tests.helpers import TEACHER_PASSWORD, ApiClient


@dataclass
class Schools:
    school_id: int
    other_school_id: int
    class_id: int
    second_class_id: int
    other_class_id: int
    student_id: int
    student_code: str
    class_code: str
    other_student_id: int
    teacher_id: int
    other_teacher_id: int
    admin_id: int
    other_admin_id: int


ADMIN = "admin@a.example"
OTHER_ADMIN = "admin@b.example"
TEACHER = "teacher@a.example"
OTHER_TEACHER = "teacher@b.example"
OPERATOR = "operator@example.org"
RESEARCHER = "research@example.org"


def signed_in(app: Flask, email: str, password: str = TEACHER_PASSWORD) -> ApiClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    api = ApiClient(client)
    reply = api.login_staff(email, password)
    assert reply.status_code == 200, reply.get_json()
    return api


def send(api: ApiClient, method: str, path: str, json: object = None):
    """PATCH / DELETE through the CSRF-aware client (it has get and post only)."""
    headers = api._headers()
    call = getattr(api.client, method.lower())
    return call(path, json=json, headers=headers)
