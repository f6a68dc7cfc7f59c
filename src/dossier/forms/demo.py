"""The README demo's forms step: fill forms, record a 会商 meeting, attach a scan, bind the file.

Called by :func:`dossier.demo.extra_steps` with the running :class:`dossier.demo.Demo`.
All PDFs of the step come from one warm LibreOffice (one batch for the filled
forms, one request for the bound volume's frame). The scan and the photo are generated
in memory (synthetic: a drawn page, a red image with made-up GPS EXIF).
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path


def _scan_pdf(title: str, name: str, archive_no: str) -> bytes:
    """A synthetic 'scanned' page: an A4 image with a few lines of text, saved as PDF."""
    from PIL import Image, ImageDraw, ImageFont

    from dossier.forms.bind import _font_path

    w, h = 1240, 1754                                  # A4 at 150 dpi
    page = Image.new("L", (w, h), 245)
    d = ImageDraw.Draw(page)
    fp = _font_path()
    big = ImageFont.truetype(fp, 56) if fp else ImageFont.load_default()
    small = ImageFont.truetype(fp, 30) if fp else ImageFont.load_default()
    d.text((w // 2, 220), title, fill=20, font=big, anchor="mm")
    lines = [f"甲方：珠晖区粤汉街道苗圃社区康复工作站", f"乙方：{name}（档号 {archive_no}）",
             "乙方自愿接受社区康复，按时参加检测，遵守协议各项约定。", "（演示用合成扫描件，非真实文书）"]
    for i, line in enumerate(lines):
        d.text((140, 420 + i * 80), line, fill=30, font=small)
    d.text((760, 1400), "甲方（盖章）        乙方（签名）", fill=30, font=small)
    buf = io.BytesIO()
    page.convert("RGB").save(buf, "PDF", resolution=150)
    return buf.getvalue()


def _gps_jpeg() -> bytes:
    """A small photo with made-up camera and GPS EXIF tags (to show they are stripped)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 320), (90, 120, 160))
    ImageDraw.Draw(img).rectangle((60, 60, 420, 260), outline=(250, 250, 250), width=6)
    exif = Image.Exif()
    exif[0x010F] = "DemoCam"
    exif[0x0132] = "2024:02:20 10:00:00"
    exif[0x8825] = {1: "N", 2: (26.0, 53.0, 30.0), 3: "E", 4: (112.0, 36.0, 10.0)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _pages(pdf: bytes) -> int:
    from dossier.forms.bind import page_count

    return page_count(pdf)


def demo_step(demo) -> None:
    from dossier.forms import service
    from dossier.forms.pdf import PdfConverter, find_soffice

    t0 = time.perf_counter()
    out = Path(demo.out)
    user, ref = demo.refs[0]
    li_refs = [r for u, r in demo.refs if u == user][:3]
    have_pdf = find_soffice() is not None
    demo.say("【文书】填写文书、记录会商、加入扫描件、装订一人一档"
             + ("" if have_pdf else "（未安装 LibreOffice：只生成 docx/xlsx，跳过 PDF 与装订）"))
    with contextlib.ExitStack() as stack:
        ar = stack.enter_context(demo.open(user))
        meeting = service.add_meeting(ar, {
            "no": f"〔{demo.today.year}〕第1期", "date": demo.today.isoformat(), "time": "上午9时",
            "place": "粤汉街道综治中心会议室", "host": "陈志刚（街道禁毒办主任）", "recorder": "李娜",
            "title": "粤汉街道社会面吸毒人员风险分类评估会商会议纪要",
            "agenda": "对苗圃社区社会面吸毒人员进行风险分类评估会商",
            "attendees": [{"name": "陈志刚", "unit": "粤汉街道禁毒办", "role": "主任"},
                          {"name": "王海军", "unit": "粤汉派出所", "role": "社区民警"},
                          {"name": "李娜", "unit": "苗圃社区", "role": "禁毒专干"}],
            "observers": [{"name": "刘芳", "unit": "苗圃社区", "role": "网格员"}],
            "absentees": [{"name": "周敏", "unit": "苗圃社区", "role": "社工"}],
            "decisions": ["对评定为高风险的人员，每月见面核查不少于2次，每季度检测不少于1次。"],
            "persons": [{"ref": r.archive_no, "level": lvl, "community_level": lvl,
                         "reasons": reason, "measures": measures, "responsible": "李娜、王海军",
                         "next_review": demo.today.replace(year=demo.today.year + 1).isoformat()}
                        for r, (lvl, reason, measures) in zip(li_refs, [
                            ("中", "正在执行社区康复，近期检测阴性。", "每月见面核查1次，每季度检测1次"),
                            ("高", "近一年内有复吸记录，拒绝检测1次。", "每月见面核查2次，每月检测1次"),
                            ("低", "戒断三年以上未发现复吸，家庭稳定。", "每季度见面核查1次")])],
        }, today=demo.today)
        demo.say(f"  会商会议 {meeting['no']}：{len(meeting['persons'])} 人，各自档案追加一条风险评估记录")
        jobs = [{"code": "risk-approval", "ref": ref.archive_no},
                {"code": "minutes", "meeting": meeting["id"]},
                {"code": "signin", "meeting": meeting["id"]}]
        conv = stack.enter_context(PdfConverter(warm=True)) if have_pdf else None   # one office for the step
        results = service.fill_batch(ar, jobs, pdf=have_pdf, today=demo.today, converter=conv)
        names = {"risk-approval": "审批表", "minutes": "会商会议纪要", "signin": "会商会议签到表"}
        for r in results:
            stem = out / names[r.code]
            stem.with_suffix(".docx").write_bytes(r.docx)
            files = [stem.with_suffix(".docx").name]
            if r.fmt == "pdf":
                stem.with_suffix(".pdf").write_bytes(r.data)
                files.append(f"{stem.with_suffix('.pdf').name}（{_pages(r.data)} 页）")
            kept = f"；存入 {len(r.kept)} 份档案" if r.kept else ""
            demo.say(f"  《{r.title}》→ {'、'.join(files)}{kept}")
        xlsx = service.fill(ar, "fb02", scope="珠晖区/粤汉街道", today=demo.today, fmt="xlsx")
        (out / "附表2.xlsx").write_bytes(xlsx.data)
        demo.say(f"  《{xlsx.title}》（珠晖区/粤汉街道，{user} 可见范围）→ 附表2.xlsx")
        scan = service.attach(ar, ref.archive_no, _scan_pdf("社区康复协议书", "（演示人员）", ref.archive_no),
                              "社区康复协议书.pdf", title="社区康复协议书", category="协议", today=demo.today)
        demo.say(f"  附件《{scan['title']}》：PDF 扫描件 {scan['pages']} 页，加密存入档案（第 {scan['version']} 版）")
        photo = service.attach(ar, ref.archive_no, _gps_jpeg(), "本人照片.jpg", title="本人照片",
                               category="身份证明", today=demo.today)
        demo.say(f"  附件《{photo['title']}》：JPEG 1 页，EXIF/GPS 信息已在存储前清除（第 {photo['version']} 版）")
        if have_pdf:
            pdf = service.bind_dossier(ar, ref.archive_no, today=demo.today, watermark="仅供内部使用",
                                       converter=conv)
            (out / "一人一档.pdf").write_bytes(pdf)
            demo.say(f"  装订一人一档 → 一人一档.pdf（{_pages(pdf)} 页，封面、卷内目录、各件书签、备考表，水印“仅供内部使用”）")
    demo.say(f"  文书步骤用时 {time.perf_counter() - t0:.1f} 秒")
