"""Export (附表2, full and masked), export→import round trip, platform comparison."""

from __future__ import annotations

import openpyxl

from conftest import PAIR_TODAY, STREET
from dossier.io.compare import compare_platform, write_compare
from dossier.io.export import COLUMNS, export_roster
from dossier.io.importer import import_file
from make_rosters import write_table


def _versions(ar):
    return {p["id_number"]: p["version"] for p in ar.persons.list()}


def _populate(w, n=6):
    for i in range(n):
        w.add_person(scope=w.scope_a if i % 2 else w.scope_b, entries=4)


def test_export_has_fuju2_columns_and_reimport_creates_no_version(world, tmp_path):
    _populate(world)
    out = tmp_path / "名册.xlsx"
    with world.open("admin") as ar:
        before = _versions(ar)
        info = export_roster(ar, STREET, out, today=world.today)
    assert info["count"] == len(before) == 6
    ws = openpyxl.load_workbook(out)["登记通表"]
    headers = [c.value for c in ws[2]]
    assert headers == [h for h, _ in COLUMNS]
    for h in ("序号", "社区（村）", "姓名", "性别", "公民身份号码", "户籍地址", "现住址", "联系电话", "列管派出所",
              "当前状态", "排查人", "排查日期", "备注", "初次查获日期", "滥用毒品种类", "检测结果", "分类标签"):
        assert h in headers
    ids = {ws.cell(r, headers.index("公民身份号码") + 1).value for r in range(3, ws.max_row + 1)}
    assert ids == set(before)
    with world.open("admin") as ar:
        res = import_file(ar, out, scope=STREET, today=world.today)
        assert res.ok, [str(p) for p in res.problems]
        assert res.counts()["unchanged"] == 6 and res.counts()["updated"] == 0
        assert _versions(ar) == before


def test_masked_export_hides_identity(world, tmp_path):
    _populate(world, 3)
    out = tmp_path / "脱敏.xlsx"
    with world.open("admin") as ar:
        export_roster(ar, STREET, out, masked=True, today=world.today)
        people = {p["id_number"]: p for p in ar.persons.list()}
        profiles = [ar.dossiers.show(i).profile for i in people]
    ws = openpyxl.load_workbook(out)["登记通表"]
    text = "\n".join(str(c.value) for row in ws.iter_rows(min_row=3) for c in row if c.value is not None)
    for p in profiles:
        assert p["id_number"] not in text
        assert p["name"] not in text or len(p["name"]) < 2
        if p.get("phone"):
            assert p["phone"] not in text
    headers = [c.value for c in ws[2]]
    col = headers.index("检测结果") + 1
    assert all(ws.cell(r, col).value is None for r in range(3, ws.max_row + 1))


