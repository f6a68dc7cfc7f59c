#!/usr/bin/env python
"""Build the shipped Word templates (templates/docx/*.docx) and their manifest.

    python tools/build_templates.py [OUTDIR]

Each form is an A4 Word document laid out as offices print it: bordered tables,
宋体 titles, 仿宋 body; the 会商会议纪要 follows the 纪要 layout of GB/T 9704-2012
(版心 156×225 mm, 纪要标志 red and centred, 3号仿宋 body, 出席/列席/请假 lines,
版记). Fields are docxtpl tags (``{{ person.name }}``, ``{%tr for r in rows %}``).
The generated files are committed; offices may edit them in Word or WPS and
check them with ``dossier template check``.

Deterministic: running it twice gives the same documents (fixed core
properties and zip timestamps), so git only shows real changes.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import yaml
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

ROOT = Path(__file__).resolve().parent.parent
SONG, FANG, HEI, KAI = "宋体", "仿宋", "黑体", "楷体"
TITLE_FONT = "方正小标宋简体"   # GB/T 9704 标题字体; falls back to 宋体 where not installed
_bookmark_id = [0]


# ------------------------------------------------------------------ low-level helpers

def set_font(run, name=FANG, size=12, bold=False, color=None):
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    if color:
        run.font.color.rgb = RGBColor.from_string(color)


def new_document(landscape=False, margins=(25, 20, 20, 20), body_font=FANG, body_size=12):
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    top, right, bottom, left = margins
    sec.top_margin, sec.right_margin, sec.bottom_margin, sec.left_margin = Mm(top), Mm(right), Mm(bottom), Mm(left)
    style = doc.styles["Normal"]
    style.font.name = body_font
    style.font.size = Pt(body_size)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), body_font)
    pf = style.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing = 1.15
    cp = doc.core_properties
    cp.author = "dossier"
    cp.last_modified_by = "dossier"
    cp.created = cp.modified = datetime(2024, 1, 1)
    cp.revision = 1
    cp.comments = ""
    return doc


def para(doc_or_cell, text="", *, font=FANG, size=12, bold=False, align=None, color=None,
         indent_chars=0, space_after=0, space_before=0):
    p = doc_or_cell.add_paragraph()
    if align == "center":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    elif align == "right":
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    elif align == "justify":
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    if indent_chars:
        p.paragraph_format.first_line_indent = Pt(size * indent_chars)
    p.paragraph_format.space_after = Pt(space_after)
    p.paragraph_format.space_before = Pt(space_before)
    if text:
        set_font(p.add_run(text), font, size, bold, color)
    return p


def runs(p, parts, size=12):
    """Add (text, font, bold) parts to paragraph ``p``."""
    for part in parts:
        text, font, bold = (part + (FANG, False))[:3] if isinstance(part, tuple) else (part, FANG, False)
        set_font(p.add_run(text), font, size, bold)
    return p


def cell_text(cell, text, *, size=10.5, bold=False, align=None, font=FANG):
    cell.text = ""
    p = cell.paragraphs[0]
    if align == "center":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    elif align == "right":
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i:
            p = cell.add_paragraph()
            if align == "center":
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif align == "right":
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if line:
            set_font(p.add_run(line), font, size, bold)
    return cell


def vcenter(cell):
    tcpr = cell._tc.get_or_add_tcPr()
    v = OxmlElement("w:vAlign")
    v.set(qn("w:val"), "center")
    tcpr.append(v)


def table(doc, rows, cols, widths_mm, *, size=10.5):
    t = doc.add_table(rows=rows, cols=cols)
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    fixed = OxmlElement("w:tblLayout")
    fixed.set(qn("w:type"), "fixed")
    t._tbl.tblPr.append(fixed)
    for row in t.rows:
        for i, c in enumerate(row.cells):
            c.width = Mm(widths_mm[i])
    grid = t._tbl.tblGrid
    for i, gc in enumerate(grid.findall(qn("w:gridCol"))):
        gc.set(qn("w:w"), str(int(widths_mm[i] * 56.7)))
    return t


def narrow_cell_margins(t, mm=0.6):
    """Left/right cell padding of ``mm`` (Word's default 1.9 mm eats a third of a 30-column 附表)."""
    mar = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(mm * 56.7)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    t._tbl.tblPr.append(mar)


def repeat_header(row):
    trpr = row._tr.get_or_add_trPr()
    h = OxmlElement("w:tblHeader")
    h.set(qn("w:val"), "true")
    trpr.append(h)


def min_height(row, mm):
    trpr = row._tr.get_or_add_trPr()
    h = OxmlElement("w:trHeight")
    h.set(qn("w:val"), str(int(mm * 56.7)))
    h.set(qn("w:hRule"), "atLeast")
    trpr.append(h)


def bookmark(paragraph, name):
    """Wrap ``paragraph``'s content in a Word bookmark (a stable, named place)."""
    _bookmark_id[0] += 1
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(_bookmark_id[0]))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(_bookmark_id[0]))
    ppr = paragraph._p.find(qn("w:pPr"))
    idx = 1 if ppr is not None else 0
    paragraph._p.insert(idx, start)
    paragraph._p.append(end)


STAMP_BAND_PT = 40   # the empty band of a 审批表 signature block where the stamp goes


def labelled_runs(p, parts, size=10.5):
    """Runs of ``(text, bookmark name or None)``: a named run is wrapped in its own bookmark
    (LibreOffice exports it as a named destination at the run's position)."""
    for text, name in parts:
        run = p.add_run(text)
        set_font(run, FANG, size)
        if name:
            _bookmark_id[0] += 1
            start = OxmlElement("w:bookmarkStart")
            start.set(qn("w:id"), str(_bookmark_id[0]))
            start.set(qn("w:name"), name)
            end = OxmlElement("w:bookmarkEnd")
            end.set(qn("w:id"), str(_bookmark_id[0]))
            run._r.addprevious(start)
            run._r.addnext(end)
    return p


def border_bottom(paragraph, color="FF0000", size=12):
    ppr = paragraph._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    b = OxmlElement("w:bottom")
    b.set(qn("w:val"), "single")
    b.set(qn("w:sz"), str(size))
    b.set(qn("w:space"), "1")
    b.set(qn("w:color"), color)
    bdr.append(b)
    ppr.append(bdr)


