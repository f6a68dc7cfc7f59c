"""Incremental PAdES signatures on the 审批表, one visible stamp per step.

The 审批表 has five signature areas (DOMAIN §4): 社区初评, 派出所核查, 会商,
街道审批, 区禁毒办备案. :func:`prepare_form` adds an empty signature field for
each (named ``FIELD_NAMES[step]``) and records the form's reference (dossier
id, version) in the document information, before the first signature, so
every signature covers it. :func:`sign_step` appends one incremental revision
with a PAdES (ETSI.CAdES.detached) signature by the signer's ECDSA key and a
visible stamp (step, opinion, name, date) drawn in a CJK font embedded as a
subset. Earlier revisions are never rewritten, so earlier signatures stay
valid. :func:`verify_pdf` reports each signature: signer, step, time,
integrity (``intact``: the signed bytes hash to the signed digest; ``valid``:
the CMS signature verifies), whether the certificate chains to the archive CA
(``trusted``) and whether it covers the whole file or only an earlier
revision.

The stamp needs an OpenType CJK font. Looked up in this order: the
``DOSSIER_CJK_FONT`` environment variable (``path`` or ``path:index`` for a
.ttc collection), Noto Sans CJK SC, WenQuanYi Zen Hei, then ``fc-match``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import io
import os
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass, field

from ..crypto.ca import describe_cert, load_cert, load_private_key
from ..errors import IntegrityError, InvalidInput, MissingDependency

STEPS: tuple[str, ...] = ("社区初评", "派出所核查", "会商", "街道审批", "区禁毒办备案")
FIELD_NAMES: dict[str, str] = {
    "社区初评": "Step1Community",
    "派出所核查": "Step2Police",
    "会商": "Step3Meeting",
    "街道审批": "Step4Street",
    "区禁毒办备案": "Step5District",
}
STEP_BY_FIELD = {v: k for k, v in FIELD_NAMES.items()}
FORM_REF_KEY = "/DossierForm"

# Signature areas used when the form does not bring its own fields: A4 portrait
# (595 x 842 pt), page 0, a column of five boxes in the lower half; (x1, y1, x2, y2).
DEFAULT_AREAS: dict[str, tuple[int, tuple[float, float, float, float]]] = {
    step: (0, (300.0, 470.0 - 90.0 * i, 560.0, 540.0 - 90.0 * i)) for i, step in enumerate(STEPS)
}

FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),   # index 2 = SC
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)


# ----------------------------------------------------------------------------- fonts
_font_lock = threading.Lock()
_font_choice: tuple[str, int] | None = None


def find_cjk_font() -> tuple[str, int]:
    """``(path, index)`` of an OpenType font with Chinese glyphs."""
    global _font_choice
    env = os.environ.get("DOSSIER_CJK_FONT")
    if env:
        path, _, idx = env.partition(":") if not os.path.exists(env) else (env, "", "")
        if not os.path.exists(path):
            raise MissingDependency(f"DOSSIER_CJK_FONT 指向的字体不存在：{path}")
        return path, int(idx or 0)
    with _font_lock:
        if _font_choice:
            return _font_choice
        for path, idx in FONT_CANDIDATES:
            if os.path.exists(path):
                _font_choice = (path, idx)
                return _font_choice
        if shutil.which("fc-match"):
            out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", ":lang=zh-cn"],
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
            if len(out) >= 2 and out[0].lower().endswith((".ttc", ".ttf", ".otf")) and os.path.exists(out[0]):
                _font_choice = (out[0], int(out[1] or 0))
                return _font_choice
    raise MissingDependency("未找到中文字体（需要 fonts-noto-cjk 或 fonts-wqy-zenhei），"
                            "或用 DOSSIER_CJK_FONT 指定字体文件")


SYMBOL_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", 0),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", 0),
)
_cmaps: dict[tuple[str, int], set[int]] = {}


def _cmap(font: tuple[str, int]) -> set[int]:
    if font not in _cmaps:
        from fontTools.ttLib import TTFont

        path, idx = font
        kw = {"fontNumber": idx} if path.lower().endswith(".ttc") else {}
        _cmaps[font] = set(TTFont(path, lazy=True, **kw).getBestCmap())
    return _cmaps[font]


def find_symbol_font(chars: str) -> tuple[str, int] | None:
    """A font with the ballot boxes ☐ ☑ (which the CJK fonts lack): DejaVu Sans, else fc-match."""
    need = {ord(c) for c in chars}
    for path, idx in SYMBOL_FONTS:
        if os.path.exists(path) and need <= _cmap((path, idx)):
            return path, idx
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", ":charset=" + " ".join(f"{c:x}" for c in need)],
                             capture_output=True, text=True, timeout=10).stdout.split("\n")
        if len(out) >= 2 and os.path.exists(out[0]) and out[0].lower().endswith((".ttf", ".otf", ".ttc")):
            font = (out[0], int(out[1] or 0))
            if need <= _cmap(font):
                return font
    return None


def _runs_by_font(text: str) -> list[tuple[tuple[str, int], str]]:
    """Split ``text`` into runs each drawn with one font: the CJK font where it has the glyph,
    else a symbol font (☐ ☑); characters no font has are drawn with the CJK font (as before)."""
    cjk = find_cjk_font()
    have = _cmap(cjk)
    missing = "".join(sorted({c for c in text if ord(c) not in have and not c.isspace()}))
    other = find_symbol_font(missing) if missing else None
    runs: list[tuple[tuple[str, int], str]] = []
    for c in text:
        f = other if (other and c in missing) else cjk
        if runs and runs[-1][0] == f:
            runs[-1] = (f, runs[-1][1] + c)
        else:
            runs.append((f, c))
    return runs


def _subset_font(text: str, font: tuple[str, int] | None = None) -> bytes:
    """The CJK font (or ``font``) cut down to the glyphs of ``text`` (a few KB, ~0.3 s; the last
    subsets are kept, so a stamp and its revision's form fields — or the same ☐ ☑ boxes again —
    share one)."""
    return _subset_cached("".join(sorted(set(text + "0123456789"))), font or find_cjk_font())


@functools.lru_cache(maxsize=32)
def _subset_cached(chars: str, font: tuple[str, int]) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    text = chars
    path, idx = font
    kw = {"fontNumber": idx} if path.lower().endswith(".ttc") else {}
    font = TTFont(path, lazy=True, **kw)
    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.layout_features = []
    opts.hinting = False
    opts.drop_tables += ["BDF", "FFTM", "EBDT", "EBLC", "EBSC"]
    sub = subset.Subsetter(opts)
    sub.populate(text=text + "0123456789")
    import logging
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    sub.subset(font)
    if font["head"].unitsPerEm != 1000:
        # pyHanko writes glyph widths and ascent in font units as if they were 1/1000 em
        # (right for the CJK fonts, 2048 units in DejaVu): rescale so /W and the metrics are true
        from fontTools.ttLib.scaleUpem import scale_upem

        scale_upem(font, 1000)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _font_factory(text: str, size: int, font_bytes: bytes | None = None, font: tuple[str, int] | None = None):
    try:
        from pyhanko.pdf_utils.font.api import FontEngineFactory
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
    except ImportError as e:  # uharfbuzz missing
        raise MissingDependency(f"签章需要 pyHanko[opentype]（uharfbuzz）：{e}") from None

    if font_bytes is None:
        font_bytes = _subset_font(text, font)

    class _SubsetFactory(FontEngineFactory):
        def create_font_engine(self, writer, obj_stream=None):
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return GlyphAccumulator(writer=writer, font_handle=io.BytesIO(font_bytes),
                                    font_size=size, obj_stream=obj_stream)

    return _SubsetFactory()


# ----------------------------------------------------------------------------- stamp text
def _width(s: str) -> float:
    return sum(0.55 if ord(c) < 0x2E80 else 1.0 for c in s)


def _wrap(line: str, max_em: float) -> list[str]:
    out, cur = [], ""
    for ch in line:
        if _width(cur + ch) > max_em and cur:
            out.append(cur)
            cur = "  " + ch
        else:
            cur += ch
    out.append(cur)
    return out


def stamp_lines(step: str, opinion: str, signer: str, date: str, extra: list[str] | None = None,
                max_em: float = 24, *, unit: str | None = None, compact: bool = False) -> list[str]:
    """The stamp's text: step, opinion, the signer (full name and post, or the login name),
    the unit, the date. ``compact`` (a wide, low box: the 审批表's stamp bands) puts the step
    and opinion on one line and the signer, unit and date on another."""
    if compact:
        who = f"签名：{signer}" + (f"　单位：{unit}" if unit else "") + f"　日期：{date}"
        lines = [f"【{step}】意见：{'；'.join([opinion, *(extra or [])])}", who]
    else:
        lines = [f"【{step}】", f"意见：{opinion}", *(extra or []), f"签名：{signer}",
                 *([f"单位：{unit}"] if unit else []), f"日期：{date}"]
    out: list[str] = []
    for ln in lines:
        out.extend(_wrap(ln, max_em))
    return out


# ----------------------------------------------------------------------------- prepare
def _check_step(step: str) -> str:
    if step not in FIELD_NAMES:
        raise InvalidInput(field="step", reason=f"未知签批环节“{step}”，应为：{'、'.join(STEPS)}")
    return FIELD_NAMES[step]


def prepare_form(pdf: bytes, *, form_ref: str | None = None,
                 areas: dict[str, tuple[int, tuple[float, float, float, float]]] | None = None,
                 fills: dict[str, tuple[int, tuple[float, float, float, float], str]] | None = None) -> bytes:
    """Add the five empty signature fields (those not already present) and the form reference.

    Must run before the first signature. ``areas`` maps a step to
    ``(page index, (x1, y1, x2, y2))`` in PDF points; steps missing from it
    fall back to :data:`DEFAULT_AREAS`. ``fills`` maps a text field name (see
    :data:`FILL_FIELDS`) to ``(page, rect, text shown until filled)``: the places
    where a later step writes its conclusion (:func:`sign_step` ``fill=``).
    """
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    if w.prev.embedded_signatures:
        raise InvalidInput("审批表已有签名，不能再添加签名栏")
    existing = {name for name, *_ in fields.enumerate_sig_fields(w.prev)}
    layout = {**DEFAULT_AREAS, **(areas or {})}
    n_pages = int(w.root["/Pages"]["/Count"])
    for step in STEPS:
        name = FIELD_NAMES[step]
        if name in existing:
            continue
        page, box = layout[step]
        if not 0 <= page < n_pages:
            raise InvalidInput(field="areas", reason=f"{step} 签名栏的页码 {page} 超出范围")
        fields.append_signature_field(w, fields.SigFieldSpec(sig_field_name=name, on_page=page,
                                                             box=tuple(box)))
    engines = _fill_engines(w, [initial for _p, _r, initial in (fills or {}).values()]) if fills else {}
    for name, (page, rect, initial) in (fills or {}).items():
        if not 0 <= page < n_pages:
            raise InvalidInput(field="fills", reason=f"填写栏 {name} 的页码 {page} 超出范围")
        _add_text_field(w, name, page, rect, initial, engines)
    if form_ref is not None:
        info = w.trailer["/Info"].get_object() if "/Info" in w.trailer else None
        if info is None:
            info = generic.DictionaryObject()
            w.trailer["/Info"] = w.add_object(info)
        else:
            w.mark_update(w.trailer.raw_get("/Info"))
        info[generic.NameObject(FORM_REF_KEY)] = generic.TextStringObject(form_ref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- fill-in fields
# Text fields the chain fills in as its steps are signed (the 会商 minutes and conclusion, the
# final level and the next review date), each where the form prints it. A field is filled in the
# same incremental revision as the signature of its step, so that signature covers the value,
# and the earlier signatures see a form-filling change — allowed by their DocMDP permission
# (the first signature certifies the form with "fill forms and sign" permitted).
FILL_FIELDS: dict[str, str] = {"meeting_no": "MeetingNo", "meeting_date": "MeetingDate",
                               "conclusion": "Conclusion", "final_level": "FinalLevel",
                               "next_review": "NextReview"}
FILL_FONT_PT = 10.5
# the text baseline inside a fill field, from the bottom of its rectangle (the rectangle is one
# printed line: its top is the line's top as LibreOffice reports the bookmark)
FILL_BASELINE = 4.2


def level_checks(level: str | None, levels=("高", "中", "低")) -> str:
    """``☐高 ☑中 ☐低`` — the printed boxes with the chosen one ticked."""
    return " ".join(("☑" if lv == level else "☐") + lv for lv in levels)


def _fill_engines(w, texts, also: str = "") -> dict:
    """One font engine per font for all ``texts`` (one subset each: subsetting the CJK font costs
    ~0.3 s, so it is done once per revision, not once per field). ``also``: more text for the
    CJK subset — the stamp's, so that the stamp and the fields share one subset."""
    chars: dict[tuple[str, int], str] = {}
    for t in texts:
        for font, run in _runs_by_font(t or ""):
            chars[font] = chars.get(font, "") + run
    if also and chars:
        cjk = find_cjk_font()
        chars[cjk] = chars.get(cjk, "") + also
    engines = {}
    for font, cs in chars.items():
        engine = _font_factory("".join(sorted(set(cs))), FILL_FONT_PT, font=font).create_font_engine(w)
        engine.font_size = FILL_FONT_PT
        engines[font] = engine
    return engines


def _fill_appearance(w, text: str, width: float, height: float, engines: dict | None = None):
    """A widget appearance: white ground (hides what is under it) and ``text`` on one line,
    its baseline :data:`FILL_BASELINE` above the bottom (level with the printed label)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import init_xobject_dictionary

    ops = [b"q 1 1 1 rg 0 0 %.3f %.3f re f Q" % (width, height)]
    res = generic.DictionaryObject()
    if text:
        engines = engines if engines is not None else _fill_engines(w, [text])
        fonts = generic.DictionaryObject()
        names: dict[tuple[str, int], str] = {}
        x = 0.0
        for font, run in _runs_by_font(text):
            engine = engines[font]
            if font not in names:
                names[font] = f"/F{len(names) + 1}"
                fonts[generic.NameObject(names[font])] = engine.as_resource()
            shaped = engine.shape(run)
            ops.append(b"BT %s %.2f Tf 1 0 0 1 %.3f %.3f Tm %s ET" % (names[font].encode(), FILL_FONT_PT, x,
                                                                      FILL_BASELINE, shaped.graphics_ops))
            x += shaped.x_advance * FILL_FONT_PT
        res[generic.NameObject("/Font")] = fonts
    xobj = init_xobject_dictionary(command_stream=b"\n".join(ops), box_width=width, box_height=height,
                                   resources=res)
    return generic.DictionaryObject({generic.NameObject("/N"): w.add_object(xobj)})


def _add_text_field(w, name: str, page: int, rect, initial: str, engines: dict | None = None) -> None:
    from pyhanko.pdf_utils import generic

    x1, y1, x2, y2 = (float(v) for v in rect)
    page_ref = w.find_page_for_modification(page)[0]
    form = w.root["/AcroForm"]
    field = generic.DictionaryObject({
        generic.NameObject("/FT"): generic.NameObject("/Tx"),
        generic.NameObject("/T"): generic.TextStringObject(name),
        generic.NameObject("/Ff"): generic.NumberObject(1),          # read-only: filled by the chain
        generic.NameObject("/V"): generic.TextStringObject(initial),
        generic.NameObject("/DA"): generic.TextStringObject(f"/Helv {FILL_FONT_PT} Tf 0 g"),
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Widget"),
        generic.NameObject("/F"): generic.NumberObject(4),           # print
        generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (x1, y1, x2, y2)]),
        generic.NameObject("/P"): page_ref,
    })
    field[generic.NameObject("/AP")] = _fill_appearance(w, initial, x2 - x1, y2 - y1, engines)
    ref = w.add_object(field)
    fields_arr = form["/Fields"]
    fields_arr.append(ref)
    w.update_container(fields_arr)
    w.register_annotation(page_ref, ref)


def text_fields(reader) -> dict[str, object]:
    """Name → indirect reference of the form's (non-signature) text fields."""
    out = {}
    try:
        arr = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return out
    for ref in arr:
        f = ref.get_object()
        if f.get("/FT") == "/Tx" and "/T" in f:
            out[str(f["/T"])] = ref
    return out


def field_values(pdf: bytes) -> dict[str, str]:
    """The current value of every fill-in field of a 审批表 PDF."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    r = PdfFileReader(io.BytesIO(pdf), strict=False)
    return {k: str(ref.get_object().get("/V", "")) for k, ref in text_fields(r).items()}


def _fill_fields(w, values: dict[str, str], also: str = "") -> list[str]:
    """Write ``values`` into the form's text fields (those present); the names filled."""
    from pyhanko.pdf_utils import generic

    present = text_fields(w.prev)
    done = []
    engines = _fill_engines(w, [t for n, t in values.items() if n in present], also=also)
    for name, text in values.items():
        ref = present.get(name)
        if ref is None:
            continue
        field = ref.get_object()
        r = [float(v) for v in field["/Rect"]]
        field[generic.NameObject("/V")] = generic.TextStringObject(text)
        field[generic.NameObject("/AP")] = _fill_appearance(w, text, abs(r[2] - r[0]), abs(r[3] - r[1]), engines)
        w.update_container(field)
        done.append(name)
    return done


# ----------------------------------------------------------------------------- sign
def _fill_layout():
    import logging

    from pyhanko.pdf_utils import layout

    # stretching the white background to the field's exact size logs a rounding
    # warning ("Content box … too wide for container"): harmless, keep it quiet
    logging.getLogger("pyhanko.pdf_utils.layout").setLevel(logging.ERROR)

    return layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MID,
                                      y_align=layout.AxisAlignment.ALIGN_MID,
                                      margins=layout.Margins(0, 0, 0, 0),
                                      inner_content_scaling=layout.InnerScaling.STRETCH_FILL)