def test_compare_finds_exactly_the_seeded_differences(rworld, rosters, pair_expected, tmp_path):
    with rworld.open("admin") as ar:
        assert import_file(ar, rosters / "pair_roster.xlsx", scope=STREET, today=PAIR_TODAY).applied
        res_status = import_file(ar, rosters / "pair_status.xlsx", today=PAIR_TODAY)
        assert res_status.applied and res_status.counts()["entries_added"] == 12
        res = compare_platform(ar, rosters / "pair_platform.xlsx", scope=STREET, today=PAIR_TODAY)
    assert sorted(x["id_number"] for x in res.only_platform) == sorted(pair_expected["only_platform"])
    assert sorted(x["id_number"] for x in res.only_archive) == sorted(pair_expected["only_archive"])
    for kind in ("status", "address", "police", "phone"):
        assert sorted(x["id_number"] for x in res.differences[kind]) == sorted(pair_expected[kind]), kind
    assert not res.unreadable
    out = write_compare(res, tmp_path / "比对结果.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "仅平台有", "仅档案有", "状态不一致", "地址不一致", "列管派出所不一致", "电话不一致"]
    assert wb["地址不一致"].max_row == 1 + len(pair_expected["address"])
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert summary["仅平台有"] == 1 and summary["仅档案有"] == 1
    d = res.to_dict()
    assert d["summary"]["phone"] == len(pair_expected["phone"])


def test_abstinence_years_counted_from_the_anchor_and_void_after_a_relapse():
    import datetime as dt

    from dossier.io.export import derived

    today = dt.date(2026, 6, 1)
    measure = {"type": "status", "axis": "measure", "status": "社区戒毒", "date": "2020-01-10",
               "start": "2020-01-10", "end": "2023-01-09"}
    relapse = {"type": "drug_event", "event_type": "检测阳性", "date": "2025-05-01"}
    clean = derived({}, [measure], today)
    assert clean["_abstinence_years"] == 6 and "戒断5年" in clean["_labels"]
    after = derived({}, [measure, relapse], today)
    assert after.get("_abstinence_years") is None and after["_labels"] == ""
    assert after["_last_event"] == "2025-05-01"
    # a relapse after ``today`` (evaluated for an earlier date) does not count yet
    assert derived({}, [measure, relapse], dt.date(2025, 1, 1))["_abstinence_years"] == 4


def test_only_on_platform_but_filed_in_another_scope_is_marked(world, tmp_path):
    """A 街道 platform export compared by a 社区 clerk: a person filed under another 社区
    is “only on the platform” for this scope, and marked as already in the archive."""
    import datetime as dt

    from dossier.model.idnumber import make_id_number

    mine, p_mine = world.add_person(world.scope_a)
    other, p_other = world.add_person(world.scope_b)
    unknown = make_id_number("430405", dt.date(1990, 1, 1), 77)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "联系电话"])
    for name, idn in ((p_mine["name"], p_mine["id_number"]), (p_other["name"], p_other["id_number"]),
                      ("某某", unknown)):
        ws.append([name, idn, None])
    platform = tmp_path / "平台.xlsx"
    wb.save(platform)
    with world.open("li") as ar:                       # li holds scope_a only
        res = compare_platform(ar, platform, scope=world.scope_a, today=world.today)
    assert res.matched == 1
    only = {x["id_number"]: x for x in res.only_platform}
    assert set(only) == {p_other["id_number"], unknown}
    assert only[p_other["id_number"]]["archive_scope"] == world.scope_b
    assert "archive_scope" not in only[unknown]
    assert res.summary()["only_platform_elsewhere"] == 1
    ws = openpyxl.load_workbook(write_compare(res, tmp_path / "比对.xlsx"))["仅平台有"]
    assert {r[0]: r[4] for r in ws.iter_rows(min_row=2, values_only=True)} == {
        p_other["id_number"]: world.scope_b, unknown: None}


def test_compare_names_the_columns_it_did_not_recognise(world, tmp_path):
    """A platform column that is not recognised is named, not silently skipped: the
    result lists it in ``ignored_columns`` and status is not claimed as compared."""
    _, p = world.add_person(world.scope_a)
    platform = write_table(tmp_path / "平台.xlsx", ["姓名", "身份证号", "联系电话", "列控级别", "备用列"],
                              [[p["name"], p["id_number"], p.get("phone"), "一级", "x"]])
    with world.open("admin") as ar:
        res = compare_platform(ar, platform, scope=world.scope_a, today=world.today)
    assert res.ignored_columns == ["列控级别", "备用列"]
    assert res.compared_fields == ["联系电话"]
    d = res.to_dict()
    assert d["ignored_columns"] == ["列控级别", "备用列"]
    assert "summary" in d and "compared_fields" in d
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(write_compare(res, tmp_path / "比对.xlsx"))["汇总"]
               .iter_rows(values_only=True) if r and r[0]}
    assert summary["未识别、未比对的列"] == "列控级别、备用列"


def test_compare_reads_the_platform_headers_guankong_xianzhuang_and_xianzhudi_xiangzhi(world, tmp_path):
    """管控现状 is the platform's status column and 现住地详址 its residence address."""
    _, p = world.add_person(world.scope_a)
    platform = write_table(tmp_path / "平台.xlsx", ["姓名", "身份证号", "管控现状", "现住地详址"],
                              [[p["name"], p["id_number"], "社区康复中", "别处某路1号"]])
    with world.open("admin") as ar:
        res = compare_platform(ar, platform, scope=world.scope_a, today=world.today)
    assert res.ignored_columns == []
    assert res.compared_fields == ["当前状态", "现住址"]
    assert [d["platform"] for d in res.differences["address"]] == ["别处某路1号"]