def page_number_footer(doc, style="— {} —", size=14, font=SONG):
    """Footer with a PAGE field, centred (GB/T 9704 uses 4号 Arabic numbers between dashes)."""
    sec = doc.sections[0]
    p = sec.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    before, after = style.split("{}")
    set_font(p.add_run(before), font, size)
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    fld.append(r)
    p._p.append(fld)
    set_font(p.add_run(after), font, size)


def save(doc, path: Path):
    buf = io.BytesIO()
    doc.save(buf)
    # deterministic zip: fixed timestamps and order
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, src.read(info.filename))
    path.write_bytes(out.getvalue())


def title_block(doc, title, *, size=20, sub=None):
    para(doc, title, font=TITLE_FONT, size=size, bold=True, align="center", space_after=6)
    if sub:
        para(doc, sub, size=11, align="center", space_after=6)


def kv_table(doc, rows, widths, size=10.5):
    """rows: list of lists of (text, span) or text; labels bold-ish. Returns table."""
    ncols = len(widths)
    t = table(doc, len(rows), ncols, widths, size=size)
    for r, spec in enumerate(rows):
        c = 0
        for item in spec:
            text, span = item if isinstance(item, tuple) else (item, 1)
            cell = t.cell(r, c)
            if span > 1:
                cell = cell.merge(t.cell(r, c + span - 1))
            is_label = not text.startswith("{") and "{{" not in text and c % 2 == 0 and span == 1
            cell_text(cell, text, size=size, align="center" if is_label else None, font=FANG)
            vcenter(cell)
            c += span
    return t


# ------------------------------------------------------------------ person forms

def _date_line(block):
    """A signature block's date, or the blank 年 月 日 line to write it by hand."""
    return '{{ assessment.%s.date or "　　　　年　　月　　日" }}' % block


def build_risk_approval(path):
    doc = new_document(margins=(20, 18, 18, 20), body_size=10.5)
    title_block(doc, "社会面吸毒人员风险分类评估审批表", size=18)
    # two lines: the 档号 alone is ~30 characters, one line would wrap in the middle of it
    p = para(doc, size=10.5)
    runs(p, ["填表单位：{{ unit }}　　填表日期：{{ today }}"], size=10.5)
    p = para(doc, size=10.5, space_after=4)
    runs(p, ["编号：{{ doc_no }}　　档号：{{ archive_no }}"], size=10.5)
    W = [24, 38, 24, 38, 24, 24]   # 172 mm
    rows = [
        [("一、基本情况", 6)],
        ["姓名", "{{ person.name }}", "绰号/别名", "{{ person.alias }}", "性别", "{{ person.gender }}"],
        ["民族", "{{ person.ethnicity }}", "出生日期", "{{ person.birth_date }}", "文化程度", "{{ person.education }}"],
        ["公民身份号码", ("{{ person.id_number }}", 3), "婚姻状况", "{{ person.marital }}"],
        ["就业情况", "{{ person.employment }}", "工作单位", ("{{ person.employer }}", 3)],
        ["户籍地址", ("{{ person.hukou_address }}", 3), "所属派出所", "{{ person.hukou_police }}"],
        ["现住址", ("{{ person.residence_address }}", 3), "所属派出所", "{{ person.residence_police }}"],
        ["联系电话", "{{ person.phone }}", "当前状态", ("{{ status.text }}", 3)],
        [("二、吸毒情况", 6)],
        ["初次查获日期", "{{ person.first_seized_date }}", "查获单位", ("{{ person.seizing_unit }}", 3)],
        ["滥用毒品种类", "{{ person.drug_types }}", "吸毒方式", "{{ person.use_method }}", "复吸次数", "{{ person.relapse_count }}"],
        ["成瘾认定", ("{{ person.addiction_checks }}", 5)],
        ["历次戒毒措施", ("{{ status.history_text }}", 5)],
        ["近期检测", ("{{ last_test.date }}　{{ last_test.sample }}　{{ last_test.method }}　结果：{{ last_test.result }}", 5)],
        [("三、现实表现", 6)],
        ["见面核查情况", ("{{ interview.date }}　{{ interview.method }}　{{ interview.findings }}", 5)],
        ["家庭情况", ("{{ person.marital }}　{{ person.family_hardship }}", 5)],
        ["身心健康", ("{{ person.special_diseases }}", 5)],
        [("四、评估情形", 6)],
        ["命中条款", ("{{ assessment.criteria }}", 5)],
        ["评估理由", ("{{ assessment.rationale }}", 5)],
        ["其他情形说明", ("{{ assessment.other }}", 5)],
    ]
    kv_table(doc, rows, W, size=10.5)
    # five signature blocks, each its own table row: what the block asks for, then an empty band
    # (bookmark sig_<block>) where the signature stamp goes — clear of every printed label —
    # then the printed 签名 and 盖章/日期 lines. Bookmarks fill_* mark where the chain fills in
    # the 会商 and final conclusions (dossier.approve.formpdf.FILL_BOOKMARKS).
    blocks = [
        ("community", "①社区（村）初评意见",
         "建议等级：{{ assessment.proposed_checks }}\n{%p if assessment.community.opinion %}\n"
         "{{ assessment.community.opinion }}\n{%p endif %}",
         "评估人（签名）：{{ assessment.community.signer }}　　社区负责人（签名）：{{ assessment.community.signer2 }}",
         "（社区居委会/村委会盖章）　　%s" % _date_line("community")),
        ("police", "②派出所核查意见", "{%p if assessment.police.opinion %}\n{{ assessment.police.opinion }}\n{%p endif %}",
         "社区民警（签名）：{{ assessment.police.signer }}　　所长（签名）：{{ assessment.police.signer2 }}",
         "（派出所盖章）　　%s" % _date_line("police")),
        ("meeting", "③会商评估意见", None,
         "主持人（签名）：{{ assessment.meeting.signer }}",
         _date_line("meeting")),
        ("street", "④街道（乡镇）审批意见", "{%p if assessment.street.opinion %}\n{{ assessment.street.opinion }}\n{%p endif %}",
         "党政主要领导（签名）：{{ assessment.street.signer }}",
         "（街道办事处/乡镇人民政府或禁毒办盖章）　　%s" % _date_line("street")),
        ("district", "⑤区（县）禁毒办备案意见", "{%p if assessment.district.opinion %}\n{{ assessment.district.opinion }}\n{%p endif %}",
         "经办人（签名）：{{ assessment.district.signer }}",
         "（禁毒办盖章）　　%s" % _date_line("district")),
    ]
    t = table(doc, len(blocks) + 2, 2, [34, 138])
    for i, (key, label, opinion, signer, date) in enumerate(blocks):
        cell_text(t.cell(i, 0), label, size=10.5, align="center")
        vcenter(t.cell(i, 0))
        c = t.cell(i, 1)
        if opinion is not None:
            cell_text(c, opinion, size=10.5)
        else:   # ③: minutes number and date, and the 会商结论 boxes, each a place the chain fills in
            c.text = ""
            p = c.paragraphs[0]
            labelled_runs(p, [("会议纪要编号：", None), ("{{ assessment.meeting_no }}", "fill_meeting_no"),
                              ("　会商日期：", None), ("{{ assessment.meeting.date }}", "fill_meeting_date")])
            p = c.add_paragraph()
            labelled_runs(p, [("会商结论：", None), ("{{ assessment.level_checks }}", "fill_conclusion"),
                              ("　{{ assessment.meeting.opinion }}", None)])
        band = para(c, size=10.5)
        band.paragraph_format.line_spacing = Pt(STAMP_BAND_PT)
        bookmark(band, f"sig_{key}")
        para(c, signer, size=10.5, align="right")
        para(c, date, size=10.5, align="right")
        min_height(t.rows[i], 28)
    cell_text(t.cell(len(blocks), 0), "最终等级", size=10.5, align="center")
    c = t.cell(len(blocks), 1)
    c.text = ""
    labelled_runs(c.paragraphs[0], [("{{ assessment.level_checks }}", "fill_final_level"),
                                    ("　{{ assessment.level_detail }}　下次复评日期：", None),
                                    ("{{ assessment.next_review }}", "fill_next_review")])
    cell_text(t.cell(len(blocks) + 1, 0), "备注", size=10.5, align="center")
    cell_text(t.cell(len(blocks) + 1, 1), "{{ assessment.remarks }}", size=10.5)
    para(doc, "注：各栏日期须满足①≤②≤③≤④≤⑤；定级为高风险的，须附“一人一策”管控方案。", size=9, space_before=4)
    save(doc, path)
    return {"signature_blocks": [
        {"id": k, "label": label.lstrip("①②③④⑤"), "bookmark": f"sig_{k}"} for k, label, *_ in blocks]}


