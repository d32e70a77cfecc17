"""Exposure counts survive the state store: Redis flushed mid-way, the counts (and so the
rates exposure control acts on) are rebuilt from the sessions and responses in the database."""

from __future__ import annotations

import numpy as np
from flask import Flask
from sqlalchemy import func, select

from cbt.db import db, utcnow
from delivery.models import ExamSession, ItemResponse
from tests.helpers import cat_settings, seed_school

SETTINGS = cat_settings(
    min_items=4,
    max_items=4,
    selection=[{"rule": "max_information"}, {"rule": "randomesque", "k": 2}],
    exposure={"max_rate": 0.5},
)


def sit(service, school, number: int) -> None:
    student = school.student_ids[number]
    view = service.start_session(student, school.administration_id, utcnow())
    db.session.commit()
    token = view["session"]["device_token"]
    while not view["finished"]:
        view = service.record_response(
            student, view["session"]["id"], token, view["item"]["handle"],
            {"choice": "ABCD"[number % 4]}, f"k-{number}-{view['session']['n_answered']}",
            utcnow(),
        )  # fmt: skip
        db.session.commit()


def database_rates(test) -> np.ndarray:
    sessions = db.session.scalar(select(func.count()).select_from(ExamSession))
    counts = dict(
        db.session.execute(
            select(ItemResponse.item_version_id, func.count()).group_by(
                ItemResponse.item_version_id
            )
        ).all()
    )
    return np.array(
        [counts.get(int(v), 0) for v in test.item_version_ids[: test.n_operational]]
    ) / max(1, sessions)


def test_a_redis_flush_mid_administration_loses_no_exposure_counts(app: Flask) -> None:
    school = seed_school(settings=SETTINGS, n_students=16)
    service = app.extensions["cbt.delivery"]
    service.exposure.refresh_seconds = 0.0  # every selection reads the counters
    store = app.extensions["cbt.state"]
    for number in range(1, 9):
        sit(service, school, number)
    store.clear()  # Redis flushed (or restarted empty) with half the class done
    for number in range(9, 17):
        sit(service, school, number)
    snapshot_id = db.session.scalar(select(ExamSession.snapshot_id).limit(1))
    test = service.form_test(snapshot_id)
    expected = database_rates(test)
    assert expected.max() > 0
    np.testing.assert_allclose(service.exposure.rates(test), expected)
    held = service.exposure.snapshot(school.test_definition_id, test)
    assert held["sessions"] == 16


def test_counts_missing_from_the_start_are_built_from_the_database(app: Flask) -> None:
    school = seed_school(settings=SETTINGS, n_students=4)
    service = app.extensions["cbt.delivery"]
    for number in range(1, 5):
        sit(service, school, number)
    app.extensions["cbt.state"].clear()
    service.exposure.refresh_seconds = 0.0
    test = service.form_test(db.session.scalar(select(ExamSession.snapshot_id).limit(1)))
    np.testing.assert_allclose(service.exposure.rates(test), database_rates(test))
