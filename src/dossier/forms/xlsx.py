"""List forms (附表) as Excel workbooks, laid out from the manifest's columns."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dossier.forms.fmt import clean


# Counts are numbers in Excel (a 统计表 is summed); codes, ID and phone numbers stay text.
_COUNT = re.compile(r"^(0|[1-9][0-9]{0,8})$")
_TEXT_FIELDS = frozenset({"id_number", "phone", "clue_no", "doc_no", "archive_no"})


_PERCENT = re.compile(r"^(0|[1-9][0-9]{0,2})\.([0-9])%$")       # 附表1 rates, as 85.0%


def _cell(v, field: str = ""):
    if v is None:
        return ""
    s = clean(str(v))
    if field not in _TEXT_FIELDS and _COUNT.match(s):
        return int(s)
    if field.endswith("_rate") and _PERCENT.match(s):
        return round(float(s[:-1]) / 100, 4)
    return s


def write_list_xlsx(title: str, code_label: str, columns: list[Mapping], context: Mapping) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = (code_label or "附表")[:31]
    n = max(len(columns), 1)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws.cell(1, 1, code_label).font = Font(name="黑体", size=11)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    c = ws.cell(2, 1, title)
    c.font = Font(name="宋体", size=16, bold=True)
    c.alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=3, start_column=1, end_row=3, end_column=n)
    ws.cell(3, 1, f"填报单位：{context.get('unit', '')}    统计范围：{context.get('scope', '')}    "
                  f"填报日期：{context.get('today', '')}    共{context.get('count', '')}人").font = Font(name="仿宋", size=10)
    for j, col in enumerate(columns, 1):
        label = col.get("label", col["field"])
        h = ws.cell(4, j, f"{label}（{col['note']}）" if col.get("note") else label)   # e.g. 由社区填写
        h.font = Font(name="黑体", size=10)
        h.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        h.border = border
        width = {"id_number": 21, "hukou_address": 28, "residence_address": 28, "seq": 6, "gender": 6}.get(col["field"], 12)
        ws.column_dimensions[get_column_letter(j)].width = width
    rows = list(context.get("rows") or [])
    if context.get("total"):
        rows.append(context["total"])
    for i, row in enumerate(rows, 5):
        for j, col in enumerate(columns, 1):
            value = _cell(row.get(col["field"], ""), col["field"])
            c = ws.cell(i, j, value)
            c.font = Font(name="仿宋", size=10)
            c.alignment = Alignment(vertical="center", wrap_text=True)
            c.border = border
            if c.value and col["field"] in ("id_number", "phone"):
                c.number_format = "@"
            elif isinstance(value, float):
                c.number_format = "0.0%"
    ws.freeze_panes = "C5"
    ws.print_title_rows = "4:4"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    from dossier.workbooks import workbook_bytes

    return workbook_bytes(wb)   # a value is data: never a formula (=…) for Excel
