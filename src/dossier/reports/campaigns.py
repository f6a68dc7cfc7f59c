"""Campaigns (专项行动): a plan with dated steps, a target population and the
actions each person requires; progress per person, per 社区 and per step.

A campaign definition is not personal data, but it is stored sealed like
everything else: one blob per saved definition (kind ``campaign``), under the
*inspection* key of the campaign's scope, so clerks, admins and inspectors of
that scope can read it and nobody without a key can. A copy is sealed for
every scope of the subtree (a 社区 clerk holds only the 社区's keys); scopes
created later get it when the campaign is saved again (``--replace``).

Definition (YAML/JSON)::

    name: 2022毒情大排查
    doc_no: 粤汉办〔2022〕5号
    scope: 珠晖区/粤汉街道
    population: {label: 戒断三年未复吸}        # or {all: true}; optional as_of
    steps:
      - {name: 动员部署, start: 2022-03-01, end: 2022-03-05}
      - {name: 全面排查, start: 2022-03-06, end: 2022-03-31}
      - {name: 风险评估, start: 2022-03-31, end: 2022-04-10}
    actions:                                    # required per person, due by a step's end
      - {action: interview, count: 2, by: 全面排查}   # 本人+1名亲属/邻居，或见不到本人时2名亲属/邻居
      - {action: test, count: 1, by: 全面排查}
      - {action: assessment, count: 1, by: 风险评估}
    lost_limit: 0.05                            # 联系不上比例上限 (S1)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Mapping

from ..clock import now_iso
from ..errors import InvalidInput, NotFound, PermissionDenied, RefusedOperation
from ..model.dates import as_date, parse_date
from ..model.dossier_rules import entry_days
from .population import PersonRecord, by_community, ratio

if TYPE_CHECKING:
    from ..session import Session

BLOB_KIND = "campaign"
ACTIONS = {"interview": "见面谈话", "test": "检测", "assessment": "风险评估"}
ACTION_ALIASES = {"interview": "interview", "见面": "interview", "谈话": "interview", "见面谈话": "interview",
                  "见面核查": "interview", "test": "test", "检测": "test", "尿检": "test",
                  "assessment": "assessment", "评估": "assessment", "风险评估": "assessment"}
RELATIVES = ("亲属", "邻居")
NOT_REQUIRED_PRESENCE = ("死亡",)      # nobody can be met after death


@dataclass
class Step:
    name: str
    start: date
    end: date

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass
class Action:
    action: str
    count: int
    by: str            # step name whose end is the deadline

    @property
    def label(self) -> str:
        return ACTIONS[self.action]

    def to_dict(self) -> dict:
        return {"action": self.action, "count": self.count, "by": self.by}


@dataclass
class Campaign:
    name: str
    doc_no: str
    scope: str
    steps: list[Step]
    actions: list[Action]
    population: dict = field(default_factory=lambda: {"all": True})
    lost_limit: float = 0.05
    created: str = ""
    created_by: str = ""

    # computed once (a campaign's steps are not changed after parsing): a pass over 5,000
    # persons asks for them ~35,000 times
    @cached_property
    def start(self) -> date:
        return min(s.start for s in self.steps)

    @cached_property
    def end(self) -> date:
        return max(s.end for s in self.steps)

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise NotFound(f"专项行动“{self.name}”没有步骤“{name}”")

    def deadline(self, a: Action) -> date:
        return self.step(a.by).end

    def population_as_of(self) -> date:
        return as_date(self.population.get("as_of")) or self.start

    def to_dict(self) -> dict:
        return {"name": self.name, "doc_no": self.doc_no, "scope": self.scope,
                "population": self.population, "steps": [s.to_dict() for s in self.steps],
                "actions": [a.to_dict() for a in self.actions], "lost_limit": self.lost_limit,
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "created": self.created, "created_by": self.created_by}


#: the keys a definition may have (Chinese spellings after their English name)
KEYS = ("name", "名称", "doc_no", "文号", "scope", "辖区", "population", "steps", "步骤", "actions", "要求",
        "lost_limit")
STEP_KEYS = ("name", "start", "end")
ACTION_KEYS = ("action", "count", "by")
POPULATION_KEYS = ("all", "label", "labels", "presence", "as_of")


def _refuse_unknown(data: Mapping, accepted, *, where: str, path: str = "") -> None:
    from ..model.fields import unknown_keys

    errors = unknown_keys(data, accepted, where=where, path=path)
    if errors:
        raise errors[0]


def parse_campaign(data: Mapping, *, stored: bool = False) -> Campaign:
    """Validate a campaign definition; every problem names its field.

    An unknown key (``populaton:``, ``population: {status: …}``) is refused: ignored,
    it would silently make the campaign cover everyone. ``stored``: a definition read
    back from the archive (its own keys, not checked again).
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(field="campaign", reason="专项行动定义应为键值对象")
    if not stored:
        _refuse_unknown(data, KEYS, where="专项行动定义")
    name = str(data.get("name") or data.get("名称") or "").strip()
    if not name:
        raise InvalidInput(field="name", reason="必填（专项行动名称）")
    scope = str(data.get("scope") or data.get("辖区") or "").strip()
    if not scope:
        raise InvalidInput(field="scope", reason="必填（专项行动覆盖的辖区，例如 珠晖区/粤汉街道）")
    raw_steps = data.get("steps") or data.get("步骤")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidInput(field="steps", reason="至少需要一个步骤（name、start、end）")
    steps = []
    for i, s in enumerate(raw_steps, 1):
        if not isinstance(s, Mapping) or not s.get("name"):
            raise InvalidInput(field=f"steps[{i}]", reason="每个步骤需要 name、start、end")
        if not stored:
            _refuse_unknown(s, STEP_KEYS, where=f"steps 第 {i} 项", path=f"steps[{i}].")
        start = parse_date(s.get("start"), field=f"steps[{i}].start", allow_future=True)
        end = parse_date(s.get("end"), field=f"steps[{i}].end", allow_future=True)
        if start is None or end is None:
            raise InvalidInput(field=f"steps[{i}]", reason="步骤须有开始和结束日期")
        if end < start:
            raise InvalidInput(field=f"steps[{i}].end", reason=f"结束日期 {end} 早于开始日期 {start}")
        steps.append(Step(str(s["name"]).strip(), start, end))
    if len({s.name for s in steps}) != len(steps):
        raise InvalidInput(field="steps", reason="步骤名称不能重复")
    actions = []
    for i, a in enumerate(data.get("actions") or data.get("要求") or [], 1):
        if not isinstance(a, Mapping):
            raise InvalidInput(field=f"actions[{i}]", reason="每项要求应为键值对象（action、count、by）")
        if not stored:
            _refuse_unknown(a, ACTION_KEYS, where=f"actions 第 {i} 项", path=f"actions[{i}].")
        kind = ACTION_ALIASES.get(str((a or {}).get("action", "")).strip().lower())
        if kind is None:
            raise InvalidInput(field=f"actions[{i}].action",
                               reason=f"未知动作“{(a or {}).get('action')}”；可选：interview、test、assessment")
        try:
            count = int(a.get("count", 1))
        except (TypeError, ValueError):
            raise InvalidInput(field=f"actions[{i}].count", reason="应为正整数") from None
        if count < 1:
            raise InvalidInput(field=f"actions[{i}].count", reason="应为正整数")
        by = str(a.get("by") or steps[-1].name)
        if by not in {s.name for s in steps}:
            raise InvalidInput(field=f"actions[{i}].by", reason=f"没有名为“{by}”的步骤")
        actions.append(Action(kind, count, by))
    pop = data.get("population") or {"all": True}
    if not isinstance(pop, Mapping):
        raise InvalidInput(field="population", reason="应为对象，例如 {label: 戒断三年未复吸} 或 {all: true}")
    if not stored:
        _refuse_unknown(pop, POPULATION_KEYS, where="population（目标人群）", path="population.")
    pop = dict(pop)
    if "as_of" in pop and pop["as_of"] is not None:
        pop["as_of"] = parse_date(pop["as_of"], field="population.as_of", allow_future=True).isoformat()
    for k in ("label", "labels"):
        if isinstance(pop.get(k), str):
            pop["labels"] = [pop.pop(k)]
    if isinstance(pop.get("presence"), str):      # {presence: 在控} = [在控], not a substring test
        pop["presence"] = [pop["presence"]]
    try:
        lost_limit = float(data.get("lost_limit", 0.05))
    except (TypeError, ValueError):
        raise InvalidInput(field="lost_limit", reason="应为 0–1 之间的小数") from None
    return Campaign(name, str(data.get("doc_no") or data.get("文号") or ""), scope, steps, actions, pop, lost_limit,
                    str(data.get("created", "")), str(data.get("created_by", "")))


