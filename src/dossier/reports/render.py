"""Weekly report (每周一报送), 附表1 and inspection report files: docx and xlsx
with charts drawn by matplotlib (PNG in memory, a CJK font from
/usr/share/fonts). Everything is rendered to bytes; the CLI writes the file
the user asked for."""

from __future__ import annotations

import io
from pathlib import Path

CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    for path in CJK_FONTS:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            plt.rcParams["font.family"] = [name]
            break
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def pct(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


# -- charts ------------------------------------------------------------------

def chart_met_rate(rows: list[dict]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    names = [r["community"] for r in rows]
    vals = [(r["met_rate"] or 0) * 100 for r in rows]
    ax.bar(names, vals, color="#3b7dd8")
    ax.set_ylim(0, 100)
    ax.set_ylabel("见面率（%）")
    ax.set_title("各社区见面率")
    for i, v in enumerate(vals):
        ax.text(i, v + 1, f"{v:.0f}%", ha="center", fontsize=8)
    return _png(fig)


def chart_risk(rows: list[dict]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    names = [r["community"] for r in rows]
    bottom = [0] * len(rows)
    for lvl, color in (("高", "#d9534f"), ("中", "#f0ad4e"), ("低", "#5cb85c")):
        vals = [r["risk"][lvl] for r in rows]
        ax.bar(names, vals, bottom=bottom, label=f"{lvl}风险", color=color)
        bottom = [a + b for a, b in zip(bottom, vals)]
    ax.set_ylabel("人数")
    ax.set_title("风险等级分布")
    ax.legend(fontsize=8)
    return _png(fig)


def chart_trend(trend: list[dict]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    xs = [t["date"][5:] for t in trend]
    ax.plot(xs, [(t["met_rate"] or 0) * 100 for t in trend], marker="o", label="见面率")
    ax.plot(xs, [(t["complete_rate"] or 0) * 100 for t in trend], marker="s", label="全部完成率")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title("逐周进展（每周一）")
    ax.legend(fontsize=8)
    return _png(fig)


def chart_stats_risk(rows: list[dict]) -> bytes:
    """附表1 rows (``risk_high``/``risk_mid``/``risk_low``) as the risk chart."""
    return chart_risk([{"community": r["community"],
                        "risk": {"高": r["risk_high"], "中": r["risk_mid"], "低": r["risk_low"]}} for r in rows])


def chart_lost_rate(rows: list[dict], limit: float = 0.05) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    names = [r["community"] for r in rows]
    vals = [(r["lost_rate"] or 0) * 100 for r in rows]
    ax.bar(names, vals, color=["#d9534f" if r.get("lost_flag") else "#8fa7c4" for r in rows])
    ax.axhline(limit * 100, color="#d9534f", linestyle="--", linewidth=1, label=f"{limit * 100:g}% 上限")
    ax.set_ylim(0, max([limit * 100 * 2] + [v * 1.2 for v in vals]))
    ax.set_ylabel("失联率（%）")
    ax.set_title("各社区失联率")
    ax.legend(fontsize=8)
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.1f}%", ha="center", va="bottom", fontsize=8)
    return _png(fig)


# (key, title) of the charts of a report, in the order the files and the pages show them
PROGRESS_CHARTS = (("met_rate", "各社区见面率"), ("risk", "风险等级分布"), ("trend", "逐周进展"))
STATS_CHARTS = (("met_rate", "各社区见面率"), ("lost_rate", "各社区失联率"), ("risk", "风险等级分布"))


def progress_chart(p: dict, key: str) -> bytes:
    """One chart of a campaign's progress (the 周报 embeds all of :data:`PROGRESS_CHARTS`)."""
    if key == "met_rate":
        return chart_met_rate(p["communities"])
    if key == "risk":
        return chart_risk(p["communities"])
    if key == "trend":
        return chart_trend(p["trend"])
    raise KeyError(key)


def stats_chart(s: dict, key: str) -> bytes:
    """One chart of the 附表1 statistics (:data:`STATS_CHARTS`)."""
    if key == "met_rate":
        return chart_met_rate(s["rows"])
    if key == "lost_rate":
        return chart_lost_rate(s["rows"], s.get("lost_limit", 0.05))
    if key == "risk":
        return chart_stats_risk(s["rows"])
    raise KeyError(key)


def progress_charts(p: dict) -> list[bytes]:
    return [progress_chart(p, k) for k, _ in PROGRESS_CHARTS]


# -- progress (周报) -----------------------------------------------------------

PROGRESS_COLUMNS = [("community", "社区"), ("population", "应排查"), ("met", "已见面"), ("met_rate", "见面率"),
                    ("complete", "全部完成"), ("overdue", "逾期"), ("lost", "联系不上"), ("lost_rate", "失联率")]


def _progress_rows(p: dict) -> list[list]:
    out = []
    for r in p["communities"] + [p["total"]]:
        out.append([r["community"], r["population"], r["met"], pct(r["met_rate"]), r["complete"], r["overdue"],
                    r["lost"], pct(r["lost_rate"]) + (" ⚠超5%" if r["lost_flag"] else "")])
    return out


def progress_docx(p: dict) -> bytes:
    from docx import Document
    from docx.shared import Cm

    doc = _document()
    doc.add_heading(f"{p['campaign']} 工作进展周报", level=1)
    doc.add_paragraph(f"文号：{p['doc_no'] or '—'}    辖区：{p['scope']}    统计截至：{p['as_of']}")
    t = p["total"]
    doc.add_paragraph(f"应排查 {t['population']} 人，已见面 {t['met']} 人（见面率 {pct(t['met_rate'])}），"
                      f"全部完成 {t['complete']} 人，逾期 {t['overdue']} 人，联系不上 {t['lost']} 人"
                      f"（{pct(t['lost_rate'])}）。")
    doc.add_heading("一、各社区进展", level=2)
    _table(doc, [h for _, h in PROGRESS_COLUMNS], _progress_rows(p))
    doc.add_heading("二、各步骤进展", level=2)
    _table(doc, ["步骤", "起止", "状态", "应完成事项", "已完成", "完成率", "逾期"],
           [[s["name"], f"{s['start']}～{s['end']}", s["state"], "、".join(s["actions"]) or "—",
             "—" if s["done"] is None else s["done"], pct(s["rate"]), s["overdue"]] for s in p["steps"]])
    doc.add_heading("三、图表", level=2)
    for png in progress_charts(p):
        doc.add_picture(io.BytesIO(png), width=Cm(15))
    doc.add_heading("四、逾期未完成名单", level=2)
    _table(doc, ["档号", "姓名", "社区", "逾期事项"],
           [[x["archive_no"], x["name"], x["community"], "、".join(x["overdue"])] for x in p["overdue"]]
           or [["—", "—", "—", "无"]])
    return _save(doc)


def progress_xlsx(p: dict) -> bytes:
    wb, ws = _workbook("各社区进展")
    ws.append([f"{p['campaign']} 工作进展（截至 {p['as_of']}）"])
    ws.append([h for _, h in PROGRESS_COLUMNS])
    for row in _progress_rows(p):
        ws.append(row)
    s2 = wb.create_sheet("各步骤")
    s2.append(["步骤", "开始", "结束", "状态", "应完成事项", "已完成", "应排查", "逾期"])
    for s in p["steps"]:
        s2.append([s["name"], s["start"], s["end"], s["state"], "、".join(s["actions"]), s["done"], s["total"],
                   s["overdue"]])
    s3 = wb.create_sheet("逾期名单")
    s3.append(["档号", "姓名", "社区", "逾期事项"])
    for x in p["overdue"]:
        s3.append([x["archive_no"], x["name"], x["community"], "、".join(x["overdue"])])
    s4 = wb.create_sheet("图表")
    _images(s4, progress_charts(p))
    return _save_wb(wb)


# -- 附表1 -------------------------------------------------------------------

def _stat_cell(key, v):
    if key.endswith("_rate"):
        return pct(v)
    if key == "lost_flag":
        return "是" if v else ""
    return v


def stats_xlsx(s: dict) -> bytes:
    wb, ws = _workbook("附表1")
    ws.append([f"附表1 登记在册吸毒人员排查统计表（{s.get('scope', '')}，截至 {s['as_of']}，"
               f"见面/检测统计自 {s['since']}）"])
    ws.append([h for _, h in s["columns"]])
    for r in s["rows"] + [s["total"]]:
        ws.append([_stat_cell(k, r[k]) for k, _ in s["columns"]])
    from openpyxl.styles import PatternFill
    red = PatternFill("solid", fgColor="F4CCCC")
    flag_col = [k for k, _ in s["columns"]].index("lost_flag") + 1
    for row in ws.iter_rows(min_row=3):
        if row[flag_col - 1].value == "是":
            for c in row:
                c.fill = red
    return _save_wb(wb)


# -- inspection report ---------------------------------------------------------

def inspection_docx(result: dict) -> bytes:
    from .inspection import DEFAULT_THRESHOLDS

    doc = _document()
    doc.add_heading("督查核查报告", level=1)
    doc.add_paragraph(f"辖区：{result['scope']}    核查日期：{result['as_of']}    核查人：{result['run_by']}    "
                      f"覆盖人数：{result['persons']}")
    s = result["summary"]
    doc.add_paragraph(f"共发现问题 {s['total']} 项：" + "，".join(f"{k} {v} 项" for k, v in s["by_severity"].items()))
    doc.add_heading("一、按规则汇总", level=2)
    rows = [[code, DEFAULT_THRESHOLDS[code]["title"], result["thresholds"][code]["severity"],
             s["by_rule"].get(code, 0)] for code in DEFAULT_THRESHOLDS]
    _table(doc, ["规则", "说明", "严重程度", "问题数"], rows)
    doc.add_heading("二、问题清单（已脱敏）", level=2)
    items = []
    for f in result["findings"]:
        who = f.get("archive_no") or "、".join((f.get("refs") or [])[:6]) + ("…" if len(f.get("refs") or []) > 6 else "")
        items.append([f["rule"], f["severity"], f.get("scope") or who, f.get("name", ""), f["message"]])
    _table(doc, ["规则", "程度", "档号/范围", "姓名", "情况"], items or [["—", "—", "—", "—", "未发现问题"]])
    doc.add_heading("三、核查阈值", level=2)
    _table(doc, ["规则", "参数"], [[c, "；".join(f"{k}={v}" for k, v in t.items() if k not in ("title",))]
                                 for c, t in result["thresholds"].items()])
    return _save(doc)


# -- helpers -------------------------------------------------------------------

def _document():
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "宋体"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    return doc


def _table(doc, head: list[str], rows: list[list]):
    t = doc.add_table(rows=1, cols=len(head))
    t.style = "Table Grid"
    for c, h in zip(t.rows[0].cells, head):
        c.text = str(h)
    for r in rows:
        cells = t.add_row().cells
        for c, v in zip(cells, r):
            c.text = "" if v is None else str(v)
    return t


def _save(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _workbook(title: str):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    return wb, ws


def _images(ws, pngs: list[bytes]) -> None:
    from openpyxl.drawing.image import Image

    row = 1
    for png in pngs:
        img = Image(io.BytesIO(png))
        ws.add_image(img, f"A{row}")
        row += int(img.height / 20) + 2


def _save_wb(wb) -> bytes:
    from ..workbooks import workbook_bytes

    return workbook_bytes(wb)