def _text_layout():
    from pyhanko.pdf_utils import layout

    return layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MIN,
                                      y_align=layout.AxisAlignment.ALIGN_MID,
                                      margins=layout.Margins(6, 4, 3, 3),
                                      inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT)


def _tight_layout():
    from pyhanko.pdf_utils import layout

    return layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MIN,
                                      y_align=layout.AxisAlignment.ALIGN_MIN,
                                      margins=layout.Margins(0, 0, 0, 0),
                                      inner_content_scaling=layout.InnerScaling.NO_SCALING)


def _seal_image(png: bytes):
    from PIL import Image
    from pyhanko.pdf_utils.images import PdfImage

    return PdfImage(Image.open(io.BytesIO(png)))


def _seal_layout():
    from pyhanko.pdf_utils import layout

    return layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MAX,
                                      y_align=layout.AxisAlignment.ALIGN_MID,
                                      margins=layout.Margins(2, 4, 2, 2),
                                      inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT)


def _white():
    from pyhanko.pdf_utils.content import RawContent
    from pyhanko.pdf_utils.layout import BoxConstraints

    return RawContent(b"1 1 1 rg 0 0 100 100 re f", box=BoxConstraints(width=100, height=100))


def _fill_forms():
    from pyhanko.sign.fields import MDPPerm

    return MDPPerm.FILL_FORMS


