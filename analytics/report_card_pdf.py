"""The 個人票 as a PDF (reportlab): one student per page set, or a whole class in one file.

Japanese is set in reportlab's built-in CID font HeiseiKakuGo-W5, as the login cards are
(schools.cards): no font file to ship, and every PDF reader has the glyphs. All text from the
database is escaped before it reaches reportlab's paragraph mark-up.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["render_report_cards_pdf"]

FONT = "HeiseiKakuGo-W5"


def _styles():
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=15, leading=19, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3
        ),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
    }


def _p(text: Any, style) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _number(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _story(report: dict[str, Any], _: Callable[..., str], styles: dict) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer, Table, TableStyle

    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8c959f")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eaeef2")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    student, session = report["student"], report["session"]
    story: list[Any] = [
        _p(_("Student report (個人票)"), styles["title"]),
        _p(
            _(
                "%(name)s · %(school)s %(classroom)s · No. %(number)s",
                name=student["display_name"],
                school=student["school"],
                classroom=student["classroom"],
                number=student["student_number"] or "–",
            ),
            styles["base"],
        ),
        _p(f"{session['title']} – {session['administration']}", styles["base"]),
        Spacer(1, 3 * mm),
    ]
    result = session["result"]
    if result is None:
        story.append(_p(_("This sitting has no score yet."), styles["base"]))
    else:
        story.append(
            _p(
                _(
                    "Scale score %(score)s (SE %(se)s; 95%% interval %(low)s to %(high)s), "
                    "band %(band)s",
                    score=_number(result["scale_score"]),
                    se=_number(result["scale_se"]),
                    low=_number(result["low"]),
                    high=_number(result["high"]),
                    band=result["band"],
                ),
                styles["h2"],
            )
        )
        rows = [[_("Band"), _("Probability")]] + [
            [b["label"], f"{b['probability']:.0%}"] for b in session["bands"]
        ]
        story += [
            _p(
                _("How sure the band is: the probability of each band given the SE."),
                styles["small"],
            ),
            Table(rows, style=grid, hAlign="LEFT"),
        ]
    story.append(_p(_("Mastery and next steps by area"), styles["h2"]))
    rows = [[_("Area"), _("Questions"), _("Score"), _("Share (95% interval)"), _("Next steps")]]
    for area in session["areas"]:
        share = f"{area['rate']:.0%} ({area['low']:.0%}–{area['high']:.0%})"
        if area["few_items"]:
            share += " " + _("few questions")
        rows.append(
            [
                _p(f"{area['area']} {area['text']}", styles["small"]),
                str(area["n_items"]),
                f"{_number(area['score'], 1)} / {_number(area['max_score'], 1)}",
                _p(share, styles["small"]),
                _p("\n".join(area["guidance"]) or "–", styles["small"]),
            ]
        )
    story.append(Table(rows, style=grid, colWidths=[48 * mm, 16 * mm, 20 * mm, 30 * mm, 66 * mm]))
    story.append(_p(_("Answers, item by item"), styles["h2"]))
    rows = [["#", _("Question as shown"), _("Answer"), _("Correct answer"), _("Result")]]
    for answer in session["answers"]:
        question = _plain(answer["stem"])
        if answer.get("options"):
            question += "\n" + "\n".join(f"{o['id']}: {o['text']}" for o in answer["options"])
        rows.append(
            [
                str(answer["sequence"]),
                _p(question, styles["small"]),
                _p(answer["response_text"], styles["small"]),
                _p(answer["correct_text"], styles["small"]),
                _p(_result_text(answer, _), styles["small"]),
            ]
        )
    story.append(
        Table(
            rows, style=grid, colWidths=[8 * mm, 82 * mm, 34 * mm, 34 * mm, 22 * mm], repeatRows=1
        )
    )
    return story


def _plain(fragment: str) -> str:
    from item_bank.rendering import plain_text

    return plain_text(fragment)


def _result_text(answer: dict[str, Any], _: Callable[..., str]) -> str:
    if answer.get("awaiting_marking"):
        return _("Awaiting marking (out of %(max)s)", max=_number(answer["max_score"]))
    if answer["is_correct"] is None:
        return f"{_number(answer['score'], 1)} / {_number(answer['max_score'])}"
    return _("correct") if answer["is_correct"] else _("wrong")


def render_report_cards_pdf(
    reports: Iterable[dict[str, Any]], gettext: Callable[..., str], title: str
) -> bytes:
    """A4 PDF, each report starting on a new page; ``gettext`` translates the labels."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    styles = _styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        invariant=True,
    )
    story: list[Any] = []
    for report in reports:
        if story:
            story.append(PageBreak())
        story += _story(report, gettext, styles)
    if not story:
        story.append(
            _p(gettext("No student of this class has a result in this test yet."), styles["base"])
        )
    document.build(story)
    return buffer.getvalue()
