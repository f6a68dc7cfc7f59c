"""Validate every row of a roster or entry sheet before anything is written.

Each cell is first made comparable (full-width folded, spaces trimmed,
Excel date cells and numbers turned into what the model expects), then the
row goes through the model's own validation (``normalize_profile`` /
``normalize_entry``). Every problem becomes a :class:`Problem` carrying the
sheet, the Excel row number, the column header, the cell, the value and a
Chinese reason — the clerk fixes the cell without guessing.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput
from .columns import SPECIAL, Table, detect_tables
from .grid import FORMULA_NO_RESULT, Formula
from .reader import RawBook, excel_serial_to_date, read_book
from .text import clean, clean_name, compact, fold

ERROR = "error"
WARNING = "warning"

PRECISION_LOST = ("身份证号被 Excel 存成了数字，只保留了15位有效数字，后几位已丢失或变成0；"
                  "请把该列单元格格式设为“文本”，再重新录入这些号码")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


@dataclass
class Problem:
    sheet: str
    row: int              # Excel row number (1-based, as Excel shows it)
    column: str           # column header as written ('' for the whole row)
    cell: str             # e.g. "E7" ('' for the whole row)
    value: str
    reason: str
    level: str = ERROR

    def to_dict(self) -> dict:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "cell": self.cell,
                "value": self.value, "reason": self.reason, "level": self.level}

    def __str__(self) -> str:
        where = f"{self.sheet} 第{self.row}行"
        if self.column:
            value = f"“{self.value}”" if self.value != "" else "（空）"
            where += f" “{self.column}”列（{self.cell}）{value}"
        prefix = "[警告] " if self.level == WARNING else ""
        return f"{prefix}{where}：{self.reason}"


@dataclass
class Row:
    """One data row after validation."""

    table: Table
    row: int                       # Excel row number
    values: tuple                  # the raw cell values
    data: dict | None = None       # canonical profile / entry (None when invalid)
    problems: list[Problem] = field(default_factory=list)
    extra: dict = field(default_factory=dict)   # special columns (当前状态 …), cleaned text
    canonical: object = None       # a profile row's CanonicalProfile (the import stores it as it is)

    @property
    def kind(self) -> str:
        return self.table.schema.kind

    @property
    def sheet(self) -> str:
        return self.table.name

    @property
    def ok(self) -> bool:
        return not any(p.level == ERROR for p in self.problems)

    @property
    def id_number(self) -> str | None:
        if self.data and self.kind == "profile":
            return self.data.get("id_number")
        return (self.data or {}).get("_id_number")

    def add(self, column, value, reason, level=ERROR):
        header = column.header if column is not None else ""
        cell = f"{column.letter}{self.row}" if column is not None else ""
        self.problems.append(Problem(self.table.name, self.row, header, cell, _show(value), reason, level))


@dataclass
class Validation:
    book: RawBook
    tables: list[Table]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    problems_global: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        out = list(self.problems_global)
        for r in self.rows:
            out.extend(r.problems)
        return out

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def valid_rows(self) -> list[Row]:
        return [r for r in self.rows if r.ok]

    def invalid_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == _dt.time() else value.isoformat(" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else f"{value:.0f}"
    return str(value)


# ---------------------------------------------------------------- cells


def id_cell(value):
    """(text, reason): an ID-number cell made into text, or why it cannot be."""
    if isinstance(value, bool):
        return None, "应为18位公民身份号码"
    if isinstance(value, (int, float)):
        digits = f"{value:.0f}"
        if isinstance(value, float) or len(digits) > 15:
            return None, PRECISION_LOST
        return digits, None
    text = compact(str(value)).upper()
    if _SCIENTIFIC.match(text):
        return None, PRECISION_LOST
    return text, None


def date_cell(value):
    """Excel date cells, serial numbers and 20190506 typed as a number."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and 19000101 <= value <= 21001231:
        return str(value)
    if isinstance(value, (int, float)):
        d = excel_serial_to_date(value)
        return d if d is not None else value
    return clean(str(value))


