"""The README demo's reporting step: a campaign and its weekly report,
附表1 statistics, eligibility, an inspection, and a paper token check."""

from __future__ import annotations

from datetime import timedelta


def _campaign(today) -> dict:
    d = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    return {"name": "毒情大排查（演示）", "doc_no": "粤汉办〔演示〕1号", "scope": "珠晖区/粤汉街道",
            "population": {"all": True},
            "steps": [{"name": "组织部署", "start": d(-60), "end": d(-55)},
                      {"name": "全面排查", "start": d(-54), "end": d(-10)},
                      {"name": "风险评估", "start": d(-9), "end": d(10)},
                      {"name": "持续整治", "start": d(11), "end": d(40)},
                      {"name": "评价考核", "start": d(41), "end": d(50)}],
            "actions": [{"action": "interview", "count": 2, "by": "全面排查"},
                        {"action": "test", "count": 1, "by": "全面排查"},
                        {"action": "assessment", "count": 1, "by": "风险评估"}]}


def _field_work(demo) -> None:
    """Clerks record the campaign's field work for about three persons in four:
    two talks (the person and a relative), a urine test, and for some an assessment."""
    import random

    rng = random.Random(demo.seed + 7)
    today = demo.today
    by_user: dict[str, list] = {}
    for user, ref in demo.refs:
        if rng.random() < 0.75:
            by_user.setdefault(user, []).append(ref)
    done = 0
    for user, refs in by_user.items():
        with demo.open(user) as ar, ar.batch():
            for ref in refs:
                day = today - timedelta(days=rng.randint(12, 50))
                staff = [{"role": "禁毒专干", "name": "李专干"}, {"role": "社区民警", "name": "王民警"}]
                ar.entries.add(ref.archive_no, "interview", {
                    "date": day.isoformat(), "method": "敲门见人", "subject": "本人", "person_seen": True,
                    "staff": staff, "content": f"第{rng.randint(1, 99)}次入户，本人在家，近况稳定，配合检测"}, today=today)
                ar.entries.add(ref.archive_no, "interview", {
                    "date": (day + timedelta(days=1)).isoformat(), "method": "走访亲友", "subject": "亲属",
                    "person_seen": False, "staff": staff,
                    "content": f"走访其家属，家属反映作息规律（记录编号{rng.randint(100, 999)}）"}, today=today)
                ar.entries.add(ref.archive_no, "test", {
                    "date": day.isoformat(), "sample": "尿液", "method": "现场快检", "result": "阴性"}, today=today)
                done += 1
    demo.say(f"【专项行动·排查】社区专干为 {done} 人录入两次谈话和一次尿检")


def _fmt(v) -> str:
    return f"{v:.1%}" if isinstance(v, float) else str(v)


def demo_step(demo) -> None:
    from ..paper import issue, verify
    from . import Reports
    from .render import inspection_docx, progress_docx, stats_xlsx

    today = demo.today
    _field_work(demo)
    with demo.open("admin") as ar:
        rep = Reports(ar)
        rep.campaigns.add(_campaign(today), replace=True)
        p = rep.campaigns.progress("毒情大排查（演示）", as_of=today)
        (demo.out / "周报.docx").write_bytes(progress_docx(p))
        t = p["total"]
        demo.say(f"【专项行动】毒情大排查（演示）：对象 {p['population']} 人，已完成 {t.get('complete', 0)} 人，"
                 f"逾期 {len(p['overdue'])} 人 → 周报.docx（含图表）")
        s = rep.stats("珠晖区/粤汉街道", as_of=today)
        (demo.out / "附表1.xlsx").write_bytes(stats_xlsx(s))
        tot = s["total"]
        heads = dict(s["columns"])
        shown = ("registered", "met", "met_rate", "lost_rate", "risk_high", "risk_mid", "risk_low", "abstinent3")
        demo.say("【统计】附表1 合计：" + "，".join(f"{heads[k]} {_fmt(tot.get(k))}" for k in shown if k in heads)
                 + " → 附表1.xlsx")
        el = rep.eligibility("珠晖区/粤汉街道", as_of=today, within_days=365)
        demo.say(f"【资格】一年内达到戒断三年/5年/10年的：{len(el)} 人")
        res = rep.inspect("珠晖区/粤汉街道", as_of=today, save=True)
        (demo.out / "核查报告.docx").write_bytes(inspection_docx(res))
        rules = sorted({f["rule"] for f in res["findings"]})
        demo.say(f"【督查核查】{res['persons']} 人，发现 {len(res['findings'])} 条疑点"
                 + (f"（{'、'.join(rules)}）" if rules else "") + " → 核查报告.docx")
        if {"BACKDATED", "BURST_RECORDED"} & set(rules):
            demo.say("  说明：演示中的排查记录是几秒内集中补录、日期倒填的，BACKDATED/BURST_RECORDED 正是督查要找的"
                     "“闭门造车”迹象")
        user, ref = demo.refs[0]
        tok = issue(ar, ref.archive_no)
    with demo.open("du") as ar:
        saved = Reports(ar).saved_inspection("珠晖区/粤汉街道")
        demo.say(f"【督查人员】du 查看已保存的核查结果：{len(saved.get('findings', []))} 条（已脱敏）")
        v = verify(ar, tok.short or tok.token)      # the 16-character code printed beside the QR code
        demo.say(f"【纸质核验】du 输入纸面上的核验码 {tok.short}：{v['message']}")
