"""Reading rosters as offices have them: formats, header rows, header
variants, messy cells — each seeded bad cell reported at its Excel address."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import FIXTURES, MESSY_TODAY
from dossier.io.columns import detect_tables, load_mapping
from dossier.io.reader import read_book
from dossier.io.text import clean, clean_name, header_key
from dossier.io.validate import PRECISION_LOST, validate_book

MESSY = ["messy_roster.xlsx", "messy_roster.xls", "messy_roster_gb18030.csv", "messy_roster_utf8.csv"]


@pytest.mark.parametrize("text,expected", [
    ("４３０４０５", "430405"), ("ＡＢｃ", "ABc"), ("  a　 b  ", "a b"), ("东风路（北）１２号", "东风路（北）12号"),
    ("a\u200bb", "ab"), ("2019．5．6", "2019.5.6"),
])
def test_clean(text, expected):
    assert clean(text) == expected


@pytest.mark.parametrize("text,expected", [
    (" 张 三 ", "张三"), ("王　五", "王五"), ("阿依古丽·买买提", "阿依古丽·买买提"), ("John  Smith", "John Smith"),
])
def test_clean_name(text, expected):
    assert clean_name(text) == expected


@pytest.mark.parametrize("text,expected", [
    (" *公民身份号码（必填）", "公民身份号码"), ("现 住 址", "现住址"), ("身份证号码*", "身份证号码"),
    ("社区（村）", "社区"), ("联系电话：", "联系电话"),
])
def test_header_key(text, expected):
    assert header_key(text) == expected


@pytest.mark.parametrize("name", MESSY)
def test_every_seeded_bad_cell_reported_at_its_excel_address(name, messy_expected):
    v = validate_book(FIXTURES / name, today=MESSY_TODAY)
    assert [(t.schema.kind, t.header_row) for t in v.tables] == [("profile", messy_expected["header_row"])]
    got = sorted((p.row, p.cell) for p in v.errors)
    want = sorted((b["row"], b["cell"]) for b in messy_expected["bad"])
    assert got == want
    for p in v.errors:
        assert p.sheet and p.column and p.reason
    assert [r.row for r in v.valid_rows()] == [g["row"] for g in messy_expected["good"]]


@pytest.mark.parametrize("name", MESSY)
def test_good_rows_are_cleaned_to_the_seeded_values(name, messy_expected):
    v = validate_book(FIXTURES / name, today=MESSY_TODAY)
    for r, g in zip(v.valid_rows(), messy_expected["good"]):
        for k in ("name", "id_number", "phone", "residence_police", "hukou_address", "first_seized_date"):
            assert r.data[k] == g[k], (r.row, k)


def test_precision_lost_message_tells_to_set_text(messy_expected):
    v = validate_book(FIXTURES / "messy_roster.xlsx", today=MESSY_TODAY)
    d11 = [p for p in v.errors if p.cell == "D11"]
    assert d11 and d11[0].reason == PRECISION_LOST and "文本" in d11[0].reason


def test_csv_encodings_detected():
    assert read_book(FIXTURES / "messy_roster_gb18030.csv").encoding == "gb18030"
    assert read_book(FIXTURES / "messy_roster_utf8.csv").encoding == "utf-8-sig"


def test_format_sniffed_not_extension(tmp_path):
    fake = tmp_path / "名册.xlsx"
    fake.write_bytes((FIXTURES / "messy_roster.xls").read_bytes())
    assert read_book(fake).format == "xls"


def _write(tmp_path, rows, name="r.xlsx", merges=()):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    p = tmp_path / name
    wb.save(p)
    return p


def test_two_row_header_under_merged_group(tmp_path):
    from dossier.model.idnumber import make_id_number

    idn = make_id_number("430405", dt.date(1990, 1, 1), 11)
    p = _write(tmp_path, [
        ["标题"],
        ["姓名", "身份证号", "户籍地", None, "联系方式"],
        [None, None, "详址", "派出所", None],
        ["张三", idn, "珠晖区东风路1号", "粤汉派出所", "13800138000"],
    ], merges=["A2:A3", "B2:B3", "C2:D2", "E2:E3"])
    v = validate_book(p, today=MESSY_TODAY)
    assert v.tables[0].header_row == 3
    assert v.ok, [str(x) for x in v.problems]
    # “户籍地” + “详址” / “派出所” read together as 户籍地详址 / 户籍地派出所
    assert v.rows[0].data["hukou_address"] == "珠晖区东风路1号"
    assert v.rows[0].data["hukou_police"] == "粤汉派出所"


def test_mapping_file(tmp_path):
    from dossier.model.idnumber import make_id_number

    idn = make_id_number("430405", dt.date(1990, 1, 1), 11)
    p = _write(tmp_path, [["人员", "证件", "住在哪", "不要这列"], ["张三", idn, "东风路1号", "x"]])
    m = tmp_path / "map.yaml"
    m.write_text("columns:\n  人员: name\n  证件: 公民身份号码\n  住在哪: residence_address\n  不要这列: null\n",
                 encoding="utf-8")
    v = validate_book(p, today=MESSY_TODAY, mapping=load_mapping(m))
    assert v.ok and v.rows[0].data["residence_address"] == "东风路1号"
    assert not v.tables[0].unmapped


def test_no_header_row_is_a_clear_error(tmp_path):
    from dossier.errors import InvalidInput

    p = _write(tmp_path, [["甲", "乙"], ["1", "2"]])
    with pytest.raises(InvalidInput, match="表头"):
        detect_tables(read_book(p))


def test_mapping_to_unknown_field_refused(tmp_path):
    from dossier.errors import InvalidInput

    p = _write(tmp_path, [["姓名", "身份证号"]])
    with pytest.raises(InvalidInput, match="不存在"):
        detect_tables(read_book(p), mapping={"columns": {"姓名": "no_such_field"}})


def test_duplicates_with_different_content_flag_both_rows(tmp_path):
    from dossier.model.idnumber import make_id_number

    idn = make_id_number("430405", dt.date(1990, 1, 1), 11)
    p = _write(tmp_path, [["姓名", "身份证号", "现住址"], ["张三", idn, "东风路1号"], ["张三", idn, "东风路2号"]])
    v = validate_book(p, today=MESSY_TODAY)
    assert sorted(x.cell for x in v.errors) == ["B2", "B3"]
