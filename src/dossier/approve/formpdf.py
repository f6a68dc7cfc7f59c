"""A plain 审批表 PDF, used when the forms package cannot render the real one.

One A4 page: the title, the person's basic facts, the proposed level and
reason, and the five signature areas of DOMAIN §4 at
:data:`~dossier.approve.pdfsign.DEFAULT_AREAS`, each labelled with its step.
Text is drawn with the same embedded CJK font subset as the stamps. The form
reference (dossier id and version) is printed at the foot of the page.
"""

from __future__ import annotations

import io

from . import pdfsign

TITLE = "社会面吸毒人员风险分类评估审批表"


def _blank_with_boxes() -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    ops = ["0.5 w"]
    for _step, (_pg, (x1, y1, x2, y2)) in pdfsign.DEFAULT_AREAS.items():
        ops.append(f"40 {y1} {x2 - 40} {y2 - y1} re S")
        ops.append(f"{x1 - 10} {y1} m {x1 - 10} {y2} l S")
    ops.append("40 560 520 190 re S")
    s = DecodedStreamObject()
    s.set_data("\n".join(ops).encode())
    page[NameObject("/Contents")] = w._add_object(s)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _text(w, page: int, x: float, y: float, text: str, size: int, width: float, height: float,
          font: bytes) -> None:
    from pyhanko import stamp
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.text import TextBoxStyle

    style = stamp.TextStampStyle(
        stamp_text=text.replace("%", "%%"),
        text_box_style=TextBoxStyle(font=pdfsign._font_factory(text, size, font), leading=size + 4),
        border_width=0, background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MAX),
    )
    st = stamp.TextStamp(w, style, box=layout.BoxConstraints(width=width, height=height))
    st.apply(page, x, y)


def build_form(fields: dict[str, str], *, level: str, reason: str, form_ref: str, date: str) -> bytes:
    """Render the plain 审批表 and add its five signature fields (see :func:`pdfsign.prepare_form`)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(_blank_with_boxes()), strict=False)
    facts = [f"{k}：{v}" for k, v in fields.items() if v]
    facts += [f"建议风险等级：{level}", f"理由：{reason}", f"填表日期：{date}"]
    body = "\n".join(ln for line in facts for ln in pdfsign._wrap(line[:300], 46))
    foot = f"表单标识：{form_ref}"
    font = pdfsign._subset_font(TITLE + body + "".join(pdfsign.STEPS) + foot)   # one subset for the page
    _text(w, 0, 100, 770, TITLE, 16, 400, 40, font)
    _text(w, 0, 50, 565, body, 10, 500, 180, font)
    for step, (_pg, (x1, y1, x2, y2)) in pdfsign.DEFAULT_AREAS.items():
        _text(w, 0, 50, y1 + 5, step, 11, x1 - 70, y2 - y1 - 10, font)
    _text(w, 0, 40, 20, foot, 7, 520, 14, font)
    out = io.BytesIO()
    w.write(out)
    return pdfsign.prepare_form(out.getvalue(), form_ref=form_ref)
