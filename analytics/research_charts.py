"""Server-side SVG charts comparing a new parameter set with the current one (matplotlib
``Figure``, no pyplot state), each with a text alternative in its ``<title>`` and ``<desc>``.

The numbers behind every chart are in the comparison JSON the page shows as tables.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

import numpy as np

from cbt.i18n import translate as _

__all__ = ["CHARTS", "chart_description", "comparison_chart"]

CHARTS = ("scatter", "tcc", "information")
_NEW, _CURRENT = "#1f5fa8", "#b35806"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasSVG(figure)
    return figure


def chart_description(kind: str, comparison: dict[str, Any]) -> tuple[str, str]:
    """The chart's title and its text alternative (what it shows, in numbers)."""
    new, current = comparison["new"], comparison["current"]
    label = f"{new['name']} v{new['version']} / {current['name']} v{current['version']}"
    n = comparison["n_common_items"]
    if kind == "scatter":
        shift = comparison["max_location_shift"]
        return (
            _("New against current item parameters") + f" ({label})",
            _(
                "Scatter plots of the slopes and the locations of the common items, new values "
                "against current ones, with the identity line."
            )
            + f" n = {n}; "
            + _("largest location shift")
            + f" = {shift if shift is not None else '-'}.",
        )
    curves = comparison["curves"]
    key = "tcc" if kind == "tcc" else "information"
    title = _("Test characteristic curve") if kind == "tcc" else _("Test information")
    if not n:
        return title + f" ({label})", _("The two sets have no item in common.")
    theta = np.asarray(curves["theta"])
    middle = int(np.argmin(np.abs(theta)))
    return (
        title + f" ({label})",
        _("Curves over the common items under the new and the current values, theta -4 to 4.")
        + f" n = {n}; theta = 0: "
        + _("new")
        + f" {curves['new_' + key][middle]:.2f}, "
        + _("current")
        + f" {curves['current_' + key][middle]:.2f}.",
    )


def comparison_chart(kind: str, comparison: dict[str, Any]) -> str:
    """One chart of :func:`analytics.research_loop.compare_parameter_sets` as SVG text."""
    if kind not in CHARTS:
        raise ValueError(f"unknown chart {kind!r}")
    title, description = chart_description(kind, comparison)
    if kind == "scatter":
        figure = _figure(8.0, 3.8)
        rows = comparison["items"]
        for axis, field, name in (
            (figure.add_subplot(1, 2, 1), "discrimination", _("Slope (a)")),
            (figure.add_subplot(1, 2, 2), "location", _("Location (b)")),
        ):
            x = np.array([r[f"current_{field}"] for r in rows], dtype=float)
            y = np.array([r[f"new_{field}"] for r in rows], dtype=float)
            if x.size:
                lo = float(np.nanmin([x.min(), y.min()])) - 0.2
                hi = float(np.nanmax([x.max(), y.max()])) + 0.2
                axis.plot([lo, hi], [lo, hi], color="#777777", linewidth=1)
                axis.scatter(x, y, s=18, color=_NEW)
            axis.set_xlabel(_("current") + f" {name}")
            axis.set_ylabel(_("new") + f" {name}")
            axis.set_title(name)
    else:
        figure = _figure(6.0, 3.8)
        axis = figure.add_subplot(1, 1, 1)
        curves = comparison["curves"]
        key = "tcc" if kind == "tcc" else "information"
        if comparison["n_common_items"]:
            axis.plot(curves["theta"], curves["new_" + key], color=_NEW, label=_("new"))
            axis.plot(
                curves["theta"],
                curves["current_" + key],
                color=_CURRENT,
                linestyle="--",
                label=_("current"),
            )
            axis.legend()
        axis.set_xlabel("theta")
        axis.set_ylabel(_("Expected score") if kind == "tcc" else _("Information"))
        axis.set_title(title.split(" (")[0])
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    start = svg.index("<svg")
    end = svg.index(">", start)
    head = svg[start:end]
    head += ' role="img" aria-labelledby="chart-title chart-desc"'
    return (
        svg[:start]
        + head
        + ">"
        + f'<title id="chart-title">{escape(title)}</title>'
        + f'<desc id="chart-desc">{escape(description)}</desc>'
        + svg[end + 1 :]
    )
