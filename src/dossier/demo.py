"""The README's main job: build a demo archive from synthetic data and walk
through a clerk's, an approver's and an inspector's day.

Every step calls the library the CLI uses; each prints what it did. The data
is generated (checksum-valid, fictitious) — never real persons.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from .config import Password

SCOPES = ("珠晖区/粤汉街道/苗圃社区", "珠晖区/粤汉街道/东风社区", "珠晖区/粤汉街道/和平社区")
PASSWORDS = {"admin": "demo-admin-pw", "li": "demo-clerk-li", "zhao": "demo-clerk-zhao",
             "wang": "demo-police-wang", "chen": "demo-street-chen", "liu": "demo-district-liu",
             "du": "demo-inspector-du"}
# who is who, for ``dossier demo --serve``
ROLES_SHOWN = {"admin": "管理员", "li": "社区专干（苗圃社区）", "zhao": "社区专干（东风、和平社区）",
               "wang": "审批人·派出所核查", "chen": "审批人·街道审批", "liu": "审批人·区禁毒办备案",
               "du": "督查人员（看到的是脱敏结果）"}


@dataclass
class Demo:
    out: Path
    persons: int = 60
    seed: int = 20240305
    today: date = field(default_factory=date.today)
    say: Callable[[str], None] = print
    refs: list = field(default_factory=list)

    @property
    def archive(self) -> Path:
        return self.out / "archive"

    def open(self, user: str):
        from .api import open_archive

        return open_archive(self.archive, user=user, password=Password(PASSWORDS[user]))

    def password_file(self, user: str) -> Path:
        p = self.out / f"{user}.pw"
        p.write_text(PASSWORDS[user])
        p.chmod(0o600)
        return p

    # -- steps ---------------------------------------------------------------
    def build(self) -> None:
        from .api import init_archive

        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        init_archive(self.archive, name="粤汉街道（演示）", admin="admin", password=Password(PASSWORDS["admin"]))
        for user in PASSWORDS:
            self.password_file(user)
        self.say(f"【管理员】新建档案库 {self.archive}，辖区与用户：")
        with self.open("admin") as ar:
            ar.scopes.add("珠晖区/粤汉街道", code="430405004")
            for i, s in enumerate(SCOPES, 1):
                ar.scopes.add(s, code=f"{i:03d}")
            # the people behind the accounts (synthetic; their given names use no character of
            # synth.GIVEN, so no generated person's name can be read inside them)
            ar.users.add("li", role="clerk", scopes=[SCOPES[0]], password=Password(PASSWORDS["li"]),
                         full_name="李秋菊", unit="苗圃社区居委会", title="禁毒专干")
            ar.users.add("zhao", role="clerk", scopes=[SCOPES[1], SCOPES[2]], password=Password(PASSWORDS["zhao"]),
                         full_name="赵巧云", unit="和平社区居委会", title="禁毒专干")
            ar.users.add("wang", role="approver", step="派出所核查", scopes=["珠晖区/粤汉街道"],
                         password=Password(PASSWORDS["wang"]), full_name="王卫东", unit="粤汉派出所",
                         title="副所长")
            ar.users.add("chen", role="approver", step="街道审批", scopes=["珠晖区/粤汉街道"],
                         password=Password(PASSWORDS["chen"]), full_name="陈启航", unit="粤汉街道办事处",
                         title="副主任")
            ar.users.add("liu", role="approver", step="区禁毒办备案", scopes=["珠晖区"],
                         password=Password(PASSWORDS["liu"]), full_name="刘素琴", unit="珠晖区禁毒办")
            ar.users.add("du", role="inspector", scopes=["珠晖区/粤汉街道"], password=Password(PASSWORDS["du"]),
                         full_name="杜若川", unit="珠晖区禁毒委督导组")
            ar.users.edit("admin", full_name="钟启川", unit="粤汉街道禁毒办")    # `user edit`: the admin too
            for u in ar.users.list():
                who = f"{u['full_name']}（{u['unit']}）" if u["complete"] else ""
                self.say(f"  {u['name']:<5} {u['role']:<9} {u['step'] or '':<6} {'、'.join(u['scopes'])}  {who}")

    def populate(self) -> None:
        from . import synth

        rng = random.Random(self.seed)
        self.say(f"【社区专干】登记 {self.persons} 名合成人员并录入记录（见面、检测、状态……）")
        for user, scopes in (("li", SCOPES[:1]), ("zhao", SCOPES[1:])):
            with self.open(user) as ar:
                n = self.persons // 3 if user == "li" else self.persons - self.persons // 3
                with ar.batch():
                    for i in range(n):
                        scope = scopes[i % len(scopes)]
                        profile = synth.person(rng, today=self.today, full=(i == 0))
                        ref = ar.persons.add(scope, profile, today=self.today)
                        self.refs.append((user, ref))
                        for e in synth.entries(rng, profile, today=self.today, n=rng.randint(2, 6)):
                            e = dict(e)
                            t = e.pop("type")
                            ar.entries.add(ref.archive_no, t, e, today=self.today, import_batch="演示历史数据")
        self.say(f"  已建档 {len(self.refs)} 份")

    def tour(self) -> None:
        user, ref = self.refs[0]
        with self.open(user) as ar:
            view = ar.dossiers.show(ref.archive_no, as_of=self.today)
            p = view.profile
            self.say(f"【查看档案】{view.archive_no}（{view.scope}，第 {view.version} 版）")
            self.say(f"  姓名 {p.get('name')}  性别 {p.get('gender')}  公民身份号码 {p.get('id_number')}")
            self.say(f"  记录 {len(view.entries)} 条；派生标签：{'、'.join(view.labels) or '无'}")
            for a in view.alerts:
                self.say(f"  提示：{a}")
            later = self.today + timedelta(days=365 * 3)
            self.say(f"  按 {later} 计算的标签：{'、'.join(ar.dossiers.show(ref.archive_no, as_of=later).labels) or '无'}")
            hist = ar.dossiers.history(ref.archive_no)
            self.say(f"【历史】共 {len(hist)} 版：" + "；".join(f"v{h['version']} {h['message']}" for h in hist[:4])
                     + ("……" if len(hist) > 4 else ""))
            changes = ar.dossiers.diff(ref.archive_no, 1, len(hist))["changes"]
            self.say(f"【差异】v1 → v{len(hist)}：{len(changes)} 处变化")
        with self.open("zhao") as ar:
            from .errors import PermissionDenied
            try:
                ar.dossiers.show(ref.archive_no)
                self.say("  ！东风社区专干竟能读取苗圃社区档案（不应发生）")
            except PermissionDenied as e:
                self.say(f"【权限】东风社区专干查看苗圃社区档案：拒绝（{e.message}）")

    def check(self) -> None:
        with self.open("admin") as ar:
            rep = ar.check()
        self.say(f"【校验】档案 {rep.dossiers} 份、版本 {rep.versions} 个、数据块 {rep.blobs} 个："
                 + ("全部通过" if rep.ok else f"发现 {len(rep.problems)} 处问题"))
        if not rep.ok:
            raise SystemExit(20)

    def run(self) -> None:
        self.build()
        self.populate()
        self.tour()
        for step in extra_steps():
            step(self)
        self.check()
        self.say(f"完成。档案库：{self.archive}；输出文件在 {self.out}/。"
                 f"试试：dossier --archive {self.archive} --user li show {self.refs[0][1].archive_no}"
                 f"（口令见 {self.out}/li.pw，用 DOSSIER_PASSWORD_FILE 指定）")


def extra_steps() -> list[Callable[[Demo], None]]:
    """Demo steps contributed by the feature packages (forms, search, approvals …)."""
    import importlib

    steps = []
    for mod in ("dossier.io.demo", "dossier.index.demo", "dossier.forms.demo", "dossier.approve.demo",
                "dossier.reports.demo"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        steps.append(m.demo_step)
    return steps
