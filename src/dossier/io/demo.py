"""The README demo's roster step: a messy roster (title rows, Chinese headers,
full-width digits, one bad ID number and one impossible date) is checked,
imported without its bad rows, re-imported unchanged, exported masked, and
compared with a "platform export" that differs in known places."""

from __future__ import annotations

import random

from ..workbooks import save_workbook


def _write_roster(path, rows: list[list], title: str) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名册"
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=8)
    ws.append(["填报单位：和平社区（演示数据，纯属虚构）"])
    ws.append(["序号", "姓名", "公民身份号码", "户籍地址", "现住址", "联系电话", "初次查获时间", "滥用毒品种类"])
    for r in rows:
        ws.append(r)
    save_workbook(wb, path)


def demo_step(demo) -> None:
    from .. import synth
    from . import compare_platform, export_roster, import_file, write_template
    from .compare import KINDS

    rng = random.Random(demo.seed + 3)
    scope = "珠晖区/粤汉街道/和平社区"
    rows = []
    for i in range(1, 9):
        p = synth.person(rng, today=demo.today)
        seized = p.get("first_seized_date") or "2016-05-06"
        y, m, d = seized.split("-")
        rows.append([i, f" {p['name']} ", p["id_number"], p["hukou_address"], p["residence_address"],
                     p.get("phone", ""), f"{y}.{int(m)}.{int(d)}", "冰毒"])
    rows[2][2] = rows[2][2][:-1] + ("0" if rows[2][2][-1] != "0" else "1")     # a wrong check digit
    rows[4][6] = "2023年2月30日"                                                  # a date that does not exist
    rows[5][5] = "１３９" + rows[5][5][3:] if rows[5][5] else rows[5][5]          # full-width digits (valid)
    path = demo.out / "和平社区名册.xlsx"
    _write_roster(path, rows, "和平社区登记在册吸毒人员名册（演示）")
    write_template(["interview", "test"], demo.out / "外勤登记表.xlsx")
    demo.say("【名册导入】和平社区名册.xlsx：标题行、合并单元格、全角数字，另有 2 处错误；外勤登记表.xlsx 为带下拉选项的空白登记表")
    with demo.open("zhao") as ar:
        dry = import_file(ar, path, scope=scope, dry_run=True, report=demo.out / "和平社区名册_错误标注.xlsx")
        for pr in dry.errors[:2]:
            demo.say(f"  校验：第 {pr.row} 行“{pr.column}”：{pr.reason}")
        res = import_file(ar, path, scope=scope, skip_invalid=True, rejected=demo.out / "和平社区名册_未导入.xlsx")
        c = res.counts()
        demo.say(f"  --skip-invalid 导入：新增 {c.get('added', 0)}，未导入 {c.get('rejected', 0)}（写入 和平社区名册_未导入.xlsx）")
        again = import_file(ar, path, scope=scope, skip_invalid=True)
        demo.say(f"  再次导入同一名册：未变化 {again.counts().get('unchanged', 0)} 人，不产生新版本")
        export_roster(ar, scope, demo.out / "和平社区-附表2-脱敏.xlsx", masked=True)
        full = demo.out / "一体化平台导出（演示）.xlsx"
        export_roster(ar, scope, full)
        _platform_edits(full)
        cmp = compare_platform(ar, full, scope=scope)
        s = cmp.summary()
        demo.say(f"  与一体化平台比对：双方一致 {s['matched']} 人，仅平台有 {s['only_platform']} 人，"
                 f"仅档案有 {s['only_archive']} 人，" + "，".join(f"{KINDS[k][0]} {s[k]} 处" for k in KINDS if s.get(k))
                )


def _platform_edits(path) -> None:
    """Make the exported roster look like a platform export that differs: one person
    missing, one phone number changed."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.active
    header_row = next(r for r in range(1, 10) if any(str(c.value or "") in ("姓名",) for c in ws[r]))
    heads = [str(c.value or "") for c in ws[header_row]]
    phone_col = next((i + 1 for i, h in enumerate(heads) if "电话" in h), None)
    first = header_row + 1
    if phone_col and ws.cell(first, phone_col).value:
        ws.cell(first, phone_col).value = "13900000000"
    ws.delete_rows(first + 1)
    save_workbook(wb, path)
