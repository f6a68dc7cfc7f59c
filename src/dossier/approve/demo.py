"""README demo step for issue 6: a full 审批表 approval by three signers and a disclosure.

``demo_step(demo)`` (called by :func:`dossier.demo.extra_steps`):

1. 社区专干 li files a 一人一策 measure with the 街道 (if the person has none) and
   submits the real 审批表 at 中 (社区初评);
2. wang signs 派出所核查; a 会商 meeting recorded with ``meeting add`` signs the
   会商 block (minutes number and date); chen signs 街道审批; liu files
   区禁毒办备案;
3. the signed PDF goes to ``demo.out/审批表-签批.pdf`` and is verified (the
   archive's own check, and poppler's ``pdfsig`` when installed);
4. inspector du requests name + id_number of that person, admin grants, du
   exports ``demo.out/抽查材料.pdf`` (watermarked, leak-guarded).

Synthetic data only (the demo's generated persons).
"""

from __future__ import annotations

from datetime import timedelta

PURPOSE = "2024年度交叉评查"


def _who(ar, name: str) -> str:
    """（王卫东，粤汉派出所）: the person behind a demo account, as the admin recorded it."""
    p = ar.users.profile(name)
    return f"（{p['full_name']}，{p['unit']}）" if p["full_name"] and p["unit"] else ""


def demo_step(demo) -> None:
    from ..errors import MissingDependency
    from ..forms.pdf import find_soffice

    user, ref = next((u, r) for u, r in demo.refs if u == "li")
    no = ref.archive_no
    say = demo.say
    if find_soffice() is None:
        say("【审批】跳过：未安装 LibreOffice，无法生成审批表（sudo apt-get install libreoffice-writer-nogui）")
        return
    today = demo.today
    with demo.open("li") as ar:
        state = ar.dossiers.show(no, as_of=today).state
        if not any(e.get("type") == "measure" and e.get("filed_with") == "街道" for e in state.get("entries", [])):
            ar.entries.add(no, "measure", {"date": today.isoformat(), "level": "中", "filed_with": "街道",
                                           "measures": ["每月见面核查一次", "每季度尿检一次"]}, today=today)
            say(f"【一人一策】li 为 {no} 制定中风险“一人一策”管控措施，报街道备案")
        try:
            ar.approvals.submit(no, level="中", reason="正在执行社区康复，近期检测阴性，按中风险管控")
        except MissingDependency as e:
            say(f"【审批】跳过：{e.message}")
            return
        say(f"【社区初评】li 生成 {no} 的风险分类评估审批表（正式模板），建议中风险，签第一栏")
    with demo.open("wang") as ar:
        ar.approvals.sign(no, step="派出所核查", opinion="经核查属实，同意")
        say(f"【派出所核查】wang{_who(ar, 'wang')} 签批：经核查属实，同意")
    with demo.open("li") as ar:
        from ..forms.service import add_meeting

        m = add_meeting(ar, {"no": f"〔{today.year}〕第2期", "date": today.isoformat(), "place": "粤汉街道会议室",
                             "host": "粤汉街道禁毒办", "attendees": ["wang", "chen", "li"],
                             "persons": [{"ref": no, "level": "中", "community_level": "中",
                                          "reasons": "正在执行社区康复", "measures": "每月见面核查"}]},
                        today=today)
        st = ar.approvals.status(no)
        done = [s for s in st["steps"] if s["step"] == "会商" and not s.get("superseded")]
        say(f"【会商】li 记录会商会议 {m['no']}（{m['date']}），审批表会商栏"
            + (f"已签入纪要编号与日期，评定为{st['level']}风险" if done
               else "未能签入：" + "；".join(r.get("error", "") for r in ar.meeting_approvals)))
        if not done:   # e.g. a meeting module that records no event: sign the block directly
            ar.approvals.record_meeting(no, minutes_no=m["no"], date=m["date"], conclusion="中")
    with demo.open("chen") as ar:
        ar.approvals.sign(no, step="街道审批", opinion="同意按中风险管控")
        say(f"【街道审批】chen{_who(ar, 'chen')} 签批：同意按中风险管控")
    with demo.open("liu") as ar:
        st = ar.approvals.sign(no, step="区禁毒办备案", opinion="予以备案")
        pdf = ar.approvals.export(no)
        out = demo.out / "审批表-签批.pdf"
        out.write_bytes(pdf)
        say(f"【区禁毒办备案】liu{_who(ar, 'liu')} 签批：予以备案；审批{st['status']}，最终等级{st['level']}风险"
            "（审批表的会商结论、最终等级和下次复评日期栏已随签批填写）")
        say(f"【导出】已签批的审批表：{out}")
        v = ar.approvals.verify(pdf=pdf)
        good = sum(1 for s in v["signatures"] if s["ok"])
        signers = "、".join(dict.fromkeys(f"{s['signer_full_name'] or s['signer']}（{s['signer_unit']}）"
                                          if s.get("signer_unit") else s["signer"] for s in v["signatures"]))
        say(f"【验证】{good}/{len(v['signatures'])} 个签名有效（签名人 {signers}），签批顺序与档案记录"
            + ("一致" if v["ok"] else "不符：" + "；".join(v["problems"])))
    try:
        from .pdfsign import pdfsig_report

        sigs = pdfsig_report(str(out))
        say(f"【pdfsig】poppler 独立验证：{sum(1 for s in sigs if s['valid'])}/{len(sigs)} 个签名有效"
            "（证书由本档案库 CA 签发，未加入系统信任时会提示不受信任）")
    except MissingDependency:
        pass
    with demo.open("du") as ar:
        req = ar.disclosures.request([no], purpose=PURPOSE, fields=["name", "id_number"],
                                     until=(today + timedelta(days=30)).isoformat())
        say(f"【披露申请】督查 du 申请披露 {no} 的姓名、公民身份号码（用途：{PURPOSE}），编号 {req['id']}")
    with demo.open("admin") as ar:
        ar.disclosures.grant(req["id"])
        say(f"【授权】admin 授权披露 {req['id']}，有效期至 {req['until']}")
    with demo.open("du") as ar:
        pkg = ar.disclosures.export(req["id"])
        out2 = demo.out / "抽查材料.pdf"
        out2.write_bytes(pkg)
        say(f"【披露导出】du 导出 {out2}：仅姓名和公民身份号码为明文，其余脱敏，每页有水印，已通过泄露检查")
