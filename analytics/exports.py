"""Downloads a teacher or researcher opens in a spreadsheet: CSV (with a byte-order mark) and XLSX.

The CSV rules (the UTF-8 BOM for Excel on Japanese Windows, the guard against formula
injection) live in ``cbt.exports``, shared with the audit log; this module adds the workbook.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from flask import Response

from cbt.exports import BOM, csv_download, csv_text, excel_safe

__all__ = ["BOM", "XLSX_MIMETYPE", "csv_download", "csv_text", "excel_safe", "xlsx_download"]

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
