"""The 审批表 PDF: the real template through the forms engine, or a plain one.

:func:`render_form` renders the forms engine's ``risk-approval`` template
(templates/docx, alias 审批表) for a dossier version to docx, converts it to
PDF through LibreOffice (:mod:`dossier.forms.pdf`) and derives each step's
signature area from the Word bookmarks ``sig_community`` … ``sig_district``
(:func:`dossier.forms.pdf.signature_places`). Without LibreOffice it raises
:class:`~dossier.errors.MissingDependency` (exit 1): an official form is not
replaced by a home-made layout.

:func:`build_form` (below) is the plain layout kept for library callers and
benchmarks that need a 审批表 without LibreOffice:

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


# ----------------------------------------------------------------------------- the real template
FORM_CODE = "risk-approval"
# manifest.yaml signature_blocks id → chain step
BLOCK_STEPS = {"community": "社区初评", "police": "派出所核查", "meeting": "会商", "street": "街道审批",
               "district": "区禁毒办备案"}
# The stamp covers the signature zone of a block: the bookmark marks the start of the
# “（签名）” line; the zone reaches from the page's right text margin STAMP_W points
# leftwards, STAMP_UP points above that line's top and STAMP_DOWN below it (the
# 签名 and 盖章/日期 lines).
STAMP_W, STAMP_UP, STAMP_DOWN, RIGHT_MARGIN = 236.0, 22.0, 34.0, 52.0


def areas_from_places(places: dict[str, dict], page_widths: list[float]) -> dict:
    """``signature_places`` output → ``{step: (page, (x1, y1, x2, y2))}`` for :func:`pdfsign.prepare_form`."""
    areas = {}
    for block, step in BLOCK_STEPS.items():
        pl = places.get(block)
        if pl is None:
            continue
        page = int(pl["page"])
        x2 = page_widths[page] - RIGHT_MARGIN
        top = float(pl["top"])
        areas[step] = (page, (x2 - STAMP_W, top - STAMP_DOWN, x2, top + STAMP_UP))
    return areas


def form_context(view_dict: dict, *, level: str, reason: str, date, registry=None) -> tuple[object, dict]:
    """(registry, context) for the 审批表 of one dossier: the person's facts from the
    dossier, the proposed level and reason from the submission, every signature
    block left empty (the signatures fill them)."""
    from ..forms import Registry, context_for
    from ..forms.fmt import checks

    reg = registry or Registry()
    spec = reg.get(FORM_CODE)
    ctx = context_for(spec, date, dossier=view_dict)
    a = dict(ctx["assessment"])
    blank = {"opinion": "", "signer": "", "signer2": "", "role": "", "date": "", "seal": "",
             "level_checks": checks(None, ("高", "中", "低"))}
    a.update({"date": "", "proposed_level": level, "suggested_level": level, "final_level": "", "level": "",
              "level_checks": checks(None, ("高", "中", "低")), "proposed_checks": checks(level, ("高", "中", "低")),
              "rationale": reason, "meeting_no": "", "meeting_date": "", "next_review": "", "state": "",
              "remarks": ""})
    for block in BLOCK_STEPS:
        a[block] = dict(blank)
    a["community"]["level_checks"] = checks(level, ("高", "中", "低"))
    ctx["assessment"] = a
    return reg, ctx


def render_form(ar, row, *, level: str, reason: str, date, form_ref: str, converter=None) -> bytes:
    """The real 审批表 of dossier ``row`` (current version) with its five empty signature fields."""
    import io as _io

    from pypdf import PdfReader

    from ..forms.pdf import PdfConverter, require_soffice, signature_places
    from ..forms.service import dossier_dict, registry_for

    require_soffice()    # MissingDependency (exit 1) with the install hint, before any work
    view = ar.dossiers.show(row.id, as_of=date)
    reg, ctx = form_context(dossier_dict(view), level=level, reason=reason, date=date,
                            registry=registry_for(ar))
    docx = reg.prepared(FORM_CODE).render(ctx)   # (dossier.forms.render is also a submodule name)
    pdf = converter.convert_one(docx) if converter is not None else PdfConverter().convert_one(docx)
    places = signature_places(pdf)
    widths = [float(p.mediabox.width) for p in PdfReader(_io.BytesIO(pdf)).pages]
    areas = areas_from_places(places, widths)
    missing = [s for s in pdfsign.STEPS if s not in areas]
    if missing:
        from ..errors import TemplateError
        raise TemplateError(f"审批表模板缺少签名位置书签：{'、'.join(missing)}"
                            "（sig_community、sig_police、sig_meeting、sig_street、sig_district）")
    return pdfsign.prepare_form(pdf, form_ref=form_ref, areas=areas)
