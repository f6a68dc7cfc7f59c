"""Sheet templates clerks fill in the field (见面核查、检测、帮扶、状态变更 …).

One workbook per entry type: a header row naming the person (公民身份号码,
姓名) and the entry's fields, drop-downs built from the model's enumerations,
an input help on every column, the header frozen and protected (data cells
stay editable), ID numbers formatted as text. A hidden ``_dossier`` sheet
records the entry type, so ``dossier import`` knows what the filled sheet is.
"""

from __future__ import annotations

from pathlib import Path

from .columns import TEMPLATE_TITLES
from .reader import MARKER_SHEET

LISTS_SHEET = "_lists"
DEFAULT_ROWS = 300
HEADER_FILL = "DDEBF7"
_SKIP_KINDS = ("object",)


def template_columns(type_name: str) -> list[dict]:
    """Columns of the template for ``type_name`` (English name or Chinese label):
    dicts with header, field, kind, choices, help."""
    from ..model.entries import ENTRY_TYPES, resolve_entry_type

    et = ENTRY_TYPES[resolve_entry_type(type_name)]
    cols = [
        {"header": "*公民身份号码", "field": "id_number", "kind": "id", "choices": (),
         "help": "18位公民身份号码（末位X可大写或小写）。本列已设为文本格式，请勿改为数字格式。"},
        {"header": "姓名", "field": "name", "kind": "str", "choices": (),
         "help": "用于核对：须与档案中该身份证号的姓名一致。"},
    ]
    for f in et.fields:
        if f.kind in _SKIP_KINDS:
            continue
        if et.name == "status" and f.name == "axis":
            continue   # derived from the status value
        choices, kind = tuple(f.choices), f.kind
        if et.name == "status" and f.name == "status":
            from ..model.entries import MEASURE_STATUSES, PRESENCE_STATUSES

            # a plain str in the model (the axis decides which values are valid); one list here
            choices, kind = MEASURE_STATUSES + PRESENCE_STATUSES, "enum"
        help_ = _help(kind, choices, f.allow_future)
        cols.append({"header": ("*" if f.required else "") + f.label, "field": f.name, "kind": kind,
                     "choices": choices, "help": help_})
    return cols


def _help(k: str, choices, allow_future: bool = False) -> str:
    if k == "date":
        return "日期，例如 2024-03-05（也可写 2024.3.5 或 2024年3月5日）" + ("；可填将来日期" if allow_future else "")
    if k == "bool":
        return "填“是”或“否”。"
    if k == "enum":
        return "从下拉列表选择：" + "、".join(choices)
    if k == "list_enum":
        return "可填多项，用顿号分隔：" + "、".join(choices)
    if k == "list":
        return "可填多项，用顿号“、”分隔。"
    if k == "list_object":
        return "每人写“职务 姓名”，多人用顿号分隔，例如：社区民警 李四、禁毒专干 王五"
    if k == "int":
        return "整数。"
    if k == "float":
        return "数字。"
    if k == "text":
        return "文字，可多行（Alt+Enter 换行）。"
    return "文字。"


#: what a clerk records in the field: ``dossier sheet template field`` (外勤) makes all four
FIELD_SET = ("interview", "test", "assistance", "status")
FIELD_SET_NAMES = ("field", "外勤", "all", "全部")


def resolve_types(types) -> list[str]:
    """Entry type names (English or Chinese; “field”/“外勤” = the four field sheets)."""
    from ..model.entries import resolve_entry_type

    if isinstance(types, str):
        types = [types]
    out: list[str] = []
    for t in types:
        names = FIELD_SET if str(t).strip().lower() in FIELD_SET_NAMES else (resolve_entry_type(t),)
        out += [n for n in names if n not in out]
    return out


