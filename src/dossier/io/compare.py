"""Compare the archive with an export of the police platform (S1 数据比对).

Persons are matched by ID number. Reported: persons only in the platform
file, persons only in the archive (within the scope), and for persons on
both sides the fields that differ — 状态, 户籍地址/现住址, 列管派出所, 联系电话.
A field is compared only when the platform file has that column; values are
compared after the same cleaning the importer applies (full-width, spaces,
punctuation width), so a difference is a real one. Columns whose header is not
recognised are listed (``ignored_columns``) rather than skipped silently, so a
zero count is never mistaken for a comparison that was not made.
"""

from __future__ import annotations

import datetime as _dt
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput
from .columns import STATUS, detect_tables, profile_schema
from .grid import FORMULA_NO_RESULT, Formula
from .reader import read_book
from .text import clean, compact
from .validate import id_cell, text_cell

#: kind → (sheet title, [(field, label)])
KINDS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "status": ("状态不一致", ((STATUS, "当前状态"),)),
    "address": ("地址不一致", (("hukou_address", "户籍地址"), ("residence_address", "现住址"))),
    "police": ("列管派出所不一致", (("residence_police", "列管派出所"),)),
    "phone": ("电话不一致", (("phone", "联系电话"),)),
}
_STATUS_SUFFIXES = ("中", "人员")


@dataclass
class CompareResult:
    platform_file: Path
    scope: str | None
    platform_count: int = 0
    archive_count: int = 0
    matched: int = 0
    only_platform: list[dict] = field(default_factory=list)
    only_archive: list[dict] = field(default_factory=list)
    differences: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in KINDS})
    unreadable: list[dict] = field(default_factory=list)
    compared_fields: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)   # headers not recognised, not compared

    def not_compared(self) -> list[str]:
        """Kinds of difference not looked at: the platform file has none of their columns."""
        return [k for k, (_, fs) in KINDS.items() if not any(label in self.compared_fields for _, label in fs)]

    def summary(self) -> dict:
        return {"platform": self.platform_count, "archive": self.archive_count, "matched": self.matched,
                "only_platform": len(self.only_platform), "only_archive": len(self.only_archive),
                "only_platform_elsewhere": sum(1 for x in self.only_platform if x.get("archive_scope")),
                **{k: len(v) for k, v in self.differences.items()}, "unreadable": len(self.unreadable)}

    def to_dict(self) -> dict:
        return {"platform_file": str(self.platform_file), "scope": self.scope, "summary": self.summary(),
                "compared_fields": self.compared_fields, "ignored_columns": self.ignored_columns,
                "only_platform": self.only_platform,
                "only_archive": self.only_archive, "differences": self.differences,
                "unreadable": self.unreadable}


def _plain(v) -> str:
    """Comparison key for addresses and names: NFKC (（）→()), no whitespace."""
    if v is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(v)).split())


def _phone(v) -> str:
    s = compact(str(v or "")).replace("-", "")
    return s[3:] if s.startswith("+86") else s


def platform_status(text: str) -> str:
    """“社区康复中” → “社区康复”; aliases of the model (社戒, 脱失 …) applied."""
    from ..model.fields import VALUE_ALIASES

    s = clean(text)
    for suf in _STATUS_SUFFIXES:
        if s.endswith(suf) and len(s) > len(suf) + 1:
            s = s[: -len(suf)]
    return VALUE_ALIASES.get(s, s)


def read_platform(path: str | Path, *, sheet: str | None = None, mapping: dict | None = None,
                  today: _dt.date) -> tuple[dict[str, dict], list[dict], set[str], list[str]]:
    """(id_number → {field: text, _row, _sheet}, unreadable rows, fields present,
    headers not recognised)."""
    from ..model.idnumber import validate_id_number

    book = read_book(path)
    tables, _ = detect_tables(book, sheet=sheet, mapping=mapping, schemas=[profile_schema()])
    people: dict[str, dict] = {}
    unreadable: list[dict] = []
    present: set[str] = set()
    ignored: list[str] = []
    wanted = {"name", "id_number", STATUS, *(f for _, fs in KINDS.values() for f, _ in fs)}
    for t in tables:
        cols = [c for c in t.columns if c.target in wanted]
        present |= {c.target for c in cols}
        ignored += [h for h in t.unmapped if h not in ignored]
        id_col = t.column_for("id_number")
        for rownum, values in t.rows:
            rec = {"_sheet": t.name, "_row": rownum}
            formulas = [f"“{c.header}”列（{c.letter}{rownum}）" for c in cols
                        if c.index < len(values) and isinstance(values[c.index], Formula)]
            if formulas:     # not compared as if empty (issue 15)
                raw_id = values[id_col.index] if id_col is not None and id_col.index < len(values) else ""
                unreadable.append({**rec, "id_number": "" if raw_id is None else str(raw_id),
                                   "reason": "、".join(formulas) + FORMULA_NO_RESULT})
                continue
            for c in cols:
                v = values[c.index] if c.index < len(values) else None
                if v is not None and c.target != "id_number":
                    rec[c.target] = text_cell(v)
            raw = values[id_col.index] if id_col is not None and id_col.index < len(values) else None
            if raw is None or str(raw).strip() == "":
                if any(k for k in rec if not k.startswith("_")):
                    unreadable.append({**rec, "id_number": "", "reason": "缺少公民身份号码"})
                continue
            text, reason = id_cell(raw)
            if reason is None:
                try:
                    text = validate_id_number(text, today=today)
                except InvalidInput as e:
                    reason = e.reason
            if reason:
                unreadable.append({**rec, "id_number": str(raw), "reason": reason})
                continue
            if text in people:
                unreadable.append({**rec, "id_number": text,
                                   "reason": f"与第{people[text]['_row']}行身份证号重复"})
                continue
            people[text] = rec
    return people, unreadable, present, ignored


