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

__all__ = ["BOM", "XLSX_MIMETYPE", "csv_download", "csv_text", "excel_safe", "xlsx_download"]

BOM = "\ufeff"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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


def xlsx_bytes(sheets: dict[str, tuple[list[str], Iterable[Iterable[Any]]]]) -> bytes:
    """A workbook with one sheet per entry (name -> header and rows).

    Every text cell is stored as text, so a typed ``=...`` is never a formula; characters XML
    cannot hold (control codes) are dropped rather than failing the download.
    """
    from openpyxl import Workbook  # imported here: only this download needs it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    for title, (header, rows) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            cells = []
            for value in row:
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                    cell.data_type = "s"
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_download(
    sheets: dict[str, tuple[list[str], Iterable[Iterable[Any]]]], filename: str
) -> Response:
    """An XLSX attachment of ``sheets`` (see ``xlsx_bytes``)."""
    return Response(
        xlsx_bytes(sheets),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
