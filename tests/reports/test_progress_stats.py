"""Progress and 附表1 statistics equal values computed by hand on a small fixture."""

from __future__ import annotations

from datetime import date

import pytest

from dossier.reports.campaigns import campaign_progress, interview_status, parse_campaign
from dossier.reports.population import PersonRecord
from dossier.reports.stats import eligibility, parse_window, statistics

from seedkit import CAMPAIGN

X, Y = "珠晖区/粤汉街道/甲社区", "珠晖区/粤汉街道/乙社区"
AS_OF = date(2025, 4, 15)


def iv(d, subject="本人"):
    return {"type": "interview", "date": d, "subject": subject, "person_seen": subject == "本人"}


def tst(d, sample="尿液", result="阴性"):
    return {"type": "test", "date": d, "sample": sample, "result": result}


def ass(d, level):
    return {"type": "assessment", "date": d, "proposed_level": level}


def status(start, st, axis, end=None):
    e = {"type": "status", "date": start, "start": start, "status": st, "axis": axis}
    if end:
        e["end"] = end
    return e


def rec(no, scope, entries, **profile):
    prof = {"name": f"测试{no}号", "addiction": "成瘾", "first_seized_date": "2015-05-01", **profile}
    return PersonRecord(f"id-{no}", f"NO-{no}", scope, prof, entries)


@pytest.fixture
def records():
    return [
        rec(1, X, [iv("2025-03-10"), iv("2025-03-12", "亲属"), tst("2025-03-15"), ass("2025-04-02", "高")]),
        rec(2, X, [iv("2025-03-10", "亲属"), iv("2025-03-11", "邻居"), ass("2025-04-05", "中")]),
        rec(3, X, [status("2024-12-01", "失控", "presence"), iv("2025-03-20", "亲属")]),
        rec(4, X, [status("2024-06-01", "死亡", "presence")]),
        rec(8, X, [], addiction="未成瘾", first_seized_date="2022-05-01"),
        rec(5, Y, [iv("2025-03-08"), iv("2025-03-09", "亲属"), tst("2025-03-09", "毛发", "阳性"),
                   ass("2025-04-01", "低")]),
        rec(6, Y, [status("2021-01-01", "社区戒毒", "measure", end="2024-01-01")]),
        rec(7, Y, [iv("2025-03-08")], record_flags=["迁出"]),
    ]


def test_interview_rule_of_s1():
    assert interview_status([iv("d"), iv("d", "亲属")])["done"]
    assert interview_status([iv("d", "亲属"), iv("d", "邻居")])["done"]       # 见不到本人：2名亲属/邻居
    assert not interview_status([iv("d"), iv("d")])["done"]                   # 本人两次，无亲属/邻居
    assert not interview_status([iv("d", "亲属")])["done"]


def test_progress_hand_computed(records):
    p = campaign_progress(parse_campaign(CAMPAIGN), records, AS_OF)
    rows = {r["community"]: r for r in p["communities"]}
    assert p["population"] == 6
    x, y, t = rows["甲社区"], rows["乙社区"], p["total"]
    assert (x["population"], x["met"], x["met_rate"], x["complete"], x["overdue"], x["lost"]) == (4, 1, 0.25, 1, 3, 1)
    assert x["lost_rate"] == 0.25 and x["lost_flag"]
    assert (x["interview_done"], x["test_done"], x["assessment_done"]) == (2, 2, 2)   # p3: 失联，免检测
    assert x["risk"] == {"高": 1, "中": 1, "低": 0}
    assert (y["population"], y["met"], y["met_rate"], y["complete"], y["overdue"], y["lost"]) == (2, 1, 0.5, 1, 1, 0)
    assert not y["lost_flag"]
    assert (t["population"], t["met"], t["met_rate"], t["complete"], t["overdue"]) == (6, 2, 0.3333, 2, 4)
    steps = {s["name"]: s for s in p["steps"]}
    assert (steps["全面排查"]["done"], steps["全面排查"]["overdue"]) == (2, 4)
    assert (steps["风险评估"]["done"], steps["风险评估"]["overdue"]) == (3, 3)
    assert [steps[n]["state"] for n in ("组织部署", "持续整治", "评价考核")] == ["已结束", "进行中", "未开始"]
    overdue = {o["archive_no"]: o["overdue"] for o in p["overdue"]}
    assert overdue == {"NO-2": ["检测"], "NO-3": ["见面谈话", "风险评估"], "NO-8": ["见面谈话", "检测", "风险评估"],
                       "NO-6": ["见面谈话", "检测", "风险评估"]}
    assert all("*" in o["name"] for o in p["overdue"])           # names masked
    assert [w["date"] for w in p["trend"]] == ["2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24",
                                               "2025-03-31", "2025-04-07", "2025-04-14"]
    assert p["trend"][0]["met_rate"] == 0.0 and p["trend"][-1]["met_rate"] == 0.3333


def test_stats_hand_computed(records):
    s = statistics(records, AS_OF, since=date(2025, 1, 1))
    rows = {r["community"]: r for r in s["rows"]}
    x, y, t = rows["甲社区"], rows["乙社区"], s["total"]
    assert (x["registered"], x["dead"], x["lost"], x["met"], x["met_rate"]) == (5, 1, 1, 1, 0.25)
    assert (x["lost_rate"], x["lost_flag"], x["out_of_control_rate"]) == (0.25, True, 0.25)
    assert (x["risk_high"], x["risk_mid"], x["risk_low"], x["urine_tests"], x["positive"]) == (1, 1, 0, 1, 0)
    assert (y["registered"], y["wrong_or_moved"], y["abstinent3"], y["met_rate"], y["lost_flag"]) == (2, 1, 1, 0.5, False)
    assert (y["hair_tests"], y["positive"], y["risk_low"], y["community_detox"], y["out_of_control_rate"]) == (1, 1, 1, 0, 0.0)
    assert (t["registered"], t["dead"], t["met"], t["met_rate"], t["lost_rate"], t["out_of_control_rate"]) == \
        (7, 1, 2, 0.3333, 0.1667, 0.1667)
    assert s["flagged"] == ["甲社区"]


def test_out_of_control_rate_excludes_five_year_abstinent():
    # 失控率 = 失控 / (在控 + 失控)，不含戒断5年以上及死亡 (DOMAIN §2.1)
    recs = [rec(1, X, [status("2010-01-01", "社区戒毒", "measure", end="2013-01-01")]),   # 戒断5年: out
            rec(2, X, [status("2025-01-01", "失控", "presence")]), rec(3, X, [])]
    assert statistics(recs, AS_OF)["total"]["out_of_control_rate"] == 0.5


def test_eligibility(records):
    soon = eligibility(records, AS_OF, 30)
    assert [(e["archive_no"], e["milestone"], e["date"]) for e in soon] == [("NO-8", "戒断三年未复吸", "2025-05-01")]
    later = eligibility(records, AS_OF, parse_window("300d"))
    assert ("NO-6", "戒断5年", "2026-01-01") in [(e["archive_no"], e["milestone"], e["date"]) for e in later]
    assert parse_window("8w") == 56 and parse_window("1y") == 365
