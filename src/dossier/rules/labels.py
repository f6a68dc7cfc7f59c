"""Derived labels (派生标签): computed from a dossier and a date, never typed in.

戒断三年未复吸 / 戒断5年 / 戒断10年 (DOMAIN §2.2, S0's four cases): the anchor
(起算日) depends on how the person came under control; the labels hold when no
relapse (复吸) is recorded after the anchor and the anchor is at least N years
back. A later measure gives a new anchor. All cases and thresholds are tables a
local 禁毒办 can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dossier.model.dates import add_months, add_years, as_date
from dossier.model.dossier_rules import death_date, entry_days, rules_memo, status_on, status_periods

# 措施 → which end of its period is the 起算日 ("start": 自执行之日; "end": 出所/结束之日)
MEASURE_ANCHORS: dict[str, str] = {
    "社区戒毒": "start",
    "社区康复": "start",
    "强制隔离戒毒": "end",
    "自愿戒毒": "end",
}
# 吸毒未成瘾人员: from the 查获 that put them under control (纳入动态管控之日)
UNADDICTED_VALUES = frozenset({"未成瘾"})
UNADDICTED_CASE = "吸毒未成瘾"
# what counts as 复吸 after the anchor
RELAPSE_EVENT_TYPES = frozenset({"查获", "检测阳性", "自述", "举报核实"})
RELAPSE_TEST_RESULTS = frozenset({"阳性"})
# (years, label): every threshold reached is a label
ABSTINENCE_LABELS: tuple[tuple[int, str], ...] = ((3, "戒断三年未复吸"), (5, "戒断5年"), (10, "戒断10年"))
INFLOW_MONTHS = 3   # 流入: 在本地居住满3个月 (S1)


@dataclass(frozen=True)
class Anchor:
    case: str          # 情形: 吸毒未成瘾 / 社区戒毒 / 社区康复 / 强制隔离戒毒 / 自愿戒毒
    trigger: date      # when that case began (查获 date or measure start)
    day: date | None   # 起算日; None while the measure is still running


def latest_trigger(profile: dict, entries: list[dict], as_of: date) -> Anchor | None:
    """The most recent case (by its start) on or before ``as_of``."""
    cands: list[tuple[date, int, Anchor]] = []
    for p in status_periods(entries, "measure"):
        rule = MEASURE_ANCHORS.get(p.status)
        if rule is None or p.start > as_of:
            continue
        day = p.start if rule == "start" else p.implied_end
        cands.append((p.start, 1, Anchor(p.status, p.start, day)))
    if (profile or {}).get("addiction") in UNADDICTED_VALUES:
        seized = [as_date(profile.get("first_seized_date"))]
        seized += [as_date(e.get("date")) for e in entries
                   if e.get("type") == "drug_event" and e.get("event_type") == "查获"]
        seized = [d for d in seized if d is not None and d <= as_of]
        if seized:
            first = min(seized)
            cands.append((first, 0, Anchor(UNADDICTED_CASE, first, first)))
    if not cands:
        return None
    return max(cands, key=lambda c: (c[0], c[1]))[2]


def anchor_info(profile: dict, entries: list[dict], as_of: date) -> Anchor | None:
    """The anchor in force on ``as_of`` (None if none, or its measure has not ended yet)."""
    memo = rules_memo(entries)
    if memo is not None:
        key = ("anchor", id(profile), as_of)     # the profile is alive while its entries are asked about
        if key not in memo:
            memo[key] = _anchor_info(profile, entries, as_of)
        return memo[key]
    return _anchor_info(profile, entries, as_of)


def _anchor_info(profile: dict, entries: list[dict], as_of: date) -> Anchor | None:
    a = latest_trigger(profile, entries, as_of)
    if a is None or a.day is None or a.day > as_of:
        return None
    return a


def anchor_date(profile: dict, entries: list[dict], as_of: date) -> date | None:
    a = anchor_info(profile, entries, as_of)
    return a.day if a else None


def relapses(entries: list[dict], after: date, as_of: date) -> list[dict]:
    """Relapse entries dated in (after, as_of] (a shared list inside ``periods_memo``: read only)."""
    memo = rules_memo(entries)
    if memo is not None:
        key = ("relapses", after, as_of)
        if key not in memo:
            memo[key] = _relapses(entries, after, as_of)
        return memo[key]
    return _relapses(entries, after, as_of)


def _relapses(entries: list[dict], after: date, as_of: date) -> list[dict]:
    out = []
    for d, e in zip(entry_days(entries), entries):
        if d is None or not (after < d <= as_of):
            continue
        if (e.get("type") == "drug_event" and e.get("event_type") in RELAPSE_EVENT_TYPES) or \
           (e.get("type") == "test" and e.get("result") in RELAPSE_TEST_RESULTS):
            out.append(e)
    return sorted(out, key=lambda e: e["date"])


def abstinence_labels(profile: dict, entries: list[dict], as_of: date) -> list[str]:
    died = death_date(entries)
    if died is not None and died <= as_of:
        return []
    a = anchor_info(profile, entries, as_of)
    if a is None or relapses(entries, a.day, as_of):
        return []
    return [label for years, label in ABSTINENCE_LABELS if as_of >= add_years(a.day, years)]


def milestone_date(profile: dict, entries: list[dict], as_of: date, years: int) -> date | None:
    """The day the person reaches ``years`` of abstinence from the current anchor (for reports)."""
    a = anchor_info(profile, entries, as_of)
    if a is None or relapses(entries, a.day, as_of):
        return None
    return add_years(a.day, years)


def is_inflow(profile: dict) -> bool:
    """户籍 elsewhere: the is_inflow flag, or else different county codes of 户籍 and 居住地."""
    flag = profile.get("is_inflow")
    if flag is not None:
        return bool(flag)
    h, r = profile.get("hukou_div"), profile.get("residence_div")
    return bool(h and r and str(h)[:6] != str(r)[:6])


def inflow_settled_on(profile: dict) -> date | None:
    """The day an inflow person has lived here 3 months (None if not inflow or no inflow date)."""
    d = as_date(profile.get("inflow_date"))
    if not is_inflow(profile) or d is None:
        return None
    return add_months(d, INFLOW_MONTHS)


def _inflow(profile, entries, as_of):
    settled = inflow_settled_on(profile)
    return settled is not None and as_of >= settled


def _presence(status):
    return lambda profile, entries, as_of: status_on(entries, "presence", as_of) == status


# label → predicate(profile, entries, as_of); order is the display order
CATEGORY_LABELS = (
    ("吸毒未成瘾", lambda p, e, d: p.get("addiction") in UNADDICTED_VALUES),
    ("成瘾严重", lambda p, e, d: p.get("addiction") == "成瘾严重"),
    ("流入", _inflow),
    ("失控", _presence("失控")),
    ("死亡", lambda p, e, d: (death_date(e) or date.max) <= d),
    ("病残", lambda p, e, d: bool(p.get("special_diseases"))),
    ("涉毒犯罪前科", lambda p, e, d: bool(p.get("has_drug_crime_record"))),
    ("持有驾驶证", lambda p, e, d: (p.get("driving_license") or {}).get("status") == "正常"),
    ("公职人员", lambda p, e, d: bool(p.get("is_public_official"))),
    ("党员", lambda p, e, d: p.get("political_status") in ("中共党员", "预备党员")),
    ("直系亲属特殊困难", lambda p, e, d: bool(p.get("family_hardship"))),
)


def derive_labels(profile: dict, entries: list[dict], as_of: date) -> list[str]:
    profile = profile or {}
    labels = abstinence_labels(profile, entries, as_of)
    labels += [name for name, pred in CATEGORY_LABELS if pred(profile, entries, as_of)]
    return labels