def build_basic_info(path):
    doc = new_document(margins=(20, 18, 18, 20), body_size=10.5)
    title_block(doc, "吸毒人员基本信息登记表", size=18)
    para(doc, "档号：{{ archive_no }}　　登记单位：{{ unit }}　　登记日期：{{ today }}", size=10.5, space_after=4)
    W = [26, 34, 24, 34, 24, 30]
    rows = [
        ["姓名", "{{ person.name }}", "绰号/别名", "{{ person.alias }}", "性别", "{{ person.gender }}"],
        ["民族", "{{ person.ethnicity }}", "出生日期", "{{ person.birth_date }}", "籍贯", "{{ person.native_place }}"],
        ["公民身份号码", ("{{ person.id_number }}", 3), "文化程度", "{{ person.education }}"],
        ["婚姻状况", "{{ person.marital }}", "政治面貌", "{{ person.political_status }}", "联系电话", "{{ person.phone }}"],
        ["就业情况", "{{ person.employment }}", "职业", "{{ person.occupation }}", "工作单位", "{{ person.employer }}"],
        ["户籍地址", ("{{ person.hukou_address }}", 3), "户籍派出所", "{{ person.hukou_police }}"],
        ["居住地址", ("{{ person.residence_address }}", 3), "居住地派出所", "{{ person.residence_police }}"],
        ["网格", "{{ person.grid }}", "网格员", "{{ person.grid_worker }}", "是否流入", "{{ person.is_inflow }}"],
        ["初次查获日期", "{{ person.first_seized_date }}", "查获单位", ("{{ person.seizing_unit }}", 3)],
        ["滥用毒品种类", "{{ person.drug_types }}", "吸毒方式", "{{ person.use_method }}", "成瘾认定", "{{ person.addiction }}"],
        ["措施状态", ("{{ status.measure_checks }}", 5)],
        ["现实状况", ("{{ status.presence_checks }}", 5)],
        ["驾驶证", ("准驾车型：{{ person.license_class }}　初领日期：{{ person.license_issued }}　状态：{{ person.license_status }}", 5)],
        ["特殊病情", ("{{ person.special_diseases }}", 3), "涉毒犯罪前科", "{{ person.has_drug_crime_record }}"],
        ["家庭困难", ("{{ person.family_hardship }}", 5)],
        ["派生标签", ("{{ labels }}", 5)],
    ]
    kv_table(doc, rows, W)
    para(doc, "家庭主要成员及社会关系", font=HEI, size=11, space_before=6, space_after=3)
    t = table(doc, 3, 6, [26, 16, 16, 24, 60, 30])
    for i, h in enumerate(["姓名", "性别", "年龄", "关系", "住址", "联系电话"]):
        cell_text(t.cell(0, i), h, size=10.5, align="center", bold=True)
    repeat_header(t.rows[0])
    cell_text(t.cell(1, 0), "{%tr for m in family %}", size=10.5)
    for i, f in enumerate(["name", "gender", "age", "relation", "address", "phone"]):
        cell_text(t.cell(2, i), "{{ m.%s }}" % f, size=10.5, align="center" if i < 4 else None)
    t.add_row()
    cell_text(t.cell(3, 0), "{%tr endfor %}", size=10.5)
    _move_row(t, 1, 1)
    para(doc, "备注：{{ person.note }}", size=10.5, space_before=6)
    para(doc, "填表人（签名）：　　　　　　　审核人（签名）：　　　　　　　{{ today }}", size=10.5, align="right", space_before=12)
    save(doc, path)


def _move_row(t, *_):
    """Rows are already in order (header, for, data, endfor); kept for clarity."""
    return t


def _loop_table(doc, headers, fields, widths, var, seq_field=None, size=10.5, item="r", header_bold=True):
    t = table(doc, 4, len(headers), widths)
    for i, h in enumerate(headers):
        cell_text(t.cell(0, i), h, size=size, align="center", bold=header_bold)
        vcenter(t.cell(0, i))
    repeat_header(t.rows[0])
    cell_text(t.cell(1, 0), "{%%tr for %s in %s %%}" % (item, var), size=size)
    for i, f in enumerate(fields):
        cell_text(t.cell(2, i), "{{ %s.%s }}" % (item, f), size=size,
                  align="center" if f in ("seq", "gender", "date", "pages", "page_start", "level") else None)
    cell_text(t.cell(3, 0), "{%tr endfor %}", size=size)
    return t