class Campaigns:
    """``Campaigns(ar).add(definition)`` / ``.list()`` / ``.get(name)``."""

    def __init__(self, ar: "Session"):
        self.ar = ar

    def add(self, data: Mapping, *, replace: bool = False) -> Campaign:
        from ..users import normalize_scope_path

        ar = self.ar
        ar.require_role("admin", "clerk", what="新增专项行动")
        c = parse_campaign(data)
        sid = ar.scopes.id_of(c.scope)
        ar.scopes.require(sid, "在此辖区部署专项行动")
        c.scope = normalize_scope_path(ar.scopes.path_of(sid))
        if not replace and any(x.name == c.name for x in self.list()):
            raise RefusedOperation(f"专项行动“{c.name}”已存在（如需修改，请加 --replace）")
        c.created, c.created_by = now_iso(), ar.user.name
        body = json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=True).encode()
        # one sealed copy per scope of the subtree: a 社区 clerk holds only the 社区's keys
        with ar.transaction():
            for sub in sorted(ar.scopes.subtree(sid)):
                ar.blobs.put(body, scope=sub, kind=BLOB_KIND, key="inspect")
        ar.audit("campaign-add", campaign=c.name)
        return c

    def list(self) -> list[Campaign]:
        """Latest definition of each campaign the user can read."""
        ar = self.ar
        out: dict[str, Campaign] = {}
        rows = ar.con.execute("SELECT id, scope FROM blobs WHERE kind=? ORDER BY created, rowid",
                              (BLOB_KIND,)).fetchall()
        seen: set[str] = set()
        # one copy per scope of the subtree: the scopes whose key the user holds, in one query
        # (one per scope cost a 工作台 of the 20,000-person archive 41 queries, each a GIL hand-over)
        held = ar.keyring.held_scopes("inspect") if rows else set()
        for r in rows:
            if r["scope"] not in held:
                continue
            raw = ar.blobs.get(r["id"], kind=BLOB_KIND, key="inspect")
            if raw in seen:
                continue
            seen.add(raw)
            c = parse_campaign(json.loads(raw), stored=True)
            if c.name not in out or c.created >= out[c.name].created:
                out[c.name] = c
        return sorted(out.values(), key=lambda c: (c.start, c.name))

    def get(self, name: str) -> Campaign:
        for c in self.list():
            if c.name == name:
                return c
        raise NotFound(f"没有名为“{name}”的专项行动（dossier campaign list 查看）")

    def progress(self, name: str, *, as_of: date, by: str | None = None) -> dict:
        from .population import load_population

        c = self.get(name)
        # ``--by scope`` (the spelling) / ``--by 社区``: the default per-社区 table
        # of the whole campaign; any other value names one sub-scope (``--by 苗圃社区``).
        scope = c.scope if by in (None, "", "scope", "社区") else by
        records = load_population(self.ar, scope)
        return campaign_progress(c, records, as_of)


