"""HTML sanitising for everything an item shows: the one place that decides which markup survives.

``sanitise_html`` runs when content is saved (so the bank holds clean HTML) and again when an
item is rendered for a student (so a bug elsewhere cannot smuggle markup through).
"""

from __future__ import annotations

import html
import re

import nh3

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "plain_text", "sanitise_html", "sanitise_text"]

# Enough for mathematics stems, Japanese text with ruby, tables and media; no scripts, styles,
# event handlers, forms or links.
ALLOWED_TAGS = {
    "p", "br", "span", "div", "em", "strong", "b", "i", "u", "sub", "sup", "small",
    "ruby", "rb", "rt", "rp", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "code", "pre", "blockquote", "img", "figure", "figcaption", "audio", "video", "source",
    "caption", "h3", "h4", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "width", "height", "poster"},
    "source": {"src", "type"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "span": {"lang"},
    "p": {"lang"},
    "div": {"lang"},
}


def sanitise_html(html: str) -> str:
    """Clean author HTML with nh3 (ammonia): unknown tags dropped, links and scripts removed.

    URLs may be relative (our media, ``/api/v1/media/<sha256>``) or data: an item never makes
    a student's browser fetch from another site (the Content-Security-Policy says the same).
    """
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"data"},
        link_rel=None,
    )


_TAG = re.compile(r"<[^>]+>")


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment, for search, listings and reports shown as text.

    Sanitised first (so a script's body never becomes text), tags become spaces, entities are
    decoded (``&lt;`` is ``<``: the caller must show the result as text, never as HTML).
    """
    text = html.unescape(_TAG.sub(" ", sanitise_html(fragment)))
    return " ".join(text.split())


def sanitise_text(text: str) -> str:
    """A text field shown to a student (read-aloud scripts): every tag removed, the rest
    escaped, so it is safe in whichever way the page uses it."""
    return nh3.clean(text, tags=set(), attributes={})