def build_control_plan(path):
    doc = new_document(margins=(25, 20, 20, 25), body_size=12)
    title_block(doc, "社会面吸毒人员“一人一策”管控方案", size=20)
    para(doc, "档号：{{ archive_no }}　　制定单位：{{ unit }}　　制定日期：{{ plan.start }}", size=10.5, space_after=4)
    W = [24, 26, 20, 34, 22, 34]   # 160 mm: the text width between 25 mm margins
    rows = [
        ["姓名", "{{ person.name }}", "性别", "{{ person.gender }}", "出生日期", ("{{ person.birth_date }}", 1)],
        ["公民身份号码", ("{{ person.id_number }}", 3), "联系电话", "{{ person.phone }}"],
        ["现住址", ("{{ person.residence_address }}", 5)],
        ["风险等级", "{{ plan.level }}", "评估日期", "{{ assessment.date }}", "备案单位", "{{ plan.filed_with }}"],
        ["当前状态", ("{{ status.text }}", 5)],
        ["主要风险点", ("{{ assessment.criteria }}　{{ assessment.rationale }}", 5)],
        ["见面频次", ("{{ plan.visit_freq }}", 2), "检测频次", ("{{ plan.test_freq }}", 2)],
        ["管控措施", ("{{ plan.measures }}", 5)],
        ["帮扶救助措施", ("{{ plan.assistance }}", 5)],
        ["执行期限", ("{{ plan.start }} 至 {{ plan.end }}", 5)],
    ]
    narrow_cell_margins(kv_table(doc, rows, W), 1.0)
    para(doc, "包保责任人（一人一专班）", font=HEI, size=12, space_before=8, space_after=3)
    _loop_table(doc, ["职责", "姓名", "联系电话"], ["role", "name", "phone"], [45, 45, 70], "plan.responsibles")
    para(doc, "社区（村）意见：　　　　　　　　派出所意见：　　　　　　　　街道审批：", size=12, space_before=16)
    save(doc, path)


def build_interview(path):
    doc = new_document(margins=(25, 20, 20, 25), body_size=12)
    title_block(doc, "见面核查/谈话记录", size=20)
    para(doc, "档号：{{ archive_no }}", size=10.5, align="right", space_after=4)
    W = [28, 46, 31, 60]   # 165 mm: the text width
    rows = [
        ["时间", "{{ interview.date }}", "地点", "{{ interview.location }}"],
        ["核查方式", ("{{ interview.method_checks }}", 3)],
        ["被核查人", "{{ person.name }}", "公民身份号码", "{{ person.id_number }}"],
        ["谈话对象", "{{ interview.subject }} {{ interview.subject_name }}", "与本人关系", "{{ interview.relation }}"],
        ["是否见到本人", "{{ interview.person_seen }}", "核查人员", "{{ interview.staff }}"],
        ["谈话内容", ("{{ interview.content }}", 3)],
        ["核查情况", ("{{ interview.findings }}", 3)],
        ["下落线索", ("{{ interview.clue }}", 3)],
    ]
    t = kv_table(doc, rows, W, size=12)
    min_height(t.rows[5], 70)
    min_height(t.rows[6], 30)
    para(doc, "以上记录我已看过，与我说的相符。", size=12, space_before=10)
    para(doc, "被谈话人（签名）：　　　　　核查人（签名）：　　　　　记录人（签名）：", size=12, space_before=10)
    save(doc, path)


def build_transfer_letter(path):
    """移交函 / 双向管控函 (issue 13): goes on paper with a transfer bundle."""
    doc = new_document(margins=(25, 20, 20, 25), body_size=12)
    title_block(doc, "吸毒人员档案移交函", size=20, sub="（异地服务管理·双向管控函）")
    para(doc, "档号：{{ archive_no }}　　移交包：{{ transfer.bundle_id }}", size=10.5, align="right", space_after=4)
    para(doc, "{{ transfer.to_office }}：", size=14, space_before=6)
    para(doc, "　　根据吸毒人员异地服务管理和双向管控工作的要求，我单位登记在册的吸毒人员{{ person.name }}"
              "（公民身份号码 {{ person.id_number }}），因{{ transfer.reason }}，现将其档案（全部版本、附件、"
              "文书及审批记录，共 {{ transfer.versions }} 版）以加密移交包移交你单位，请核对发送方根密钥指纹后接收，"
              "及时落实管控和服务措施，并将接收情况反馈我单位。", size=14, space_after=6)
    W = [30, 52, 30, 53]
    rows = [
        ["姓名", "{{ person.name }}", "性别", "{{ person.gender }}"],
        ["公民身份号码", "{{ person.id_number }}", "出生日期", "{{ person.birth_date }}"],
        ["户籍地", ("{{ person.hukou_address }}", 3)],
        ["现居住地", ("{{ person.residence_address }}", 3)],
        ["当前状态", "{{ status.text }}", "原档号", "{{ transfer.original_archive_no }}"],
        ["移交原因", ("{{ transfer.reason }}", 3)],
        ["移交单位", "{{ transfer.from_office }}", "移交日期", "{{ transfer.date }}"],
        ["移交方根密钥指纹", "{{ transfer.from_fingerprint }}", "接收方根密钥指纹", "{{ transfer.to_fingerprint }}"],
        ["接收单位", "{{ transfer.to_office }}", "接收日期", "{{ transfer.received_date }}"],
        ["移交方存档", ("{{ transfer.kept }}", 3)],
    ]
    kv_table(doc, rows, W, size=11)
    para(doc, "移交单位（盖章）：　　　　　　　经办人：　　　　　　　　　年　　月　　日", size=12, space_before=16)
    para(doc, "—" * 30, size=10, align="center", space_before=10)
    para(doc, "回　执", font=TITLE_FONT, size=16, bold=True, align="center", space_before=6)
    para(doc, "{{ transfer.from_office }}：你单位移交的{{ person.name }}（档号 {{ archive_no }}）档案已收到，"
              "已核对移交包签名及根密钥指纹，纳入我单位管理。", size=12, space_before=6)
    para(doc, "接收单位（盖章）：　　　　　　　经办人：　　　　　　　　　年　　月　　日", size=12, space_before=12)
    save(doc, path)


