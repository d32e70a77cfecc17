"""A worker's warm-up compiles the published forms of open administrations, and only those."""

from __future__ import annotations

from flask import Flask

from cbt.db import db
from delivery.models import Administration, AdministrationStatus
from delivery.service.forms import ensure_snapshot
from tests.helpers import seed_school


def test_warm_up_compiles_the_open_administrations_forms_once(app: Flask) -> None:
    school = seed_school()
    snapshot_id = ensure_snapshot(school.administration_id).id
    db.session.commit()
    delivery = app.extensions["cbt.delivery"]
    delivery._forms.clear()  # a fresh worker
    assert delivery.warm_open_forms() == [snapshot_id]
    assert snapshot_id in delivery._forms
    assert delivery.warm_open_forms() == []  # already compiled: nothing again


def test_warm_up_skips_closed_administrations(app: Flask) -> None:
    school = seed_school()
    ensure_snapshot(school.administration_id)
    db.session.get(Administration, school.administration_id).status = AdministrationStatus.CLOSED
    db.session.commit()
    delivery = app.extensions["cbt.delivery"]
    delivery._forms.clear()
    assert delivery.warm_open_forms() == []
