"""The README demo's search step: a clerk finds people by a name fragment and
by the last digits of an ID number; an inspector finds only by exact name and
sees masked values; every search is in the audit trail."""

from __future__ import annotations


def demo_step(demo) -> None:
    user, ref = demo.refs[0]
    with demo.open(user) as ar:
        p = ar.dossiers.show(ref.archive_no).profile
        name, idn = p["name"], p["id_number"]
        frag = name[-2:]
        hits = ar.search(frag, limit=50)
        demo.say(f"【检索】{user} 搜“{frag}”（姓名的两个字）：{len(hits)} 条，"
                 f"首条 {hits[0]['name']} {hits[0]['archive_no']}" if hits else f"【检索】“{frag}”：无结果")
        hits = ar.search(idn[-6:], limit=5)
        demo.say(f"  搜身份证号后 6 位 {idn[-6:]}：{'、'.join(h['archive_no'] for h in hits) or '无结果'}")
        hits = ar.search("label:戒断三年未复吸", limit=1000)
        demo.say(f"  label:戒断三年未复吸：{len(hits)} 人（本人辖区内）")
    with demo.open("du") as ar:
        hits = ar.search(name, limit=5)
        shown = "；".join(f"{h['name']} {h['id_number']} {h.get('phone') or ''}" for h in hits)
        demo.say(f"【督查检索】du 按完整姓名搜：{len(hits)} 条，均已脱敏（{shown}）")
        demo.say(f"  du 按姓名片段“{frag}”搜：{len(ar.search(frag, limit=5))} 条（督查人员不能按片段列名单）")