def _signer(key_pem: bytes, cert_pem: bytes, chain_pems: list[bytes]):
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = load_private_key(key_pem)
    cert = load_cert(cert_pem)
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise IntegrityError("签名私钥与证书不匹配")
    der = lambda c: ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))  # noqa: E731
    pk = akeys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return signers.SimpleSigner(signing_cert=der(cert), signing_key=pk,
                                cert_registry=SimpleCertificateStore.from_certs(
                                    [der(load_cert(p)) for p in chain_pems]))


def sign_step(pdf: bytes, *, step: str, signer_name: str, opinion: str, date: str | _dt.date,
              key_pem: bytes, cert_pem: bytes, chain_pems: list[bytes] | None = None,
              extra_lines: list[str] | None = None, location: str | None = None,
              font_size: int = 9, signer_unit: str | None = None, fill: dict[str, str] | None = None,
              certify: bool = False, seal_png: bytes | None = None) -> bytes:
    """Append an incremental PAdES signature in ``step``'s field; returns the new PDF bytes.

    ``signer_name`` is what the stamp shows (the full name and post when known),
    ``signer_unit`` the signer's unit. ``fill``: text field name → value, written in the
    same revision (so this signature covers it). ``certify``: the first signature
    certifies the form, permitting later form filling and signatures only (DocMDP P=2).
    ``seal_png``: an image of the unit's seal or a handwritten signature, placed at the right
    end of the stamp (over the text, as a seal is pressed over a signature)."""
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers

    field_name = _check_step(step)
    date_s = date.isoformat() if isinstance(date, _dt.date) else str(date)
    lines = stamp_lines(step, opinion, signer_name, date_s, extra_lines, unit=signer_unit)
    text = "\n".join(lines)
    try:
        w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except Exception as e:  # noqa: BLE001 - any parse failure of an input file
        raise IntegrityError(f"审批表 PDF 无法解析：{e}") from None
    present, rects = {}, {}
    for name, filled, ref in fields.enumerate_sig_fields(w.prev):
        present[name] = filled
        try:
            rects[name] = [float(v) for v in ref.get_object()["/Rect"]]
        except (KeyError, TypeError, ValueError):
            pass
    if present.get(field_name) is not None:
        raise InvalidInput(f"“{step}”一栏已经签过名")
    new_field = None
    if field_name not in present:
        page, box = DEFAULT_AREAS[step]
        new_field = fields.SigFieldSpec(sig_field_name=field_name, on_page=page, box=box)
        rects[field_name] = list(box)
    r = rects.get(field_name)
    if r:   # fit the text to the field: wrap to its width, shrink the font until the lines fit
        w_pt, h_pt = abs(r[2] - r[0]), abs(r[3] - r[1])
        compact = w_pt > 3.5 * h_pt        # the 审批表's wide, low stamp bands
        while True:
            lines = stamp_lines(step, opinion, signer_name, date_s, extra_lines,
                                max_em=max(8.0, (w_pt - 12) / font_size), unit=signer_unit, compact=compact)
            if font_size <= 6 or len(lines) * (font_size + 3) + 6 <= h_pt:
                break
            font_size -= 1
        text = "\n".join(lines)
    fill_chars = "".join(fill.values()) if fill else ""
    if fill:
        _fill_fields(w, fill, also=text + fill_chars)
    background = dict(background=_white(), background_opacity=1.0, background_layout=_fill_layout())
    if seal_png:
        background = dict(background=_seal_image(seal_png), background_opacity=0.85,
                          background_layout=_seal_layout())
    style = stamp.TextStampStyle(
        stamp_text=text.replace("%", "%%"),
        text_box_style=TextBoxStyle(font=_font_factory(text + fill_chars, font_size), font_size=font_size,
                                    leading=font_size + 3, box_layout_rule=_tight_layout()),
        border_width=1, border_color=(0.7, 0.1, 0.1),
        # opaque white (the stamp sits in an empty band; white hides any stray mark under it),
        # or the signer's seal image
        **background,
        inner_content_layout=_text_layout(),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=f"{step}：{opinion}", name=signer_name, location=location,
        **({"certify": True, "docmdp_permissions": _fill_forms()} if certify else {}),
    )
    pdf_signer = signers.PdfSigner(meta, signer=_signer(key_pem, cert_pem, chain_pems or []),
                                   stamp_style=style, new_field_spec=new_field)
    out = io.BytesIO()
    pdf_signer.sign_pdf(w, output=out)
    return out.getvalue()