def build_cover(path):
    doc = new_document(margins=(25, 25, 25, 30), body_size=14)
    t = table(doc, 2, 4, [22, 40, 22, 40], size=10.5)
    t.alignment = WD_TABLE_ALIGNMENT.RIGHT
    cell_text(t.cell(0, 0), "档号", size=10.5, align="center")
    cell_text(t.cell(0, 1).merge(t.cell(0, 3)), "{{ archive_no }}", size=10.5, align="center")
    cell_text(t.cell(1, 0), "密级", size=10.5, align="center")
    cell_text(t.cell(1, 1), "{{ volume.secrecy }}", size=10.5, align="center")
    cell_text(t.cell(1, 2), "保管期限", size=10.5, align="center")
    cell_text(t.cell(1, 3), "{{ volume.retention }}", size=10.5, align="center")
    for _ in range(4):
        para(doc, "")
    para(doc, "{{ unit }}", font=SONG, size=22, bold=True, align="center", space_after=12)
    para(doc, "吸毒人员档案", font=TITLE_FONT, size=36, bold=True, align="center", space_after=6)
    para(doc, "（一人一档）", font=SONG, size=18, align="center", space_after=30)
    W = [40, 110]
    rows = [
        ["全宗名称", "{{ volume.fonds }}"],
        ["类目名称", "禁毒·吸毒人员档案"],
        ["案卷题名", "{{ volume.title }}"],
        ["所属社区", "{{ district }}{{ street }}{{ community }}"],
        ["起止时间", "{{ volume.date_from }} 至 {{ volume.date_to }}"],
        ["本卷件数", "{{ volume.count }}"],
        ["本卷页数", "{{ volume.pages }}"],
    ]
    t = kv_table(doc, rows, W, size=14)
    for r in t.rows:
        min_height(r, 11)
    save(doc, path)


def build_file_index(path):
    doc = new_document(margins=(25, 20, 20, 25), body_size=10.5)
    title_block(doc, "卷内文件目录", size=20)
    para(doc, "档号：{{ archive_no }}", size=10.5, align="right", space_after=4)
    t = _loop_table(doc, ["顺序号", "文号", "责任者", "题名", "日期", "页号", "备注"],
                    ["seq", "doc_no", "author", "title", "date", "page_start", "remarks"],
                    [12, 20, 22, 53, 25, 12, 21], "items", item="i")
    min_height(t.rows[2], 9)
    save(doc, path)


def build_remarks(path):
    doc = new_document(margins=(25, 20, 20, 25), body_size=12)
    title_block(doc, "卷内备考表", size=20)
    para(doc, "档号：{{ archive_no }}", size=10.5, align="right", space_after=4)
    t = table(doc, 2, 1, [165])
    c = t.cell(0, 0)
    cell_text(c, "本卷情况说明", size=12, bold=True)
    para(c, "本卷共有文件{{ volume.count }}件，共{{ volume.pages }}页。", size=12, indent_chars=2, space_before=6)
    para(c, "{{ volume.note }}", size=12, indent_chars=2)
    min_height(t.rows[0], 150)
    c = t.cell(1, 0)
    cell_text(c, "立卷人：{{ volume.maker }}", size=12, align="right")
    para(c, "检查人：{{ volume.checker }}", size=12, align="right", space_before=6)
    para(c, "立卷时间：{{ volume.made_date }}", size=12, align="right", space_before=6)
    min_height(t.rows[1], 40)
    save(doc, path)


# ------------------------------------------------------------------ meeting forms

def build_minutes(path):
    # GB/T 9704-2012: 天头 37 mm, 订口 28 mm, 版心 156×225 mm; body 3号仿宋 (16 pt)
    doc = new_document(margins=(37, 26, 35, 28), body_size=16)
    doc.styles["Normal"].paragraph_format.line_spacing = Pt(28.9)
    p = para(doc, "{{ meeting.title }}", font=TITLE_FONT, size=22, align="center", color="FF0000", space_after=8)
    p = para(doc, "{{ meeting.no }}", font=FANG, size=16, align="center", space_after=4)
    border_bottom(p, "FF0000", 12)
    para(doc, "")
    para(doc, "{{ meeting.intro }}", size=16, indent_chars=2, align="justify")
    para(doc, "一、总体情况", font=HEI, size=16, indent_chars=2)
    para(doc, "本次会商共评估{{ summary.persons }}人，其中见面核查{{ summary.met }}人，检测{{ summary.tested }}人"
              "（阳性{{ summary.positive }}人）；评定高风险{{ summary.high }}人、中风险{{ summary.mid }}人、"
              "低风险{{ summary.low }}人。{{ meeting.overview }}", size=16, indent_chars=2, align="justify")
    para(doc, "二、逐人会商结论", font=HEI, size=16, indent_chars=2)
    t = _loop_table(doc, ["序号", "姓名", "身份证号", "现状", "主要依据", "社区初评", "会商结论", "管控措施", "责任人", "复评日期"],
                    ["seq", "name", "id_number", "status", "basis", "community_level", "level", "measures",
                     "responsible", "next_review"],
                    [9, 13, 24, 15, 22, 11, 11, 22, 13, 16], "conclusions", item="c", size=9)
    for row in t.rows:
        for c in row.cells:
            for pp in c.paragraphs:
                pp.paragraph_format.line_spacing = 1.0
    para(doc, "三、议定事项", font=HEI, size=16, indent_chars=2)
    para(doc, "{%p for d in decisions %}", size=16)
    para(doc, "{{ d.seq }}. {{ d.text }}", size=16, indent_chars=2, align="justify")
    para(doc, "{%p endfor %}", size=16)
    para(doc, "")
    for label, var in (("出席：", "attendees_text"), ("列席：", "observers_text"), ("请假：", "absentees_text")):
        p = para(doc, indent_chars=2)
        set_font(p.add_run(label), HEI, 16)
        set_font(p.add_run("{{ meeting.%s }}" % var), FANG, 16)
    p = para(doc, indent_chars=2)
    set_font(p.add_run("记录："), HEI, 16)
    set_font(p.add_run("{{ meeting.recorder }}"), FANG, 16)
    para(doc, "")
    # 版记: 分送 + 印发机关和印发日期, between lines
    t = table(doc, 2, 1, [156])
    cell_text(t.cell(0, 0), "分送：{{ meeting.distribution }}", size=14)
    cell_text(t.cell(1, 0), "{{ unit }}　　　　　　　　{{ meeting.printed_date }}印发", size=14)
    _only_horizontal_borders(t)
    page_number_footer(doc)
    save(doc, path)


