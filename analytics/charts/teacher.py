"""The class dashboard's charts: score distribution with SEs, bands with their uncertainty,
per-question correct rates, mastery by curriculum code and the trend across administrations.

Each builder takes plain numbers (from :mod:`analytics.dashboard`) and returns a
:class:`Chart`: the inline SVG and the one-paragraph summary that is also its ``<desc>``. The
page puts the chart's numbers in a table beside it. No chart names or orders students: the
distribution places each student at a height drawn from a seeded shuffle, never by rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask_babel import gettext as _

from analytics.charts.svg import chart_svg, drawn, new_figure

__all__ = [
    "Chart",
    "band_chart",
    "dashboard_charts",
    "item_chart",
    "mastery_chart",
    "score_distribution_chart",
    "trend_chart",
]

BLUE, GREY, ORANGE, LIGHT = "#0550ae", "#57606a", "#bc4c00", "#d0d7de"
Z95 = 1.959964


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    summary: str
    svg: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "summary": self.summary, "svg": self.svg}


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:.{digits}f}"


@drawn
def score_distribution_chart(
    scores: Sequence[float],
    ses: Sequence[float],
    cut_scores: Sequence[float],
    band_labels: Sequence[str],
    *,
    seed: int,
) -> Chart:
    """One dot per student at the scale score, with its 95% interval (score ± 1.96 SE).

    Band edges are drawn as lines with a shaded zone of ± the class's median SE: a student
    inside the zone may belong to either band.
    """
    title = _("Score distribution with measurement error")
    scores_ = np.asarray(scores, dtype=float)
    ses_ = np.asarray(ses, dtype=float)
    n = scores_.size
    fig = new_figure(7.2, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    if n:
        # Heights from a seeded shuffle: unrelated to score, name or student number.
        heights = np.random.default_rng(seed).permutation(n) + 1.0
        typical = float(np.median(ses_))
        for cut in cut_scores:
            ax.axvspan(cut - typical, cut + typical, color=LIGHT, alpha=0.45, lw=0)
            ax.axvline(cut, color=GREY, lw=1, ls="--")
        ax.errorbar(
            scores_,
            heights,
            xerr=Z95 * ses_,
            fmt="o",
            ms=4,
            color=BLUE,
            ecolor=BLUE,
            elinewidth=1,
            capsize=2,
        )
        ax.set_ylim(0, n + 1)
        edges = [float(scores_.min() - Z95 * ses_.max()), float(scores_.max() + Z95 * ses_.max())]
        for k, label in enumerate(band_labels):
            low = cut_scores[k - 1] if k > 0 else edges[0]
            high = cut_scores[k] if k < len(cut_scores) else edges[1]
            if high > edges[0] and low < edges[1]:
                middle = (max(low, edges[0]) + min(high, edges[1])) / 2
                ax.text(middle, n + 0.6, label, ha="center", va="top", fontsize=8, color=GREY)
        ax.set_xlim(
            min(edges[0], *(c - typical for c in cut_scores)) if cut_scores else edges[0],
            max(edges[1], *(c + typical for c in cut_scores)) if cut_scores else edges[1],
        )
        summary = _(
            "Students: %(n)s. Scale scores from %(low)s to %(high)s, median %(median)s. "
            "Each bar is a student's 95%% interval (about ± %(width)s). Dashed lines are band "
            "edges; in the shaded zones a student may belong to either band.",
            n=n,
            low=_fmt(scores_.min()),
            high=_fmt(scores_.max()),
            median=_fmt(float(np.median(scores_))),
            width=_fmt(Z95 * typical),
        )
    else:
        summary = _("No student of this class has a result in this test yet.")
    ax.set_yticks([])
    ax.set_xlabel(_("Scale score"))
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return Chart(
        "chart-distribution",
        title,
        summary,
        chart_svg(fig, chart_id="chart-distribution", title=title, description=summary),
    )


@drawn
def band_chart(bands: Sequence[dict[str, Any]]) -> Chart:
    """Per band: students clearly in it (P >= 0.95), and those who may be (0.05 <= P < 0.95),
    with the expected count (the sum of the probabilities) marked."""
    title = _("Bands with their uncertainty")
    labels = [b["label"] for b in bands]
    clear = np.array([b["n_clearly"] for b in bands], dtype=float)
    maybe = np.array([b["n_possibly"] for b in bands], dtype=float)
    expected = np.array([b["expected"] for b in bands], dtype=float)
    fig = new_figure(7.2, 1.1 + 0.45 * max(len(bands), 1))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(bands))
    ax.barh(y, clear, color=BLUE, label=_("clearly in the band (95%)"))
    ax.barh(
        y,
        maybe,
        left=clear,
        color="#9ec5fe",
        hatch="//",
        edgecolor=BLUE,
        lw=0.5,
        label=_("possibly in the band"),
    )
    ax.plot(expected, y, "|", ms=14, mew=2, color=ORANGE, label=_("expected number"))
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(_("Students"))
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    parts = [
        _(
            "%(band)s: %(clear)s clearly, %(maybe)s possibly, %(expected)s expected",
            band=b["label"],
            clear=b["n_clearly"],
            maybe=b["n_possibly"],
            expected=_fmt(b["expected"], 1),
        )
        for b in bands
    ]
    summary = "; ".join(parts) + "."
    return Chart(
        "chart-bands",
        title,
        summary,
        chart_svg(fig, chart_id="chart-bands", title=title, description=summary),
    )


@drawn
def item_chart(items: Sequence[dict[str, Any]]) -> Chart:
    """Each question's share correct (mean score over the maximum) with a 95% interval."""
    title = _("Correct rate per question")
    fig = new_figure(7.2, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(items))
    rate = np.array([i["rate"] for i in items], dtype=float)
    low = np.array([i["low"] for i in items], dtype=float)
    high = np.array([i["high"] for i in items], dtype=float)
    colours = [ORANGE if i["few"] else BLUE for i in items]
    if items:
        ax.bar(x, rate, color=colours)
        ax.errorbar(x, rate, yerr=[rate - low, high - rate], fmt="none", ecolor=GREY, capsize=2)
    ax.set_ylim(0, 1)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i["position"]) for i in items], fontsize=7)
    ax.set_xlabel(_("Question"))
    ax.set_ylabel(_("Correct rate"))
    fig.tight_layout()
    if items:
        hardest = min(items, key=lambda i: i["rate"])
        easiest = max(items, key=lambda i: i["rate"])
        summary = _(
            "Questions: %(n)s. Correct rates from %(low)s (question %(hard)s) to %(high)s "
            "(question %(easy)s). Orange bars: fewer than %(few)s answers.",
            n=len(items),
            low=f"{hardest['rate']:.0%}",
            hard=hardest["position"],
            high=f"{easiest['rate']:.0%}",
            easy=easiest["position"],
            few=FEW_ANSWERS,
        )
    else:
        summary = _("No answers yet.")
    return Chart(
        "chart-items",
        title,
        summary,
        chart_svg(fig, chart_id="chart-items", title=title, description=summary),
    )


