"""normalize_fields: each problem reported once, under the field that has it."""

from datetime import date

import pytest

from dossier.errors import ValidationErrors
from dossier.model.entries import normalize_entry

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize("data, field, reason", [
    ({"date": "2024-02-30", "result": "阴性"}, "date", "不存在"),
    ({"date": "2099-01-01", "result": "阴性"}, "date", "将来"),
    ({"date": "2024-05-01", "result": "可疑"}, "result", "不是有效取值"),
])
def test_invalid_required_value_is_not_also_reported_missing(data, field, reason):
    with pytest.raises(ValidationErrors) as exc:
        normalize_entry("test", data, today=TODAY)
    errs = [(e.field, e.reason) for e in exc.value.errors]
    assert len(errs) == 1, errs
    assert errs[0][0] == field and reason in errs[0][1]


def test_missing_required_value_still_reported():
    with pytest.raises(ValidationErrors) as exc:
        normalize_entry("test", {"date": "2024-05-01", "sample": "尿液"}, today=TODAY)
    assert [(e.field, e.reason) for e in exc.value.errors] == [("result", "必填（检测结果）")]
