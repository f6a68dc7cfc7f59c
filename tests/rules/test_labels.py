"""戒断 labels: each of S0's four anchor cases, at the day before / the day of 3, 5 and 10 years."""

from datetime import date

import pytest

from dossier.model.entries import normalize_entry
from dossier.rules.labels import anchor_date, derive_labels, milestone_date

TODAY = date(2040, 1, 1)
L3, L5, L10 = "戒断三年未复吸", "戒断5年", "戒断10年"
ADDICTED = {"name": "测试", "addiction": "成瘾"}
UNADDICTED = {"name": "测试", "addiction": "未成瘾", "first_seized_date": "2015-03-10"}


def st(status, start, end=None):
    data = {"status": status, "start": start}
    if end:
        data["end"] = end
    return normalize_entry("status", data, today=TODAY)


def ev(d, kind="查获"):
    return normalize_entry("drug_event", {"date": d, "event_type": kind}, today=TODAY)


def test(d, result):
    return normalize_entry("test", {"date": d, "result": result}, today=TODAY)


test.__test__ = False


def abstinence(profile, entries, as_of):
    return [x for x in derive_labels(profile, entries, date.fromisoformat(as_of)) if x in (L3, L5, L10)]


CMF = [st("社区戒毒", "2016-05-01", "2019-04-30")]
CMK = [st("社区康复", "2016-05-01", "2019-04-30")]
FORCED = [st("强制隔离戒毒", "2016-01-01", "2018-01-01")]
VOLUNTARY = [st("自愿戒毒", "2016-02-01", "2016-08-01")]

