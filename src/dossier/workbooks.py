"""The one way a workbook (or CSV) leaves dossier: no live formula in anything we write.

A value that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is a *formula carrier*: Excel and WPS run it when the clerk opens (or merely
edits) the cell — ``=HYPERLINK(…)``, the DDE ``+cmd|' /C calc'!A0``. Values
come from rosters, platform files and what clerks typed, so every writer saves
through :func:`workbook_bytes` / :func:`save_workbook`, which sweep every cell
of every sheet just before saving: a carrier (or an openpyxl formula cell)
becomes a text cell with Excel's quote prefix — it shows exactly what was typed
and stays text when edited. Numbers, dates and booleans are untouched.
Because the sweep runs at save time, a writer added later cannot forget it
(``tests/test_workbooks.py`` patches ``Workbook.save`` to prove every writer
goes through here). CSV output goes through :func:`csv_text`, which prefixes
carriers with an apostrophe (the OWASP rule; CSV has no text type).
"""

from __future__ import annotations

import io
from pathlib import Path

CARRIERS = ("=", "+", "-", "@", "\t", "\r")
_SWEPT = "_dossier_swept"


def is_carrier(value) -> bool:
    return isinstance(value, str) and value.startswith(CARRIERS)


def neutralise(wb) -> int:
    """Turn every formula cell and every string carrier of ``wb`` into plain text
    (in place); returns how many cells were changed."""
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                v = c.value
                if c.data_type == "f" or is_carrier(v):
                    if not isinstance(v, str):      # ArrayFormula / DataTableFormula objects
                        v = str(getattr(v, "text", v))
                    c.value = v
                    c.data_type = "s"
                    c.quotePrefix = True
                    n += 1
    setattr(wb, _SWEPT, True)
    return n


def _sheets_in_memory() -> None:
    """openpyxl serialises each worksheet into a named temporary file (in TMPDIR)
    before zipping it: plaintext of every cell on disk, however briefly. Ours
    serialises into memory instead (installed once; write-only workbooks, which
    dossier does not use, keep openpyxl's own path)."""
    from openpyxl.writer.excel import ExcelWriter

    if getattr(ExcelWriter, "_dossier_in_memory", False):
        return
    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.worksheet._writer import WorksheetWriter

    original = ExcelWriter.write_worksheet

    def write_worksheet(self, ws):
        if self.workbook.write_only:
            return original(self, ws)
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = WorksheetWriter(ws, out=io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.out.getvalue())
        self.manifest.append(ws)

    ExcelWriter.write_worksheet = write_worksheet
    ExcelWriter._dossier_in_memory = True


def workbook_bytes(wb) -> bytes:
    """``wb`` as .xlsx bytes, neutralised; built in memory (no temporary file)."""
    neutralise(wb)
    _sheets_in_memory()
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def save_workbook(wb, out: str | Path) -> Path:
    """Neutralise ``wb`` and write it to ``out`` atomically (temp file, fsync, rename)."""
    from .store.atomic import atomic_write

    out = Path(out)
    atomic_write(out, workbook_bytes(wb), mode=0o600)
    return out


def csv_cell(value) -> str:
    """One CSV field: carriers get a leading apostrophe, which Excel and WPS show as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return "'" + value if is_carrier(value) else str(value)   # numbers stay numbers


def csv_text(rows) -> str:
    """CSV text (UTF-8 with BOM when encoded by the caller) with every field through :func:`csv_cell`."""
    import csv

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    for r in rows:
        w.writerow([csv_cell(v) for v in r])
    return buf.getvalue()