def _only_horizontal_borders(t):
    tblpr = t._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        e = OxmlElement(f"w:{edge}")
        if edge in ("top", "bottom", "insideH"):
            e.set(qn("w:val"), "single")
            e.set(qn("w:sz"), "8" if edge == "insideH" else "12")
            e.set(qn("w:color"), "000000")
        else:
            e.set(qn("w:val"), "nil")
        borders.append(e)
    tblpr.append(borders)


def build_signin(path):
    doc = new_document(margins=(25, 20, 20, 25), body_size=12)
    title_block(doc, "会商会议签到表", size=20)
    kv_table(doc, [["会议名称", ("{{ meeting.title }}", 3)],
                   ["时间", "{{ meeting.date }} {{ meeting.time }}", "地点", "{{ meeting.place }}"],
                   ["主持人", "{{ meeting.host }}", "记录人", "{{ meeting.recorder }}"]],
             [25, 60, 20, 60], size=12)
    para(doc, "")
    t = _loop_table(doc, ["序号", "单位", "姓名", "职务", "联系电话", "签到"],
                    ["seq", "unit", "name", "role", "phone", "sign"], [14, 45, 24, 24, 28, 30], "signin", item="a",
                    size=12)
    cell_text(t.cell(2, 5), "", size=12)
    min_height(t.rows[2], 12)
    save(doc, path)


# ------------------------------------------------------------------ 粤汉 附表 1–14

C = [("seq", "序号"), ("community", "社区（村）"), ("name", "姓名"), ("gender", "性别"),
     ("id_number", "公民身份号码"), ("hukou_address", "户籍地址"), ("residence_address", "现住址"),
     ("phone", "联系电话"), ("police", "列管派出所"), ("status", "当前状态")]
C_END = [("screeners", "排查人"), ("screen_date", "排查日期"), ("remarks", "备注")]

LISTS = {
    2: ("吸毒人员排查情况登记通表", "all", [
        ("first_seized_date", "初次查获日期"), ("seizing_unit", "查获单位"), ("drug_types", "滥用毒品种类"),
        ("use_method", "吸毒方式"), ("addiction", "成瘾认定"), ("measures_history", "历次戒毒措施"),
        ("last_use_date", "末次吸毒/查获日期"), ("abstinence_years", "戒断年限"),
        ("interview_method", "见面方式"), ("talk_subjects", "谈话对象"), ("test_method", "检测方式"),
        ("test_date", "检测日期"), ("test_result", "检测结果"), ("employment", "就业"),
        ("marital", "婚姻家庭"), ("risk_level", "初评风险等级"), ("tags", "分类标签")]),
    3: ("社会面吸毒人员风险分类评估审批表（汇总）", "assessed", [
        ("criteria", "命中情形条款"), ("proposed_level", "社区初评"), ("police_date", "派出所核查日期"),
        ("meeting_no", "会商纪要"), ("risk_level", "会商结论"), ("approve_date", "街道审批日期"),
        ("filing_date", "区禁毒办备案日期"), ("assess_state", "审批状态"), ("next_review", "下次复评")]),
    4: ("高、中风险社会面吸毒人员排查信息登记表", "risk_high_mid", [
        ("risk_level", "风险等级"), ("criteria", "命中情形条款"), ("assess_date", "评估日期"),
        ("approve_date", "审批日期"), ("filed_with", "备案单位"), ("plan_points", "一人一策要点"),
        ("responsibles", "包保责任人"), ("visit_freq", "见面频次"), ("test_freq", "检测频次"),
        ("last_visit_date", "末次见面"), ("last_test_date", "末次检测"), ("assistance_measures", "帮扶措施")]),
    5: ("有精神病史等特殊病吸毒人员排查信息登记表", "special_disease", [
        ("special_diseases", "病种"), ("diagnosis", "诊断机构及日期"), ("disability_cert", "残疾证号及等级"),
        ("hard_to_detain", "是否难以收押收戒"), ("treatment", "治疗服药情况"), ("guardian", "监护人"),
        ("relief", "救助措施")]),
    6: ("有涉毒犯罪前科吸毒人员排查信息登记表", "drug_crime", [
        ("crime", "罪名"), ("judgement", "判决法院/文书号"), ("sentence", "刑期"),
        ("release_date", "释放日期"), ("helping", "帮教措施")]),
    7: ("有驾驶证吸毒人员排查信息登记表", "driving_license", [
        ("license_class", "准驾车型"), ("license_issued", "初领日期"), ("license_status", "驾驶证状态"),
        ("commercial_driver", "是否营运或校车驾驶"), ("traffic_notified", "通报交警日期"),
        ("license_result", "处理结果")]),
    8: ("流入本地吸毒史人员摸排信息登记表", "inflow", [
        ("hukou_region", "户籍地（省市县）"), ("inflow_date", "流入日期"), ("resided_3m", "居住满3个月"),
        ("residence_reason", "居住事由"), ("residence_registration", "居住登记情况"),
        ("origin_control_unit", "户籍地管控单位及联系人"), ("two_way_letter", "双向管控函")]),
    9: ("直系亲属有特殊困难的吸毒人员排查信息登记表", "family_hardship", [
        ("family_hardship", "困难类型"), ("relative_name", "亲属姓名"), ("relative_relation", "关系"),
        ("relative_age", "年龄"), ("relief_received", "已享救助"), ("help_plan", "拟帮扶措施"),
        ("help_unit", "责任单位")]),
    10: ("有吸毒史公职人员、党员排查信息登记表", "official_or_party", [
        ("official_identity", "身份"), ("employer", "工作单位"), ("position", "职务"),
        ("party_org", "所在党组织"), ("first_seized_date", "查获日期"),
        ("discipline_notified", "是否通报纪检监察"), ("official_result", "处理结果")]),
    11: ("隐性吸毒人员排查信息登记表", "hidden", None),
    12: ("戒断5年、10年以上未复吸人员排查信息登记表", "abstinent_5y", [
        ("anchor_case", "戒断起算情形"), ("anchor_date", "起算日"), ("last_use_date", "末次吸毒日期"),
        ("abstinence_years", "戒断年数"), ("five_years", "满5年"), ("ten_years", "满10年"),
        ("test_date", "近期检测日期"), ("test_result", "检测结果"), ("employment", "就业家庭情况"),
        ("suggestion", "处置建议")]),
    13: ("死亡吸毒人员摸排信息登记表", "dead", [
        ("death_date", "死亡日期"), ("death_cause", "死因"), ("death_proof", "证明材料"),
        ("hukou_cancel_date", "户籍注销日期"), ("platform_update_date", "系统更新日期")]),
    14: ("登记在册错录/迁出吸毒人员信息登记表", "wrong_or_moved", [
        ("error_type", "类型"), ("original", "原登记内容"), ("verification", "核实情况"),
        ("moved_to", "迁往地址"), ("moved_date", "迁出日期"), ("basis", "更正依据"),
        ("police_opinion", "派出所意见"), ("corrected_date", "更正日期")]),
}
HIDDEN_COLUMNS = [("seq", "序号"), ("clue_no", "线索编号"), ("clue_source", "线索来源"), ("found_date", "发现日期"),
                  ("community", "社区（村）"), ("name", "姓名"), ("gender", "性别"), ("id_number", "公民身份号码"),
                  ("residence_address", "现住址"), ("verification", "核查经过"), ("test_result", "检测结果"),
                  ("disposal", "处置结果"), ("handover_date", "移交派出所日期"), ("remarks", "备注")]

