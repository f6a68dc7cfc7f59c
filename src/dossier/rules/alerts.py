"""Alerts (提示): things a clerk must act on, from a dossier and a date (DOMAIN §9 rules 6, 7, 9, 10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dossier.model.dates import as_date
from dossier.model.dossier_rules import death_date, status_periods
from dossier.rules import labels as L

LICENSE_REVOKE = "应注销驾驶证，通报交警"
NOTIFY_DISCIPLINE = "通报纪检监察"
INFLOW_UNDER_3_MONTHS = "流入未满3个月"
INFLOW_DATE_MISSING = "流入人员未填流入日期，无法确认是否居住满3个月"
HIGH_RISK_PLAN = "高风险须落实“一人一策”并报区禁毒办备案"

# 正在执行这些措施时，驾驶证应注销（《机动车驾驶证申领和使用规定》）
LICENSE_BLOCKING_MEASURES = frozenset({"社区戒毒", "强制隔离戒毒", "社区康复"})


@dataclass(frozen=True)
class Alert:
    """One alert: a stable ``code``, the Chinese ``text`` shown to clerks, and ``since``,
    the day the condition arose (None when the data does not say)."""
    code: str
    text: str
    since: date | None = None


# stable codes (the 工作台 agenda uses them as item kinds)
LICENSE_REVOKE_CODE = "license_revoke"
NOTIFY_DISCIPLINE_CODE = "notify_discipline"
INFLOW_UNSETTLED_CODE = "inflow_unsettled"
INFLOW_DATE_MISSING_CODE = "inflow_date_missing"
RELAPSE_CODE = "relapse_reassess"
REVIEW_OVERDUE_CODE = "review_overdue"
HIGH_RISK_PLAN_CODE = "high_risk_no_plan"


def alerts(profile: dict, entries: list[dict], as_of: date) -> list[str]:
    return [a.text for a in alert_items(profile, entries, as_of)]


def alert_items(profile: dict, entries: list[dict], as_of: date) -> list[Alert]:
    profile = profile or {}
    died = death_date(entries)
    if died is not None and died <= as_of:
        return []
    out: list[Alert] = []
    lic = profile.get("driving_license") or {}
    if lic.get("status") == "正常":
        p = _period_on(entries, "measure", as_of)
        if p is not None and p.status in LICENSE_BLOCKING_MEASURES:
            out.append(Alert(LICENSE_REVOKE_CODE, LICENSE_REVOKE, p.start))
    if profile.get("is_public_official") or profile.get("political_status") in ("中共党员", "预备党员"):
        out.append(Alert(NOTIFY_DISCIPLINE_CODE, NOTIFY_DISCIPLINE))
    if L.is_inflow(profile):
        settled = L.inflow_settled_on(profile)
        if settled is None:
            out.append(Alert(INFLOW_DATE_MISSING_CODE, INFLOW_DATE_MISSING))
        elif as_of < settled:
            out.append(Alert(INFLOW_UNSETTLED_CODE, INFLOW_UNDER_3_MONTHS, as_date(profile.get("inflow_date"))))
    out += _relapse(profile, entries, as_of)
    out += _assessment(entries, as_of)
    return out


def _period_on(entries, axis, day):
    """The status period on ``axis`` in force on ``day`` (as :func:`status_on`, with its start)."""
    current = None
    for p in status_periods(entries, axis):
        if p.start <= day and (p.implied_end is None or day < p.implied_end):
            current = p
    return current


def _relapse(profile, entries, as_of):
    a = L.anchor_info(profile, entries, as_of)
    if a is None:
        return []
    found = L.relapses(entries, a.day, as_of)
    if not found:
        return []
    e = found[-1]
    kind = e.get("event_type") or ("检测" + str(e.get("result", "")))
    return [Alert(RELAPSE_CODE, f"发现复吸（{e['date']} {kind}），应立即重新评估", as_date(e["date"]))]


def _assessment(entries, as_of):
    items = sorted((e for e in entries if e.get("type") == "assessment" and as_date(e.get("date")) <= as_of),
                   key=lambda e: e["date"])
    if not items:
        return []
    last = items[-1]
    out = []
    nxt = as_date(last.get("next_review"))
    if nxt is not None and nxt < as_of:
        out.append(Alert(REVIEW_OVERDUE_CODE, f"已过复评日期（{nxt.isoformat()}），应重新评估", nxt))
    level = last.get("final_level") or last.get("proposed_level")
    if level == "高":
        planned = any(e.get("type") == "measure" and e.get("filed_with") == "区禁毒办" and e["date"] >= last["date"]
                      and as_date(e["date"]) <= as_of for e in entries)
        if not planned:
            out.append(Alert(HIGH_RISK_PLAN_CODE, HIGH_RISK_PLAN, as_date(last["date"])))
    return out
