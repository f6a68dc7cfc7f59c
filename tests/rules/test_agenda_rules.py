"""The agenda rules (rules/agenda.py): due dates of each kind, by hand, from tables."""

from __future__ import annotations

from datetime import date

import pytest

from dossier.errors import InvalidInput
from dossier.model.entries import normalize_entry
from dossier.rules.agenda import AgendaConfig, person_items

TODAY = date(2030, 1, 1)
AS_OF = date(2025, 6, 1)


def e(type_name, **data):
    return normalize_entry(type_name, data, today=TODAY)


def st(status, start, end=None, **kw):
    return e("status", status=status, start=start, **({"end": end} if end else {}), **kw)


def seen(d, person_seen=True, subject="本人"):
    return e("interview", date=d, method="敲门见人", subject=subject, person_seen=person_seen)


def tst(d, result="阴性"):
    return e("test", date=d, result=result)


def due_of(entries, kind, profile=None, as_of=AS_OF, within=14, config=None):
    got = [i for i in person_items(profile or {}, entries, as_of, within, config) if i.kind == kind]
    assert len(got) <= 1, got
    return got[0].due.isoformat() if got else None


# 见面: last 见面 with the person seen + plan frequency, else the risk level's default
@pytest.mark.parametrize("entries, within, expected", [
    ([seen("2025-05-10"), e("measure", date="2025-01-01", visit_freq_days=20)], 14, "2025-05-30"),
    # a 见面 without the person seen does not count
    ([seen("2025-05-10"), seen("2025-05-25", False, "亲属"), e("measure", date="2025-01-01", visit_freq_days=20)],
     14, "2025-05-30"),
    ([seen("2025-05-05"), e("assessment", date="2025-01-15", proposed_level="高")], 14, "2025-06-04"),
    ([seen("2025-03-10"), e("assessment", date="2025-01-15", proposed_level="中")], 14, "2025-06-08"),
    ([seen("2025-03-10"), e("assessment", date="2025-01-15", proposed_level="中")], 0, None),   # 06-08 > 06-01
    ([seen("2024-12-05"), e("assessment", date="2024-01-15", proposed_level="低")], 14, "2025-06-03"),
    # 会商结论 (final_level) before 初评
    ([seen("2025-05-05"), e("assessment", date="2025-01-15", proposed_level="低", final_level="高")], 14,
     "2025-06-04"),
    # unassessed: 90 days
    ([seen("2025-03-05")], 14, "2025-06-03"),
    # never seen: due on the day asked
    ([], 14, "2025-06-01"),
    # a plan that ended no longer applies: back to the level's default (高 30)
    ([seen("2025-05-05"), e("assessment", date="2025-01-15", proposed_level="高"),
      e("measure", start="2025-01-01", end="2025-03-01", visit_freq_days=200)], 14, "2025-06-04"),
    # not in the community: nobody to meet
    ([st("服刑", "2025-01-01")], 14, None),
    ([st("强制隔离戒毒", "2025-01-01")], 14, None),
])
def test_visit_due(entries, within, expected):
    assert due_of(entries, "visit_due", within=within) == expected


def test_visit_defaults_come_from_config():
    cfg = AgendaConfig.from_config({"visit_days": {"high": 10, "低": 365}, "unassessed_visit_days": 7})
    assert due_of([seen("2025-05-25"), e("assessment", date="2025-01-15", proposed_level="高")], "visit_due",
                  config=cfg) == "2025-06-04"
    assert due_of([seen("2025-05-25")], "visit_due", config=cfg) == "2025-06-01"
    assert cfg.visit_days["中"] == 90


@pytest.mark.parametrize("cfg", [{"visit_days": {"极高": 3}}, {"visit_days": {"高": -1}}, {"report_days": "15"},
                                 {"typo": 1}])
def test_bad_config_is_refused(cfg):
    with pytest.raises(InvalidInput):
        AgendaConfig.from_config(cfg)


