"""Lines under a roster's table (合计, 填表人：… 审核人：…) are not persons: skipped
with a note, never a row error that would block an all-or-nothing import."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from conftest import MESSY_TODAY
from dossier.io.validate import is_footer_row, validate_book
from dossier.model.idnumber import make_id_number


@pytest.mark.parametrize("values, footer", [
    (("合计：3人",), True),
    ((None, "合计", None, 3), True),
    (("总计", "12人"), True),
    (("填表人：张某某", "", "审核人：李某", None, "填表日期：2024.5.6"), True),
    (("填表人:张某某  审核人:李某",), True),
    (("注：身份证号一列请设为文本",), True),
    (("（盖章）",), True),
    ((1, "张三", "430405199001011233"), False),       # a person
    (("备注：无", "张三"), False),                      # a sign-off word, but also a name
    (("合计", "张三"), False),
    (("说明",), False),
    (("注意事项",), False),
    ((None, None), False),
])
def test_footer_rows(values, footer):
    assert is_footer_row(values) is footer


def test_footer_lines_do_not_block_the_import(tmp_path):
    a = make_id_number("430405", dt.date(1991, 3, 3), 71)
    b = make_id_number("430405", dt.date(1992, 4, 4), 82)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["苗圃社区吸毒人员名册"])
    ws.append(["序号", "姓名", "身份证号", "手机"])
    ws.append([1, "甲一", a, "13700000001"])
    ws.append([2, "乙二", b, "13700000002"])
    ws.append([None, "合计", None, 2])
    ws.append(["填表人：张某某", None, "审核人：李某", "填表日期：2024年5月6日"])
    ws.append([3, "丙三", "430405199305050000", None])      # a real row below the footer is still checked
    path = tmp_path / "名册.xlsx"
    wb.save(path)
    v = validate_book(path, today=MESSY_TODAY)
    assert [r.row for r in v.rows] == [3, 4, 7]
    assert [(p.row, p.cell) for p in v.errors] == [(7, "C7")]
    assert [n for n in v.notes if "表尾" in n] == [
        "工作表“Sheet”第5行是表尾（合计、填表人等），不是人员，未导入",
        "工作表“Sheet”第6行是表尾（合计、填表人等），不是人员，未导入"]
