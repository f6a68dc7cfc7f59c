"""The 工作台 agenda (待办): what a dossier asks of its clerk by a date.

Pure functions of a dossier (profile, entries) and a date; the archive walk,
campaigns and approvals are in :mod:`dossier.reports.agenda`. Every item has a
stable ``kind`` code (:data:`KINDS`), a ``due`` date and a Chinese ``reason``.

- 见面 (``visit_due``): last 见面 with the person seen + the 一人一策's
  ``visit_freq_days``, else a default by risk level (高 30, 中 90, 低 180 days;
  ``[agenda.visit_days]`` in archive.toml).
- 检测 (``test_due``): last test taken (阴性/阳性) + the interval of the
  社区戒毒/社区康复 schedule (DOMAIN §1.4) for the year of the measure the last
  test falls in, or the plan's ``test_freq_days``; the earlier of the two.
- 复评 (``review_due``): the latest assessment's ``next_review``.
- 报到 (``report_missing``): no 报到 recorded for a 社区戒毒/社区康复 in force;
  due 15 days after its start (the decision).
- the alerts of :mod:`dossier.rules.alerts` that ask for an action.
- 戒断三年/5年/10年 (``abstinence_milestone``) reached within the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping

from dossier.model.dates import add_months, add_years, as_date
from dossier.model.dossier_rules import death_date, entry_days, status_periods
from dossier.rules.alerts import (HIGH_RISK_PLAN_CODE, INFLOW_DATE_MISSING_CODE, INFLOW_UNSETTLED_CODE,
                                  LICENSE_REVOKE_CODE, RELAPSE_CODE)
from dossier.rules.alerts import alert_items as dossier_alerts
from dossier.rules import labels as L

#: kind code → short Chinese label (stable codes: the web page and scripts rely on them)
KINDS: dict[str, str] = {
    "visit_due": "见面",
    "test_due": "检测",
    "review_due": "复评",
    "report_missing": "报到",
    LICENSE_REVOKE_CODE: "驾驶证注销",
    RELAPSE_CODE: "复吸重新评估",
    HIGH_RISK_PLAN_CODE: "高风险无一人一策",
    INFLOW_UNSETTLED_CODE: "流入未满3个月",
    INFLOW_DATE_MISSING_CODE: "流入日期缺失",
    "abstinence_milestone": "戒断期满",
    "campaign_action": "专项行动",
    "approval_sign": "待我签批",
    "approval_meeting": "待会商",
    "approval_returned": "审批表退回",
}
#: alerts that are agenda items (their ``since`` is the due day). Left out: 通报纪检监察
#: (nothing in a dossier records that it was done, so it would stay forever) and 已过复评日期
#: (``review_due`` is the same thing, with its date)
ALERT_KINDS = (LICENSE_REVOKE_CODE, RELAPSE_CODE, HIGH_RISK_PLAN_CODE, INFLOW_UNSETTLED_CODE,
               INFLOW_DATE_MISSING_CODE)

DEFAULT_VISIT_DAYS: dict[str, int] = {"高": 30, "中": 90, "低": 180}
UNASSESSED_VISIT_DAYS = 90          # no assessment yet: as 中
REPORT_DAYS = 15                    # 须 15 日内报到 (DOMAIN §1.4)
# 检测 schedule (DOMAIN §1.4): months between tests in year 1, 2, 3 of the measure
# 社区戒毒 12/6/4 tests a year; 社区康复 (3 years) 6/4/2; 社区康复 decided for 2 years: every 2 months
TEST_SCHEDULES: dict[str, tuple[int, ...]] = {"社区戒毒": (1, 2, 3), "社区康复": (2, 3, 6)}
SHORT_REHAB_SCHEDULE = (2, 2)
TESTS_TAKEN = frozenset({"阴性", "阳性"})           # 无效, 拒检, 逃检: no sample was analysed
REPORTING_MEASURES = frozenset({"社区戒毒", "社区康复"})
REPORT_AGREEMENTS = {"社区戒毒": "社区戒毒协议", "社区康复": "社区康复协议"}
# nobody to meet or test in the community
AWAY_PRESENCE = frozenset({"羁押拘留", "服刑", "出国境", "死亡"})
AWAY_MEASURES = frozenset({"强制隔离戒毒"})
CLOSED_FLAGS = frozenset({"错录", "迁出"})
MILESTONE_YEARS = tuple(y for y, _ in L.ABSTINENCE_LABELS)


@dataclass(frozen=True)
class AgendaConfig:
    visit_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_VISIT_DAYS))
    unassessed_visit_days: int = UNASSESSED_VISIT_DAYS
    report_days: int = REPORT_DAYS
    campaign_grace_days: int = 30     # a campaign's overdue actions stay on the agenda this long after its end

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "AgendaConfig":
        """``[agenda]`` of archive.toml: ``visit_days = {高 = 30, 中 = 90, 低 = 180}`` (or high/medium/low),
        ``unassessed_visit_days``, ``report_days``, ``campaign_grace_days``."""
        from dossier.errors import InvalidInput

        cfg = dict(cfg or {})
        names = {"高": "高", "high": "高", "中": "中", "medium": "中", "低": "低", "low": "低"}
        visit = dict(DEFAULT_VISIT_DAYS)
        for k, v in dict(cfg.pop("visit_days", {}) or {}).items():
            if str(k).strip().lower() not in names:
                raise InvalidInput(field="agenda.visit_days", reason=f"“{k}”不是风险等级（应为 高、中、低）")
            visit[names[str(k).strip().lower()]] = _days(v, f"agenda.visit_days.{k}")
        out = {}
        for k in ("unassessed_visit_days", "report_days", "campaign_grace_days"):
            if k in cfg:
                out[k] = _days(cfg.pop(k), f"agenda.{k}")
        if cfg:
            raise InvalidInput(field="agenda", reason=f"archive.toml [agenda] 中有未知设置：{'、'.join(map(str, cfg))}")
        return cls(visit_days=visit, **out)


def _days(v, name: str) -> int:
    from dossier.errors import InvalidInput

    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InvalidInput(field=name, reason="应为非负整数（天数）")
    return v


@dataclass(frozen=True)
class Item:
    kind: str
    due: date
    reason: str
    extra: Mapping = field(default_factory=dict)   # kind-specific (years, campaign, approval …)

    def overdue(self, as_of: date) -> bool:
        return self.due < as_of


class Facts:
    """What the rules read from one dossier, computed once (entries sorted, periods, plan)."""

    def __init__(self, profile: dict, entries: list[dict], as_of: date):
        self.profile = profile or {}
        self.entries = entries
        self.as_of = as_of
        self.dated = sorted(((d, e) for d, e in zip(entry_days(entries), entries) if d is not None and d <= as_of),
                            key=lambda x: x[0])
        self.periods = status_periods(entries)
        self.measure = _on(self.periods, "measure", as_of)
        self.presence = _on(self.periods, "presence", as_of)

    def last(self, type_name: str, pred=lambda e: True):
        for d, e in reversed(self.dated):
            if e.get("type") == type_name and pred(e):
                return d, e
        return None, None

    def plan(self) -> dict | None:
        """The 一人一策 in force: the latest measure entry started on or before the day, not ended."""
        for d, e in reversed(self.dated):
            if e.get("type") == "measure":
                end = as_date(e.get("end"))
                return e if end is None or end >= self.as_of else None
        return None

    def risk_level(self) -> str | None:
        for _, e in reversed(self.dated):
            if e.get("type") == "assessment":
                lvl = e.get("final_level") or e.get("proposed_level") or e.get("suggested_level")
                if lvl:
                    return lvl
        return None

    def away(self) -> bool:
        pres = self.presence.status if self.presence else None
        meas = self.measure.status if self.measure else None
        return pres in AWAY_PRESENCE or meas in AWAY_MEASURES


def _on(periods, axis: str, day: date):
    current = None
    for p in periods:
        if p.axis == axis and p.start <= day and (p.implied_end is None or day < p.implied_end):
            current = p
    return current


def person_items(profile: dict, entries: list[dict], as_of: date, within_days: int = 14,
                 config: AgendaConfig | None = None) -> list[Item]:
    """The dossier's agenda items due on or before ``as_of + within_days`` (overdue ones
    included, however old), sorted by due date. Alerts are listed whenever they hold on
    ``as_of``; milestones only when they fall in [as_of, as_of + within_days]."""
    config = config or AgendaConfig()
    profile = profile or {}
    died = death_date(entries)
    if (died is not None and died <= as_of) or set(profile.get("record_flags") or ()) & CLOSED_FLAGS:
        return []
    f = Facts(profile, entries, as_of)
    horizon = as_of + timedelta(days=within_days)
    out: list[Item] = []
    for item in (visit_item(f, config), test_item(f), review_item(f), report_item(f, config)):
        if item is not None and item.due <= horizon:
            out.append(item)
    out += alert_items(profile, entries, as_of)
    out += milestone_items(profile, entries, as_of, horizon)
    return sorted(out, key=lambda i: (i.due, i.kind))


def visit_item(f: Facts, config: AgendaConfig) -> Item | None:
    if f.away():
        return None
    plan = f.plan()
    if plan and plan.get("visit_freq_days"):
        days, basis = int(plan["visit_freq_days"]), "一人一策"
    else:
        level = f.risk_level()
        if level in config.visit_days:
            days, basis = int(config.visit_days[level]), f"{level}风险默认"
        else:
            days, basis = config.unassessed_visit_days, "未评估，默认"
    last, _ = f.last("interview", lambda e: e.get("person_seen") is True)
    lost = " （现为失控，须查找下落）" if f.presence and f.presence.status == "失控" else ""
    if last is None:
        return Item("visit_due", f.as_of, f"尚无见到本人的见面记录（{basis}每 {days} 天见面一次）{lost}",
                    {"interval_days": days})
    due = last + timedelta(days=days)
    return Item("visit_due", due, f"上次见到本人 {last.isoformat()}，{basis}每 {days} 天见面一次{lost}",
                {"last": last.isoformat(), "interval_days": days})


def test_item(f: Facts) -> Item | None:
    if f.away() or (f.presence and f.presence.status == "失控"):
        return None
    cands: list[tuple[date, str]] = []
    last, _ = f.last("test", lambda e: e.get("result") in TESTS_TAKEN)
    p = f.measure
    if p is not None and p.status in TEST_SCHEDULES:
        start = _report_day(f, p) or p.start
        base = last if last is not None and last >= p.start else start
        sched = _schedule(p)
        year = _years_between(start, base)
        months = sched[min(year, len(sched) - 1)]
        every = "每月" if months == 1 else f"每 {months} 个月"
        cands.append((add_months(base, months),
                      f"{p.status}第{'一二三四'[min(year, 3)]}年{every}检测一次"))
    plan = f.plan()
    if plan and plan.get("test_freq_days"):
        days = int(plan["test_freq_days"])
        pstart = as_date(plan.get("start") or plan.get("date"))
        base = last if last is not None else pstart
        cands.append((base + timedelta(days=days), f"一人一策每 {days} 天检测一次"))
    if not cands:
        return None
    due, rule = min(cands, key=lambda c: c[0])
    since = f"上次检测 {last.isoformat()}" if last is not None else "尚无检测记录"
    return Item("test_due", due, f"{since}，{rule}", {"last": last.isoformat() if last else None})


def _schedule(p) -> tuple[int, ...]:
    """社区康复 with a recorded end at most 2 years after its start was decided for 2 years."""
    if p.status == "社区康复" and p.end is not None and p.end <= add_years(p.start, 2):
        return SHORT_REHAB_SCHEDULE
    return TEST_SCHEDULES[p.status]


def _years_between(a: date, b: date) -> int:
    """Whole years from ``a`` to ``b`` (0 in the first year)."""
    n = 0
    while add_years(a, n + 1) <= b:
        n += 1
    return n


def review_item(f: Facts) -> Item | None:
    _, last = f.last("assessment")
    if last is None:
        return None
    nxt = as_date(last.get("next_review"))
    if nxt is None:
        return None
    return Item("review_due", nxt, f"{last['date']} 风险评估定的复评日期 {nxt.isoformat()}")


def _report_day(f: Facts, p) -> date | None:
    """The 报到 of measure period ``p``: its ``report_date``, else the matching agreement signed since it began."""
    d = as_date(p.entry.get("report_date"))
    if d is not None:
        return d
    kind = REPORT_AGREEMENTS.get(p.status)
    for day, e in f.dated:
        if e.get("type") == "agreement" and e.get("agreement_type") == kind and day >= p.start:
            return day
    return None


def report_item(f: Facts, config: AgendaConfig) -> Item | None:
    p = f.measure
    if p is None or p.status not in REPORTING_MEASURES or f.away() or _report_day(f, p) is not None:
        return None
    due = p.start + timedelta(days=config.report_days)
    return Item("report_missing", due,
                f"{p.start.isoformat()} 起{p.status}，须 {config.report_days} 日内报到，尚无报到记录"
                f"（在状态记录中填“报到日期”，或登记{REPORT_AGREEMENTS[p.status]}）")


def alert_items(profile: dict, entries: list[dict], as_of: date) -> list[Item]:
    """Alerts in force on ``as_of``, listed whatever the window: due the day the condition
    arose (the measure's start, the relapse, the assessment), except 流入未满3个月, due the
    day the person will have lived here 3 months, and an alert without a date (as_of)."""
    out = []
    for a in dossier_alerts(profile, entries, as_of):
        if a.code == INFLOW_UNSETTLED_CODE:
            out.append(Item(a.code, L.inflow_settled_on(profile), a.text + "，满3个月后核实居住情况"))
        elif a.code in ALERT_KINDS:
            out.append(Item(a.code, a.since or as_of, a.text))
    return out


def milestone_items(profile: dict, entries: list[dict], as_of: date, horizon: date) -> list[Item]:
    a = L.anchor_info(profile, entries, as_of)
    if a is None or L.relapses(entries, a.day, as_of):
        return []
    out = []
    for years, label in L.ABSTINENCE_LABELS:
        day = add_years(a.day, years)
        if as_of <= day <= horizon:
            out.append(Item("abstinence_milestone", day,
                            f"将于 {day.isoformat()} 满“{label}”（{a.case}，起算日 {a.day.isoformat()}）",
                            {"years": years, "label": label}))
    return out
