"""The provenance every calibration records: data hash, settings, software, seed and times.

Shared by the file commands (``cbt calibrate --responses``) and the database workflow
(:mod:`analytics.calibration`); it imports numpy only, so the file commands start fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["provenance", "response_data_hash", "software_versions"]


def _iso_utc(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def software_versions() -> dict[str, str]:
    """Versions of the software a calibration ran on."""
    import numpy
    import scipy

    import cbt

    return {
        "cbt": cbt.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }


def response_data_hash(data: Any) -> str:
    """SHA-256 of the responses in a canonical order (persons and items sorted by id).

    Two files or queries with the same (person, item, score) triples in any order, or with
    columns in any order, give the same hash.
    """
    person_ids = np.asarray(
        data.person_ids if data.person_ids is not None else range(data.n_persons), dtype=str
    )
    item_ids = np.asarray(data.item_ids, dtype=str)
    person_rank = np.empty(person_ids.size, dtype=np.int64)
    person_rank[np.argsort(person_ids, kind="stable")] = np.arange(person_ids.size)
    item_rank = np.empty(item_ids.size, dtype=np.int64)
    item_rank[np.argsort(item_ids, kind="stable")] = np.arange(item_ids.size)
    key = person_rank[data.person] * item_ids.size + item_rank[data.item]
    order = np.argsort(key, kind="stable")
    digest = hashlib.sha256()
    digest.update("\n".join(np.sort(person_ids).tolist()).encode())
    digest.update(b"\0")
    digest.update("\n".join(np.sort(item_ids).tolist()).encode())
    digest.update(b"\0")
    digest.update(key[order].astype("<i8").tobytes())
    digest.update(data.score[order].astype("<i2").tobytes())
    return digest.hexdigest()


def provenance(
    calibrator: Any,
    data: Any,
    *,
    sources: Mapping[str, Any],
    started_at: dt.datetime,
    seed: int | None = None,
) -> dict[str, Any]:
    """The provenance record of a calibration: data hash, settings, software, seed, time."""
    return {
        "source": "calibration",
        "data_sha256": response_data_hash(data),
        "sources": dict(sources),
        "settings": calibrator.get_params(),
        "software": software_versions(),
        "seed": seed,
        "deterministic": True,
        "started_at": _iso_utc(started_at),
        "finished_at": _iso_utc(dt.datetime.now(dt.UTC)),
        "fit_seconds": round(float(calibrator.fit_seconds_), 3),
        "n_persons": int(calibrator.n_persons_),
        "n_responses": int(calibrator.n_responses_),
        "n_excluded_persons": len(calibrator.excluded_persons_),
        "excluded_items": dict(calibrator.excluded_items_),
    }
