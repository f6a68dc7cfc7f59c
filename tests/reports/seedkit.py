"""A synthetic archive for the inspection tests: a clean control group and one
or more persons per seeded anomaly. All data is fictitious (dossier.synth)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

STREET = "珠晖区/粤汉街道"
A, B, C = f"{STREET}/苗圃社区", f"{STREET}/东风社区", f"{STREET}/和平社区"
AS_OF = date(2025, 6, 1)
PASSWORDS = {"admin": "admin-pass-0001", "li": "li-pass-0001", "wang": "wang-pass-0001",
             "zhou": "zhou-pass-0001", "qian": "qian-pass-0001"}
CLERK = {A: "li", B: "wang", C: "zhou"}

CAMPAIGN = {
    "name": "2025春季毒情大排查", "doc_no": "粤汉办〔2025〕3号", "scope": STREET,
    "population": {"all": True},
    "steps": [{"name": "组织部署", "start": "2025-03-01", "end": "2025-03-05"},
              {"name": "全面排查", "start": "2025-03-06", "end": "2025-03-31"},
              {"name": "风险评估", "start": "2025-04-01", "end": "2025-04-10"},
              {"name": "持续整治", "start": "2025-04-11", "end": "2025-05-20"},
              {"name": "评价考核", "start": "2025-05-21", "end": "2025-05-31"}],
    "actions": [{"action": "interview", "count": 2, "by": "全面排查"},
                {"action": "test", "count": 1, "by": "全面排查"},
                {"action": "assessment", "count": 1, "by": "风险评估"}],
}

# phrase bank for varied, person-specific notes (so honest notes are not near-duplicates)
OPENERS = ("入户走访时", "电话预约后上门", "在社区服务站约谈时", "在其工作单位附近见面时", "在小区门口遇见时",
           "随网格员入户时", "结合平安关爱行动走访时", "按排查名册逐户核查时")
TOPICS = ("询问了近期就业和收入情况", "了解了家庭成员的身体状况", "核实了现住址与户籍地址是否一致",
          "询问是否与涉毒人员仍有来往", "了解了社区康复协议的履行情况", "核对了联系电话和微信",
          "询问了子女上学和照料情况", "了解了医保和低保办理进度", "询问了睡眠和情绪状况",
          "讲解了禁毒法律法规和戒毒政策", "了解了近期外出务工的打算", "核实了驾驶证的状态")
FINDS = ("精神状态良好", "情绪略显低落", "对工作人员态度配合", "表示愿意接受检测", "家属表示其作息规律",
         "邻居反映其近期较少外出", "居住环境整洁", "近期在物流公司做临时工", "提出想参加技能培训",
         "反映房租压力较大", "与父母同住关系融洽", "称最近在照顾生病的母亲")


def note(rng: random.Random, who: str) -> tuple[str, str]:
    t = rng.sample(TOPICS, 3)
    f = rng.sample(FINDS, 2)
    content = (f"{rng.choice(OPENERS)}{who}，{t[0]}，{t[1]}，并{t[2]}。约谈持续{rng.randrange(15, 90)}分钟，"
               f"地点为第{rng.randrange(1, 40)}号楼附近。")
    findings = f"{f[0]}；{f[1]}。下次回访定于{rng.randrange(1, 12)}月{rng.randrange(1, 28)}日前后。"
    return content, findings


def stamp(d: date, hour: int, minute: int = 0) -> str:
    return datetime(d.year, d.month, d.day, hour, minute).astimezone().isoformat(timespec="seconds")


@dataclass
class Seeded:
    path: Path
    control: set[str] = field(default_factory=set)        # archive numbers
    anomalies: dict[str, set[str]] = field(default_factory=dict)   # rule -> archive numbers expected
    lost_scope: str = C

    def open(self, user="admin"):
        import dossier
        return dossier.open_archive(self.path, user=user, password=PASSWORDS[user])


class Builder:
    def __init__(self, ar, rng: random.Random):
        self.ar, self.rng = ar, rng
        self.day_slots: dict[tuple, int] = {}

    def interview(self, d: date, author: str, subject="本人", **kw) -> dict:
        content, findings = note(self.rng, "本人" if subject == "本人" else f"其{subject}")
        e = {"type": "interview", "date": d.isoformat(), "method": "敲门见人" if subject == "本人" else "走访亲友",
             "subject": subject, "person_seen": subject == "本人", "content": content, "findings": findings,
             "staff": [{"role": "禁毒专干", "name": "测试员"}, {"role": "社区民警", "name": "测试警"}]}
        e.update(kw)
        return self._stamp(e, author)

    def test(self, d: date, author: str, **kw) -> dict:
        e = {"type": "test", "date": d.isoformat(), "sample": "尿液", "method": "现场快检", "result": "阴性",
             "testers": ["测试员", "测试警"]}
        e.update(kw)
        return self._stamp(e, author)

    def assessment(self, d: date, author: str, level="低", **kw) -> dict:
        e = {"type": "assessment", "date": d.isoformat(), "proposed_level": level, "final_level": level,
             "state": "已备案"}
        e.update(kw)
        return self._stamp(e, author)

    def measure(self, d: date, author: str, level="高", **kw) -> dict:
        e = {"type": "measure", "date": d.isoformat(), "start": d.isoformat(), "level": level,
             "visit_freq_days": 30, "test_freq_days": 30, "measures": ["定期见面", "定期检测"],
             "filed_with": "区禁毒办"}
        e.update(kw)
        return self._stamp(e, author)

    def status(self, d: date, status: str, axis: str, author: str, end: date | None = None) -> dict:
        e = {"type": "status", "axis": axis, "status": status, "date": d.isoformat(), "start": d.isoformat()}
        if end:
            e["end"] = end.isoformat()
        return self._stamp(e, author)

    def _stamp(self, e: dict, author: str) -> dict:
        import uuid
        d = date.fromisoformat(e["date"])
        slot = self.day_slots.get((author, d), 0)
        self.day_slots[(author, d)] = slot + 1
        e.setdefault("recorded_at", stamp(d, 17 + slot % 6, (slot * 7) % 60))   # same evening, spread out
        e.setdefault("author", author)
        e.setdefault("id", str(uuid.uuid4()))
        return e

    def clean_entries(self, author: str, *, level="低", detox=False, lost=False) -> list[dict]:
        rng = self.rng
        d1 = date(2025, 3, 6) + timedelta(days=rng.randrange(0, 18))   # never 03-25 (the same-day anomaly)
        out = [self._stamp({"type": "drug_event", "date": "2015-05-01", "event_type": "查获", "drugs": ["冰毒"],
                            "handling": "社区戒毒"}, author)]
        if lost:
            out.append(self.status(date(2024, 12, 1), "失控", "presence", author))
            out += [self.interview(d1, author, "亲属"), self.interview(d1 + timedelta(days=2), author, "邻居"),
                    self.assessment(date(2025, 4, 3), author, level),
                    self.interview(date(2025, 5, 10) + timedelta(days=rng.randrange(0, 15)), author, "亲属")]
            return out
        out += [self.interview(d1, author, "本人"), self.interview(d1 + timedelta(days=1), author, "亲属"),
                self.test(d1 + timedelta(days=1), author),
                self.assessment(date(2025, 4, 1) + timedelta(days=rng.randrange(0, 9)), author, level),
                self.interview(date(2025, 5, 10) + timedelta(days=rng.randrange(0, 15)), author, "本人")]
        if level == "高":
            out.append(self.measure(date(2025, 4, 10), author))
        if detox:
            out.append(self.status(date(2024, 9, 1), "社区戒毒", "measure", author))
            for m in range(9, 18):
                y, mo = 2024 + (m - 1) // 12, (m - 1) % 12 + 1
                out.append(self.test(date(y, mo, 20), author))
        return out


def add(ar, scope: str, entries: list[dict], rng: random.Random, **profile) -> str:
    from dossier import synth

    p = synth.person(rng, today=AS_OF)
    p.update({"addiction": "成瘾", "first_seized_date": "2015-05-01"}, **profile)
    ref = ar.persons.add(scope, p, today=AS_OF)

    def mutate(state):
        state["entries"].extend(entries)
    ar.dossiers.commit(ref.archive_no, mutate, "导入测试记录")
    return ref.archive_no


def build(path: Path, *, control_per_scope: int = 12, seed: int = 7) -> Seeded:
    """Build without the search-index plugin (not under test here, and slow to feed)."""
    from dossier.api import Session

    saved = Session._load_plugins
    Session._load_plugins = lambda self: None
    try:
        return _build(path, control_per_scope, seed)
    finally:
        Session._load_plugins = saved


def _build(path: Path, control_per_scope: int, seed: int) -> Seeded:
    import dossier
    from dossier.crypto import kdf
    from dossier.reports.campaigns import Campaigns

    rng = random.Random(seed)
    dossier.init_archive(path, name="粤汉街道", admin="admin", password=PASSWORDS["admin"],
                         kdf_params=kdf.WEAK_FOR_TESTS)
    s = Seeded(path)
    with s.open("admin") as ar:
        for sc in (A, B, C):
            ar.scopes.add(sc)
        for sc, u in CLERK.items():
            ar.users.add(u, role="clerk", scopes=[sc], password=PASSWORDS[u])
        ar.users.add("qian", role="inspector", scopes=["珠晖区"], password=PASSWORDS["qian"])
        Campaigns(ar).add(CAMPAIGN)
        b = Builder(ar, rng)
        with ar.transaction():
            # -- clean control group ---------------------------------------------
            for sc in (A, B, C):
                au = CLERK[sc]
                for i in range(control_per_scope):
                    level = ("低", "中", "高")[i % 3]
                    s.control.add(add(ar, sc, b.clean_entries(au, level=level, detox=(i % 4 == 1)), rng))
            # -- seeded anomalies -------------------------------------------------
            def seed(rule, sc, entries, **prof):
                no = add(ar, sc, entries, rng, **prof)
                s.anomalies.setdefault(rule, set()).add(no)
                return no

            # copied interview notes: one original, one lightly edited, one pasted as is
            base = b.clean_entries("li")
            text = base[1]["content"]
            for k, sc in enumerate((A, A, B)):
                es = b.clean_entries(CLERK[sc])
                if k == 1:
                    es[1]["content"] = text.replace("，", ",", 2).replace("约谈", "谈话", 1) + "另"
                else:
                    es[1]["content"] = text
                es[1]["findings"] = base[1]["findings"]
                seed("DUP_NOTES", sc, es)
            # one user typing 16 interviews in 8 minutes (dates spread, recorded together)
            t0 = datetime(2025, 3, 28, 9, 0).astimezone()
            for k in range(16):
                es = b.clean_entries("wang")
                es[2]["recorded_at"] = (t0 + timedelta(seconds=30 * k)).isoformat(timespec="seconds")
                seed("BURST_RECORDED", B, es)
            # one user "meeting" 20 persons on one day (recorded over the following evenings)
            for k in range(20):
                es = b.clean_entries("li")
                es[1]["date"] = "2025-03-25"
                es[1]["recorded_at"] = stamp(date(2025, 3, 25) + timedelta(days=k // 6), 18, (k % 6) * 9)
                seed("BURST_SAME_DAY", A, es)
            # backdated: a test recorded 71 days after its stated date
            es = b.clean_entries("li")
            es[3]["recorded_at"] = stamp(date.fromisoformat(es[3]["date"]) + timedelta(days=71), 10)
            seed("BACKDATED", A, es)
            # entries after death
            es = b.clean_entries("wang")[:1] + [b.status(date(2025, 2, 20), "死亡", "presence", "wang"),
                                               b.interview(date(2025, 3, 20), "wang")]
            seed("AFTER_DEATH", B, es)
            # only one interview in the campaign
            es = [e for i, e in enumerate(b.clean_entries("li")) if i != 2]
            seed("CAMPAIGN_INTERVIEWS", A, es)
            # no test in the campaign
            es = [e for e in b.clean_entries("wang") if e["type"] != "test"]
            seed("CAMPAIGN_TESTS", B, es)
            # no assessment in the campaign
            es = [e for e in b.clean_entries("wang") if e["type"] != "assessment"]
            seed("CAMPAIGN_ASSESSMENT", B, es)
            # 社区戒毒 without tests since February
            es = b.clean_entries("li") + [b.status(date(2024, 9, 1), "社区戒毒", "measure", "li"),
                                          b.test(date(2025, 2, 1), "li")]
            es = [e for e in es if not (e["type"] == "test" and e["date"] > "2025-02-01")]
            no = seed("MISSING_TEST", A, es)
            s.anomalies.setdefault("CAMPAIGN_TESTS", set()).add(no)
            # 高 risk without a plan
            es = [e for e in b.clean_entries("wang", level="高") if e["type"] != "measure"]
            seed("HIGH_NO_PLAN", B, es)
            # untouched since January (中: 90 days)
            es = [b._stamp({"type": "drug_event", "date": "2015-05-01", "event_type": "查获", "drugs": ["冰毒"],
                            "handling": "社区戒毒"}, "li"),
                  b.assessment(date(2025, 1, 10), "li", "中"), b.interview(date(2025, 1, 10), "li")]
            no = seed("STALE", A, es)
            for r in ("CAMPAIGN_INTERVIEWS", "CAMPAIGN_TESTS", "CAMPAIGN_ASSESSMENT"):
                s.anomalies.setdefault(r, set()).add(no)
            # 和平社区: one lost person among 13 (7.7% > 5%)
            lost = seed("LOST_RATIO", C, b.clean_entries("zhou", lost=True))
    return s
