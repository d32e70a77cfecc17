"""Rendered dashboard charts kept in the state store (Redis in production, memory otherwise).

The key is a digest of the whole report the charts are drawn from, the locale and the chart
code's version, so a cached chart is never stale: a new result, a mark or a changed scale
changes the report and therefore the key. Drawing five charts costs about half a second of
matplotlib; a class's teachers opening the same dashboard pay it once. The cache is only a
cache: when the store is unreachable the charts are drawn, never refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

__all__ = ["CHARTS_VERSION", "CHART_CACHE_SECONDS", "cached_dashboard_charts"]

#: Bump when the drawing code changes what a chart looks like, so old SVGs are not served.
CHARTS_VERSION = 1
#: A day: results of an administration change rarely once its day is over.
CHART_CACHE_SECONDS = 24 * 3600

log = logging.getLogger(__name__)


def _digest(report: dict[str, Any], locale: str, seed: int) -> str:
    body = json.dumps(
        {"version": CHARTS_VERSION, "locale": locale, "seed": seed, "report": report},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def cached_dashboard_charts(report: dict[str, Any], *, seed: int, locale: str) -> list[dict]:
    """:func:`analytics.charts.dashboard_charts` of ``report``, drawn once per distinct report."""
    store = current_app.extensions["cbt.state"]
    key = store.keys.chart_cache(_digest(report, locale, seed))
    try:
        hit = store.get(key)
    except RedisError:  # a cache outage must not take the dashboard down
        log.warning("chart cache unreachable; drawing the charts", exc_info=True)
        hit = None
    if hit is not None:
        return json.loads(hit)
    from analytics.charts.teacher import dashboard_charts  # matplotlib only on a miss

    charts = dashboard_charts(report, seed=seed)
    try:
        store.set(key, json.dumps(charts).encode(), CHART_CACHE_SECONDS)
    except RedisError:
        log.warning("chart cache unreachable; charts not kept", exc_info=True)
    return charts
