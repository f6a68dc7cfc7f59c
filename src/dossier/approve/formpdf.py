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
# Each signature block of the template has an empty band (tools/build_templates.py,
# STAMP_BAND_PT high) between what the block asks for and its printed 签名/盖章/日期 lines;
# the bookmark sig_<block> marks the band's top-left corner. The stamp fills the band, inset
# STAMP_INSET points, from the bookmark to the cell's right text edge (RIGHT_MARGIN from the
# page's right edge): clear of every printed label of the block.
STAMP_BAND_PT, STAMP_INSET, RIGHT_MARGIN = 40.0, 2.0, 56.0
# fill-in places (bookmarks fill_<name>): one printed line (LINE_PT high) from the bookmark,
# as wide as the blank the chain's context prints there (FILL_BLANK_EM ideographic spaces)
LINE_PT = 17.0
FILL_BLANK_EM = {"meeting_no": 9, "meeting_date": 7, "conclusion": 7, "final_level": 7, "next_review": 8}
BLANK = "\u3000"


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
        left = float(pl.get("left") or 0) or x2 - 360
        areas[step] = (page, (left, top - STAMP_BAND_PT + STAMP_INSET, x2, top - STAMP_INSET))
    return areas


def fill_places(pdf: bytes) -> dict[str, dict]:
    """Named destinations ``fill_*`` (where the chain fills in conclusions) → page and position."""
    import io as _io
    import re

    from pypdf import PdfReader

    reader = PdfReader(_io.BytesIO(pdf))
    out = {}
    for name, dest in reader.named_destinations.items():
        m = re.match(r"^/?fill(?:_|5F)(\w+)$", str(name))
        if m:
            out[m.group(1).replace("5F", "_")] = {"page": reader.get_destination_page_number(dest),
                                                  "left": float(dest.left or 0), "top": float(dest.top or 0)}
    return out


def fills_from_places(places: dict[str, dict], font_pt: float = pdfsign.FILL_FONT_PT) -> dict:
    """``fill_places`` output → ``{field name: (page, rect, initial text)}`` for :func:`pdfsign.prepare_form`."""
    out = {}
    for key, field_name in pdfsign.FILL_FIELDS.items():
        pl = places.get(key)
        if pl is None:
            continue
        left, top = float(pl["left"]), float(pl["top"])
        initial = pdfsign.level_checks(None) if key in ("conclusion", "final_level") else ""
        out[field_name] = (int(pl["page"]), (left, top - LINE_PT, left + FILL_BLANK_EM[key] * font_pt, top - 0.5),
                           initial)
    return out


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
    # where the chain fills in a conclusion later (a text field over it), the form prints a
    # blank of the field's width: the field shows the boxes (☐高 ☐中 ☐低) until it is filled
    a.update({"date": "", "proposed_level": level, "suggested_level": level, "final_level": "", "level": "",
              "level_checks": BLANK * FILL_BLANK_EM["conclusion"], "proposed_checks": checks(level, ("高", "中", "低")),
              "rationale": reason, "meeting_no": BLANK * FILL_BLANK_EM["meeting_no"], "meeting_date": "",
              "next_review": BLANK * FILL_BLANK_EM["next_review"], "state": "", "level_detail": "",
              "remarks": ""})
    for block in BLOCK_STEPS:
        a[block] = dict(blank)
    a["community"]["level_checks"] = checks(level, ("高", "中", "低"))
    a["meeting"]["date"] = BLANK * FILL_BLANK_EM["meeting_date"]
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
    return pdfsign.prepare_form(pdf, form_ref=form_ref, areas=areas, fills=fills_from_places(fill_places(pdf)))