# 检测: the 社区戒毒/社区康复 schedule (from 报到), or the plan, the earlier of the two
@pytest.mark.parametrize("entries, expected", [
    # 社区戒毒, year 1 (报到 2024-09-05): monthly
    ([st("社区戒毒", "2024-09-01", report_date="2024-09-05"), tst("2025-05-15")], "2025-06-15"),
    # year 2 (报到 2024-03-15, test 2025-04-10 is in year 2): every two months
    ([st("社区戒毒", "2024-03-10", report_date="2024-03-15"), tst("2025-04-10")], "2025-06-10"),
    # year 3 (start 2022-10-01, test 2025-03-10): quarterly
    ([st("社区戒毒", "2022-10-01", report_date="2022-10-01"), tst("2025-03-10")], "2025-06-10"),
    # no test yet: one interval after 报到 (the 协议 signed at 报到)
    ([st("社区戒毒", "2025-05-01"), e("agreement", agreement_type="社区戒毒协议", signed="2025-05-10")], "2025-06-10"),
    # a test before the measure began does not count
    ([tst("2025-01-05"), st("社区戒毒", "2025-05-01", report_date="2025-05-01")], "2025-06-01"),
    # 拒检/无效 are not tests taken
    ([st("社区戒毒", "2024-09-01", report_date="2024-09-05"), tst("2025-05-15"), tst("2025-05-20", "拒检"),
      tst("2025-05-21", "无效")], "2025-06-15"),
    # 社区康复 (3 years): every 2 months in year 1
    ([st("社区康复", "2025-01-10", report_date="2025-01-10"), tst("2025-04-12")], "2025-06-12"),
    # 社区康复 year 2: every 3 months
    ([st("社区康复", "2024-01-10", report_date="2024-01-10"), tst("2025-03-05")], "2025-06-05"),
    # 社区康复 year 3: every 6 months
    ([st("社区康复", "2022-06-10", report_date="2022-06-10"), tst("2024-12-10")], "2025-06-10"),
    # 社区康复 decided for 2 years (end recorded): every 2 months even in year 2
    ([st("社区康复", "2024-01-10", "2026-01-10", report_date="2024-01-10"), tst("2025-04-05")], "2025-06-05"),
    # plan only (社会面): last test + test_freq_days; no test: from the plan's start
    ([e("measure", date="2025-03-01", test_freq_days=30)], "2025-03-31"),
    ([e("measure", date="2025-03-01", test_freq_days=30), tst("2025-05-10", "拒检")], "2025-03-31"),
    ([e("measure", date="2025-03-01", test_freq_days=30), tst("2025-05-10", "阳性")], "2025-06-09"),
    # both: the earlier (plan every 20 days beats the monthly schedule)
    ([st("社区戒毒", "2024-09-01", report_date="2024-09-05"), tst("2025-05-15"),
      e("measure", date="2024-09-10", test_freq_days=20)], "2025-06-04"),
    # neither a measure with a schedule nor a plan frequency: no 检测 item
    ([tst("2025-01-01")], None),
    ([st("自愿戒毒", "2025-01-01"), tst("2025-01-01")], None),
    # 失控: no 检测 item (the 见面 item asks to find them)
    ([st("社区戒毒", "2024-09-01", report_date="2024-09-05"), st("失控", "2025-05-01")], None),
])
def test_test_due(entries, expected):
    assert due_of(entries, "test_due", within=30) == expected


@pytest.mark.parametrize("entries, within, expected", [
    ([e("assessment", date="2025-02-01", proposed_level="低", next_review="2025-06-10")], 14, "2025-06-10"),
    ([e("assessment", date="2025-02-01", proposed_level="低", next_review="2025-06-20")], 14, None),
    ([e("assessment", date="2024-02-01", proposed_level="低", next_review="2024-08-01")], 0, "2024-08-01"),
    # only the latest assessment's date counts
    ([e("assessment", date="2024-02-01", proposed_level="低", next_review="2024-08-01"),
      e("assessment", date="2024-08-05", proposed_level="低", next_review="2025-08-05")], 14, None),
])
def test_review_due(entries, within, expected):
    assert due_of(entries, "review_due", within=within) == expected


@pytest.mark.parametrize("entries, expected", [
    ([st("社区康复", "2025-05-25")], "2025-06-09"),
    ([st("社区戒毒", "2025-04-01")], "2025-04-16"),
    ([st("社区戒毒", "2025-04-01", report_date="2025-04-10")], None),
    ([st("社区戒毒", "2025-05-01"), e("agreement", agreement_type="社区戒毒协议", signed="2025-05-10")], None),
    # the other measure's 协议, or a 协议 older than the decision, is no 报到
    ([st("社区戒毒", "2025-05-01"), e("agreement", agreement_type="社区康复协议", signed="2025-05-10")], "2025-05-16"),
    ([e("agreement", agreement_type="社区戒毒协议", signed="2025-04-10"), st("社区戒毒", "2025-05-01")], "2025-05-16"),
    ([st("自愿戒毒", "2025-05-01")], None),
    # ended: no longer asked
    ([st("社区戒毒", "2022-01-01", "2025-01-01")], None),
])
def test_report_missing(entries, expected):
    assert due_of(entries, "report_missing") == expected


