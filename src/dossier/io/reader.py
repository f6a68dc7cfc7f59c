"""Read the grid of a roster file: .xlsx, .xls or .csv, as offices have them.

This module only turns a file into sheets of rows (with their Excel row
numbers); finding the header row and mapping columns is :mod:`.columns`.
The format is decided by the file's first bytes, not its extension: WPS and
old platforms often save an .xls under an .xlsx name and vice versa.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path

from ..errors import InvalidInput
from .grid import (MARKER_SHEET, MAX_FILE_BYTES, Formula, MemoryFile, RawBook, RawSheet, RowBudget, open_source,
                   source, source_size)

__all__ = ["MARKER_SHEET", "Formula", "MemoryFile", "RawBook", "RawSheet", "read_book", "sniff_format", "decode_text",
           "excel_serial_to_date"]


def sniff_format(path) -> str:
    with open_source(path) as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def read_book(path: str | Path | MemoryFile) -> RawBook:
    """Read every sheet of ``path`` (a path or a :class:`MemoryFile`). Raises
    :class:`InvalidInput` with a Chinese message when the file cannot be read at all."""
    path = source(path)
    if not isinstance(path, MemoryFile) and not path.is_file():
        raise InvalidInput(f"找不到文件：{path}")
    size = source_size(path)
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"文件 {path.name} 大小 {size / 1048576:,.1f} MB，超过上限 {MAX_FILE_BYTES // 1048576} MB，"
                           "不像一份名册：请拆分后分批导入。未导入任何内容。")
    fmt = sniff_format(path)
    budget = RowBudget(path)
    try:
        if fmt == "xlsx":
            from .xlsx import read_xlsx

            book = read_xlsx(path, budget)
        elif fmt == "xls":
            book = _read_xls(path, budget)
        else:
            book = _read_csv(path, budget)
    except InvalidInput:
        raise
    except Exception as exc:  # corrupt or encrypted workbook, unknown format
        raise InvalidInput(f"无法读取文件 {path.name}（{fmt}）：{exc}。"
                           "如文件设有打开密码，请先去掉密码另存。") from exc
    for sheet in book.sheets:
        if sheet.name == MARKER_SHEET:
            for _, values in sheet.rows:
                if len(values) >= 2 and values[0] is not None:
                    book.marker[str(values[0])] = "" if values[1] is None else str(values[1])
    return book


def _read_xls(path: Path, budget: RowBudget) -> RawBook:
    import xlrd

    if isinstance(path, MemoryFile):
        book = xlrd.open_workbook(file_contents=path.data, on_demand=True)
    else:
        book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        sheets = []
        for idx in range(book.nsheets):
            sh = book.sheet_by_index(idx)
            rows = []
            for r in range(sh.nrows):
                values = budget.row(sh.name, r + 1, ((c + 1, _xls_value(book, ctype, val)) for c, ctype, val
                                                     in zip(range(sh.ncols), sh.row_types(r), sh.row_values(r))))
                if values is not None:
                    rows.append((r + 1, values))
            hidden = getattr(sh, "visibility", 0) != 0
            sheets.append(RawSheet(sh.name, rows, hidden=hidden))
            book.unload_sheet(idx)
        return RawBook(path, "xls", sheets)
    finally:
        book.release_resources()


def _xls_value(book, ctype, val):
    import xlrd

    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if ctype == xlrd.XL_CELL_DATE:
        try:
            d = xlrd.xldate_as_datetime(val, book.datemode)
        except Exception:
            return val
        return d
    if ctype == xlrd.XL_CELL_NUMBER:
        return int(val) if float(val).is_integer() and abs(val) < 2**53 else val
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(val)
    return val


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM) first, then GB18030
    (which covers GBK/GB2312, what Excel on Chinese Windows writes)."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise InvalidInput("CSV 文件编码无法识别：请另存为 UTF-8 或 GB18030（GBK）编码。")


def _read_csv(path: Path, budget: RowBudget) -> RawBook:
    text, enc = decode_text(path.data if isinstance(path, MemoryFile) else path.read_bytes())
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;，")
        delim = dialect.delimiter
    except csv.Error:
        delim = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = []
    for rownum, values in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delim), start=1):
        vals = budget.row(path.stem, rownum, ((j, v) for j, v in enumerate(values, start=1) if v.strip() != ""))
        if vals is not None:
            rows.append((rownum, vals))
    return RawBook(path, "csv", [RawSheet(path.stem, rows)], encoding=enc)


def excel_serial_to_date(value: float) -> _dt.date | None:
    """An Excel 1900-system serial number (a date cell whose format was lost)
    as a date, for serials between 1900-03-01 and 2100-01-01."""
    if not (61 <= value < 73051):
        return None
    return (_dt.datetime(1899, 12, 30) + _dt.timedelta(days=float(value))).date()
