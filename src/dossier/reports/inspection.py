"""Inspection checks (督查核查): rules that point at fabricated or neglected files
(“闭门造车”编造核查信息、弄虚作假、数据不实 — S0/S1).

Each rule has a stable code, a severity and a threshold row in
:data:`DEFAULT_THRESHOLDS`; a local 禁毒办 overrides any of them with a
YAML/JSON table (``inspect --thresholds file``). A finding carries ``rule``,
``severity``, ``archive_no`` (or ``refs`` when it spans several persons, or
``scope`` for a 社区), a Chinese ``message`` and ``evidence`` — dates, counts,
user names of the staff accounts and similarity scores; never a note's text,
an ID number or an address. Names are masked (张*三).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping

from ..errors import InvalidInput
from ..model.dates import as_date
from .population import PersonRecord, by_community, ratio

SEVERITIES = ("高", "中", "低")

# code → settings; "severity" and "enabled" are common to all rules
DEFAULT_THRESHOLDS: dict[str, dict] = {
    "DUP_NOTES": {"title": "不同人员的谈话记录雷同", "severity": "高", "enabled": True,
                  "similarity": 0.8, "min_chars": 40, "shingle": 3},
    "BURST_RECORDED": {"title": "同一用户短时间内录入大量谈话记录", "severity": "中", "enabled": True,
                       "count": 15, "minutes": 30},
    "BURST_SAME_DAY": {"title": "同一用户同一天见面人数不合常理", "severity": "中", "enabled": True,
                       "count": 20},
    "BACKDATED": {"title": "记录日期远早于录入时间（补录/倒签）", "severity": "中", "enabled": True,
                  "days": 30, "types": ["interview", "test", "assessment"], "window_days": 365},
    "AFTER_DEATH": {"title": "死亡后仍有见面、检测或评估记录", "severity": "高", "enabled": True,
                    "types": ["interview", "test", "assessment", "measure", "assistance"]},
    "CAMPAIGN_INTERVIEWS": {"title": "见面谈话次数少于专项行动要求", "severity": "中", "enabled": True},
    "CAMPAIGN_TESTS": {"title": "未按专项行动要求检测", "severity": "中", "enabled": True},
    "CAMPAIGN_ASSESSMENT": {"title": "未按专项行动要求风险评估", "severity": "低", "enabled": True},
    "MISSING_TEST": {"title": "社区戒毒/康复人员未按频次检测", "severity": "中", "enabled": True,
                     # days allowed between tests per year of the measure (DOMAIN §1.4: 12/6/4 a year)
                     "interval_days": {"社区戒毒": [30, 60, 90], "社区康复": [60, 90, 180]},
                     "grace_days": 15},
    "HIGH_NO_PLAN": {"title": "高风险人员无“一人一策”", "severity": "高", "enabled": True, "grace_days": 15},
    "STALE": {"title": "超过复核周期未见面、检测或评估", "severity": "低", "enabled": True,
              "review_days": {"高": 30, "中": 90, "低": 180, "未评估": 180}, "grace_days": 15,
              "exempt_presence": ["死亡", "服刑", "羁押拘留", "出国境"]},
    "LOST_RATIO": {"title": "社区失联比例超过5%", "severity": "中", "enabled": True, "limit": 0.05},
}


def thresholds(overrides: Mapping | None = None) -> dict[str, dict]:
    """The default table with a local override merged in (unknown codes/keys refused)."""
    t = copy.deepcopy(DEFAULT_THRESHOLDS)
    for code, values in (overrides or {}).items():
        if code not in t:
            raise InvalidInput(field=f"thresholds.{code}", reason=f"未知规则；可选：{'、'.join(t)}")
        if not isinstance(values, Mapping):
            raise InvalidInput(field=f"thresholds.{code}", reason="应为键值对象")
        for k, v in values.items():
            if k not in t[code]:
                raise InvalidInput(field=f"thresholds.{code}.{k}", reason=f"未知参数；可选：{'、'.join(t[code])}")
            if k == "severity" and v not in SEVERITIES:
                raise InvalidInput(field=f"thresholds.{code}.severity", reason="应为 高、中 或 低")
            t[code][k] = v
    return t


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    evidence: dict
    archive_no: str | None = None
    refs: list[str] | None = None
    scope: str | None = None
    name: str | None = None   # masked

    def to_dict(self) -> dict:
        d = {"rule": self.rule, "severity": self.severity}
        if self.archive_no:
            d["archive_no"] = self.archive_no
        if self.refs:
            d["refs"] = self.refs
        if self.scope:
            d["scope"] = self.scope
        if self.name:
            d["name"] = self.name
        d["message"] = self.message
        d["evidence"] = self.evidence
        return d


def _ts(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def _imported(e: dict) -> bool:
    """Bulk-imported historical records are not typed in by hand; skip the timing rules."""
    return bool(e.get("imported") or e.get("import_batch"))


# -- rules ----------------------------------------------------------------------

def rule_dup_notes(records: list[PersonRecord], t: dict, as_of: date) -> Iterable[Finding]:
    from .neardup import near_duplicate_groups, normalize

    texts, owners = [], []
    for r in records:
        for e in r.dated("interview"):
            text = "".join(str(e.get(k) or "") for k in ("content", "findings"))
            if len(normalize(text)) >= t["min_chars"]:
                texts.append(text)
                owners.append((r, e))
    for members, sim in near_duplicate_groups(texts, threshold=float(t["similarity"]), k=int(t["shingle"])):
        persons = {owners[i][0].archive_no for i in members}
        if len(persons) < 2:
            continue
        entries = [{"archive_no": owners[i][0].archive_no, "name": owners[i][0].masked_name(),
                    "date": owners[i][1].get("date"), "author": owners[i][1].get("author")} for i in members]
        entries.sort(key=lambda x: (x["date"] or "", x["archive_no"]))
        yield Finding("DUP_NOTES", t["severity"],
                      f"{len(persons)} 人的 {len(members)} 份谈话记录内容雷同（相似度 ≥ {sim:.2f}）",
                      {"similarity": sim, "copies": len(members), "entries": entries,
                       "authors": sorted({x["author"] or "" for x in entries})},
                      refs=sorted(persons))


def rule_burst_recorded(records, t, as_of):
    per_author: dict[str, list] = defaultdict(list)
    for r in records:
        for e in r.dated("interview"):
            ts = _ts(e.get("recorded_at"))
            if ts is not None and e.get("author") and not _imported(e):
                per_author[e["author"]].append((ts, r.archive_no))
    n, window = int(t["count"]), timedelta(minutes=float(t["minutes"]))
    for author, items in sorted(per_author.items()):
        items.sort()
        i = 0
        j = 0
        while j < len(items):
            while items[j][0] - items[i][0] > window:
                i += 1
            if j - i + 1 >= n:
                # extend to the whole burst, report once
                k = j
                while k + 1 < len(items) and items[k + 1][0] - items[i][0] <= window:
                    k += 1
                burst = items[i:k + 1]
                yield Finding("BURST_RECORDED", t["severity"],
                              f"用户“{author}”在 {(burst[-1][0] - burst[0][0]).seconds // 60} 分钟内录入了 "
                              f"{len(burst)} 份见面谈话记录",
                              {"author": author, "count": len(burst), "first": burst[0][0].isoformat(),
                               "last": burst[-1][0].isoformat(), "window_minutes": t["minutes"]},
                              refs=sorted({a for _, a in burst}))
                i = j = k + 1
                continue
            j += 1


def rule_burst_same_day(records, t, as_of):
    per: dict[tuple, set] = defaultdict(set)
    for r in records:
        for e in r.dated("interview"):
            if e.get("author") and e.get("method") not in ("电话",) and not _imported(e):
                per[(e["author"], e["date"])].add(r.archive_no)
    for (author, day), persons in sorted(per.items()):
        if len(persons) >= int(t["count"]):
            yield Finding("BURST_SAME_DAY", t["severity"],
                          f"用户“{author}”录入的 {day} 当天见面记录涉及 {len(persons)} 人",
                          {"author": author, "date": day, "persons": len(persons)}, refs=sorted(persons))


def rule_backdated(records, t, as_of):
    limit = int(t["days"])
    lo = as_of - timedelta(days=int(t["window_days"]))
    for r in records:
        for e in r.dated(*t["types"]):
            d, ts = as_date(e["date"]), _ts(e.get("recorded_at"))
            if ts is None or _imported(e) or d < lo or d > as_of:
                continue
            lag = (ts.date() - d).days
            if lag > limit:
                yield Finding("BACKDATED", t["severity"],
                              f"{e['date']} 的{_label(e)}直到 {ts.date()} 才录入（晚 {lag} 天）",
                              {"type": e["type"], "date": e["date"], "recorded_at": e.get("recorded_at"),
                               "lag_days": lag, "author": e.get("author")},
                              archive_no=r.archive_no, name=r.masked_name())


def rule_after_death(records, t, as_of):
    for r in records:
        died = r.death()
        if died is None:
            continue
        late = [e for e in r.dated(*t["types"]) if as_date(e["date"]) > died]
        if late:
            yield Finding("AFTER_DEATH", t["severity"],
                          f"死亡日期 {died} 之后仍有 {len(late)} 条记录",
                          {"death_date": died.isoformat(),
                           "entries": [{"type": e["type"], "date": e["date"], "author": e.get("author")}
                                       for e in late]},
                          archive_no=r.archive_no, name=r.masked_name())


def rule_campaigns(records, tt, as_of, campaigns) -> Iterable[Finding]:
    from .campaigns import in_population, person_progress

    codes = {"interview": "CAMPAIGN_INTERVIEWS", "test": "CAMPAIGN_TESTS", "assessment": "CAMPAIGN_ASSESSMENT"}
    for c in campaigns:
        for r in records:
            if not in_population(c, r) or r.dead_on(as_of):
                continue
            p = person_progress(c, r, as_of)
            for a in p["actions"]:
                code = codes[a["action"]]
                t = tt[code]
                if not t["enabled"] or not a["overdue"]:
                    continue
                yield Finding(code, t["severity"],
                              f"专项行动“{c.name}”要求{a['label']} {a['required']} 次（{a['by']}，{a['due']} 前），"
                              f"实有 {a['have']} 次",
                              {"campaign": c.name, "action": a["action"], "required": a["required"],
                               "have": a["have"], "due": a["due"]},
                              archive_no=r.archive_no, name=r.masked_name())


def rule_missing_test(records, t, as_of):
    from ..model.dossier_rules import status_periods

    for r in records:
        if r.dead_on(as_of) or r.presence(as_of) != "在控":
            continue
        m = r.measure(as_of)
        table = t["interval_days"].get(m)
        if not table:
            continue
        period = next(p for p in reversed(status_periods(r.entries, "measure"))
                      if p.status == m and p.start <= as_of)
        year = min((as_of - period.start).days // 365, len(table) - 1)
        interval = int(table[year])
        plans = [e for e in r.dated("measure") if as_date(e["date"]) <= as_of and e.get("test_freq_days")]
        if plans:
            interval = min(interval, int(plans[-1]["test_freq_days"]))
        tests = [e for e in r.dated("test") if period.start <= as_date(e["date"]) <= as_of]
        last = as_date(tests[-1]["date"]) if tests else None
        since = last or period.start
        gap = (as_of - since).days
        if gap > interval + int(t["grace_days"]):
            yield Finding("MISSING_TEST", t["severity"],
                          f"{m}第{year + 1}年应每 {interval} 天检测一次，"
                          + (f"上次检测在 {last}（{gap} 天前）" if last else f"自 {period.start} 起无检测记录"),
                          {"measure": m, "measure_start": period.start.isoformat(), "interval_days": interval,
                           "last_test": last.isoformat() if last else None, "gap_days": gap},
                          archive_no=r.archive_no, name=r.masked_name())


def rule_high_no_plan(records, t, as_of):
    for r in records:
        if r.dead_on(as_of) or r.risk_level(as_of) != "高":
            continue
        rated = [e for e in r.dated("assessment") if as_date(e["date"]) <= as_of
                 and (e.get("final_level") or e.get("proposed_level")) == "高"]
        since = as_date(rated[-1]["date"])
        plans = [e for e in r.dated("measure") if e.get("level") == "高"
                 and (as_date(e.get("end")) or date.max) >= since]
        if not plans and (as_of - since).days > int(t["grace_days"]):
            yield Finding("HIGH_NO_PLAN", t["severity"],
                          f"{since} 评为高风险，至今无“一人一策”管控方案",
                          {"assessed": since.isoformat(), "days": (as_of - since).days},
                          archive_no=r.archive_no, name=r.masked_name())


def rule_stale(records, t, as_of):
    from .population import WORK_TYPES

    for r in records:
        if r.presence(as_of) in t["exempt_presence"]:
            continue
        level = r.risk_level(as_of)
        if level is None and "戒断三年未复吸" in r.labels(as_of):
            continue   # 戒断三年未复吸且未评级：不再实行动态管控
        period = int(t["review_days"].get(level or "未评估", t["review_days"]["未评估"]))
        work = [e for e in r.dated(*WORK_TYPES) if as_date(e["date"]) <= as_of]
        last = as_date(work[-1]["date"]) if work else None
        if last is None:
            created = _ts(r.head_time)
            last = created.date() if created else None
        if last is None:
            continue
        gap = (as_of - last).days
        if gap > period + int(t["grace_days"]):
            yield Finding("STALE", t["severity"],
                          f"{level or '未评估'}风险人员应每 {period} 天复核，最近一次工作记录在 {last}（{gap} 天前）",
                          {"level": level or "未评估", "review_days": period, "last_work": last.isoformat(),
                           "gap_days": gap},
                          archive_no=r.archive_no, name=r.masked_name())


def rule_lost_ratio(records, t, as_of):
    from .stats import registered

    for comm, group in by_community(records).items():
        alive = [r for r in group if registered(r) and not r.dead_on(as_of)]
        lost = [r for r in alive if r.presence(as_of) == "失控"]
        if alive and len(lost) / len(alive) > float(t["limit"]):
            yield Finding("LOST_RATIO", t["severity"],
                          f"{comm}失联 {len(lost)} 人 / 在册 {len(alive)} 人 = {len(lost) / len(alive):.1%}，"
                          f"超过 {float(t['limit']):.0%}",
                          {"lost": len(lost), "registered": len(alive), "ratio": ratio(len(lost), len(alive)),
                           "limit": t["limit"]},
                          scope=group[0].scope, refs=[r.archive_no for r in lost])


def _label(e: dict) -> str:
    from ..model.entries import ENTRY_TYPES
    t = ENTRY_TYPES.get(e.get("type"))
    return t.label if t else str(e.get("type"))


RULES = {
    "DUP_NOTES": rule_dup_notes,
    "BURST_RECORDED": rule_burst_recorded,
    "BURST_SAME_DAY": rule_burst_same_day,
    "BACKDATED": rule_backdated,
    "AFTER_DEATH": rule_after_death,
    "MISSING_TEST": rule_missing_test,
    "HIGH_NO_PLAN": rule_high_no_plan,
    "STALE": rule_stale,
    "LOST_RATIO": rule_lost_ratio,
}
_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def rule_codes(only: Iterable[str] | None) -> set[str] | None:
    """The rule codes of ``--rule`` (case-insensitive: ``stale`` = STALE); None = every
    rule. An unknown code is refused: ignored, it would report “0 项问题” for a check
    that never ran."""
    if not only:
        return None
    codes = set()
    for raw in only:
        code = str(raw).strip().upper()
        if code not in DEFAULT_THRESHOLDS:
            raise InvalidInput(field="rule", reason=f"未知规则代码“{raw}”；可选：{'、'.join(DEFAULT_THRESHOLDS)}")
        codes.add(code)
    return codes


def run_checks(records: list[PersonRecord], as_of: date, *, campaigns=(), overrides: Mapping | None = None,
               only: Iterable[str] | None = None) -> list[Finding]:
    """Every enabled rule over the records; findings sorted by severity, rule, reference."""
    tt = thresholds(overrides)
    wanted = rule_codes(only)
    out: list[Finding] = []
    for code, fn in RULES.items():
        if tt[code]["enabled"] and (wanted is None or code in wanted):
            out.extend(fn(records, tt[code], as_of))
    if wanted is None or wanted & {"CAMPAIGN_INTERVIEWS", "CAMPAIGN_TESTS", "CAMPAIGN_ASSESSMENT"}:
        out.extend(f for f in rule_campaigns(records, tt, as_of, campaigns)
                   if wanted is None or f.rule in wanted)
    out.sort(key=lambda f: (_ORDER.get(f.severity, 9), f.rule, f.archive_no or (f.refs or [""])[0] or ""))
    return out


def summary(findings: list[Finding]) -> dict:
    by_rule: dict[str, int] = defaultdict(int)
    by_sev: dict[str, int] = defaultdict(int)
    for f in findings:
        by_rule[f.rule] += 1
        by_sev[f.severity] += 1
    return {"total": len(findings), "by_rule": dict(by_rule), "by_severity": dict(by_sev)}