# -- pure progress computation -------------------------------------------------

def in_population(c: Campaign, r: PersonRecord) -> bool:
    day = c.population_as_of()
    if not (r.scope == c.scope or r.scope.startswith(c.scope + "/")):
        return False
    if r.dead_on(day) or set(r.profile.get("record_flags") or []) & {"错录", "迁出"}:
        return False
    labels = c.population.get("labels")
    if labels and not set(labels) & set(r.labels(day)):
        return False
    pres = c.population.get("presence")
    if pres and r.presence(day) not in pres:
        return False
    return True


def campaign_entries(c: Campaign, r: PersonRecord, kind: str, as_of: date) -> list[dict]:
    """Entries of ``kind`` inside the campaign window (start … min(end, as_of)) not tagged
    with another campaign."""
    lo, hi = c.start, min(c.end, as_of)
    name = c.name
    # every kind at once, in one walk over the entries (a campaign asks for 2–4 kinds per
    # person): kept on the record, shared (callers only count them)
    key = ("campaign_entries", name, lo, hi)
    groups = r._cache.get(key)
    if groups is None:
        groups = r._cache[key] = {}
        for d, e in zip(entry_days(r.entries), r.entries):
            if d is not None and lo <= d <= hi and e.get("campaign") in (None, "", name):
                groups.setdefault(e.get("type"), []).append(e)
        for g in groups.values():           # the order of ``r.dated(kind)``
            g.sort(key=lambda e: (e["date"], e.get("recorded_at", "")))
    return groups.get(kind, [])


def interview_status(interviews: list[dict], count: int = 2) -> dict:
    """S1：见面谈话2次（本人和1名亲属或邻居）；见不到本人的，询问2名亲属、邻居."""
    seen = [e for e in interviews if e.get("person_seen") or e.get("subject") == "本人"]
    rel = [e for e in interviews if e.get("subject") in RELATIVES and not e.get("person_seen")]
    if seen:
        done = len(seen) + len(rel) >= count and (count < 2 or len(rel) >= 1)
    else:
        done = len(rel) >= count
    return {"count": len(interviews), "seen": bool(seen), "relatives": len(rel), "done": bool(done)}


def person_progress(c: Campaign, r: PersonRecord, as_of: date) -> dict:
    lost = r.presence(as_of) == "失控"
    actions = person_actions(c, r, as_of, lost)
    overdue = [x["label"] for x in actions if x["overdue"]]
    interviews = campaign_entries(c, r, "interview", as_of)
    seen = any(e.get("person_seen") or e.get("subject") == "本人" for e in interviews)
    return {"archive_no": r.archive_no, "name": r.masked_name(), "community": r.community, "scope": r.scope,
            "met": seen, "lost": lost, "risk": r.risk_level(as_of),
            "complete": all(x["done"] for x in actions), "actions": actions, "overdue": overdue}


