"""Import: all-or-nothing, --skip-invalid, idempotence, entry sheets."""

from __future__ import annotations

import openpyxl
import pytest

from conftest import COMMUNITIES, MESSY_TODAY, PAIR_TODAY, STREET
from dossier.io.importer import import_file
from dossier.io.templates import write_template


def _versions(ar) -> dict[str, int]:
    return {p["id_number"]: p["version"] for p in ar.persons.list()}


def test_failed_import_leaves_archive_byte_identical(rworld, rosters, snap, messy_expected):
    before = snap(rworld.path)
    with rworld.open("admin") as ar:
        res = import_file(ar, rosters / "messy_roster.xlsx", scope=STREET, today=MESSY_TODAY)
    assert not res.ok and not res.applied
    assert snap(rworld.path) == before
    # the highlighted copy marks exactly the seeded cells, with the reason as comment
    wb = openpyxl.load_workbook(res.report_path)
    ws = wb["名册"]
    marked = sorted(c.coordinate for row in ws.iter_rows() for c in row if c.comment is not None)
    assert marked == sorted(b["cell"] for b in messy_expected["bad"])
    assert all(ws[a].fill.start_color.rgb.endswith("FFC7CE") for a in marked)
    listing = list(wb["错误清单"].iter_rows(min_row=2, values_only=True))
    assert sorted((r[1], r[3]) for r in listing) == sorted((b["row"], b["cell"]) for b in messy_expected["bad"])


def test_dry_run_writes_nothing(rworld, rosters, snap):
    before = snap(rworld.path)
    files = sorted(p.name for p in rosters.iterdir())
    with rworld.open("admin") as ar:
        res = import_file(ar, rosters / "messy_roster.xlsx", scope=STREET, today=MESSY_TODAY,
                          dry_run=True, skip_invalid=True)
    assert res.counts()["added"] == 6 and not res.applied
    assert snap(rworld.path) == before
    assert sorted(p.name for p in rosters.iterdir()) == files


def test_skip_invalid_imports_exactly_the_good_rows(rworld, rosters, messy_expected):
    with rworld.open("admin") as ar:
        res = import_file(ar, rosters / "messy_roster.xlsx", scope=STREET, today=MESSY_TODAY,
                          skip_invalid=True)
        assert res.applied
        assert res.counts()["added"] == 6 and res.counts()["rejected"] == 9
        stored = {p["id_number"]: p for p in ar.persons.list()}
        assert set(stored) == {g["id_number"] for g in messy_expected["good"]}
        for g in messy_expected["good"]:
            prof = ar.dossiers.show(g["id_number"]).profile
            assert prof["name"] == g["name"]                      # trimmed, inner space gone
            assert prof["phone"] == g["phone"]                    # full-width digits, spaces
            assert prof["first_seized_date"] == g["first_seized_date"]
            assert stored[g["id_number"]]["scope"] == f"{STREET}/{g['community']}"
    # rejected rows saved for correction: one per bad row, with the reason
    wb = openpyxl.load_workbook(res.rejected_path)
    rows = list(wb.active.iter_rows(min_row=2, values_only=True))
    assert sorted(r[-1] for r in rows) == sorted({b["row"] for b in messy_expected["bad"]})
    assert all(r[-2] for r in rows)


def test_reimport_is_idempotent_and_a_change_makes_one_version(rworld, rosters, tmp_path):
    path = rosters / "messy_roster.xlsx"
    with rworld.open("admin") as ar:
        import_file(ar, path, scope=STREET, today=MESSY_TODAY, skip_invalid=True)
        v1 = _versions(ar)
        res = import_file(ar, path, scope=STREET, today=MESSY_TODAY, skip_invalid=True)
        assert res.counts()["unchanged"] == 6 and res.counts()["added"] == 0
        assert _versions(ar) == v1
    # change one address and one phone in one row
    wb = openpyxl.load_workbook(path)
    ws = wb["名册"]
    ws["F8"] = "珠晖区粤汉街道苗圃社区新建路1号"
    ws["G8"] = "13911112222"
    changed = tmp_path / "changed.xlsx"
    wb.save(changed)
    with rworld.open("admin") as ar:
        res = import_file(ar, changed, scope=STREET, today=MESSY_TODAY, skip_invalid=True)
        assert (res.counts()["updated"], res.counts()["unchanged"]) == (1, 5)
        idn = next(p for p in res.planned if p.action == "updated").row.data["id_number"]
        v2 = _versions(ar)
        assert {k for k in v2 if v2[k] != v1[k]} == {idn}
        assert v2[idn] == v1[idn] + 1
        hist = ar.dossiers.history(idn)
        assert "现住址" in hist[-1]["message"] and "联系电话" in hist[-1]["message"]
        assert "第8行" in hist[-1]["message"]


def test_clerk_cannot_register_outside_own_scope(rworld, rosters, snap):
    before = snap(rworld.path)
    with rworld.open("li") as ar:   # clerk of 苗圃社区 only
        res = import_file(ar, rosters / "messy_roster.xlsx", scope=STREET, today=MESSY_TODAY)
    assert not res.ok and not res.applied
    denied = [e for e in res.errors if "无权" in e.reason]
    assert denied and all(e.column == "身份证号码*" for e in denied)
    assert snap(rworld.path) == before


def test_unknown_community_is_a_row_error(rworld, tmp_path):
    from dossier.model.idnumber import make_id_number
    import datetime as dt

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "社区"])
    ws.append(["张三", make_id_number("430405", dt.date(1990, 1, 1), 11), "不存在社区"])
    p = tmp_path / "r.xlsx"
    wb.save(p)
    with rworld.open("admin") as ar:
        res = import_file(ar, p, scope=STREET, today=MESSY_TODAY)
    assert [e.cell for e in res.errors] == ["C2"]