CASES = [
    # 吸毒未成瘾: from first_seized_date (纳入动态管控之日)
    ("未成瘾 3y-1", UNADDICTED, [], "2018-03-09", []),
    ("未成瘾 3y", UNADDICTED, [], "2018-03-10", [L3]),
    ("未成瘾 5y-1", UNADDICTED, [], "2020-03-09", [L3]),
    ("未成瘾 5y", UNADDICTED, [], "2020-03-10", [L3, L5]),
    ("未成瘾 10y-1", UNADDICTED, [], "2025-03-09", [L3, L5]),
    ("未成瘾 10y", UNADDICTED, [], "2025-03-10", [L3, L5, L10]),
    ("未成瘾 from 查获 event", {"addiction": "未成瘾"}, [ev("2015-03-10")], "2018-03-10", [L3]),
    ("未成瘾 查获 event day before", {"addiction": "未成瘾"}, [ev("2015-03-10")], "2018-03-09", []),
    ("未成瘾 earliest 查获 wins", UNADDICTED, [ev("2014-03-10")], "2017-03-10", [L3]),
    ("未成瘾 later 查获 clears", UNADDICTED, [ev("2017-01-01")], "2025-03-10", []),
    ("未成瘾 positive test clears", UNADDICTED, [test("2016-01-01", "阳性")], "2019-01-01", []),
    ("未成瘾 自述 clears", UNADDICTED, [ev("2016-01-01", "自述")], "2019-01-01", []),
    ("未成瘾 negative test keeps", UNADDICTED, [test("2016-01-01", "阴性")], "2018-03-10", [L3]),
    ("未成瘾 拒检 keeps", UNADDICTED, [test("2016-01-01", "拒检")], "2018-03-10", [L3]),
    ("relapse after as_of ignored", UNADDICTED, [test("2019-01-01", "阳性")], "2018-03-10", [L3]),
    ("成瘾 without measure: no anchor", {**UNADDICTED, "addiction": "成瘾"}, [], "2030-01-01", []),
    # 社区戒毒 / 社区康复: from the start (自执行之日), not the end
    ("社区戒毒 3y-1", ADDICTED, CMF, "2019-04-30", []),
    ("社区戒毒 3y", ADDICTED, CMF, "2019-05-01", [L3]),
    ("社区戒毒 5y-1", ADDICTED, CMF, "2021-04-30", [L3]),
    ("社区戒毒 5y", ADDICTED, CMF, "2021-05-01", [L3, L5]),
    ("社区戒毒 10y-1", ADDICTED, CMF, "2026-04-30", [L3, L5]),
    ("社区戒毒 10y", ADDICTED, CMF, "2026-05-01", [L3, L5, L10]),
    ("社区戒毒 open still counts from start", ADDICTED, [st("社区戒毒", "2016-05-01")], "2019-05-01", [L3]),
    ("社区康复 3y-1", ADDICTED, CMK, "2019-04-30", []),
    ("社区康复 3y", ADDICTED, CMK, "2019-05-01", [L3]),
    ("社区康复 10y", ADDICTED, CMK, "2026-05-01", [L3, L5, L10]),
    ("社区戒毒 positive test during measure", ADDICTED, CMF + [test("2017-01-01", "阳性")], "2030-01-01", []),
    ("社区戒毒 检测阳性 event", ADDICTED, CMF + [ev("2020-01-01", "检测阳性")], "2030-01-01", []),
    ("leap-day start", ADDICTED, [st("社区戒毒", "2016-02-29", "2019-02-28")], "2019-02-28", [L3]),
    ("leap-day start day before", ADDICTED, [st("社区戒毒", "2016-02-29", "2019-02-28")], "2019-02-27", []),
    # 强制隔离戒毒: from 出所 (the end)
    ("强戒 3y-1", ADDICTED, FORCED, "2020-12-31", []),
    ("强戒 3y", ADDICTED, FORCED, "2021-01-01", [L3]),
    ("强戒 5y-1", ADDICTED, FORCED, "2022-12-31", [L3]),
    ("强戒 5y", ADDICTED, FORCED, "2023-01-01", [L3, L5]),
    ("强戒 10y-1", ADDICTED, FORCED, "2027-12-31", [L3, L5]),
    ("强戒 10y", ADDICTED, FORCED, "2028-01-01", [L3, L5, L10]),
    ("强戒 still inside", ADDICTED, [st("强制隔离戒毒", "2016-01-01")], "2030-01-01", []),
    ("强戒 end in the future of as_of", ADDICTED, [st("强制隔离戒毒", "2016-01-01", "2018-01-01")], "2017-06-01", []),
    ("强戒 closed by 社区康复: newer anchor", ADDICTED,
     [st("强制隔离戒毒", "2016-01-01"), st("社区康复", "2018-01-01", "2021-01-01")], "2021-01-01", [L3]),
    # 自愿戒毒: from its end
    ("自愿 3y-1", ADDICTED, VOLUNTARY, "2019-07-31", []),
    ("自愿 3y", ADDICTED, VOLUNTARY, "2019-08-01", [L3]),
    ("自愿 5y", ADDICTED, VOLUNTARY, "2021-08-01", [L3, L5]),
    ("自愿 10y-1", ADDICTED, VOLUNTARY, "2026-07-31", [L3, L5]),
    ("自愿 10y", ADDICTED, VOLUNTARY, "2026-08-01", [L3, L5, L10]),
    # relapse, then a new measure gives a new anchor
    ("new anchor after relapse, day before", ADDICTED,
     [st("社区戒毒", "2012-01-01", "2013-07-01"), test("2013-06-01", "阳性"),
      st("强制隔离戒毒", "2013-07-01", "2015-07-01")], "2018-06-30", []),
    ("new anchor after relapse, day of", ADDICTED,
     [st("社区戒毒", "2012-01-01", "2013-07-01"), test("2013-06-01", "阳性"),
      st("强制隔离戒毒", "2013-07-01", "2015-07-01")], "2018-07-01", [L3]),
    ("未成瘾 then measure: measure anchor", UNADDICTED,
     [ev("2017-01-01"), st("社区戒毒", "2017-02-01", "2020-01-01")], "2020-02-01", [L3]),
    ("未成瘾 then measure: day before", UNADDICTED,
     [ev("2017-01-01"), st("社区戒毒", "2017-02-01", "2020-01-01")], "2020-01-31", []),
    ("as_of before a later measure: old anchor", ADDICTED,
     [st("社区戒毒", "2010-01-01", "2013-01-01"), st("社区康复", "2020-01-01")], "2014-06-01", [L3]),
    ("measure not in table ignored", ADDICTED, [st("药物维持治疗", "2010-01-01", "2012-01-01")], "2030-01-01", []),
    ("dead: no labels", ADDICTED, CMF + [st("死亡", "2020-01-01")], "2030-01-01", []),
    ("dead later than as_of", ADDICTED, CMF + [st("死亡", "2020-01-01")], "2019-06-01", [L3]),
]


