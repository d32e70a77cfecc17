"""Readable HTML reports for researchers: calibration, linking, item fit and DIF.

Each report is one self-contained HTML file: tables, and matplotlib figures rendered with the
Agg canvas (no pyplot global state, so it is safe in threads) and embedded as base64 PNG. All
text from data files is HTML-escaped. Builders take plain results (from :mod:`scoring`) and
return the HTML as a string; the commands write it atomically.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from scoring import ItemParameters, category_probabilities, item_information

__all__ = [
    "calibration_report",
    "dif_report",
    "fit_report",
    "linking_report",
]

_MAX_CURVES = 24  # items drawn in small-multiple plots

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid
#d0d7de;padding-bottom:.2rem}.meta{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}th,td{border:1px solid #d0d7de;
padding:.2rem .5rem;text-align:right}th{background:#f6f8fa}td.l,th.l{text-align:left}
tr.flag td{background:#fff4e5}img{max-width:100%;height:auto}.note{color:#57606a;font-size:.85rem}
"""


# ---------------------------------------------------------------------------- building blocks
def _figure(width: float = 7.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _dif_bars(
    values: np.ndarray,
    classes: Any,
    colors: dict[str, str],
    levels: tuple[float, ...],
    ylabel: str,
    title: str,
) -> str:
    """One bar per item coloured by its ETS class, with the class boundaries dashed."""
    fig = _figure(7, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(
        range(values.size),
        np.nan_to_num(values),
        color=[colors.get(c, "#57606a") for c in classes],
    )
    for level in levels:
        ax.axhline(level, color="#57606a", lw=0.8, ls="--")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("item")
    ax.set_title(title)
    fig.tight_layout()
    return _png(fig)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _esc(value) if value is not None else ""
    if not math.isfinite(number):
        return ""
    return f"{number:.{digits}f}"


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    left: int = 1,
    flags: Sequence[bool] | None = None,
) -> str:
    head = "".join(
        f'<th class="l">{_esc(h)}</th>' if i < left else f"<th>{_esc(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f'<td class="l">{_esc(c)}</td>' if i < left else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        cls = ' class="flag"' if flags is not None and flags[r] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, sections: Sequence[str], meta: str = "") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta_line = f'<p class="meta">{meta} &middot; generated {stamp}</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_esc(title)}</h1>{meta_line}{''.join(sections)}</body></html>\n"
    )


def _section(title: str, *parts: str) -> str:
    return f"<h2>{_esc(title)}</h2>" + "".join(parts)


# ---------------------------------------------------------------------------- plots
def _icc_plot(params: ItemParameters, title: str = "Item characteristic curves") -> str:
    theta = np.linspace(-4, 4, 161)
    n = min(len(params), _MAX_CURVES)
    cols = 4 if n > 8 else max(1, min(n, 4))
    rows = math.ceil(n / cols)
    fig = _figure(2.6 * cols, 2.0 * rows + 0.4)
    probs = category_probabilities(params.take(np.arange(n)), theta)
    ids = params.item_ids or tuple(str(j + 1) for j in range(n))
    for j in range(n):
        ax = fig.add_subplot(rows, cols, j + 1)
        k = int(params.n_categories[j])
        if k == 2:
            ax.plot(theta, probs[:, j, 1], color="#0969da")
        else:
            for c in range(k):
                ax.plot(theta, probs[:, j, c], lw=1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{ids[j]} ({params.model[j]})", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title + ("" if len(params) <= n else f" (first {n} of {len(params)})"))
    fig.tight_layout()
    return _png(fig)


def _information_plot(params: ItemParameters) -> str:
    theta = np.linspace(-4, 4, 161)
    info = item_information(params, theta).sum(axis=1)
    fig = _figure(7, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(theta, info, color="#0969da", label="test information")
    ax.set_xlabel("theta")
    ax.set_ylabel("information")
    ax2 = ax.twinx()
    ax2.plot(theta, 1 / np.sqrt(np.maximum(info, 1e-12)), color="#cf222e", ls="--", label="SE")
    ax2.set_ylabel("standard error")
    ax2.set_ylim(0, min(2.0, float(np.max(1 / np.sqrt(np.maximum(info, 1e-12))))) * 1.05)
    ax.set_title("Test information and conditional SE")
    fig.tight_layout()
    return _png(fig)


def _sx2_plot(item_ids: Sequence[str], p_values: np.ndarray) -> str:
    fig = _figure(7, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    p = np.clip(np.nan_to_num(p_values, nan=1.0), 1e-12, 1.0)
    colors = ["#cf222e" if v < 0.01 else "#0969da" for v in p]
    ax.bar(range(len(p)), -np.log10(p), color=colors)
    ax.axhline(-math.log10(0.01), color="#57606a", ls="--", lw=1)
    ax.set_ylabel("-log10 p (S-X2)")
    ax.set_xlabel("item")
    if len(item_ids) <= 40:
        ax.set_xticks(range(len(item_ids)))
        ax.set_xticklabels(item_ids, rotation=90, fontsize=6)
    ax.set_title("Item fit: S-X2 p-values (dashed: p = 0.01)")
    fig.tight_layout()
    return _png(fig)


def _observed_expected_plot(tables: Mapping[str, Mapping[str, Any]], items: Sequence[str]) -> str:
    items = [i for i in items if i in tables][:8]
    if not items:
        return ""
    cols = min(4, len(items))
    rows = math.ceil(len(items) / cols)
    fig = _figure(2.8 * cols, 2.3 * rows + 0.4)
    for n, item in enumerate(items):
        table = tables[item]
        ax = fig.add_subplot(rows, cols, n + 1)
        score = np.asarray(table["score"], dtype=float)
        obs = np.asarray(table["observed"], dtype=float)
        exp = np.asarray(table["expected"], dtype=float)
        cats = np.arange(obs.shape[1], dtype=float)
        ax.plot(score, obs @ cats, "o", ms=3, color="#cf222e", label="observed")
        ax.plot(score, exp @ cats, "-", color="#0969da", label="expected")
        ax.set_title(str(item), fontsize=8)
        ax.set_xlabel("summed score", fontsize=7)
        ax.tick_params(labelsize=7)
    fig.suptitle("Observed vs expected item score by summed score")
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------------------- reports
def calibration_report(
    document: Mapping[str, Any],
    params: ItemParameters,
    *,
    classical: Any = None,
    item_fit: Any = None,
    theta: np.ndarray | None = None,
    title: str = "Calibration report",
) -> str:
    """HTML report of a calibration: summary, parameters with SEs, classical statistics,
    item fit, item characteristic curves, test information and the ability distribution.

    ``document`` is the PARAMS.json document (with provenance); ``classical`` a
    :class:`~scoring.calibration.ClassicalItemAnalysis`, ``item_fit`` an
    :class:`~scoring.calibration.ItemFit`, ``theta`` EAP estimates (optional).
    """
    prov = document.get("provenance", {})
    summary_rows = [
        ("model", _esc(document.get("model"))),
        ("persons", _esc(document.get("n_persons", ""))),
        ("responses", _esc(document.get("n_responses", ""))),
        ("items", str(len(params))),
        ("log-likelihood", _num(document.get("log_likelihood"), 3)),
        ("-2LL", _num(-2 * float(document.get("log_likelihood", math.nan)), 3)),
        ("AIC", _num(document.get("aic"), 2)),
        ("BIC", _num(document.get("bic"), 2)),
        ("free parameters", _esc(document.get("n_parameters", ""))),
        ("EM iterations", _esc(document.get("n_iter", ""))),
        ("converged", _esc(document.get("converged", ""))),
        ("standard errors", _esc(document.get("se_method") or "none")),
    ]
    for group in document.get("groups", []):
        summary_rows.append(
            (f"group {group['label']}", f"mean {_num(group['mean'])}, SD {_num(group['sd'])}")
        )
    sections = [_section("Summary", _table(["", "value"], summary_rows))]
    excluded = document.get("excluded_items") or {}
    warnings_ = document.get("item_warnings") or {}
    if excluded or warnings_:
        rows = [(k, _esc(v)) for k, v in excluded.items()]
        rows += [(k, _esc(v)) for k, v in warnings_.items()]
        sections.append(_section("Excluded and flagged items", _table(["item", "reason"], rows)))
    # Parameters.
    items = document.get("items", [])
    width = max((len(rec.get("thresholds", [])) for rec in items if "thresholds" in rec), default=0)
    header = ["item", "model", "a", "se(a)", "b", "se(b)", "c", "se(c)"]
    header += [f"b{k + 1}" for k in range(width)]
    rows = []
    fixed = set(document.get("fixed_items", []))
    for rec in items:
        se = rec.get("se") or {}
        row = [
            rec.get("item_id", ""),
            _esc(rec.get("model", "")) + (" (anchor)" if rec.get("item_id") in fixed else ""),
            _num(rec.get("discrimination")),
            _num(se.get("discrimination")),
            _num(rec.get("difficulty")),
            _num(se.get("difficulty")),
            _num(rec.get("guessing")),
            _num(se.get("guessing")),
        ]
        thr = rec.get("thresholds", [])
        row += [_num(thr[k]) if k < len(thr) else "" for k in range(width)]
        rows.append(row)
    sections.append(_section("Item parameters", _table(header, rows)))
    if classical is not None:
        flags = [bool(np.isfinite(r) and r < 0.15) for r in np.asarray(classical.point_biserial)]
        rows = [
            (
                item_id,
                str(int(classical.n_responses[j])),
                _num(classical.p_value[j]),
                _num(classical.point_biserial[j]),
                _num(classical.alpha_if_deleted[j]),
            )
            for j, item_id in enumerate(classical.item_ids)
        ]
        alpha = (
            f"<p>Coefficient alpha: {_num(classical.alpha)}</p>"
            if np.isfinite(classical.alpha)
            else f'<p class="note">{_esc(classical.alpha_note)}</p>'
        )
        sections.append(
            _section(
                "Classical item analysis",
                alpha,
                '<p class="note">Highlighted: corrected point-biserial below 0.15.</p>',
                _table(
                    ["item", "n", "p-value", "point-biserial", "alpha if deleted"],
                    rows,
                    flags=flags,
                ),
            )
        )
    if item_fit is not None:
        sections.append(_fit_section(item_fit))
    sections.append(_section("Item characteristic curves", _icc_plot(params)))
    sections.append(_section("Test information", _information_plot(params)))
    if theta is not None and np.isfinite(theta).any():
        fig = _figure(7, 3.2)
        ax = fig.add_subplot(1, 1, 1)
        ax.hist(theta[np.isfinite(theta)], bins=40, color="#0969da")
        ax.set_xlabel("EAP theta")
        ax.set_title("Ability distribution (EAP)")
        fig.tight_layout()
        sections.append(_section("Abilities", _png(fig)))
    if prov:
        rows = [(k, _esc(_compact(v))) for k, v in prov.items()]
        sections.append(_section("Provenance", _table(["", "value"], rows)))
    meta = f"{_esc(document.get('model', ''))} &middot; {len(params)} items"
    return _page(title, sections, meta)


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return str(value)


def _fit_section(item_fit: Any) -> str:
    p = np.asarray(item_fit.p_value, dtype=float)
    rows = [
        (
            item_id,
            _num(item_fit.sx2[j], 2),
            _num(item_fit.df[j], 0),
            _num(item_fit.p_value[j], 4),
            str(int(item_fit.n_persons[j])),
            _esc(item_fit.notes.get(item_id, "")),
        )
        for j, item_id in enumerate(item_fit.item_ids)
    ]
    flags = [bool(np.isfinite(v) and v < 0.01) for v in p]
    worst = [item_fit.item_ids[j] for j in np.argsort(np.nan_to_num(p, nan=2.0))]
    parts = [
        '<p class="note">Orlando-Thissen S-X2; highlighted: p &lt; 0.01.</p>',
        _table(["item", "S-X2", "df", "p", "persons", "note"], rows, flags=flags),
    ]
    if np.isfinite(p).any():
        parts.append(_sx2_plot(item_fit.item_ids, p))
        parts.append(_observed_expected_plot(item_fit.tables, worst))
    return _section("Item fit", *parts)


def fit_report(
    item_fit: Any,
    rasch_fit: Any = None,
    *,
    title: str = "Item fit report",
    meta: str = "",
) -> str:
    """HTML report of S-X2 (table, p-value plot, observed vs expected for the worst items)
    and, when given, infit/outfit mean squares."""
    sections = [_fit_section(item_fit)]
    if rasch_fit is not None:
        rows = [
            (
                item_id,
                _num(rasch_fit.infit[j]),
                _num(rasch_fit.infit_t[j], 2),
                _num(rasch_fit.outfit[j]),
                _num(rasch_fit.outfit_t[j], 2),
                str(int(rasch_fit.n_responses[j])),
            )
            for j, item_id in enumerate(rasch_fit.item_ids)
        ]
        flags = [
            bool(not (0.7 <= v <= 1.3)) if np.isfinite(v) else False
            for v in np.asarray(rasch_fit.infit)
        ]
        fig = _figure(7, 3.4)
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(rasch_fit.infit, rasch_fit.outfit, s=12, color="#0969da")
        ax.axvspan(0.7, 1.3, color="#2da44e", alpha=0.08)
        ax.axhspan(0.7, 1.3, color="#2da44e", alpha=0.08)
        ax.set_xlabel("infit MS")
        ax.set_ylabel("outfit MS")
        ax.set_title(f"Infit and outfit (abilities: {rasch_fit.theta_method.upper()})")
        fig.tight_layout()
        sections.append(
            _section(
                "Infit and outfit",
                '<p class="note">Highlighted: infit outside 0.7-1.3.</p>',
                _table(["item", "infit", "infit t", "outfit", "outfit t", "n"], rows, flags=flags),
                _png(fig),
            )
        )
    return _page(title, sections, meta)


def linking_report(
    result: Any,
    source: ItemParameters,
    target: ItemParameters,
    *,
    alternatives: Mapping[str, Any] | None = None,
    title: str = "Linking report",
) -> str:
    """HTML report of a link: the constants (and those of the other methods), the common
    items' locations before and after, and the test characteristic curves."""
    rows = [
        ("method", _esc(result.method)),
        ("A (slope)", _num(result.slope, 5)),
        ("B (intercept)", _num(result.intercept, 5)),
        ("common items", str(len(result.common_items))),
    ]
    if math.isfinite(result.criterion):
        rows.append(("criterion", _num(result.criterion, 8)))
    sections = [_section("Linking constants", _table(["", "value"], rows))]
    if alternatives:
        alt = [(name, _num(r.slope, 5), _num(r.intercept, 5)) for name, r in alternatives.items()]
        sections.append(_section("All methods", _table(["method", "A", "B"], alt)))
    if result.common_items:
        src = source.take(source.index_of(result.common_items))
        tgt = target.take(target.index_of(result.common_items))
        moved = result.transform(src)
        fig = _figure(9, 3.8)
        ax = fig.add_subplot(1, 2, 1)
        b_src, b_tgt, b_mov = src.location, tgt.location, moved.location
        lo = float(min(b_src.min(), b_tgt.min(), b_mov.min())) - 0.3
        hi = float(max(b_src.max(), b_tgt.max(), b_mov.max())) + 0.3
        ax.plot([lo, hi], [lo, hi], color="#57606a", lw=1)
        ax.scatter(b_tgt, b_src, s=14, color="#d0d7de", label="before")
        ax.scatter(b_tgt, b_mov, s=14, color="#0969da", label="after")
        ax.set_xlabel("target location")
        ax.set_ylabel("source location")
        ax.legend(fontsize=8)
        ax.set_title("Common items")
        ax2 = fig.add_subplot(1, 2, 2)
        theta = np.linspace(-4, 4, 161)
        cats = np.arange(tgt.max_categories, dtype=float)
        for params, label, style in (
            (tgt, "target", "-"),
            (src, "source (before)", ":"),
            (moved, "source (linked)", "--"),
        ):
            probs = category_probabilities(params, theta)
            ax2.plot(
                theta,
                (probs[:, :, : len(cats)] @ cats[: probs.shape[2]]).sum(axis=1),
                style,
                label=label,
            )
        ax2.set_xlabel("theta (target scale)")
        ax2.set_ylabel("expected score on common items")
        ax2.legend(fontsize=8)
        ax2.set_title("Test characteristic curves")
        fig.tight_layout()
        sections.append(_section("Common items", _png(fig)))
        table_rows = [
            (
                item_id,
                _num(b_src[j]),
                _num(b_mov[j]),
                _num(b_tgt[j]),
                _num(src.discrimination[j]),
                _num(moved.discrimination[j]),
                _num(tgt.discrimination[j]),
            )
            for j, item_id in enumerate(result.common_items)
        ]
        sections.append(
            _table(
                ["item", "b source", "b linked", "b target", "a source", "a linked", "a target"],
                table_rows,
            )
        )
    return _page(title, sections, f"{_esc(result.method)} &middot; A = {_num(result.slope, 4)}")


def dif_report(
    mh: Any = None,
    lr: Any = None,
    *,
    title: str = "DIF report",
    meta: str = "",
) -> str:
    """HTML report of Mantel-Haenszel (ETS classes, delta plot) and IRT-LR DIF results."""
    sections = []
    if mh is not None:
        rows = []
        for j, item_id in enumerate(mh.item_ids):
            rows.append(
                (
                    item_id,
                    _esc(mh.ets_class[j]),
                    _num(mh.delta[j], 2),
                    _num(mh.delta_se[j], 2),
                    _num(mh.smd[j], 3),
                    _num(mh.chi2[j], 2),
                    _num(mh.p_value[j], 4),
                    str(int(mh.n_reference[j])),
                    str(int(mh.n_focal[j])),
                )
            )
        flags = [c in ("B", "C", "BB", "CC") for c in mh.ets_class]
        parts = [
            '<p class="note">MH D-DIF = -2.35 ln(alpha_MH); negative values: harder for the '
            "focal group. ETS classes A/B/C (AA/BB/CC for polytomous items by |SMD|/SD)."
            + (" Two-stage purified matching." if mh.purified else "")
            + "</p>",
            _table(
                ["item", "class", "D-DIF", "SE", "SMD", "chi2", "p", "n ref", "n focal"],
                rows,
                flags=flags,
            ),
        ]
        delta = np.asarray(mh.delta, dtype=float)
        ratio = np.asarray(mh.smd_ratio, dtype=float)
        if np.isfinite(ratio).any():
            signed = np.sign(np.nan_to_num(np.asarray(mh.smd, dtype=float))) * ratio
            parts.append(
                _dif_bars(
                    signed,
                    mh.ets_class,
                    {"AA": "#2da44e", "BB": "#bf8700", "CC": "#cf222e"},
                    (-0.25, -0.17, 0.17, 0.25),
                    "SMD / SD (signed)",
                    "Polytomous items: standardised mean difference (ETS AA / BB / CC)",
                )
            )
        if np.isfinite(delta).any():
            parts.append(
                _dif_bars(
                    delta,
                    mh.ets_class,
                    {"A": "#2da44e", "B": "#bf8700", "C": "#cf222e"},
                    (-1.5, -1.0, 1.0, 1.5),
                    "MH D-DIF",
                    "Mantel-Haenszel D-DIF by item (ETS A / B / C)",
                )
            )
        sections.append(_section("Mantel-Haenszel", *parts))
    if lr is not None:
        rows = [
            (item_id, _num(lr.g2[j], 2), str(int(lr.df[j])), _num(lr.p_value[j], 4))
            for j, item_id in enumerate(lr.item_ids)
        ]
        flags = [bool(v < 0.01) for v in np.asarray(lr.p_value)]
        sections.append(
            _section(
                "IRT likelihood-ratio test",
                f'<p class="note">{_esc(lr.model)}; focal group latent mean '
                f"{_num(lr.focal_mean)}, SD {_num(lr.focal_sd)}; highlighted: p &lt; 0.01.</p>",
                _table(["item", "G2", "df", "p"], rows, flags=flags),
            )
        )
    return _page(title, sections, meta)