def write_template(types, out, *, rows: int = DEFAULT_ROWS):
    """Write a template workbook to ``out`` (.xlsx: a path, or a binary stream): one sheet per entry type in
    ``types`` (a name or a list; “field” = 见面核查、检测、帮扶救助、状态变更)."""
    import openpyxl
    from openpyxl.styles import Font

    names = resolve_types(types)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    sheets = [wb.create_sheet(_title(n)) for n in names]
    guide = wb.create_sheet("填写说明")
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    marker = wb.create_sheet(MARKER_SHEET)
    marker.append(["dossier-template", "1"])
    if len(names) == 1:
        marker.append(["entry_type", names[0]])
        marker.append(["sheet", sheets[0].title])
    for n, ws in zip(names, sheets):
        marker.append([f"type:{ws.title}", n])
    marker.sheet_state = "hidden"

    guide.append(["工作表", "列", "说明"])
    for c in guide[1]:
        c.font = Font(bold=True)
    state = {"list_col": 0}
    for n, ws in zip(names, sheets):
        cols = template_columns(n)
        _fill_sheet(ws, cols, lists, state, rows)
        for col in cols:
            guide.append([ws.title, col["header"], col["help"]])
    guide.append([])
    guide.append(["", "", "带 * 的列必填。表头已锁定，请勿修改；填好后用 dossier import 导入，"
                          "所有行校验通过才会写入。"])
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 20
    guide.column_dimensions["C"].width = 90

    from ..workbooks import save_workbook, workbook_bytes

    if hasattr(out, "write"):      # a binary stream (the web face's download): nothing on disk
        out.write(workbook_bytes(wb))
        return out
    out = Path(out)
    save_workbook(wb, out)
    return out


def _title(name: str) -> str:
    from ..model.entries import ENTRY_TYPES

    return TEMPLATE_TITLES.get(name, ENTRY_TYPES[name].label.replace("/", "、") + "登记")[:31]


def _fill_sheet(ws, cols: list[dict], lists, state: dict, rows: int) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    fill = PatternFill("solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
    last = rows + 1
    unlocked = Protection(locked=False)
    for j, col in enumerate(cols, start=1):
        letter = get_column_letter(j)
        c = ws.cell(1, j, col["header"])
        c.font = Font(bold=True, color="C00000" if col["header"].startswith("*") else "000000")
        c.fill = fill
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[letter].width = max(12, min(40, 2 * len(col["header"]) + 4))
        rng = f"{letter}2:{letter}{last}"
        dv = None
        if col["kind"] == "id":
            ws.column_dimensions[letter].width = 22
            dv = DataValidation(type="textLength", operator="equal", formula1="18", allow_blank=True)
            dv.error = "公民身份号码应为18位"
        elif col["kind"] in ("enum", "bool"):
            choices = col["choices"] if col["kind"] == "enum" else ("是", "否")
            state["list_col"] += 1
            ll = get_column_letter(state["list_col"])
            lists.cell(1, state["list_col"], f"{ws.title}/{col['header'].lstrip('*')}")
            for i, v in enumerate(choices, start=2):
                lists.cell(i, state["list_col"], v)
            ref = f"{quote_sheetname(LISTS_SHEET)}!${ll}$2:${ll}${len(choices) + 1}"
            dv = DataValidation(type="list", formula1=ref, allow_blank=True)
            dv.error = "请从下拉列表中选择"
        elif col["kind"] == "date":
            dv = DataValidation(type="date", operator="between", formula1="DATE(1900,1,1)",
                                formula2="DATE(2100,12,31)", allow_blank=True)
            dv.error = "请填写日期，例如 2024-03-05"
        elif col["kind"] == "int":
            dv = DataValidation(type="whole", operator="between", formula1="0", formula2="100000",
                                allow_blank=True)
            dv.error = "请填写整数"
        if dv is None:
            dv = DataValidation(type="custom", formula1="TRUE", allow_blank=True)
            dv.showErrorMessage = False
        else:
            dv.showErrorMessage = True
            dv.errorTitle = "输入有误"
        dv.promptTitle = col["header"].lstrip("*")[:32]
        dv.prompt = col["help"][:255]
        dv.showInputMessage = True
        dv.add(rng)
        ws.add_data_validation(dv)
        for r in range(2, last + 1):
            cell = ws.cell(r, j)
            cell.protection = unlocked
            if col["kind"] == "id":
                cell.number_format = "@"
            elif col["kind"] == "date":
                cell.number_format = "yyyy-mm-dd"
            elif col["kind"] == "text":
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "C2"
    ws.row_dimensions[1].height = 30
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.sort = False
    ws.protection.autoFilter = False