def text_cell(value, *, multiline=False):
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, _dt.datetime):
        return _show(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    s = str(value)
    if multiline:
        return s.strip()   # free text is kept as typed (the model stores it so)
    return clean(s)


def prepare(f, value):
    """(value for the model, reason or None). ``f`` is a model Field."""
    if f.name == "id_number":
        return id_cell(value)
    if f.name == "name":
        return clean_name(text_cell(value)), None
    if f.name == "phone":
        return compact(text_cell(value)), None
    if f.kind == "date":
        return date_cell(value), None
    if f.kind == "text":
        return text_cell(value, multiline=True), None
    if f.kind in ("bool", "int", "float") and not isinstance(value, str):
        return value, None
    return text_cell(value), None


def _empty(v) -> bool:
    return v is None or (isinstance(v, str) and clean(v) == "")


_TOTAL = re.compile(r"^(合计|总计|小计|共计)")
_SIGN_OFF = re.compile(r"^(填表人|填报人|制表人|审核人|审批人|单位负责人|负责人|经办人|联系人|联系电话|填表日期|"
                       r"填报日期|制表日期|填表单位|填报单位|制表单位|备注|说明|注)[:：]|^[(（]?(单位)?盖章[)）]?$")


def is_footer_row(values: tuple) -> bool:
    """A line under the table that is not a person: a total (合计 12 人) or a sign-off
    (填表人：…  审核人：…  填表日期：…). Every filled cell must read as such, so a row that
    also holds a name or an ID number is still validated as data."""
    cells = [v for v in values if not _empty(v)]
    if not cells or not isinstance(cells[0], str):
        return False
    first = clean(cells[0])
    total = bool(_TOTAL.match(first))
    if not (total or _SIGN_OFF.match(first)):
        return False
    for v in cells[1:]:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and total:
            continue
        t = clean(str(v))
        if not (_SIGN_OFF.match(t) or _TOTAL.match(t) or (total and re.fullmatch(r"\d+\s*(人|名|条)?", t))):
            return False
    return True


# ---------------------------------------------------------------- rows


def _field_of(path: str | None) -> str | None:
    if not path:
        return None
    return re.split(r"[.\[]", str(path), maxsplit=1)[0]


def validate_row(table: Table, rownum: int, values: tuple, *, today: _dt.date) -> Row | None:
    """Validate one data row; None when the row has nothing in its mapped columns."""
    from ..model.entries import normalize_entry
    from ..model.idnumber import validate_id_number
    from ..model.person import CanonicalProfile, normalize_profile

    row = Row(table, rownum, values)
    schema = table.schema
    person_fields = {"id_number", "name"}
    data: dict = {}
    columns_by_field = {}
    extra: dict = {}
    for col in table.columns:
        if col.target is None:
            continue
        value = values[col.index] if col.index < len(values) else None
        if _empty(value):
            continue
        columns_by_field[col.target] = col
        if isinstance(value, Formula):     # never read as empty (issue 15)
            row.add(col, value, FORMULA_NO_RESULT)
            continue
        if col.target in SPECIAL:
            extra[col.target] = text_cell(value)
            continue
        f = schema.field(col.target)
        if f is None and col.target in person_fields:
            from ..model.person import FIELDS_BY_NAME

            f = FIELDS_BY_NAME[col.target]
        if f is None:
            continue
        prepared, reason = prepare(f, value)
        if reason:
            row.add(col, value, reason)
            continue
        data[col.target] = prepared
    if not data and not row.problems:
        return None

    def report(err: InvalidInput, level=ERROR):
        name = _field_of(err.field)
        col = columns_by_field.get(name) or table.column_for(name)
        raw = values[col.index] if col is not None and col.index < len(values) else None
        reason = err.reason or err.message
        if col is None and name:
            label = _label(schema, name)
            reason = f"{label}：{reason}" if label and label not in reason else reason
        row.add(col, raw, reason, level)

    bad_id = bool(row.problems)   # only the ID cell can fail before the model sees the row
    if schema.kind == "profile":
        if bad_id:
            # still check the other cells; the ID problem is already reported
            data_wo = {k: v for k, v in data.items() if k not in ("id_number", "gender", "birth_date")}
            try:
                normalize_profile(data_wo, today=today, partial=True)
            except InvalidInput as exc:
                for e in getattr(exc, "errors", None) or [exc]:
                    report(e)
            return row
        try:
            canonical = CanonicalProfile.of(data, today=today)
        except InvalidInput as exc:
            for e in getattr(exc, "errors", None) or [exc]:
                report(e)
            return row
        profile, warnings = dict(canonical), canonical.warnings
        row.canonical = canonical         # what the import stores, not normalised again
        for w in warnings:
            row.add(columns_by_field.get("id_number"), values[columns_by_field["id_number"].index]
                    if "id_number" in columns_by_field else "", w, WARNING)
        row.data = profile
        row.extra = extra
        return row
    # entry sheet: the person is named by ID number (and name, checked later)
    id_number = None
    if "id_number" not in data:
        if not bad_id:
            row.add(None, "", "缺少公民身份号码，无法确定是哪个人的记录")
    else:
        try:
            id_number = validate_id_number(data["id_number"], today=today)
        except InvalidInput as e:
            report(e)
    entry_data = {k: v for k, v in data.items() if k not in person_fields}
    try:
        entry = normalize_entry(schema.kind, entry_data, today=today)
    except InvalidInput as exc:
        for e in getattr(exc, "errors", None) or [exc]:
            report(e)
        return row
    if row.ok:
        entry["_id_number"] = id_number
        if "name" in data:
            entry["_name"] = data["name"]
        row.data = entry
    return row



def _label(schema, name) -> str | None:
    f = schema.field(name)
    if f is not None:
        return f.label
    from ..model.person import FIELDS_BY_NAME

    f = FIELDS_BY_NAME.get(name)
    return f.label if f else None


def find_duplicates(rows: list[Row]) -> None:
    """Mark rows of one file that name the same person twice (profile sheets)
    or repeat the same entry (entry sheets)."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in rows:
        if not r.ok or r.data is None:
            continue
        if r.kind == "profile":
            key = ("profile", r.data["id_number"])
        else:
            key = (r.kind, tuple(sorted((k, repr(v)) for k, v in r.data.items() if k != "_name")))
        groups[key].append(r)
    for group in groups.values():
        if len(group) < 2:
            continue
        first = group[0]
        differ = any(r.data != first.data for r in group[1:])
        for r in group[1:]:
            if r.kind == "profile":
                reason = (f"与{first.sheet}第{first.row}行是同一人（身份证号重复）"
                          + ("，且内容不一致，请核对后只保留一行" if r.data != first.data
                             else "，内容相同，请删除重复行"))
            else:
                reason = f"与{first.sheet}第{first.row}行是同一条记录（重复），请删除重复行"
            _flag_id(r, reason)
        if first.kind == "profile" and differ:
            rows_text = "、".join(f"第{r.row}行" for r in group[1:])
            _flag_id(first, f"同一身份证号在本文件中还出现在{rows_text}，且内容不一致，请核对后只保留一行")


def _flag_id(r: Row, reason: str) -> None:
    col = r.table.column_for("id_number")
    r.add(col, r.values[col.index] if col is not None and col.index < len(r.values) else "", reason)
    r.data = None


def validate_book(path: str | Path, *, today: _dt.date, sheet: str | None = None,
                  mapping: dict | None = None, progress=None) -> Validation:
    """Read ``path`` and validate every row of every importable sheet.

    ``progress(n)`` is called as rows are validated (for a progress bar).
    """
    book = read_book(path)
    tables, notes = detect_tables(book, sheet=sheet, mapping=mapping)
    v = Validation(book, tables, [], notes)
    for t in tables:
        missing = _missing_columns(t)
        for m in missing:
            v.problems_global.append(Problem(t.name, t.header_row, "", "", "", m))
        if t.unmapped:
            v.notes.append(f"工作表“{t.name}”：以下列未导入（不是档案字段）：{'、'.join(t.unmapped)}；"
                           "如需导入请用 --mapping 指定对应字段")
        for rownum, values in t.rows:
            if is_footer_row(values):
                v.notes.append(f"工作表“{t.name}”第{rownum}行是表尾（合计、填表人等），不是人员，未导入")
                if progress:
                    progress(1)
                continue
            r = validate_row(t, rownum, values, today=today)
            if r is not None:
                v.rows.append(r)
            if progress:
                progress(1)
    find_duplicates(v.rows)
    return v


def _missing_columns(t: Table) -> list[str]:
    targets = t.targets()
    out = []
    if "id_number" not in targets:
        out.append("缺少“公民身份号码”列（表头可写作 身份证号、身份证号码、证件号码）")
    if t.schema.kind == "profile" and "name" not in targets:
        out.append("缺少“姓名”列")
    return out
