"""Workbooks that tell a clerk what to fix.

- :func:`write_marked_copy`: a copy of the imported workbook with every bad
  cell filled red (warnings yellow) and a comment giving the reason, plus a
  “错误清单” sheet listing every problem. Cells keep their Excel addresses,
  also for .xls and .csv sources, so “第12行 D列” means the same in both.
- :func:`write_rejected`: the rows that were not imported (``--skip-invalid``),
  with their header and a reason column, ready to be corrected and imported
  again.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from pathlib import Path

from ..workbooks import save_workbook, workbook_bytes
from .grid import Formula, MemoryFile
from .validate import ERROR, Problem, Row, Validation

#: up to this many cell elements the annotated copy is the clerk's own workbook (formatting
#: kept); above it, the copy is rebuilt from the grid (openpyxl's full load costs ~150 bytes a cell)
KEEP_FORMAT_CELLS = 300_000
ERROR_FILL = "FFC7CE"    # Excel's own “bad” red
WARNING_FILL = "FFEB9C"  # and “neutral” yellow
LIST_SHEET = "错误清单"
AUTHOR = "dossier"


def _plain(v):
    """A grid value as a cell value: a formula without a result is shown as its text."""
    return str(v) if isinstance(v, Formula) else v


def _fills():
    from openpyxl.styles import PatternFill

    return (PatternFill("solid", start_color=ERROR_FILL, end_color=ERROR_FILL),
            PatternFill("solid", start_color=WARNING_FILL, end_color=WARNING_FILL))


def _comment(text: str):
    from openpyxl.comments import Comment

    c = Comment(text, AUTHOR)
    c.width, c.height = 300, 120
    return c


def _mark(ws, problems: list[Problem], row_first_col: dict[int, int]) -> None:
    red, yellow = _fills()
    by_cell: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        cell = p.cell or f"{_letter(row_first_col.get(p.row, 1))}{p.row}"
        by_cell[cell].append(p)
    for addr, ps in by_cell.items():
        cell = ws[addr]
        if type(cell).__name__ == "MergedCell":
            continue
        cell.fill = red if any(p.level == ERROR for p in ps) else yellow
        cell.comment = _comment("\n".join(p.reason for p in ps))


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _problem_list(wb, problems: list[Problem]) -> None:
    from openpyxl.styles import Font

    if LIST_SHEET in wb.sheetnames:
        del wb[LIST_SHEET]
    ws = wb.create_sheet(LIST_SHEET, 0)
    ws.append(["工作表", "行号", "列", "单元格", "内容", "原因", "级别"])
    for c in ws[1]:
        c.font = Font(bold=True)
    for p in sorted(problems, key=lambda p: (p.sheet, p.row, p.cell)):
        ws.append([p.sheet, p.row, p.column, p.cell, p.value, p.reason,
                   "错误" if p.level == ERROR else "警告"])
    for col, width in zip("ABCDEFG", (14, 7, 16, 8, 24, 70, 6)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"


def _write(wb, out):
    """To a path (atomically) or, for a writable binary stream, into it (nothing on disk)."""
    if hasattr(out, "write"):
        out.write(workbook_bytes(wb))
        return out
    return save_workbook(wb, Path(out))


def write_marked_copy(validation: Validation, out):
    """Write the highlighted copy of ``validation.book`` to ``out`` (.xlsx: a path,
    or a binary stream such as ``io.BytesIO`` to keep it in memory)."""
    import openpyxl

    book = validation.book
    problems = validation.problems
    by_sheet: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        by_sheet[p.sheet].append(p)
    if book.format == "xlsx" and book.cells <= KEEP_FORMAT_CELLS:
        src = book.path.open() if isinstance(book.path, MemoryFile) else book.path
        wb = openpyxl.load_workbook(src)   # its formulas become text when saved (workbooks.neutralise)
        sheets = {ws.title: ws for ws in wb.worksheets}
    else:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        sheets = {}
        for raw in book.sheets:
            ws = wb.create_sheet(raw.name[:31])
            for rownum, values in raw.rows:
                for j, v in enumerate(values, start=1):
                    if v is None:
                        continue
                    c = ws.cell(rownum, j, _plain(v))
                    if isinstance(v, (_dt.date, _dt.datetime)):
                        c.number_format = "yyyy-mm-dd"
            sheets[raw.name] = ws
    first_col = {}
    for t in validation.tables:
        first = min((c.index for c in t.columns), default=0) + 1
        for rownum, _ in t.rows:
            first_col[rownum] = first
    for name, ps in by_sheet.items():
        ws = sheets.get(name) or sheets.get(name[:31])
        if ws is not None:
            _mark(ws, ps, first_col)
    _problem_list(wb, problems)
    return _write(wb, out)


def write_rejected(rows: list[Row], out):
    """Write (to a path or a binary stream, as :func:`write_marked_copy`) rejected rows, one sheet per source sheet, header on row 1 and a
    “未导入原因” column; bad cells are marked at their new addresses."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    red, yellow = _fills()
    by_table: dict[int, list[Row]] = defaultdict(list)
    tables = {}
    for r in rows:
        by_table[id(r.table)].append(r)
        tables[id(r.table)] = r.table
    for key, trows in by_table.items():
        t = tables[key]
        ws = wb.create_sheet(t.name[:31] if t.name[:31] not in wb.sheetnames else f"{t.name[:28]}_{len(wb.sheetnames)}")
        width = max([c.index for c in t.columns] + [len(v) - 1 for _, v in [(r.row, r.values) for r in trows]] + [0]) + 1
        for c in t.columns:
            ws.cell(1, c.index + 1, c.header).font = Font(bold=True)
        reason_col = width + 1
        ws.cell(1, reason_col, "未导入原因").font = Font(bold=True)
        ws.cell(1, reason_col + 1, "原行号").font = Font(bold=True)
        id_col = t.column_for("id_number")
        for i, r in enumerate(trows, start=2):
            for j, v in enumerate(r.values, start=1):
                if v is None:
                    continue
                c = ws.cell(i, j, _plain(v))
                if isinstance(v, (_dt.date, _dt.datetime)):
                    c.number_format = "yyyy-mm-dd"
            if id_col is not None:
                ws.cell(i, id_col.index + 1).number_format = "@"
            ws.cell(i, reason_col, "；".join(
                (f"{p.column}：" if p.column else "") + p.reason for p in r.problems if p.level == ERROR))
            ws.cell(i, reason_col + 1, r.row)
            for p in r.problems:
                if not p.cell:
                    continue
                col_letters = "".join(ch for ch in p.cell if ch.isalpha())
                c = ws[f"{col_letters}{i}"]
                c.fill = red if p.level == ERROR else yellow
                c.comment = _comment(p.reason)
        ws.freeze_panes = "A2"
        ws.column_dimensions[_letter(reason_col)].width = 60
    if not wb.sheetnames:
        wb.create_sheet("未导入")
    return _write(wb, out)
