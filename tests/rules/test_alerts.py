from datetime import date

import pytest

from dossier.model.entries import normalize_entry
from dossier.rules.alerts import (HIGH_RISK_PLAN, INFLOW_DATE_MISSING, INFLOW_UNDER_3_MONTHS, LICENSE_REVOKE,
                                  NOTIFY_DISCIPLINE, alerts)

TODAY = date(2030, 1, 1)
LICENSED = {"driving_license": {"class": "C1", "status": "正常"}}


def st(status, start, end=None):
    return normalize_entry("status", {"status": status, "start": start, **({"end": end} if end else {})}, today=TODAY)


def e(type_name, **data):
    return normalize_entry(type_name, data, today=TODAY)


@pytest.mark.parametrize("profile, entries, as_of, expected, absent", [
    (LICENSED, [st("社区戒毒", "2020-01-01")], "2021-01-01", LICENSE_REVOKE, None),
    (LICENSED, [st("强制隔离戒毒", "2020-01-01")], "2021-01-01", LICENSE_REVOKE, None),
    (LICENSED, [st("社区康复", "2020-01-01", "2023-01-01")], "2022-12-31", LICENSE_REVOKE, None),
    (LICENSED, [st("社区康复", "2020-01-01", "2023-01-01")], "2023-01-01", None, LICENSE_REVOKE),
    (LICENSED, [st("自愿戒毒", "2020-01-01")], "2021-01-01", None, LICENSE_REVOKE),
    ({"driving_license": {"status": "已注销"}}, [st("社区戒毒", "2020-01-01")], "2021-01-01", None, LICENSE_REVOKE),
    ({"is_public_official": True}, [], "2021-01-01", NOTIFY_DISCIPLINE, None),
    ({"political_status": "中共党员"}, [], "2021-01-01", NOTIFY_DISCIPLINE, None),
    ({"political_status": "群众"}, [], "2021-01-01", None, NOTIFY_DISCIPLINE),
    ({"is_inflow": True, "inflow_date": "2024-01-15"}, [], "2024-04-14", INFLOW_UNDER_3_MONTHS, None),
    ({"is_inflow": True, "inflow_date": "2024-01-15"}, [], "2024-04-15", None, INFLOW_UNDER_3_MONTHS),
    ({"is_inflow": True}, [], "2024-04-15", INFLOW_DATE_MISSING, None),
    ({}, [e("assessment", date="2024-01-01", proposed_level="高")], "2024-02-01", HIGH_RISK_PLAN, None),
    ({}, [e("assessment", date="2024-01-01", proposed_level="高"),
          e("measure", date="2024-01-05", level="高", filed_with="区禁毒办")], "2024-02-01", None, HIGH_RISK_PLAN),
    ({**LICENSED, "is_public_official": True}, [st("社区戒毒", "2020-01-01"), st("死亡", "2020-06-01")],
     "2021-01-01", None, LICENSE_REVOKE),
])
def test_alerts(profile, entries, as_of, expected, absent):
    got = alerts(profile, entries, date.fromisoformat(as_of))
    if expected:
        assert expected in got
    if absent:
        assert absent not in got


def test_relapse_after_anchor_asks_for_reassessment():
    entries = [st("社区戒毒", "2020-01-01"), e("test", date="2021-03-01", result="阳性")]
    got = alerts({}, entries, date(2021, 4, 1))
    assert any("复吸" in a and "2021-03-01" in a for a in got)
    assert not any("复吸" in a for a in alerts({}, entries, date(2021, 2, 1)))


def test_overdue_review():
    entries = [e("assessment", date="2024-01-01", proposed_level="低", next_review="2024-07-01")]
    assert any("复评" in a for a in alerts({}, entries, date(2024, 7, 2)))
    assert not any("复评" in a for a in alerts({}, entries, date(2024, 7, 1)))


def test_dead_person_has_no_alerts():
    assert alerts({"is_public_official": True}, [st("死亡", "2020-01-01")], date(2021, 1, 1)) == []