def _fill(template, rows):
    wb = openpyxl.load_workbook(template)
    ws = wb.worksheets[0]
    headers = {c.value.lstrip("*"): c.column for c in ws[1]}
    for i, row in enumerate(rows, start=2):
        for k, v in row.items():
            ws.cell(i, headers[k], v)
    wb.save(template)


def test_filled_template_imports_as_entries(rworld, rosters, tmp_path, snap):
    import datetime as dt

    with rworld.open("admin") as ar:
        import_file(ar, rosters / "pair_roster.xlsx", scope=STREET, today=PAIR_TODAY)
        people = ar.persons.list()
    a, b = people[0], people[1]
    tpl = write_template("见面核查", tmp_path / "见面核查登记.xlsx")
    _fill(tpl, [
        {"公民身份号码": a["id_number"].lower(), "姓名": a["name"], "日期": dt.datetime(2024, 5, 6),
         "见面方式": "敲门见人", "谈话对象": "本人", "见到本人": "是", "工作人员": "社区民警 李四、禁毒专干 王五"},
        {"公民身份号码": b["id_number"], "姓名": b["name"], "日期": "2024.5.7", "见面方式": "视频见面",
         "谈话对象": "亲属", "谈话对象姓名": "某某"},
    ])
    with rworld.open("admin") as ar:
        res = import_file(ar, tpl, today=PAIR_TODAY)
        assert res.ok and res.counts()["entries_added"] == 2, [str(p) for p in res.problems]
        view = ar.dossiers.show(a["id_number"])
        iv = [e for e in view.entries if e["type"] == "interview"]
        assert iv[0]["date"] == "2024-05-06" and iv[0]["person_seen"] is True
        assert {s["name"] for s in iv[0]["staff"]} == {"李四", "王五"}
        again = import_file(ar, tpl, today=PAIR_TODAY)
        assert again.counts()["entries_added"] == 0 and again.counts()["entries_unchanged"] == 2
    # a bad row (unknown 见面方式, wrong name) blocks the whole sheet
    _fill(tpl, [{"公民身份号码": a["id_number"], "姓名": "别人", "日期": "2024-05-08", "见面方式": "飞鸽传书"}])
    before = snap(rworld.path)
    with rworld.open("admin") as ar:
        res = import_file(ar, tpl, today=PAIR_TODAY)
    assert not res.applied
    assert {e.cell for e in res.errors} == {"E2"}      # 见面方式 fails validation first
    assert snap(rworld.path) == before


def test_entry_for_unknown_person_rejected(rworld, tmp_path):
    import datetime as dt
    from dossier.model.idnumber import make_id_number

    tpl = write_template("test", tmp_path / "检测登记.xlsx")
    _fill(tpl, [{"公民身份号码": make_id_number("430405", dt.date(1990, 1, 1), 11), "日期": "2024-05-06",
                 "检测结果": "阴性", "样本": "尿液"}])
    with rworld.open("admin") as ar:
        res = import_file(ar, tpl, today=PAIR_TODAY)
    assert [e.cell for e in res.errors] == ["A2"] and "没有" in res.errors[0].reason


def test_field_workbook_has_one_sheet_per_type_and_imports_each(rworld, rosters, tmp_path):
    with rworld.open("admin") as ar:
        import_file(ar, rosters / "pair_roster.xlsx", scope=STREET, today=PAIR_TODAY)
        a = ar.persons.list()[0]
    tpl = write_template("field", tmp_path / "外勤登记.xlsx")
    wb = openpyxl.load_workbook(tpl)
    assert wb.sheetnames[:4] == ["见面核查登记", "检测登记", "帮扶救助登记", "状态变更登记"]
    for title, row in (("见面核查登记", {"A2": a["id_number"], "C2": "2024-05-06"}),
                       ("检测登记", {"A2": a["id_number"], "C2": "2024-05-06", "G2": "阴性"})):
        for addr, v in row.items():
            wb[title][addr] = v
    assert wb["检测登记"]["G1"].value == "*检测结果"
    wb.save(tpl)
    with rworld.open("admin") as ar:
        res = import_file(ar, tpl, today=PAIR_TODAY)
        assert res.ok, [str(p) for p in res.problems]
        assert sorted(t.schema.kind for t in res.validation.tables) == ["assistance", "interview", "status", "test"]
        assert res.counts()["entries_added"] == 2
        types = sorted(e["type"] for e in ar.dossiers.show(a["id_number"]).entries)
        assert types == ["interview", "test"]


def test_progress_reports_each_stage(rworld, rosters):
    seen = []
    with rworld.open("admin") as ar:
        res = import_file(ar, rosters / "pair_roster.xlsx", scope=STREET, today=PAIR_TODAY,
                          progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert res.applied
    assert [s for s in seen if s[0] == "校验"][-1] == ("校验", 12, 12)
    assert [s for s in seen if s[0] == "写入"][-1] == ("写入", 12, 12)


def test_file_name_of_an_import_is_not_stored_in_clear(rworld, rosters):
    """Clerks name files after people (王建国补录.xlsx): the audit event keeps the
    name sealed, so nothing under the archive shows it."""
    src = rosters / "messy_roster.xlsx"
    named = rosters / "欧阳秀梅补录名册.xlsx"
    src.rename(named)
    with rworld.open("admin") as ar:
        res = import_file(ar, named, scope=STREET, today=MESSY_TODAY, skip_invalid=True)
        assert res.applied
        (event,) = ar.audit_chain.events(action="import")
        assert "file" not in event.public and event.sealed is not None     # recorded, sealed
    needles = ["欧阳秀梅".encode(enc) for enc in ("utf-8", "utf-16-le", "gb18030")]
    for p in rworld.path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert not any(n in data for n in needles), p
