"""Read an .xlsx as a grid, with bounded memory, before anything else looks at it.

1. The package (a zip) is checked from its end record and central directory
   before any part is decompressed: at most MAX_ENTRIES parts, MAX_UNPACKED
   bytes in all, no part above MAX_RATIO times its compressed size (the
   classic zip bomb). Python's zipfile never inflates a part beyond the size
   its directory declares, so checking the declared sizes is sound.
2. Sheets are streamed row by row with openpyxl's own sheet parser, keeping
   only cells with content: a ``<dimension>`` claiming A1:XFD1048576, or a
   million formatted empty rows, costs nothing (openpyxl's read-only
   ``iter_rows`` would pad every row to the claimed width).
3. A formula cell imports its cached result; one saved without a result
   becomes :class:`~.grid.Formula`, which validation reports — never an empty.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import InvalidInput
from .grid import Formula, MemoryFile, RawBook, RawSheet, RowBudget, open_source

MAX_ENTRIES = 2_000
MAX_UNPACKED = 256 * 1024 * 1024
MAX_RATIO = 200
_RATIO_FLOOR = 1024 * 1024            # parts under 1 MB are not ratio-checked
_EOCD = b"PK\x05\x06"


def _refuse(path: Path, why: str) -> InvalidInput:
    return InvalidInput(f"文件 {path.name} 被拒绝：{why}。这不像一份正常的名册（可能是损坏或恶意构造的文件），"
                        "未导入任何内容。")


def check_package(path: Path) -> None:
    """Refuse a zip bomb from the directory alone (raises InvalidInput)."""
    import zipfile

    with open_source(path) as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise _refuse(path, "不是有效的 xlsx 文件（zip 目录缺失或被截断）")
    # end of central directory: signature, 4 × H (disks, entries here, entries in all), cd size, offset, comment
    _sig, _disk, _cd_disk, _here, entries, cd_size, _offset, _comment = struct.unpack("<4s4H2LH", tail[at:at + 22])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or entries > MAX_ENTRIES or cd_size > MAX_ENTRIES * 1024:
        raise _refuse(path, f"压缩包内的文件项过多（上限 {MAX_ENTRIES:,} 个）")
    try:
        with zipfile.ZipFile(path.open() if isinstance(path, MemoryFile) else path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise _refuse(path, f"不是有效的 xlsx 文件（{exc}）") from exc
    if len(infos) > MAX_ENTRIES:
        raise _refuse(path, f"压缩包内的文件项过多（{len(infos):,} 个，上限 {MAX_ENTRIES:,} 个）")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        raise _refuse(path, f"解压后共 {total / 1048576:,.0f} MB，超过上限 {MAX_UNPACKED // 1048576} MB（压缩炸弹）")
    for i in infos:
        if i.file_size > _RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise _refuse(path, f"其中“{i.filename}”的压缩比超过 {MAX_RATIO} 倍（压缩炸弹）")


def _parser_class():
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        """openpyxl's parser, keeping a formula without a cached result, and no row dimensions."""

        def parse_row(self, row):
            r = row.get("r")
            self.row_counter = int(float(r)) if r else self.row_counter + 1
            self.col_counter = 0
            return self.row_counter, [self.parse_cell(el) for el in row]

        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # no result: no <v>, or an empty one on a cell that is not a text result (t="str"
            # with an empty <v> is a formula whose result is "", e.g. =IF(A2="","",…))
            if cell["value"] is None and element.get("t") != "str" and not element.findtext(VALUE_TAG):
                f = element.find(FORMULA_TAG)
                if f is not None:
                    cell["value"] = Formula("=" + (f.text or "…"))
            return cell

    return Parser


def read_xlsx(path: Path, budget: RowBudget) -> RawBook:
    import openpyxl

    check_package(path)
    parser_class = _parser_class()
    wb = openpyxl.load_workbook(path.open() if isinstance(path, MemoryFile) else path, read_only=True,
                                data_only=True)
    try:
        sheets, cells = [], 0
        for ws in wb.worksheets:
            rows = []
            with ws._get_source() as src:
                parser = parser_class(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                      date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
                for rownum, row in parser.parse():
                    cells += len(row)
                    values = budget.row(ws.title, rownum, ((c["column"], c["value"]) for c in row))
                    if values is not None:
                        rows.append((rownum, values))
            sheets.append(RawSheet(ws.title, rows, hidden=ws.sheet_state != "visible"))
        return RawBook(path, "xlsx", sheets, cells=cells)
    finally:
        wb.close()
