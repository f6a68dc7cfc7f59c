"""Issue 15: no live formula in any workbook or CSV dossier writes.

The sweep writes hostile values (the classic formula carriers) through every
writer — export (full and masked), compare results, the annotated error copy
(from an .xlsx holding real formulas and from a .csv), the rejected-rows
workbook, sheet templates, 附表2 as xlsx, 附表1 statistics, the campaign
progress workbook — and reopens each file: no cell is a formula, and each
hostile value shows exactly as stored. ``Workbook.save`` is patched so that a
writer which bypasses :mod:`dossier.workbooks` fails the sweep.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest

STREET = "珠晖区/粤汉街道"      # as in tests/conftest.py (not imported: sibling conftest modules shadow it)
from dossier import workbooks

HYPERLINK = '=HYPERLINK("http://evil.example/x","点我")'
DDE = "+cmd|' /C calc'!A0"
HOSTILE = (HYPERLINK, DDE, "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1")
EVIL_COMMUNITY = "=1+1社区"


@pytest.fixture
def guarded_save(monkeypatch):
    """Every workbook saved during the test must have been neutralised first."""
    original = openpyxl.Workbook.save
    saved = []

    def save(self, filename):
        assert getattr(self, "_dossier_swept", False), "a writer saved a workbook without dossier.workbooks"
        saved.append(filename)
        return original(self, filename)

    monkeypatch.setattr(openpyxl.Workbook, "save", save)
    return saved


def _cells(data_or_path):
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    wb = openpyxl.load_workbook(src)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]


def assert_inert(data_or_path, *must_show: str) -> list:
    cells = _cells(data_or_path)
    formulas = [f"{c.parent.title}!{c.coordinate}={c.value!r}" for c in cells if c.data_type == "f"]
    assert formulas == []
    shown = {c.value for c in cells if isinstance(c.value, str)}
    for v in must_show:
        assert v in shown, f"{v!r} not shown as typed"
        for c in cells:
            if c.value == v:
                assert c.data_type == "s" and c.quotePrefix
    return cells


def _hostile_archive(w):
    """Persons whose stored values are carriers (the model trims tab/CR, so those two
    go through the file-based writers below), in a 社区 named like a formula."""
    evil_scope = f"{STREET}/{EVIL_COMMUNITY}"
    with w.open("admin") as ar:
        ar.scopes.add(evil_scope)
        ar.users.add("sun", role="clerk", scopes=[evil_scope], password="sun-pass-0001")
    w.passwords["sun"] = "sun-pass-0001"
    refs = []
    for i, v in enumerate(HOSTILE[:4]):
        ref, p = w.add_person(scope=evil_scope, user="sun", entries=3, hukou_address=v, residence_address=v,
                              seizing_unit=v, notes=v, residence_police=v)
        refs.append((ref, p))
    return refs


def test_every_writer_writes_no_formula(world, tmp_path, guarded_save):
    from dossier.io.compare import compare_platform, write_compare
    from dossier.io.export import export_roster
    from dossier.io.importer import import_file
    from dossier.io.templates import write_template
    from dossier.reports import Reports
    from dossier.reports.campaigns import Campaigns
    from dossier.reports.render import progress_xlsx, stats_xlsx

    refs = _hostile_archive(world)
    stored = HOSTILE[:4]
    with world.open("admin") as ar:
        # export, full and masked
        full = tmp_path / "导出.xlsx"
        export_roster(ar, STREET, full, today=world.today)
        assert_inert(full, *stored, EVIL_COMMUNITY)
        masked = tmp_path / "脱敏.xlsx"
        export_roster(ar, STREET, masked, masked=True, today=world.today)
        assert_inert(masked, EVIL_COMMUNITY)

        # compare: the platform file carries hostile names and addresses
        (ref0, p0), (ref1, _) = refs[0], refs[1]
        from dossier.model.idnumber import make_id_number
        import datetime as dt

        stranger = make_id_number("430405", dt.date(1990, 1, 1), 17)
        platform = _write_input_xlsx(tmp_path / "平台.xlsx", ["公民身份号码", "姓名", "户籍地址", "现住址"], [
            [p0["id_number"], p0["name"], DDE, "\t=1+1"],
            [stranger, HYPERLINK, "\r=1+1", "-1"],
        ])
        res = compare_platform(ar, platform, scope=STREET, today=world.today)
        out = write_compare(res, tmp_path / "比对结果.xlsx")
        assert_inert(out, DDE, HYPERLINK, "=1+1")     # compare trims the cells it compares

        # the annotated error copy of an .xlsx with live formulas and carriers, and the rejected rows
        roster = _write_input_xlsx(tmp_path / "名册.xlsx", ["姓名", "公民身份号码", "户籍地址", "备注"], [
            ["张三", "43040519900101123X", "=1+2", "=SUM(1,2)"],          # bad check digit, live formulas
            ["李四", stranger, HYPERLINK, "@x"],
            ["王五", make_id_number("430405", dt.date(1991, 2, 3), 21), "\t=1+1", DDE],
        ], formulas=True)
        r = import_file(ar, roster, scope=world.scope_a, today=world.today)
        assert not r.ok and r.report_path
        cells = assert_inert(r.report_path, HYPERLINK, "@x", "\t=1+1", DDE)
        assert "=1+2" in {c.value for c in cells}        # the source's own formula, now text
        r = import_file(ar, roster, scope=world.scope_a, today=world.today, skip_invalid=True)
        assert r.rejected_path
        assert_inert(r.rejected_path, "=1+2")
        # and from a CSV (the grid is rebuilt, cells keep their addresses)
        csv_path = tmp_path / "名册.csv"
        with open(csv_path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([["姓名", "公民身份号码", "户籍地址"], ["赵六", "123", HYPERLINK],
                                      ["钱七", stranger, "\r=1+1"]])
        r = import_file(ar, csv_path, scope=world.scope_a, today=world.today)
        assert not r.ok
        assert_inert(r.report_path, HYPERLINK, "\r=1+1")

        # sheet templates
        assert_inert(write_template("field", tmp_path / "外勤.xlsx"))

        # 附表1 statistics and 附表2 as xlsx
        s = Reports(ar).stats(STREET, as_of=world.today, since=None)
        assert_inert(stats_xlsx(s), *(x for x in (EVIL_COMMUNITY,) if x in str(s)))
        res = ar.forms.fill("附表2", scope=STREET, fmt="xlsx", today=world.today)
        assert_inert(res.data, *stored)

        # a campaign whose name, document number and steps are carriers
        Campaigns(ar).add({"name": HYPERLINK, "doc_no": DDE, "scope": STREET, "population": {"all": True},
                           "steps": [{"name": "-1+1", "start": "2025-05-01", "end": "2025-06-30"}],
                           "actions": [{"action": "interview", "count": 1, "by": "-1+1"}]})
        p = Campaigns(ar).progress(HYPERLINK, as_of=world.today)
        assert_inert(progress_xlsx(p), "-1+1")
    assert len(guarded_save) >= 10


def _write_input_xlsx(path: Path, headers, rows, *, formulas: bool = False) -> Path:
    """A hostile input file, written raw (not through dossier, so the save guard is
    bypassed): text cells hold the carriers; with ``formulas``, "=1+2" and "=SUM(…)"
    stay live formulas (without cached results, as scripts write them)."""
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=2):
        for c in row:
            if c.data_type == "f" and not (formulas and c.value in ("=1+2", "=SUM(1,2)")):
                c.data_type = "s"
    with ZipFile(path, "w", ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return path


def test_carriers_become_quote_prefixed_text_and_numbers_stay_numbers():
    wb = openpyxl.Workbook()
    ws = wb.active
    values = [*HOSTILE, "a=b", "普通文字", -5, 3.5, 0, True]
    for i, v in enumerate(values, 1):
        ws.cell(i, 1, v)
    cells = _cells(workbooks.workbook_bytes(wb))
    assert [c.value for c in cells] == values
    for c, v in zip(cells, values):
        assert c.data_type != "f"
        assert bool(c.quotePrefix) == workbooks.is_carrier(v)
    assert [c.data_type for c in cells[-4:]] == ["n", "n", "n", "b"]


def test_csv_cells_prefix_carriers_with_an_apostrophe():
    text = workbooks.csv_text([[HYPERLINK, "-1", -1, 2.5, None, "普通"]])
    assert next(csv.reader(io.StringIO(text))) == ["'" + HYPERLINK, "'-1", "-1", "2.5", "", "普通"]


def test_no_module_saves_a_workbook_itself():
    """Only dossier.workbooks calls openpyxl's save (so a new writer cannot forget the sweep)."""
    src = Path(workbooks.__file__).parent
    offenders = []
    for p in src.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        if p.name == "workbooks.py" or "openpyxl" not in text:
            continue
        if re.search(r"\bwb\.save\(|Workbook\(\)\.save\(|ExcelWriter", text):
            offenders.append(str(p.relative_to(src)))
    assert offenders == []
