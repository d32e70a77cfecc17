"""Matplotlib figures rendered to inline SVG that works under the app's CSP and for screen readers.

Why each step is here:

- ``Figure`` with its own canvas, never pyplot: no global figure state in a threaded server.
- ``svg.fonttype = "none"``: text stays text, so the browser draws Japanese with its own fonts
  even when the server has no CJK font (the layout then uses a fallback font's metrics, and the
  "glyph missing" warnings are silenced). The families below are tried in order.
- The CSP has ``style-src 'self'``, which blocks inline ``style=""`` attributes. Matplotlib writes
  its colours there, so each one is rewritten as SVG presentation attributes, which CSP allows.
- Every chart gets a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``, ``role="img"``);
  the page puts the same numbers in a table beside it.

Rendering holds one lock: the two rcParams the SVG backend reads at save time are process-wide.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

__all__ = ["FONT_FAMILIES", "chart_svg", "drawing", "drawn", "new_figure"]

#: Japanese first (fonts-noto-cjk on Debian, IPAex, macOS and Windows fonts), then a fallback.
FONT_FAMILIES = [
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
    "DejaVu Sans",
    "sans-serif",
]
P = ParamSpec("P")
R = TypeVar("R")
_BROWSER_FONTS = ", ".join(f"'{name}'" if " " in name else name for name in FONT_FAMILIES)
_LOCK = threading.RLock()
_STYLE_ATTR = re.compile(r' style="([^"]*)"')
_FONT_SHORTHAND = re.compile(
    r"^(?:(italic|oblique|normal) )?(?:(bold|normal|\d{3}) )?([\d.]+)px (.+)$"
)


@functools.cache
def _installed_families() -> list[str]:
    """The families of FONT_FAMILIES this server has, for layout (the browser draws the text)."""
    from matplotlib import font_manager

    names = {entry.name for entry in font_manager.fontManager.ttflist}
    return [name for name in FONT_FAMILIES if name in names] or ["DejaVu Sans"]


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Hold while building and saving a figure: the rcParams lock, and no "glyph missing"
    warnings (layout measures Japanese with a fallback font when the server has no CJK font;
    the browser draws the text with its own)."""
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def drawn(builder: Callable[P, R]) -> Callable[P, R]:
    """Decorator: the whole chart builder runs inside :func:`drawing`."""

    @functools.wraps(builder)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with drawing():
            return builder(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float):
    """A figure (inches) attached to the SVG canvas, not to pyplot."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasSVG(figure)
    return figure


def _attributes(style: str) -> str:
    """``fill: #fff; stroke-width: 0.8`` as ``fill="#fff" stroke-width="0.8"``."""
    out = []
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if not name:
            continue
        if name == "font":
            match = _FONT_SHORTHAND.match(value)
            if match is None:
                continue
            font_style, weight, size, family = match.groups()
            if font_style:
                out.append(f'font-style="{font_style}"')
            if weight:
                out.append(f'font-weight="{weight}"')
            out.append(f'font-size="{size}px"')
            name, value = "font-family", family
        out.append(f'{name}="{html.escape(value, quote=True)}"')
    return (" " + " ".join(out)) if out else ""


def chart_svg(figure, *, chart_id: str, title: str, description: str) -> str:
    """The figure as an ``<svg>`` element: no inline styles, titled, described, scalable.

    ``chart_id`` must be unique on the page (it names the title and description elements and
    salts matplotlib's clip-path ids).
    """
    import matplotlib
    from matplotlib.text import Text

    for text in figure.findobj(Text):
        text.set_fontfamily(_installed_families())
    buffer = io.StringIO()
    with drawing(), matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'<style type="text/css">.*?</style>', "", svg, flags=re.S)
    svg = _STYLE_ATTR.sub(lambda m: _attributes(html.unescape(m.group(1))), svg)
    svg = re.sub(r'font-family="[^"]*"', f'font-family="{html.escape(_BROWSER_FONTS)}"', svg)
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    head = (
        f'<title id="{safe_id}-title">{html.escape(title)}</title>'
        f'<desc id="{safe_id}-desc">{html.escape(description)}</desc>'
    )
    svg = re.sub(
        r"<svg ([^>]*)>",
        lambda m: (
            f'<svg {m.group(1)} role="img" class="chart" id="{safe_id}" '
            f'aria-labelledby="{safe_id}-title {safe_id}-desc" '
            'stroke-linejoin="round" stroke-linecap="butt">' + head
        ),
        svg,
        count=1,
    )
    return svg.strip()