# ----------------------------------------------------------------------------- verify
@dataclass
class SignatureReport:
    field: str
    step: str | None
    signer: str
    signer_role: str | None
    signer_step: str | None
    cert_serial: str
    time: str | None
    reason: str | None
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    revision: int
    signed_sha256: str            # hash of the bytes this signature covers (its revision)
    problems: list[str] = field(default_factory=list)
    signer_full_name: str | None = None
    signer_unit: str | None = None
    signer_title: str | None = None
    modification: str | None = None      # what was changed after this signature (pyHanko's level)
    certified: bool = False

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def form_ref(pdf: bytes) -> str | None:
    """The form reference recorded by :func:`prepare_form` (as of the first revision)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    r = PdfFileReader(io.BytesIO(pdf), strict=False)
    info = r.trailer_view.get("/Info")
    if info is None:
        return None
    v = info.get_object().get(FORM_REF_KEY)
    return str(v) if v is not None else None


def is_pdf(data: bytes) -> bool:
    """A PDF header ``%PDF-`` within the first 1024 bytes (where readers look for it)."""
    return b"%PDF-" in data[:1024]


def verify_pdf(pdf: bytes, *, trust_pems: list[bytes] | None = None) -> list[SignatureReport]:
    """Check every signature of ``pdf``; never raises for a bad signature (see ``ok``).

    Raises :class:`InvalidInput` when the bytes are not a PDF at all (no ``%PDF-`` header:
    the wrong file was given), :class:`IntegrityError` when a PDF cannot be parsed
    (corrupted or altered).
    """
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    if not is_pdf(pdf):
        raise InvalidInput("该文件不是 PDF（开头没有 %PDF- 标记），请给出审批表 PDF 文件或档号")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = list(reader.embedded_signatures)
    except Exception as e:  # noqa: BLE001
        raise IntegrityError(f"PDF 无法解析：{e}") from None
    roots = [ax509.Certificate.load(load_cert(p).public_bytes(serialization.Encoding.DER))
             for p in (trust_pems or [])]
    # Never the operating system's trust list: only the archive CA(s) passed in.
    vc = ValidationContext(trust_roots=roots, allow_fetching=False)
    reports: list[SignatureReport] = []
    for sig in sigs:
        problems: list[str] = []
        name = sig.field_name
        sd = sig.sig_object
        reason = str(sd["/Reason"]) if "/Reason" in sd else None
        try:
            cert = load_cert(sig.signer_cert.dump())
            info = describe_cert(cert)
            signer, role, cstep, serial = info.name, info.role, info.step, format(info.serial, "x")
            who = (info.full_name, info.unit, info.title)
        except Exception:  # noqa: BLE001
            signer, role, cstep, serial = "?", None, None, ""
            who = (None, None, None)
            problems.append("签名证书无法读取")
        intact = valid = trusted = False
        when = modification = None
        try:
            st = validate_pdf_signature(sig, signer_validation_context=vc)
            intact, valid = bool(st.intact), bool(st.valid)
            trusted = bool(getattr(st, "trusted", False)) and bool(roots)
            when = st.signer_reported_dt.isoformat() if st.signer_reported_dt else None
            level = getattr(st, "modification_level", None)
            modification = level.name if level is not None else None
            if st.docmdp_ok is False:
                # a later revision changed more than filling the form's fields and signing
                problems.append("签名之后文件被改动，超出允许的范围（只允许填写表单栏目和后续签名）")
        except Exception as e:  # noqa: BLE001 - a mangled CMS blob is a failed signature
            problems.append(f"签名无法校验：{type(e).__name__}")
        if when is None and "/M" in sd:
            when = str(sd["/M"])
        if not intact:
            problems.append("签名范围内的内容已被改动")
        elif not valid:
            problems.append("签名值无效")
        if roots and not trusted and intact and valid:
            problems.append("签名证书不是本档案库 CA 签发的")
        try:
            start, length = int(sig.byte_range[2]), int(sig.byte_range[3])
            signed_end = start + length
            signed_sha = hashlib.sha256(pdf[:signed_end]).hexdigest()
        except Exception:  # noqa: BLE001
            signed_end, signed_sha = -1, ""
        try:
            covers = sig.coverage.name == "ENTIRE_FILE"
        except Exception:  # noqa: BLE001
            covers = False
        reports.append(SignatureReport(
            field=name, step=STEP_BY_FIELD.get(name), signer=signer, signer_role=role,
            signer_step=cstep, cert_serial=serial, time=when, reason=reason,
            intact=intact, valid=valid, trusted=trusted, covers_whole_file=covers,
            revision=sig.signed_revision, signed_sha256=signed_sha, problems=problems,
            signer_full_name=who[0], signer_unit=who[1], signer_title=who[2], modification=modification,
            certified=_is_certification(sig)))
    return reports


def _is_certification(sig) -> bool:
    try:
        return sig.docmdp_level is not None and any(
            str(ref.get_object().get("/TransformMethod")) == "/DocMDP"
            for ref in sig.sig_object.get("/Reference", []))
    except Exception:  # noqa: BLE001
        return False


def pdfsig_report(path: str) -> list[dict]:
    """Run poppler's ``pdfsig`` on ``path`` and parse its report (for tests and ``--pdfsig``)."""
    exe = shutil.which("pdfsig")
    if not exe:
        raise MissingDependency("未安装 poppler-utils（pdfsig）")
    res = subprocess.run([exe, path], capture_output=True, text=True, timeout=60)
    sigs: list[dict] = []
    for line in (res.stdout + res.stderr).splitlines():
        s = line.strip()
        if s.startswith("Signature #"):
            sigs.append({})
        elif sigs and s.startswith("- ") and ":" in s:
            k, _, v = s[2:].partition(":")
            sigs[-1][k.strip()] = v.strip()
        elif sigs and "is not signed" in s:
            sigs[-1]["unsigned"] = True
    for d in sigs:
        d["valid"] = d.get("Signature Validation") == "Signature is Valid."
    # Empty signature fields (steps not yet signed) are listed by pdfsig too: leave them out.
    return [d for d in sigs if not d.get("unsigned")]
