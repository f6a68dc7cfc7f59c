"""Sheet templates: every enumerated column of the field sheets is a drop-down
whose list holds exactly the model's values (issue 3 part 4)."""

from __future__ import annotations

import openpyxl
import pytest

from dossier.io.templates import FIELD_SET, LISTS_SHEET, template_columns, write_template
from dossier.model.entries import MEASURE_STATUSES, PRESENCE_STATUSES


def _dropdowns(wb, title: str) -> dict[str, list[str]]:
    """Header → the values its list validation offers (read back from the hidden sheet)."""
    ws, lists = wb[title], wb[LISTS_SHEET]
    out = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list":
            continue
        col = str(dv.sqref).split(":")[0].rstrip("0123456789")
        ref = dv.formula1.split("!")[1].replace("$", "")
        values = [c.value for row in lists[ref] for c in row]
        out[ws[f"{col}1"].value.lstrip("*")] = values
    return out


@pytest.mark.parametrize("entry_type", FIELD_SET)
def test_every_enumerated_column_is_a_dropdown_of_the_model_values(tmp_path, entry_type):
    out = write_template(entry_type, tmp_path / f"{entry_type}.xlsx")
    wb = openpyxl.load_workbook(out)
    offered = _dropdowns(wb, wb.sheetnames[0])
    expected = {c["header"].lstrip("*"): list(c["choices"]) or ["是", "否"]
                for c in template_columns(entry_type) if c["kind"] in ("enum", "bool")}
    assert expected and offered == expected


def test_status_sheet_offers_both_axes_statuses(tmp_path):
    out = write_template("状态变更", tmp_path / "状态.xlsx")
    wb = openpyxl.load_workbook(out)
    offered = _dropdowns(wb, "状态变更登记")
    assert offered["状态"] == [*MEASURE_STATUSES, *PRESENCE_STATUSES]
    assert "社区戒毒" in offered["状态"] and "失控" in offered["状态"]
    guide = {r[1]: r[2] for r in wb["填写说明"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert guide["*状态"].startswith("从下拉列表选择：社区戒毒")
