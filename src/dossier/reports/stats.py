"""附表1 登记在册吸毒人员排查统计表 (DOMAIN §3) per 社区, 失联率 against the 5%
limit (S1), 失控率 (DOMAIN §2.1) and eligibility for 戒断3/5/10年.

Definitions (each a pure function of the records and a date):

- 登记在册: every dossier in scope except those flagged 错录/迁出.
- 服刑 / 看守所羁押 / 失控 / 死亡: 现实状况 (presence axis) on ``as_of``.
- 刑满释放: a 服刑 period that ended on or before ``as_of`` and not 服刑 now.
- 强制戒毒 / 药物治疗 / 社区戒毒 / 社区康复: 措施状态 (measure axis) on ``as_of``.
- 戒断三年: the derived label 戒断三年未复吸 on ``as_of``.
- 已见面: at least one 见面核查 with 见到本人 dated in [since, as_of];
  见面率 = 已见面 / (登记在册 − 死亡).
- 联系不上 (失联): 现实状况 失控; 失联率 = 失联 / (登记在册 − 死亡), flagged above 5%.
- 失控率 (DOMAIN §2.1): 失控 / (在控 + 失控), both counted without 死亡 and
  without persons abstinent 5 years or more (戒断5年); 在控 means 现实状况 在控.
- 高/中/低: level of the latest 风险评估 on or before ``as_of``.
- 尿检/毛发检测 and 阳性: tests dated in [since, as_of].
- 附表5 … 附表14 (``annex05`` … ``annex14``): how many persons of the 社区 each of
  those lists prints — the lists' own selectors (:data:`dossier.rules.lists.SELECTORS`)
  on the labels of ``as_of``, over every dossier in scope (错录/迁出 included: 附表14 lists them).

The form ``dossier form fill 附表1`` takes its numbers from :func:`statistics`,
so the form and ``dossier report stats`` agree for the same scope and date.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..model.dates import add_years, as_date
from ..model.dossier_rules import status_periods
from ..rules.labels import milestone_date
from ..rules.lists import SELECTORS, TAG_SELECTORS
from .population import PersonRecord, by_community, ratio

LOST_LIMIT = 0.05

COLUMNS = [  # key, 附表1 heading
    ("community", "社区（村）"), ("registered", "登记在册"), ("in_prison", "服刑"), ("released", "刑满释放"),
    ("compulsory", "强制戒毒"), ("maintenance", "药物治疗"), ("detained", "看守所羁押"),
    ("abstinent3", "戒断三年"), ("community_detox", "社区戒毒"), ("community_rehab", "社区康复"),
    ("lost", "失控"), ("dead", "死亡"), ("met", "已见面"), ("met_rate", "见面率"),
    ("lost_rate", "失联率"), ("lost_flag", "失联超5%"), ("out_of_control_rate", "失控率"),
    ("risk_high", "高风险"), ("risk_mid", "中风险"), ("risk_low", "低风险"),
    ("urine_tests", "尿检"), ("hair_tests", "毛发检测"), ("positive", "阳性"),
    ("hidden_new", "新发现隐性人员"), ("inflow", "流入"), ("wrong_or_moved", "错录/迁出"),
]
ANNEXES = tuple(range(5, 15))                       # 附表5 … 附表14: per-category lists
COLUMNS += [(f"annex{n:02d}", f"附表{n}") for n in ANNEXES]


def registered(r: PersonRecord) -> bool:
    return not set(r.profile.get("record_flags") or []) & {"错录", "迁出"}


def _released(r: PersonRecord, as_of: date) -> bool:
    if r.presence(as_of) == "服刑":
        return False
    return any(p.status == "服刑" and p.implied_end is not None and p.implied_end <= as_of
               for p in status_periods(r.entries, "presence"))


def as_form_dossier(r: PersonRecord, as_of: date) -> dict:
    """The plain dossier dict the form contexts take (labels derived on ``as_of``)."""
    return {"id": r.id, "archive_no": r.archive_no, "scope": r.scope, "version": r.head,
            "profile": r.profile, "entries": r.entries, "labels": list(r.labels(as_of))}


def annex_counts(group: list[PersonRecord], as_of: date) -> dict:
    """附表5 … 附表14: persons each list would print (the lists' own selectors)."""
    views = [as_form_dossier(r, as_of) for r in group]
    return {f"annex{n:02d}": sum(1 for d in views if SELECTORS[TAG_SELECTORS[f"附表{n}"]](d)) for n in ANNEXES}


def community_row(name: str, group: list[PersonRecord], as_of: date, since: date,
                  lost_limit: float = LOST_LIMIT) -> dict:
    reg = [r for r in group if registered(r)]
    alive = [r for r in reg if not r.dead_on(as_of)]
    pres = {r.id: r.presence(as_of) for r in reg}
    meas = {r.id: r.measure(as_of) for r in alive}
    met = sum(1 for r in alive if any(
        (e.get("person_seen") or e.get("subject") == "本人") and since <= as_date(e["date"]) <= as_of
        for e in r.dated("interview")))
    lost = sum(1 for r in alive if pres[r.id] == "失控")
    control_base = [r for r in alive if "戒断5年" not in r.labels(as_of) and pres[r.id] in ("在控", "失控")]
    tests = [e for r in alive for e in r.dated("test") if since <= as_date(e["date"]) <= as_of]
    levels = [r.risk_level(as_of) for r in alive]
    return {
        "community": name, "registered": len(reg),
        "in_prison": sum(1 for r in reg if pres[r.id] == "服刑"),
        "released": sum(1 for r in alive if _released(r, as_of)),
        "compulsory": sum(1 for r in alive if meas[r.id] == "强制隔离戒毒"),
        "maintenance": sum(1 for r in alive if meas[r.id] == "药物维持治疗"),
        "detained": sum(1 for r in reg if pres[r.id] == "羁押拘留"),
        "abstinent3": sum(1 for r in alive if "戒断三年未复吸" in r.labels(as_of)),
        "community_detox": sum(1 for r in alive if meas[r.id] == "社区戒毒"),
        "community_rehab": sum(1 for r in alive if meas[r.id] == "社区康复"),
        "lost": lost, "dead": len(reg) - len(alive),
        "met": met, "met_rate": ratio(met, len(alive)),
        "lost_rate": ratio(lost, len(alive)),
        "lost_flag": bool(alive and lost / len(alive) > lost_limit),
        "out_of_control_rate": ratio(sum(1 for r in control_base if pres[r.id] == "失控"), len(control_base)),
        "risk_high": levels.count("高"), "risk_mid": levels.count("中"), "risk_low": levels.count("低"),
        "urine_tests": sum(1 for e in tests if e.get("sample") == "尿液"),
        "hair_tests": sum(1 for e in tests if e.get("sample") == "毛发"),
        "positive": sum(1 for e in tests if e.get("result") == "阳性"),
        "hidden_new": sum(1 for r in reg if r.profile.get("source") == "隐性新发现"),
        "inflow": sum(1 for r in alive if "流入" in r.labels(as_of)),
        "wrong_or_moved": len(group) - len(reg),
        **annex_counts(group, as_of),
    }


def statistics(records: list[PersonRecord], as_of: date, since: date | None = None,
               lost_limit: float = LOST_LIMIT) -> dict:
    since = since or date(as_of.year, 1, 1)
    rows = [community_row(name, group, as_of, since, lost_limit) for name, group in by_community(records).items()]
    total = community_row("合计", records, as_of, since, lost_limit)
    return {"as_of": as_of.isoformat(), "since": since.isoformat(), "lost_limit": lost_limit,
            "columns": COLUMNS, "rows": rows, "total": total,
            "flagged": [r["community"] for r in rows if r["lost_flag"]]}


from ..rules.labels import ABSTINENCE_LABELS as MILESTONES  # noqa: E402  (years, label)


def eligibility(records: list[PersonRecord], as_of: date, within_days: int) -> list[dict]:
    """Who reaches 戒断3/5/10年 in (as_of, as_of + within_days], from the label rules."""
    until = as_of + timedelta(days=within_days)
    out = []
    for r in records:
        if r.dead_on(as_of):
            continue
        for years, label in MILESTONES:
            day = milestone_date(r.profile, r.entries, as_of, years)
            if day is None:
                # an anchor may also fall inside the window only if the measure ends by then — not counted
                continue
            if as_of < day <= until:
                out.append({"archive_no": r.archive_no, "name": r.masked_name(), "community": r.community,
                            "milestone": label, "years": years, "date": day.isoformat(),
                            "days_left": (day - as_of).days})
    return sorted(out, key=lambda x: (x["date"], x["archive_no"]))


def parse_window(text: str) -> int:
    """'30d' / '8w' / '3m' / '1y' / '30' → days."""
    from ..errors import InvalidInput

    t = str(text).strip().lower()
    units = {"d": 1, "w": 7, "m": 30, "y": 365, "天": 1, "周": 7, "月": 30, "年": 365}
    try:
        if t and t[-1] in units:
            return int(t[:-1]) * units[t[-1]]
        return int(t)
    except ValueError:
        raise InvalidInput(field="within", reason=f"“{text}”无效，应写成 30d、8w、3m 或 1y") from None


__all__ = ["statistics", "community_row", "annex_counts", "eligibility", "parse_window", "COLUMNS", "add_years"]