def test_report_days_from_config():
    assert due_of([st("社区康复", "2025-05-25")], "report_missing",
                  config=AgendaConfig.from_config({"report_days": 7})) == "2025-06-01"


@pytest.mark.parametrize("profile, entries, kind, expected", [
    ({"driving_license": {"status": "正常"}}, [st("社区戒毒", "2024-09-01", report_date="2024-09-05")],
     "license_revoke", "2024-09-01"),
    ({"driving_license": {"status": "已注销"}}, [st("社区戒毒", "2024-09-01")], "license_revoke", None),
    ({}, [st("强制隔离戒毒", "2021-01-01", "2023-01-01"), tst("2025-05-01", "阳性")], "relapse_reassess",
     "2025-05-01"),
    ({}, [e("assessment", date="2025-04-01", proposed_level="高")], "high_risk_no_plan", "2025-04-01"),
    ({}, [e("assessment", date="2025-04-01", proposed_level="高"),
          e("measure", date="2025-04-02", filed_with="区禁毒办")], "high_risk_no_plan", None),
    # 流入未满3个月: due the day the person has lived here 3 months (a date in the future is listed anyway)
    ({"is_inflow": True, "inflow_date": "2025-04-01"}, [], "inflow_unsettled", "2025-07-01"),
    ({"is_inflow": True, "inflow_date": "2025-01-01"}, [], "inflow_unsettled", None),
    ({"is_inflow": True}, [], "inflow_date_missing", "2025-06-01"),
    # 通报纪检监察 and 已过复评日期 are not agenda items of their own
    ({"political_status": "中共党员"}, [], "notify_discipline", None),
])
def test_alert_kinds(profile, entries, kind, expected):
    assert due_of(entries, kind, profile=profile) == expected


@pytest.mark.parametrize("entries, within, expected", [
    # 强制隔离戒毒: from 出所 (2022-06-05) → 3 years on 2025-06-05
    ([st("强制隔离戒毒", "2020-01-01", "2022-06-05")], 14, [(3, "2025-06-05")]),
    ([st("强制隔离戒毒", "2020-01-01", "2022-06-05")], 3, []),
    # reached before the window: a label already, not an agenda item
    ([st("强制隔离戒毒", "2020-01-01", "2022-05-05")], 14, []),
    # 5 and 10 years: 社区戒毒 counts from its start
    ([st("社区戒毒", "2020-06-10", "2023-06-10", report_date="2020-06-10")], 14, [(5, "2025-06-10")]),
    ([st("社区康复", "2015-06-01", "2018-06-01", report_date="2015-06-01")], 14, [(10, "2025-06-01")]),
    # a relapse since the anchor: nothing to celebrate
    ([st("强制隔离戒毒", "2020-01-01", "2022-06-05"), tst("2024-01-01", "阳性")], 14, []),
])
def test_abstinence_milestones(entries, within, expected):
    got = [(i.extra["years"], i.due.isoformat()) for i in person_items({}, entries, AS_OF, within)
           if i.kind == "abstinence_milestone"]
    assert got == expected


def test_dead_or_closed_files_have_no_items():
    entries = [st("社区戒毒", "2025-04-01"), st("死亡", "2025-05-01")]
    assert person_items({}, entries, AS_OF) == []
    assert person_items({"record_flags": ["迁出"]}, [st("社区戒毒", "2025-04-01")], AS_OF) == []
    assert person_items({}, [st("社区戒毒", "2025-04-01")], AS_OF)


def test_items_are_sorted_and_overdue_is_relative_to_the_day():
    items = person_items({}, [st("社区戒毒", "2025-04-01"), seen("2025-05-20")], AS_OF)
    assert [i.kind for i in items] == ["report_missing", "test_due"]   # 04-16, then 05-01
    assert [i.due.isoformat() for i in items] == ["2025-04-16", "2025-05-01"]
    assert all(i.overdue(AS_OF) for i in items) and not items[0].overdue(date(2025, 4, 16))
    assert all(i.reason for i in items)
