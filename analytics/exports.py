"""Downloads a teacher or researcher opens in a spreadsheet: CSV (with a byte-order mark) and XLSX.

Excel on Japanese Windows reads a CSV without a BOM as Shift_JIS and garbles every name; with
the UTF-8 BOM it reads UTF-8. Our own readers (``cbt calibrate``) open CSV as ``utf-8-sig``,
so the BOM costs them nothing.

A cell a student or teacher typed may start with ``=``, ``+``, ``-`` or ``@``: Excel would run
it as a formula (CSV injection), so such text gets a leading apostrophe, Excel's mark for text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response

__all__ = ["BOM", "csv_download", "csv_text", "excel_safe"]

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def excel_safe(value: Any) -> Any:
    """``value``, with text that Excel would read as a formula turned into plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV document, BOM first, every cell made safe for Excel."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([excel_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def csv_download(body: str | Iterator[str], filename: str) -> Response:
    """A CSV attachment; ``body`` is the text (or chunks of it), already starting with BOM."""
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
