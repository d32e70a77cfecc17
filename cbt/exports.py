"""CSV downloads opened in a spreadsheet: a UTF-8 byte-order mark and no formula injection.

Excel on Japanese Windows reads a CSV without a BOM as Shift_JIS and garbles every name; with
the UTF-8 BOM it reads UTF-8. Our own readers (``cbt calibrate``) open CSV as ``utf-8-sig``,
so the BOM costs them nothing.

A cell a student or teacher typed may start with ``=``, ``+``, ``-`` or ``@``: Excel would run
it as a formula (CSV injection), so such text gets a leading apostrophe, Excel's mark for text.

Shared by every package that offers a CSV (analytics' reports, the audit log); it imports no
domain package.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response

__all__ = ["BOM", "csv_chunks", "csv_download", "csv_text", "excel_safe"]

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
    return "".join(csv_chunks(header, [rows]))


def csv_chunks(header: list[str], chunks: Iterable[Iterable[Iterable[Any]]]) -> Iterator[str]:
    """CSV text, BOM and header first, then one piece per chunk of rows (for streaming a long
    download without holding it in memory); every cell made safe for Excel."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    for rows in chunks:
        writer.writerows([excel_safe(cell) for cell in row] for row in rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header alone (no chunks)
        yield buffer.getvalue()


def csv_download(body: str | Iterator[str], filename: str) -> Response:
    """A CSV attachment; ``body`` is the text (or chunks of it), already starting with BOM."""
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