# 附表1, in the order of the real 排查汇总 (DOMAIN §3 item 1), then the suggested columns.
# (field, label in the xlsx and the manifest, group heading or None, sub-heading in the docx).
# Every number comes from dossier.reports.stats; the 户数/外出/可疑 columns are blank for
# the 社区 to write in (the archive holds no household, 外出 or suspicion data).
HAND = "（由社区填写）"
STAT_GROUPS = [
    (None, [("seq", "序号", "序号"), ("community", "社区（村）", "社区（村）")]),
    ("户数" + HAND, [("households", "总户数", "总户数"), ("households_visited", "已入户", "已入户")]),
    ("外出" + HAND, [("out_of_province", "外出省外", "省外"), ("in_province", "外出省内", "省内")]),
    ("可疑人员" + HAND, [("suspect_trafficking", "贩毒可疑", "贩毒可疑"), ("suspect_use", "吸毒可疑", "吸毒可疑")]),
    (None, [("registered", "登记在册总数", "登记在册总数")]),
    ("人员现状", [("in_prison", "服刑", "服刑"), ("released", "刑满释放", "刑满释放"),
              ("compulsory", "强制戒毒", "强制戒毒"), ("maintenance", "药物治疗", "药物治疗"),
              ("detained", "看守所羁押", "看守所羁押"), ("abstinent3", "戒断三年", "戒断三年"),
              ("community_detox", "社区戒毒", "社区戒毒"), ("community_rehab", "社区康复", "社区康复"),
              ("lost", "失控", "失控"), ("dead", "死亡", "死亡")]),
    ("见面", [("met", "已见面", "已见面"), ("met_rate", "见面率", "见面率")]),
    ("失联、失控", [("lost_rate", "联系不上占比（≤5%）", "失联率≤5%"), ("out_of_control_rate", "失控率", "失控率")]),
    ("风险等级", [("risk_high", "高风险", "高"), ("risk_mid", "中风险", "中"), ("risk_low", "低风险", "低")]),
    ("检测", [("urine_tests", "尿检", "尿检"), ("hair_tests", "毛发检测", "毛发"), ("positive", "阳性", "阳性")]),
    (None, [("hidden_new", "新发现隐性", "新发现隐性")]),
    ("附表5–14 各类人数", [(f"annex{n:02d}", f"附表{n}", str(n)) for n in range(5, 15)]),
]
STAT_COLUMNS = [(k, label) for _, cols in STAT_GROUPS for k, label, _ in cols]
STAT_NOTE = ("注：1. 总户数、已入户、外出（省外/省内）、贩毒可疑、吸毒可疑由社区填写，系统不统计。"
             "2. 人员现状为截至填报日期的状态；见面、检测自{{ since }}起统计；联系不上即现实状况为失控，"
             "失联率 = 失控 ÷（登记在册 − 死亡），不得超过5%；失控率 = 失控 ÷（在控 + 失控），不含戒断5年以上和死亡人员。"
             "3. 登记在册不含错录、迁出人员（见附表14）。")

# mm; an 18-digit ID number and an 11-digit phone number fit on one line at 6.5 pt,
# a 2024年12月31日 date on two; other columns share what is left
WIDE_WIDTHS = {"seq": 6, "gender": 5, "id_number": 25, "phone": 16, "name": 10, "community": 10, "measures_history": 20, "screeners": 14}
DATE_WIDTH = 11


def list_columns(n):
    title, select, spec = LISTS[n]
    if spec is None:
        return HIDDEN_COLUMNS
    return C + spec + C_END


def build_list(path, n, title, columns):
    doc = new_document(landscape=True, margins=(15, 10, 12, 10), body_size=9)
    para(doc, f"附表{n}", font=HEI, size=12)
    title_block(doc, title, size=16)
    para(doc, "填报单位：{{ unit }}　　　　统计范围：{{ scope }}　　　　填报日期：{{ today }}　　　　共{{ count }}人",
         size=10, space_after=4)
    total = 277
    size = 9 if len(columns) <= 16 else 7.5 if len(columns) <= 26 else 6.5
    digit = size * 0.56 * 25.4 / 72      # mm per digit, plus the cell's padding below
    base = {k: WIDE_WIDTHS.get(k, DATE_WIDTH if k.endswith("_date") else 0) for k, _ in columns}
    base.update({k: w for k, w in (("id_number", 18 * digit + 1.6), ("phone", 11 * digit + 1.6)) if k in base})
    share = {k: 2 if k.endswith("address") else 1 for k, v in base.items() if not v}   # addresses: a double share
    fixed = sum(v for v in base.values() if v)
    each = max((total - fixed) / max(sum(share.values()), 1), 6.5)
    widths = [base[k] or each * share[k] for k, _ in columns]
    scale = total / sum(widths)
    widths = [w * scale for w in widths]
    t = _loop_table(doc, [label for _, label in columns], [k for k, _ in columns], widths, "rows", size=size)
    narrow_cell_margins(t)
    t.rows[2]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))   # a person's row stays on one page
    para(doc, "填表人：　　　　　　　审核人：　　　　　　　（单位盖章）", size=10, space_before=6)
    save(doc, path)


