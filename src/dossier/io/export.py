"""Export a scope's persons as 附表2 吸毒人员排查情况登记通表 (DOMAIN §3), full or masked.

A full export imports back without creating a version: every column that
maps to a profile field holds the stored value in a form the importer reads
back to the same value; the other columns (当前状态, 见面, 检测, 标签 …) are
derived from entries and are not imported.
Masked exports follow DOMAIN §7 for documents leaving the office (“external”
style: ID 1+2, name 张*三, phone 3+4, address up to the 社区); test results
and notes are left out.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

SHEET = "登记通表"
TITLE = "吸毒人员排查情况登记通表"

# (header, key): key is a profile field or a derived value computed below
COLUMNS: tuple[tuple[str, str], ...] = (
    ("序号", "_seq"), ("档号", "_archive_no"), ("社区（村）", "community"), ("姓名", "name"),
    ("性别", "gender"), ("公民身份号码", "id_number"), ("户籍地址", "hukou_address"),
    ("现住址", "residence_address"), ("联系电话", "phone"), ("列管派出所", "residence_police"),
    ("当前状态", "_status"), ("排查人", "_screeners"), ("排查日期", "_screen_date"),
    ("初次查获日期", "first_seized_date"), ("查获单位", "seizing_unit"), ("滥用毒品种类", "drug_types"),
    ("吸毒方式", "use_method"), ("成瘾认定", "addiction"), ("历次戒毒措施", "_measures"),
    ("末次吸毒/查获日期", "_last_event"), ("戒断年限", "_abstinence_years"), ("见面方式", "_visit_method"),
    ("谈话对象", "_subjects"), ("检测方式", "_test_method"), ("检测日期", "_test_date"),
    ("检测结果", "_test_result"), ("就业情况", "employment"), ("婚姻状况", "marital"),
    ("初评风险等级", "_risk_level"), ("分类标签", "_labels"), ("备注", "notes"),
)
MASK_DROPPED = {"_test_result", "notes"}


def current_status(entries: list[dict], day: _dt.date) -> tuple[str | None, str | None]:
    """(措施状态, 现实状况) in force on ``day``."""
    from ..model.dossier_rules import status_on

    return status_on(entries, "measure", day), status_on(entries, "presence", day)


def status_text(entries: list[dict], day: _dt.date) -> str:
    measure, presence = current_status(entries, day)
    if presence and presence != "在控":
        return presence
    return measure or ""


def _latest(entries, type_):
    items = [e for e in entries if e.get("type") == type_]
    return max(items, key=lambda e: (e.get("date") or "", e.get("recorded_at") or "")) if items else None


def derived(profile: dict, entries: list[dict], today: _dt.date) -> dict:
    """The 附表2 values that come from entries and rules."""
    from ..model.dossier_rules import status_periods
    from ..rules.labels import anchor_date, derive_labels, relapses

    measure, presence = current_status(entries, today)
    out: dict = {"_status": status_text(entries, today), "_measure": measure, "_presence": presence}
    iv = _latest(entries, "interview")
    if iv:
        out["_screen_date"] = iv.get("date")
        out["_screeners"] = "、".join(" ".join(x for x in (s.get("role"), s.get("name")) if x)
                                     for s in iv.get("staff") or [])
        out["_visit_method"] = iv.get("method")
    ivs = sorted((e for e in entries if e.get("type") == "interview"), key=lambda e: e.get("date") or "")[-2:]
    out["_subjects"] = "、".join("".join(x for x in (e.get("subject"), f"（{e['subject_name']}）"
                                                    if e.get("subject_name") else "") if x) for e in ivs)
    t = _latest(entries, "test")
    if t:
        out["_test_method"] = "/".join(x for x in (t.get("sample"), t.get("method")) if x)
        out["_test_date"] = t.get("date")
        out["_test_result"] = t.get("result")
    out["_measures"] = "；".join(
        f"{p.status}（{p.start}起{'至' + str(p.end) if p.end else ''}）"
        for p in status_periods(entries, "measure") if p.status != "无措施")
    ev = _latest(entries, "drug_event")
    out["_last_event"] = ev.get("date") if ev else None
    anchor = anchor_date(profile, entries, today)
    if anchor and not relapses(entries, anchor, today):      # a relapse voids the count (DOMAIN §2.2)
        years = today.year - anchor.year - ((today.month, today.day) < (anchor.month, anchor.day))
        out["_abstinence_years"] = max(years, 0)
    a = _latest(entries, "assessment")
    if a:
        out["_risk_level"] = a.get("final_level") or a.get("proposed_level") or a.get("suggested_level")
    out["_labels"] = "、".join(derive_labels(profile, entries, today))
    return out


def _cell(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def collect(ar, scope: str | None, *, today: _dt.date) -> list[dict]:
    """Rows for the export: one dict per person, keys of :data:`COLUMNS`."""
    rows = []
    for p in ar.persons.list(scope):
        row = ar.dossiers.resolve(p["id"])
        _, content = ar.dossiers.load(row)
        state = content["state"]
        profile = dict(state.get("profile", {}))
        entries = state.get("entries", [])
        values = {**profile, **derived(profile, entries, today), "_archive_no": row.archive_no,
                  "_scope": row.scope_path}
        if not values.get("community"):
            values["community"] = row.scope_path.split("/")[-1]
        rows.append(values)
    rows.sort(key=lambda v: (v["_scope"], v["_archive_no"]))
    return rows


def mask_row(values: dict) -> dict:
    from ..disclose.masking import mask_value

    out = dict(values)
    for k in ("name", "id_number", "phone", "hukou_address", "residence_address"):
        if out.get(k):
            out[k] = mask_value(k, out[k], "external")
    for k in MASK_DROPPED:
        out.pop(k, None)
    if out.get("_subjects"):
        import re

        from ..disclose.masking import mask_name

        out["_subjects"] = re.sub(r"（([^）]+)）", lambda m: f"（{mask_name(m.group(1))}）", out["_subjects"])
    return out


def export_roster(ar, scope: str | None, out: str | Path, *, masked: bool = False,
                  today: _dt.date | None = None) -> dict:
    """Write the 附表2 workbook; returns {"path", "count", "masked"}."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill

    today = today or _dt.date.today()
    rows = collect(ar, scope, today=today)
    if masked:
        rows = [mask_row(r) for r in rows]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    n = len(COLUMNS)
    ws.cell(1, 1, f"{TITLE}（{scope or '全部辖区'}，{today.isoformat()}导出{'，已脱敏' if masked else ''}）")
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    fill = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
    for j, (header, _) in enumerate(COLUMNS, start=1):
        c = ws.cell(2, j, header)
        c.font = Font(bold=True)
        c.fill = fill
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    id_col = next(j for j, (_, k) in enumerate(COLUMNS, start=1) if k == "id_number")
    date_keys = {"first_seized_date", "_screen_date", "_test_date", "_last_event"}
    for i, values in enumerate(rows, start=3):
        values = {**values, "_seq": i - 2}
        for j, (_, key) in enumerate(COLUMNS, start=1):
            v = _cell(values.get(key))
            if key in date_keys and isinstance(v, str) and not masked:
                try:
                    v = _dt.date.fromisoformat(v)
                except ValueError:
                    pass
            c = ws.cell(i, j, v)
            if isinstance(v, _dt.date):
                c.number_format = "yyyy-mm-dd"
        ws.cell(i, id_col).number_format = "@"
    widths = {"姓名": 10, "公民身份号码": 21, "户籍地址": 30, "现住址": 34, "联系电话": 14, "档号": 28,
              "历次戒毒措施": 30, "分类标签": 20}
    from openpyxl.utils import get_column_letter

    for j, (header, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = widths.get(header, max(8, 2 * len(header) + 2))
    ws.freeze_panes = "E3"
    out = Path(out)
    from ..workbooks import save_workbook

    save_workbook(wb, out)
    ar.audit("export", scope=scope or "*", count=len(rows), masked=masked, file=out.name)
    return {"path": str(out), "count": len(rows), "masked": masked}