def person_actions(c: Campaign, r: PersonRecord, as_of: date, lost: bool | None = None) -> list[dict]:
    """Each required action's state for one person (the part of :func:`person_progress`
    the 工作台 needs: no masked name, no risk level)."""
    if lost is None:
        lost = r.presence(as_of) == "失控"
    actions = []
    for a in c.actions:
        items = campaign_entries(c, r, a.action, as_of)
        if a.action == "test" and lost:
            # 联系不上的人无法检测：计入失联比例（S1 异项处置），不算逾期
            actions.append({"action": a.action, "label": a.label, "required": 0, "have": len(items),
                            "done": True, "due": c.deadline(a).isoformat(), "overdue": False, "by": a.by})
            continue
        if a.action == "interview":
            st = interview_status(items, a.count)
            done, have = st["done"], st["count"]
        else:
            have = len(items)
            done = have >= a.count
        due = c.deadline(a)
        late = not done and as_of > due
        actions.append({"action": a.action, "label": a.label, "required": a.count, "have": have,
                        "done": done, "due": due.isoformat(), "overdue": late, "by": a.by})
    return actions


def campaign_progress(c: Campaign, records: list[PersonRecord], as_of: date) -> dict:
    pop = [r for r in records if in_population(c, r)]
    persons = [person_progress(c, r, as_of) for r in pop]
    rows = []
    for comm, group in by_community(pop).items():
        ps = [p for p in persons if p["community"] == comm]
        rows.append(_summary_row(comm, ps, c))
    total = _summary_row("合计", persons, c)
    steps = []
    for s in c.steps:
        due = [a for a in c.actions if a.by == s.name]
        if not due:
            state = "未开始" if as_of < s.start else ("进行中" if as_of <= s.end else "已结束")
            steps.append({**s.to_dict(), "state": state, "actions": [], "done": None, "total": len(persons),
                          "rate": None, "overdue": 0})
            continue
        idx = [i for i, a in enumerate(c.actions) if a.by == s.name]
        done = sum(1 for p in persons if all(p["actions"][i]["done"] for i in idx))
        state = "未开始" if as_of < s.start else ("进行中" if as_of <= s.end else "已结束")
        steps.append({**s.to_dict(), "state": state, "actions": [ACTIONS[a.action] for a in due], "done": done,
                      "total": len(persons), "rate": ratio(done, len(persons)),
                      "overdue": (len(persons) - done) if as_of > s.end else 0})
    return {"campaign": c.name, "doc_no": c.doc_no, "scope": c.scope, "as_of": as_of.isoformat(),
            "population": len(persons), "communities": rows, "total": total, "steps": steps,
            "persons": persons, "overdue": [p for p in persons if p["overdue"]],
            "trend": trend(c, pop, as_of)}


def _summary_row(name: str, ps: list[dict], c: Campaign) -> dict:
    n = len(ps)
    met = sum(p["met"] for p in ps)
    lost = sum(p["lost"] for p in ps)
    row = {"community": name, "population": n, "met": met, "met_rate": ratio(met, n),
           "complete": sum(p["complete"] for p in ps), "overdue": sum(1 for p in ps if p["overdue"]),
           "lost": lost, "lost_rate": ratio(lost, n), "lost_flag": bool(n and lost / n > c.lost_limit),
           "risk": {lvl: sum(1 for p in ps if p["risk"] == lvl) for lvl in ("高", "中", "低")}}
    for i, a in enumerate(c.actions):
        row[f"{a.action}_done"] = sum(1 for p in ps if p["actions"][i]["done"])
    return row


def weeks(start: date, as_of: date) -> list[date]:
    """Mondays (每周一报送) from the campaign start up to ``as_of`` (at least one point)."""
    d = start + timedelta(days=(7 - start.weekday()) % 7)
    out = []
    while d <= as_of:
        out.append(d)
        d += timedelta(days=7)
    return out or [as_of]


def trend(c: Campaign, pop: list[PersonRecord], as_of: date) -> list[dict]:
    """Cumulative 见面率 and completion on each Monday of the campaign so far."""
    out = []
    for d in weeks(c.start, min(as_of, c.end + timedelta(days=6))):
        ps = [person_progress(c, r, d) for r in pop]
        n = len(ps)
        out.append({"date": d.isoformat(), "met_rate": ratio(sum(p["met"] for p in ps), n),
                    "complete_rate": ratio(sum(p["complete"] for p in ps), n)})
    return out


def require_readable(ar: "Session") -> None:
    if ar.user.role == "inspector":
        raise PermissionDenied("督查人员不能解密档案，无法计算进度")