FEW_ANSWERS = 10


@drawn
def mastery_chart(codes: Sequence[dict[str, Any]]) -> Chart:
    """Share correct per curriculum code with a 95% interval; few items drawn hollow."""
    title = _("Mastery by curriculum code")
    fig = new_figure(7.2, 0.6 + 0.42 * max(len(codes), 1))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(codes))[::-1]
    for row, code in zip(y, codes, strict=True):
        ax.plot([code["low"], code["high"]], [row, row], color=GREY, lw=2)
        ax.plot(
            code["rate"],
            row,
            "o",
            ms=7,
            color=ORANGE if code["few_items"] else BLUE,
            mfc="white" if code["few_items"] else BLUE,
        )
    ax.set_xlim(0, 1)
    ax.set_yticks(y)
    ax.set_yticklabels([c["short_label"] for c in codes], fontsize=7)
    ax.set_xlabel(_("Share correct (95% interval)"))
    fig.tight_layout()
    if codes:
        flagged = sum(1 for c in codes if c["few_items"])
        summary = _(
            "Curriculum codes: %(n)s. Dots are shares correct, lines 95%% intervals; %(flagged)s "
            "codes rest on fewer than %(few)s questions (hollow orange dots): read them with care.",
            n=len(codes),
            flagged=flagged,
            few=FEW_ITEMS,
        )
    else:
        summary = _("No answers yet.")
    return Chart(
        "chart-mastery",
        title,
        summary,
        chart_svg(fig, chart_id="chart-mastery", title=title, description=summary),
    )


FEW_ITEMS = 3


@drawn
def trend_chart(points: Sequence[dict[str, Any]]) -> Chart:
    """The class mean per administration, oldest first, with its 95% interval."""
    title = _("Class mean across tests")
    fig = new_figure(7.2, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    shown = [p for p in points if p["n"]]
    x = np.arange(len(shown))
    if shown:
        mean = np.array([p["mean"] for p in shown])
        # One student gives no interval: the point is drawn without a bar.
        low = np.array([p["mean"] if p["low"] is None else p["low"] for p in shown])
        high = np.array([p["mean"] if p["high"] is None else p["high"] for p in shown])
        ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="-o", color=BLUE, capsize=3)
    ax.set_xticks(x)
    ax.set_xticklabels([p["name"] for p in shown], fontsize=7, rotation=20, ha="right")
    ax.set_ylabel(_("Mean scale score"))
    fig.tight_layout()
    summary = "; ".join(_trend_text(p) for p in shown) + "." if shown else _("No results yet.")
    return Chart(
        "chart-trend",
        title,
        summary,
        chart_svg(fig, chart_id="chart-trend", title=title, description=summary),
    )


def dashboard_charts(report: dict[str, Any], *, seed: int) -> list[dict[str, str]]:
    """The five charts of a class dashboard report (:func:`analytics.dashboard.class_dashboard`)."""
    students = report["students"]
    scale = report["scale"] or {"cut_scores": [], "band_labels": []}
    charts = [
        score_distribution_chart(
            [s["scale_score"] for s in students],
            [s["scale_se"] for s in students],
            scale["cut_scores"],
            scale["band_labels"],
            seed=seed,
        ),
        band_chart(report["bands"]),
        item_chart(report["items"]),
        mastery_chart(report["mastery"]),
        trend_chart(report["trend"]),
    ]
    return [chart.as_dict() for chart in charts]


def _trend_text(point: dict[str, Any]) -> str:
    if point["low"] is None:
        return _(
            "%(name)s: mean %(mean)s (%(n)s students, too few for an interval)",
            name=point["name"],
            mean=_fmt(point["mean"]),
            n=point["n"],
        )
    return _(
        "%(name)s: mean %(mean)s (95%% interval %(low)s to %(high)s, %(n)s students)",
        name=point["name"],
        mean=_fmt(point["mean"]),
        low=_fmt(point["low"]),
        high=_fmt(point["high"]),
        n=point["n"],
    )
