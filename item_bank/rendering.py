"""Student-safe rendering: the one function that turns item content into what a browser receives."""

from __future__ import annotations

import nh3

# Enough for mathematics stems and Japanese text with ruby; no scripts, styles or event handlers.
ALLOWED_TAGS = {
    "p", "br", "span", "div", "em", "strong", "b", "i", "u", "sub", "sup", "small",
    "ruby", "rb", "rt", "rp", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "code", "pre", "blockquote", "img", "figure", "figcaption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "span": {"lang"},
    "p": {"lang"},
}


def sanitise_html(html: str) -> str:
    """Clean author HTML with nh3 (ammonia): unknown tags dropped, links and scripts removed."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"https", "data"},
        link_rel=None,
    )
