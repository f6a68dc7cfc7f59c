"""Alerts (提示): things a clerk must act on, from a dossier and a date (DOMAIN §9 rules 6, 7, 9, 10)."""

from __future__ import annotations

from datetime import date

from dossier.model.dates import as_date
from dossier.model.dossier_rules import death_date, status_on
from dossier.rules import labels as L

LICENSE_REVOKE = "应注销驾驶证，通报交警"
NOTIFY_DISCIPLINE = "通报纪检监察"
INFLOW_UNDER_3_MONTHS = "流入未满3个月"
INFLOW_DATE_MISSING = "流入人员未填流入日期，无法确认是否居住满3个月"
HIGH_RISK_PLAN = "高风险须落实“一人一策”并报区禁毒办备案"

# 正在执行这些措施时，驾驶证应注销（《机动车驾驶证申领和使用规定》）
LICENSE_BLOCKING_MEASURES = frozenset({"社区戒毒", "强制隔离戒毒", "社区康复"})


def alerts(profile: dict, entries: list[dict], as_of: date) -> list[str]:
    profile = profile or {}
    died = death_date(entries)
    if died is not None and died <= as_of:
        return []
    out: list[str] = []
    lic = profile.get("driving_license") or {}
    if lic.get("status") == "正常" and status_on(entries, "measure", as_of) in LICENSE_BLOCKING_MEASURES:
        out.append(LICENSE_REVOKE)
    if profile.get("is_public_official") or profile.get("political_status") in ("中共党员", "预备党员"):
        out.append(NOTIFY_DISCIPLINE)
    if L.is_inflow(profile):
        settled = L.inflow_settled_on(profile)
        if settled is None:
            out.append(INFLOW_DATE_MISSING)
        elif as_of < settled:
            out.append(INFLOW_UNDER_3_MONTHS)
    out += _relapse(profile, entries, as_of)
    out += _assessment(entries, as_of)
    return out


def _relapse(profile, entries, as_of):
    a = L.anchor_info(profile, entries, as_of)
    if a is None:
        return []
    found = L.relapses(entries, a.day, as_of)
    if not found:
        return []
    e = found[-1]
    kind = e.get("event_type") or ("检测" + str(e.get("result", "")))
    return [f"发现复吸（{e['date']} {kind}），应立即重新评估"]


def _assessment(entries, as_of):
    items = sorted((e for e in entries if e.get("type") == "assessment" and as_date(e.get("date")) <= as_of),
                   key=lambda e: e["date"])
    if not items:
        return []
    last = items[-1]
    out = []
    nxt = as_date(last.get("next_review"))
    if nxt is not None and nxt < as_of:
        out.append(f"已过复评日期（{nxt.isoformat()}），应重新评估")
    level = last.get("final_level") or last.get("proposed_level")
    if level == "高":
        planned = any(e.get("type") == "measure" and e.get("filed_with") == "区禁毒办" and e["date"] >= last["date"]
                      and as_date(e["date"]) <= as_of for e in entries)
        if not planned:
            out.append(HIGH_RISK_PLAN)
    return out
