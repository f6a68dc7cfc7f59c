from datetime import date

import pytest

from dossier.errors import ValidationErrors
from dossier.model.dossier_rules import check_dossier, death_date, status_on
from dossier.model.entries import normalize_entry

TODAY = date(2024, 6, 1)
PROFILE = {"name": "测试", "birth_date": "1980-01-01"}


def st(status, start, end=None, axis=None):
    data = {"status": status, "start": start}
    if end:
        data["end"] = end
    if axis:
        data["axis"] = axis
    return normalize_entry("status", data, today=TODAY)


def visit(d):
    return normalize_entry("interview", {"date": d, "method": "敲门见人"}, today=TODAY)


def check(entries):
    check_dossier(PROFILE, entries, today=TODAY)


def refused(entries):
    with pytest.raises(ValidationErrors) as exc:
        check(entries)
    return exc.value.errors


OK_CASES = [
    [st("社区戒毒", "2018-01-01", "2021-01-01"), st("无措施", "2021-01-01")],                 # adjacent
    [st("社区戒毒", "2018-01-01"), st("强制隔离戒毒", "2019-01-01", "2021-01-01")],            # open closed by next
    [st("社区戒毒", "2018-01-01", "2021-01-01"), st("在控", "2018-01-01")],                   # other axis
    [st("强制隔离戒毒", "2019-01-01", "2022-01-01")],                                         # 2 + 1 years
    [st("社区康复", "2019-01-01", "2022-01-01")],
    [st("社区戒毒", "2021-01-01", "2024-01-01"), visit("2023-01-01")],
    [st("在控", "2018-01-01"), st("死亡", "2023-01-01"), visit("2023-01-01")],                # same day as death
    [st("药物维持治疗", "2010-01-01", "2020-01-01")],                                         # no limit in table
    [],
]


@pytest.mark.parametrize("entries", OK_CASES)
def test_consistent_dossiers_pass(entries):
    check(entries)


REFUSED_CASES = [
    ([st("社区戒毒", "2018-01-01", "2021-06-01"), st("强制隔离戒毒", "2021-05-01", "2023-01-01")],
     "status@2021-05-01", "重叠"),
    ([st("在控", "2018-01-01"), st("失控", "2018-01-01")], "status@2018-01-01", "起始日期相同"),
    ([st("社区戒毒", "2018-01-01", "2021-01-02")], "status@2018-01-01", "不得超过3年"),
    ([st("社区康复", "2018-01-01", "2021-01-02")], "status@2018-01-01", "不得超过3年"),
    ([st("强制隔离戒毒", "2018-01-01", "2021-01-02")], "status@2018-01-01", "不得超过3年"),
    ([st("社区戒毒", "2018-01-01"), st("无措施", "2021-01-02")], "status@2018-01-01", "不得超过3年"),
    ([st("死亡", "2022-01-01"), visit("2022-01-02")], "interview@2022-01-02", "死亡"),
    ([st("在控", "2018-01-01"), st("死亡", "2022-01-01"), st("失控", "2023-01-01")], "status@2023-01-01", "死亡"),
    ([visit("1979-12-31")], "interview@1979-12-31", "出生日期"),
]


@pytest.mark.parametrize("entries, field, reason", REFUSED_CASES)
def test_inconsistent_dossiers_refused_naming_the_entry(entries, field, reason):
    errors = refused(entries)
    assert any(e.field == field and reason in e.reason for e in errors), [(e.field, e.reason) for e in errors]
    assert all("记录" in e.message for e in errors)


def test_all_problems_reported_at_once():
    errors = refused([st("社区戒毒", "2014-01-01", "2018-01-01"), st("死亡", "2019-01-01"), visit("2020-01-01")])
    assert len(errors) == 2


def test_status_on_and_death_date():
    es = [st("社区戒毒", "2018-01-01", "2021-01-01"), st("社区康复", "2021-06-01"), st("死亡", "2023-03-01")]
    assert status_on(es, "measure", date(2020, 12, 31)) == "社区戒毒"
    assert status_on(es, "measure", date(2021, 1, 1)) is None
    assert status_on(es, "measure", date(2024, 1, 1)) == "社区康复"
    assert death_date(es) == date(2023, 3, 1)


MIXED = [st("在控", "2018-01-01"), st("社区戒毒", "2018-01-01", "2021-01-01"), st("失控", "2019-05-01"),
         st("社区康复", "2021-06-01"), st("在控", "2020-02-01"), visit("2020-03-01"), st("死亡", "2023-03-01"),
         {"type": "status", "status": "无轴", "start": "2019-01-01"}, {"type": "interview", "date": ""}]


@pytest.mark.parametrize("entries", OK_CASES + [MIXED, list(reversed(MIXED))])
def test_a_rules_pass_memo_gives_what_each_rule_computes_alone(entries):
    """Inside ``periods_memo`` one axis's periods are those of all axes filtered, dates are
    parsed once and the death date remembered: the same answers as outside it."""
    from dossier.model.dates import as_date
    from dossier.model.dossier_rules import entry_days, periods_memo, status_periods

    alone = {axis: status_periods(entries, axis) for axis in (None, "measure", "presence", "other")}
    days, died = [as_date(e.get("date")) for e in entries], death_date(entries)
    with periods_memo():
        for _ in range(2):          # computed, then remembered
            for axis in ("measure", None, "presence", "other"):
                assert status_periods(entries, axis) == alone[axis]
            assert entry_days(entries) == days and death_date(entries) == died
