"""Shared stimuli: versioned passages that items cite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.db import db, iso_utc
from cbt.errors import NotFound, ValidationError
from item_bank.models import Stimulus
from item_bank.rendering import sanitise_html
from item_bank.service.common import LANGUAGE, _check_key, _short


def find_stimulus(key: str, version: int | None = None) -> Stimulus | None:
    query = select(Stimulus).where(Stimulus.key == key)
    if version is not None:
        query = query.where(Stimulus.version == version)
    return db.session.execute(query.order_by(Stimulus.version.desc()).limit(1)).scalar_one_or_none()


def create_stimulus(
    *, key: str, html: str, title: str = "", language: str = "en", actor: Actor | None = None
) -> Stimulus:
    """A new stimulus, or a new version of the stimulus ``key`` (items keep the one they cite)."""
    _check_key(key)
    if not isinstance(html, str) or not html.strip() or len(html) > 100_000:
        raise ValidationError("A stimulus needs HTML content (at most 100,000 characters).")
    if not isinstance(language, str) or not LANGUAGE.match(language):
        raise ValidationError("'language' must be a language tag such as ja or en.")
    clean = sanitise_html(html)
    latest = find_stimulus(key)
    if latest is not None and latest.html == clean and latest.title == (title or ""):
        return latest
    stimulus = Stimulus(
        key=key,
        version=(latest.version + 1) if latest else 1,
        title=_short(title, "title", 200) or "",
        html=clean,
        language=language,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(stimulus)
    db.session.flush()
    if actor is not None:
        record_audit(
            actor,
            "stimulus_created",
            "stimulus",
            stimulus.id,
            {"key": key, "version": stimulus.version},
        )
    return stimulus


def stimulus_dict(stimulus: Stimulus) -> dict[str, Any]:
    return {
        "id": stimulus.id,
        "key": stimulus.key,
        "version": stimulus.version,
        "title": stimulus.title,
        "html": stimulus.html,
        "language": stimulus.language,
        "created_at": iso_utc(stimulus.created_at),
    }


def get_stimulus(stimulus_id: int) -> Stimulus:
    stimulus = db.session.get(Stimulus, stimulus_id)
    if stimulus is None:
        raise NotFound("No such stimulus.", details={"stimulus_id": stimulus_id})
    return stimulus


def list_stimuli() -> list[dict[str, Any]]:
    return [
        stimulus_dict(s)
        for s in db.session.scalars(select(Stimulus).order_by(Stimulus.key, Stimulus.version))
    ]
