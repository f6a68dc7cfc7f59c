"""Disclosure packages: one page per person, exactly the granted fields in clear.

A package is built from *records* (already reduced by the grant: granted
fields in clear, every other personal field masked with the external style
of DOMAIN §7), watermarked on every page, stripped of metadata, checked by
the leak guard, and only then returned (optionally encrypted). Nothing is
written to disk here: the caller writes the bytes the guard let through.
"""

from __future__ import annotations

import io

from . import leakguard, watermark

FIELD_LABELS = {"name": "姓名", "alias": "别名", "gender": "性别", "id_number": "公民身份号码",
                "birth_date": "出生日期", "phone": "联系电话", "hukou_address": "户籍地址",
                "residence_address": "现住址", "ethnicity": "民族", "status": "状态",
                "archive_no": "档号", "scope": "辖区", "risk_level": "风险等级"}


# Identifying fields shown masked (DOMAIN §7 external style) when not granted, so the
# recipient can tell the persons apart; any other field not granted is left out.
MASKED_WHEN_NOT_GRANTED = ("name", "id_number", "phone", "residence_address")


def reduce_profile(profile: dict, fields: list[str]) -> dict:
    """Exactly the granted fields in clear, the identifying ones masked, nothing else.

    Keys are the :data:`FIELD_LABELS` keys, in that order (the package prints
    their Chinese labels). Drug use, health and other sensitive facts never
    travel unless granted."""
    from .masking import mask_profile

    masked = mask_profile(dict(profile), style="external", keep=set(fields))
    out = {}
    for key in FIELD_LABELS:
        if key in fields:
            v = profile.get(key)
        elif key in MASKED_WHEN_NOT_GRANTED:
            v = masked.get(key)
        else:
            continue
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip():
            out[key] = v
    return out


def forbidden_values(profile: dict, fields: list[str]) -> list[tuple[str, str]]:
    """The person's identifying values the grant does not cover."""
    out = []
    for key, kind in (("id_number", "id_number"), ("phone", "phone"), ("name", "name"), ("alias", "name")):
        v = profile.get(key)
        if v and key not in fields:
            out.append((kind, str(v)))
    return out


def paper_token(ar, dossier_id: str, version: int, record: dict):
    """The paper token of one person's page: the version the record was reduced from,
    and the name masked whatever the grant (never more than the page itself shows).
    Needs no scope key (the requester who exports holds none)."""
    from ..paper import issue_masked
    from .masking import mask_name

    return issue_masked(ar, dossier_id, version, mask_name(record.get("name")))


def _pages(records: list[dict], title: str) -> bytes:
    from pypdf import PdfWriter
    from pyhanko import stamp
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle

    from ..approve.pdfsign import _font_factory, _subset_font

    from pypdf.generic import DecodedStreamObject, NameObject

    w0 = PdfWriter()
    for _ in records or [{}]:
        page = w0.add_blank_page(595, 842)
        empty = DecodedStreamObject()
        empty.set_data(b"")
        page[NameObject("/Contents")] = w0._add_object(empty)
    buf = io.BytesIO()
    w0.write(buf)
    texts = []
    for i, rec in enumerate(records or [{}], 1):
        lines = [f"{title}（第 {i} 人，共 {len(records)} 人）", ""]
        lines += [f"{FIELD_LABELS.get(k, k)}：{v}" for k, v in rec.items() if isinstance(v, (str, int, float))]
        texts.append("\n".join(lines))
    font = _subset_font("".join(texts))
    w = IncrementalPdfFileWriter(io.BytesIO(buf.getvalue()), strict=False)
    for i, text in enumerate(texts):
        style = stamp.TextStampStyle(
            stamp_text=text.replace("%", "%%"),
            text_box_style=TextBoxStyle(font=_font_factory(text, 11, font), leading=17),
            border_width=0, background=None,
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MAX))
        stamp.TextStamp(w, style, box=layout.BoxConstraints(width=500, height=680)).apply(i, 50, 100)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def build_package(records: list[dict], *, number: str, recipient: str, purpose: str, date: str,
                  policy: leakguard.Policy, password: str | None = None,
                  title: str = "披露材料", tokens: list | None = None) -> bytes:
    """Render, watermark, strip, guard, encrypt. Raises DisclosureRefused on any leak.

    ``tokens``: one paper token per record (or None), stamped — QR code and
    text — on that person's page before the watermark, so the leak guard sees
    it too. A token holds the masked name only (see :func:`paper_token`)."""
    pdf = _pages(records, title)
    if tokens:
        from ..paper_stamp import stamp_pdf

        pdf = stamp_pdf(pdf, tokens=list(tokens) + [None] * (max(len(records), 1) - len(tokens)))
    pdf = watermark.apply(pdf, watermark.watermark_text(recipient, purpose, date, number))
    pdf = watermark.finalize(pdf, number=number)
    leakguard.guard(pdf, "pdf", policy)
    if password:
        pdf = watermark.finalize(pdf, number=number, password=password)
    return pdf