def compare_platform(ar, path: str | Path, *, scope: str | None, sheet: str | None = None,
                     mapping: dict | None = None, today: _dt.date | None = None) -> CompareResult:
    from .export import collect

    today = today or _dt.date.today()
    path = Path(path)
    platform, unreadable, present, ignored = read_platform(path, sheet=sheet, mapping=mapping, today=today)
    archive = {r["id_number"]: r for r in collect(ar, scope, today=today) if r.get("id_number")}
    res = CompareResult(path, scope, platform_count=len(platform) + len(unreadable),
                        archive_count=len(archive), unreadable=unreadable, ignored_columns=ignored)
    res.compared_fields = [label for _, fs in KINDS.values() for f, label in fs if f in present]
    for idn, rec in platform.items():
        a = archive.get(idn)
        if a is None:
            item = {"id_number": idn, "name": rec.get("name", ""), "sheet": rec["_sheet"], "row": rec["_row"]}
            elsewhere = _archive_scope_of(ar, idn)
            if elsewhere:
                item["archive_scope"] = elsewhere   # 建档在比对范围之外（另一社区），不是漏录
            res.only_platform.append(item)
            continue
        res.matched += 1
        base = {"id_number": idn, "name": a.get("name") or rec.get("name", ""),
                "archive_no": a["_archive_no"], "scope": a["_scope"], "row": rec["_row"]}
        for kind, (_, fields) in KINDS.items():
            for f, label in fields:
                if f not in present:
                    continue
                pv = rec.get(f, "")
                if f == STATUS:
                    shown, accepted = _archive_status_for(ar, a, today)
                    if (pv or shown) and platform_status(pv) not in accepted:
                        res.differences[kind].append({**base, "field": label, "platform": pv,
                                                      "archive": shown})
                    continue
                av = a.get(f) or ""
                same = _phone(pv) == _phone(av) if f == "phone" else _plain(pv) == _plain(av)
                if not same:
                    res.differences[kind].append({**base, "field": label, "platform": pv, "archive": av})
    for idn, a in archive.items():
        if idn not in platform:
            res.only_archive.append({"id_number": idn, "name": a.get("name", ""),
                                     "archive_no": a["_archive_no"], "scope": a["_scope"]})
    ar.audit("compare", scope=scope or "*", file=path.name, **res.summary())
    return res


def _archive_scope_of(ar, id_number: str) -> str | None:
    """The scope path of the archive's dossier for ``id_number`` (matched by blind token,
    no scope key needed), or None when the archive has no such person."""
    from ..errors import NotFound

    try:
        return ar.dossiers.resolve(id_number).scope_path
    except NotFound:
        return None


def _archive_status_for(ar, a: dict, today):
    text = a.get("_status") or ""
    labels = [x for x in (a.get("_labels") or "").split("、") if x]
    accepted = {text, *labels} - {""}
    if a.get("_presence"):
        accepted.add(a["_presence"])
    if a.get("_measure"):
        accepted.add(a["_measure"])
        if a["_measure"] == "无措施":
            accepted |= {"社会面", "无措施"}
    shown = "/".join(x for x in (a.get("_measure"), a.get("_presence")) if x) or text
    return shown, accepted


def write_compare(res: CompareResult, out: str | Path) -> Path:
    """The xlsx report: 汇总, 仅平台有, 仅档案有, one sheet per kind of difference."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    s = res.summary()
    ws.append(["项目", "人数"])
    for label, key in (("平台导出人数", "platform"), ("档案人数（辖区内）", "archive"), ("两边都有", "matched"),
                       ("仅平台有", "only_platform"), ("其中已在档案其他辖区建档", "only_platform_elsewhere"),
                       ("仅档案有", "only_archive"),
                       *((KINDS[k][0], k) for k in KINDS), ("平台行无法比对", "unreadable")):
        ws.append([label, "未比对（平台文件无此列）" if key in res.not_compared() else s[key]])
    ws.append([])
    ws.append(["平台文件", res.platform_file.name])
    ws.append(["辖区", res.scope or "全部"])
    ws.append(["比对字段", "、".join(res.compared_fields)])
    if res.ignored_columns:
        ws.append(["未识别、未比对的列", "、".join(res.ignored_columns)])

    def sheet(title, headers, rows, keys):
        w = wb.create_sheet(title)
        w.append(headers)
        for r in rows:
            w.append([r.get(k, "") for k in keys])
        w.freeze_panes = "A2"
        for c in w[1]:
            c.font = Font(bold=True)
        for row in w.iter_rows(min_row=2, max_col=1):
            for c in row:
                c.number_format = "@"
        w.column_dimensions["A"].width = 21
        return w

    sheet("仅平台有", ["公民身份号码", "姓名", "平台表", "平台行号", "已在档案其他辖区建档"], res.only_platform,
          ["id_number", "name", "sheet", "row", "archive_scope"])
    sheet("仅档案有", ["公民身份号码", "姓名", "档号", "辖区"], res.only_archive,
          ["id_number", "name", "archive_no", "scope"])
    for kind, (title, _) in KINDS.items():
        sheet(title, ["公民身份号码", "姓名", "档号", "字段", "平台", "档案", "平台行号"], res.differences[kind],
              ["id_number", "name", "archive_no", "field", "platform", "archive", "row"])
    if res.unreadable:
        sheet("无法比对", ["公民身份号码", "姓名", "平台表", "平台行号", "原因"], res.unreadable,
              ["id_number", "name", "_sheet", "_row", "reason"])
    for c in ws[1]:
        c.font = Font(bold=True)
    ws.column_dimensions["A"].width = 22
    out = Path(out)
    from ..workbooks import save_workbook

    save_workbook(wb, out)
    return out
