"""gunicorn's post_worker_init starts the form warm-up without waiting for it, and a failing
warm-up is logged, never raised (cbt.gunicorn_conf, cbt.app.start_warm_up)."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest
from flask import Flask

from cbt import gunicorn_conf
from cbt.app import start_warm_up
from cbt.db import db
from delivery.service.forms import ensure_snapshot
from tests.helpers import seed_school


def test_the_warm_up_compiles_in_the_background(app: Flask) -> None:
    school = seed_school()
    snapshot_id = ensure_snapshot(school.administration_id).id
    db.session.commit()
    delivery = app.extensions["cbt.delivery"]
    delivery._forms.clear()
    thread = start_warm_up(app)
    assert thread is not None
    thread.join(timeout=60)
    assert snapshot_id in delivery._forms


def test_post_worker_init_returns_before_the_warm_up_ends(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, started = threading.Event(), threading.Event()

    def slow_warm_up(limit: int = 20) -> list[int]:
        started.set()
        release.wait(timeout=30)
        return []

    monkeypatch.setattr(app.extensions["cbt.delivery"], "warm_open_forms", slow_warm_up)
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app, log=logging.getLogger("test")))
    assert started.wait(timeout=10)  # running, and the worker is already free to serve
    release.set()
    for thread in threading.enumerate():
        if thread.name == "cbt-warm-up":
            thread.join(timeout=30)  # done before the app is torn down


def test_a_failing_warm_up_is_logged_not_raised(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(limit: int = 20) -> list[int]:
        raise RuntimeError("database away")

    monkeypatch.setattr(app.extensions["cbt.delivery"], "warm_open_forms", broken)
    with caplog.at_level(logging.WARNING, logger="cbt.app"):
        thread = start_warm_up(app)
        assert thread is not None
        thread.join(timeout=30)
    assert "warm-up failed" in caplog.text
    assert client_still_serves(app)


def client_still_serves(app: Flask) -> bool:
    return app.test_client().get("/healthz").status_code == 200


def test_a_worker_without_our_app_is_left_alone() -> None:
    assert start_warm_up(object()) is None
    gunicorn_conf.post_worker_init(SimpleNamespace(log=logging.getLogger("test")))
