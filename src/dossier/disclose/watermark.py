"""Watermark every page of a PDF and strip its metadata; optional password.

The watermark names the recipient, the purpose, the date and the disclosure
number, drawn into every page's content (not an annotation a viewer can
hide). The finished file carries no document information beyond a neutral
title with the disclosure number, no XMP packet, and, with a password, is
AES-256 encrypted.
"""

from __future__ import annotations

import io


def watermark_text(recipient: str, purpose: str, date: str, number: str) -> str:
    return f"仅供 {recipient} 用于“{purpose}” · {date} · 披露编号 {number} · 不得复制转发"


def apply(pdf: bytes, text: str) -> bytes:
    """Draw ``text`` at the top and bottom of every page (embedded CJK subset)."""
    from pyhanko import stamp
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle

    from ..approve.pdfsign import _font_factory, _subset_font

    font = _subset_font(text)
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    n = int(w.root["/Pages"]["/Count"])
    for i in range(n):
        box = w.find_page_for_modification(i)[0].get_object()["/MediaBox"]
        width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
        for y in (height - 28, height / 2, 10):
            style = stamp.TextStampStyle(
                stamp_text=text.replace("%", "%%"),
                text_box_style=TextBoxStyle(font=_font_factory(text, 8, font)),
                border_width=0, background=None,
                inner_content_layout=layout.SimpleBoxLayoutRule(
                    x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID))
            stamp.TextStamp(w, style, box=layout.BoxConstraints(width=width - 40, height=18)).apply(i, 20, y)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def finalize(pdf: bytes, *, number: str, password: str | None = None) -> bytes:
    """Rewrite the PDF without personal metadata (no /Author, no XMP), encrypted when ``password``."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    if NameObject("/Metadata") in w._root_object:
        del w._root_object[NameObject("/Metadata")]
    w.metadata = None
    w.add_metadata({"/Title": f"披露材料 {number}", "/Producer": "dossier"})
    if password:
        w.encrypt(user_password=password, owner_password=None, algorithm="AES-256")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