@pytest.mark.parametrize("name, profile, entries, as_of, expected", CASES, ids=[c[0] for c in CASES])
def test_abstinence_labels(name, profile, entries, as_of, expected):
    assert abstinence(profile, entries, as_of) == expected


@pytest.mark.parametrize("profile, entries, as_of, expected", [
    (UNADDICTED, [], "2016-01-01", date(2015, 3, 10)),
    (ADDICTED, CMF, "2017-01-01", date(2016, 5, 1)),
    (ADDICTED, FORCED, "2017-01-01", None),      # still inside
    (ADDICTED, FORCED, "2018-01-01", date(2018, 1, 1)),
    (ADDICTED, VOLUNTARY, "2020-01-01", date(2016, 8, 1)),
    (ADDICTED, [], "2020-01-01", None),
    (UNADDICTED, [], "2015-03-09", None),         # before the 查获
])
def test_anchor_date(profile, entries, as_of, expected):
    assert anchor_date(profile, entries, date.fromisoformat(as_of)) == expected


def test_milestone_date_for_reports():
    assert milestone_date(ADDICTED, FORCED, date(2019, 1, 1), 5) == date(2023, 1, 1)
    assert milestone_date(ADDICTED, FORCED + [test("2018-06-01", "阳性")], date(2019, 1, 1), 5) is None


INFLOW = [
    ({"is_inflow": True, "inflow_date": "2024-01-15"}, "2024-04-14", False),
    ({"is_inflow": True, "inflow_date": "2024-01-15"}, "2024-04-15", True),
    ({"is_inflow": True, "inflow_date": "2023-11-30"}, "2024-02-28", False),
    ({"is_inflow": True, "inflow_date": "2023-11-30"}, "2024-02-29", True),     # month-end clipping
    ({"is_inflow": True}, "2030-01-01", False),                                # date unknown: not confirmed
    ({"hukou_div": "500151001001", "residence_div": "430405004012", "inflow_date": "2024-01-15"}, "2024-04-15", True),
    ({"hukou_div": "430405001001", "residence_div": "430405004012", "inflow_date": "2024-01-15"}, "2024-04-15", False),
    ({"is_inflow": False, "hukou_div": "500151001001", "residence_div": "430405004012",
      "inflow_date": "2024-01-15"}, "2024-04-15", False),
]


@pytest.mark.parametrize("profile, as_of, expected", INFLOW)
def test_inflow_three_month_boundary(profile, as_of, expected):
    assert ("流入" in derive_labels(profile, [], date.fromisoformat(as_of))) is expected


@pytest.mark.parametrize("profile, entries, label", [
    ({"addiction": "未成瘾"}, [], "吸毒未成瘾"),
    ({"addiction": "成瘾严重"}, [], "成瘾严重"),
    ({}, [st("失控", "2020-01-01")], "失控"),
    ({}, [st("死亡", "2020-01-01")], "死亡"),
    ({"special_diseases": ["艾滋病"]}, [], "病残"),
    ({"has_drug_crime_record": True}, [], "涉毒犯罪前科"),
    ({"driving_license": {"status": "正常"}}, [], "持有驾驶证"),
    ({"is_public_official": True}, [], "公职人员"),
    ({"political_status": "预备党员"}, [], "党员"),
    ({"family_hardship": ["子女年幼"]}, [], "直系亲属特殊困难"),
])
def test_category_labels(profile, entries, label):
    assert label in derive_labels(profile, entries, date(2024, 1, 1))
    assert label not in derive_labels({}, [], date(2024, 1, 1))


def test_labels_are_a_pure_function_of_inputs():
    entries = CMF + [test("2017-01-01", "阴性")]
    snapshot = [dict(e) for e in entries]
    derive_labels(ADDICTED, entries, date(2020, 1, 1))
    assert entries == snapshot