def build_statistics(path):
    """附表1: two header rows (a group heading over its sub-headings, lone columns merged
    down), one row per 社区, the 合计 row, and a note on the hand-filled columns."""
    doc = new_document(landscape=True, margins=(15, 10, 12, 10), body_size=9)
    para(doc, "附表1", font=HEI, size=12)
    title_block(doc, "登记在册吸毒人员排查统计表", size=16)
    para(doc, "填报单位：{{ unit }}　　　　统计范围：{{ scope }}　　　　截至：{{ today }}　　　　共{{ count }}人",
         size=10, space_after=4)
    cols = [(k, sub, group) for group, items in STAT_GROUPS for k, _, sub in items]
    size = 6.5
    total = 277
    fixed = {"seq": 5, "community": 12, "met_rate": 8.5, "lost_rate": 8.5, "out_of_control_rate": 8.5}
    each = (total - sum(fixed.values())) / (len(cols) - len(fixed))
    widths = [fixed.get(k, each) for k, _, _ in cols]
    t = table(doc, 5, len(cols), widths)
    narrow_cell_margins(t)
    i = 0
    for group, items in STAT_GROUPS:
        for j, (k, _, sub) in enumerate(items):
            if group is None:
                a, b = t.cell(0, i + j), t.cell(1, i + j)
                a.merge(b)
                cell_text(a, sub, size=size, align="center", bold=True)
                vcenter(a)
            else:
                cell_text(t.cell(1, i + j), sub, size=size, align="center", bold=True)
                vcenter(t.cell(1, i + j))
        if group is not None:
            head = t.cell(0, i).merge(t.cell(0, i + len(items) - 1)) if len(items) > 1 else t.cell(0, i)
            cell_text(head, group, size=size, align="center", bold=True)
            vcenter(head)
        i += len(items)
    repeat_header(t.rows[0])
    repeat_header(t.rows[1])
    cell_text(t.cell(2, 0), "{%tr for r in rows %}", size=size)
    for i, (k, _, _) in enumerate(cols):
        cell_text(t.cell(3, i), "{{ r.%s }}" % k, size=size, align="center")
    t.rows[3]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    min_height(t.rows[3], 7)          # room to write the 由社区填写 columns by hand
    cell_text(t.cell(4, 0), "{%tr endfor %}", size=size)
    row = t.add_row()
    min_height(row, 7)
    for i, (k, _, _) in enumerate(cols):
        cell_text(row.cells[i], "合计" if k == "community" else "{{ total.%s }}" % k, size=size, align="center")
    para(doc, STAT_NOTE, size=8, space_before=3)
    para(doc, "填表人：　　　　　　　审核人：　　　　　　　（单位盖章）", size=10, space_before=6)
    save(doc, path)


# ------------------------------------------------------------------ manifest

def main(outdir: Path | None = None):
    out = Path(outdir or ROOT / "templates" / "docx")
    out.mkdir(parents=True, exist_ok=True)
    forms = []

    def add(code, title, kind, file, builder, *, aliases=(), category=None, masked=False, **extra):
        _bookmark_id[0] = 0
        info = builder(out / file) or {}
        entry = {"code": code, "title": title, "kind": kind, "file": file, "aliases": list(aliases)}
        if category is not None:
            entry["category"] = category
        if masked:
            entry["masked"] = True
        entry.update(extra)
        entry.update(info)
        forms.append(entry)

    add("basic-info", "吸毒人员基本信息登记表", "person", "吸毒人员基本信息登记表.docx", build_basic_info,
        aliases=["基本信息登记表", "登记表"], category=1)
    add("risk-approval", "社会面吸毒人员风险分类评估审批表", "person", "风险分类评估审批表.docx", build_risk_approval,
        aliases=["审批表", "风险分类评估审批表"], category=5)
    add("control-plan", "社会面吸毒人员“一人一策”管控方案", "person", "一人一策管控方案.docx", build_control_plan,
        aliases=["一人一策", "管控方案", "一人一策管控方案"], category=7)
    add("interview", "见面核查/谈话记录", "person", "见面核查谈话记录.docx", build_interview,
        aliases=["谈话记录", "见面核查"], category=8)
    add("transfer-letter", "吸毒人员档案移交函", "person", "吸毒人员档案移交函.docx", build_transfer_letter,
        aliases=["移交函", "双向管控函", "档案移交函"], category=11)
    add("cover", "档案封面", "person", "档案封面.docx", build_cover, aliases=["封面"], category=-1)
    add("file-index", "卷内文件目录", "person", "卷内文件目录.docx", build_file_index, aliases=["卷内目录", "目录"],
        category=0)
    add("remarks", "卷内备考表", "person", "卷内备考表.docx", build_remarks, aliases=["备考表"], category=13)
    add("minutes", "社会面吸毒人员风险分类评估会商会议纪要", "meeting", "会商会议纪要.docx", build_minutes,
        aliases=["会议纪要", "纪要", "会商纪要"], category=6, masked=True)
    add("signin", "会商会议签到表", "meeting", "会商会议签到表.docx", build_signin, aliases=["签到表"])
    add("fb01", "登记在册吸毒人员排查统计表", "statistics", "附表01_登记在册吸毒人员排查统计表.docx",
        build_statistics, aliases=["附表1", "附表01"],
        columns=[{"field": k, "label": label, **({"group": g.replace(HAND, "")} if g else {}),
                  **({"note": HAND.strip("（）")} if g and HAND in g else {})}
                 for g, items in STAT_GROUPS for k, label, _ in items])
    for n in range(2, 15):
        title, select, _ = LISTS[n]
        cols = list_columns(n)
        add(f"fb{n:02d}", title, "list", f"附表{n:02d}_{title.replace('、', '').replace('/', '')}.docx",
            lambda p, n=n, title=title, cols=cols: build_list(p, n, title, cols),
            aliases=list(dict.fromkeys([f"附表{n}", f"附表{n:02d}"])), select=select,
            columns=[{"field": k, "label": v} for k, v in cols])

    # fields actually used by each template (from the compiled template)
    sys.path.insert(0, str(ROOT / "src"))
    from dossier.forms.render import PreparedTemplate
    for f in forms:
        tpl = PreparedTemplate(out / f["file"], f["kind"], check=True)
        f["fields"] = sorted(tpl.fields)
    manifest = {"version": 1, "forms": forms}
    text = yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False, width=120)
    (out / "manifest.yaml").write_text(
        "# Shipped form templates (generated by tools/build_templates.py — edit the script, not this file).\n"
        "# code, title (official Chinese title), kind (person | list | meeting | statistics), file,\n"
        "# fields (used by the template), columns (list forms, also the xlsx layout), select (who is listed).\n"
        + text, encoding="utf-8")
    print(f"{len(forms)} templates written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
