"""The HTML report of ``cbt analyse``: item table and option-choice curves, Japanese and English.

One self-contained page. Each item's option-choice curves (share choosing each option by ability
group) are an inline SVG drawn by matplotlib, with a text alternative: the same numbers in a
table right below, and a short description in ``aria-label``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Any

from scoring.item_analysis import OMITTED, ChoiceAnalysis

__all__ = ["item_analysis_report"]

_STYLE = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:2rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;
padding:.2rem .5rem;text-align:right}th.l,td.l{text-align:left}tr.flag td{background:#fff8c5}
figure{margin:1rem 0}figcaption{font-size:.9rem;color:#57606a}.meta{color:#57606a}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    number = float(value)
    return f"{number:.{digits}f}" if math.isfinite(number) else "-"


def _label(code: str) -> str:
    return "無回答 / omitted" if code == OMITTED else code


def _curves_svg(result: ChoiceAnalysis, j: int) -> str:
    from analytics.charts import chart_svg, drawing, new_figure

    with drawing():
        return _curves(result, j, chart_svg, new_figure)


def _curves(result: ChoiceAnalysis, j: int, chart_svg, new_figure) -> str:
    fig = new_figure(5.2, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    groups = list(range(1, result.n_groups + 1))
    for k, code in enumerate(result.options[j]):
        style = {"lw": 2.4, "ls": "-", "marker": "o"} if k == 0 else {"lw": 1.2, "ls": "--"}
        label = f"{code} (key)" if k == 0 else ("omitted" if code == OMITTED else code)
        ax.plot(groups, result.group_share[j][:, k], label=label, **style)
    ax.set_ylim(0, 1)
    ax.set_xticks(groups)
    ax.set_xlabel("ability group (rest score, low to high)")
    ax.set_ylabel("share choosing")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return chart_svg(
        fig,
        chart_id=f"curves-{j}",
        title=f"{result.item_ids[j]}: option-choice curves",
        description=_describe(result, j),
    )


def _describe(result: ChoiceAnalysis, j: int) -> str:
    """A one-sentence text alternative for the curves of item ``j``."""
    key_share = result.group_share[j][:, 0]
    low, high = key_share[0], key_share[-1]
    return (
        f"Option-choice curves of item {result.item_ids[j]}: the key {result.key[j]} is chosen "
        f"by {_num(low, 2)} of the lowest group and {_num(high, 2)} of the highest group."
    )


def _item_table(result: ChoiceAnalysis) -> str:
    rows = []
    for j, item in enumerate(result.item_ids):
        flag = ' class="flag"' if result.flags(j) else ""
        rows.append(
            f"<tr{flag}><td class='l'>{_esc(item)}</td><td>{_esc(result.key[j])}</td>"
            f"<td>{result.n_answered[j]}</td><td>{_num(result.p_value[j])}</td>"
            f"<td>{_num(result.p_value_answered[j])}</td><td>{_num(result.point_biserial[j])}</td>"
            f"<td class='l'>{_esc('; '.join(result.flags(j)))}</td></tr>"
        )
    head = (
        "<tr><th class='l'>項目 / item</th><th>正答 / key</th><th>回答数 / answered</th>"
        "<th>正答率 / p-value</th><th>回答者中の正答率 / p (answered)</th>"
        "<th>点双列相関 / point-biserial</th><th class='l'>注意 / flags</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _option_table(result: ChoiceAnalysis, j: int) -> str:
    groups = "".join(f"<th>G{g + 1}</th>" for g in range(result.n_groups))
    head = (
        "<tr><th class='l'>選択肢 / option</th><th>全体 / overall</th>"
        f"<th>点双列 / pt-bis</th>{groups}</tr>"
    )
    rows = []
    for k, code in enumerate(result.options[j]):
        by_group = "".join(f"<td>{_num(v)}</td>" for v in result.group_share[j][:, k])
        name = _label(code) + (" (正答 / key)" if k == 0 else "")
        rows.append(
            f"<tr><td class='l'>{_esc(name)}</td><td>{_num(result.option_share[j][k])}</td>"
            f"<td>{_num(result.option_point_biserial[j][k])}</td>{by_group}</tr>"
        )
    counts = "".join(f"<td>{n}</td>" for n in result.group_n[j])
    rows.append(f"<tr><td class='l'>人数 / n</td><td>{result.n_persons}</td><td></td>{counts}</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def item_analysis_report(result: ChoiceAnalysis, *, sources: Mapping[str, str]) -> str:
    """The whole page as text."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = (
        "<p>無回答は誤答として正答率と残余得点に含めます。回答者中の正答率は正答数 ÷ 回答数です。"
        "能力群は残余得点（その項目を除いた合計点）の分位で作ります。</p>"
        "<p>A missing answer counts as wrong in the p-value and the rest score; p (answered) is "
        "correct / answered. Ability groups are quantiles of the rest score (the total without "
        "the item). A working distractor is chosen less as ability rises.</p>"
    )
    parts = [
        "<h2>項目の統計 / Item statistics</h2>",
        _item_table(result),
        "<h2>選択肢の分析 / Option-choice curves</h2>",
    ]
    for j, item in enumerate(result.item_ids):
        text = _describe(result, j)
        parts.append(
            f"<h3>{_esc(item)}</h3><figure><div role='img' aria-label='{_esc(text)}'>"
            f"{_curves_svg(result, j)}</div><figcaption>{_esc(text)} "
            "下の表が図の数値です。 The table below gives the figure's values.</figcaption>"
            f"</figure>{_option_table(result, j)}"
        )
    meta = (
        f"{result.n_persons} persons, {len(result.item_ids)} items, "
        f"{result.n_groups} groups &middot; {_esc(sources.get('responses', ''))}, "
        f"{_esc(sources.get('key', ''))} &middot; generated {stamp}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f"<title>項目分析 / Item analysis</title><style>{_STYLE}</style></head><body>"
        f"<h1>項目分析 / Item analysis</h1><p class='meta'>{meta}</p>{intro}"
        f"{''.join(parts)}</body></html>\n"
    )
