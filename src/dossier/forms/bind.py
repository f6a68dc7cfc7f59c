"""Bind the 一人一档 PDF (DOMAIN §5): 封面 (档号), 卷内文件目录, documents, 卷内备考表.

Pages are numbered physically (the cover is page 1, not stamped); the number
is stamped at the top right of every other page, and the 卷内文件目录 lists
each document's first page by that same number. The 目录 is rendered, its
length measured, and re-rendered if it took more pages than assumed, so the
numbers always match. Every document (attachments included) gets a bookmark.
Optional: a diagonal watermark on every page and a password (AES-256).
Every page carries the volume's paper token (QR code + text, bottom right).
"""

from __future__ import annotations

import glob
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject, StreamObject

from dossier.errors import InvalidInput
from dossier.forms.fmt import text
from dossier.paper_stamp import wrap_page_contents

A4 = (595.28, 841.89)


@dataclass
class BindItem:
    title: str
    pdf: bytes
    category_order: int = 99
    date: str = ""
    author: str = ""
    doc_no: str = ""
    remarks: str = ""
    pages: int = field(default=0)


def image_to_pdf(data: bytes, dpi: int = 150) -> bytes:
    """A scan or photo as one A4 page (image centred, aspect kept)."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    img = img.convert("RGB")
    landscape = img.width > img.height
    pw, ph = (int(297 / 25.4 * dpi), int(210 / 25.4 * dpi)) if landscape else (int(210 / 25.4 * dpi), int(297 / 25.4 * dpi))
    margin = int(10 / 25.4 * dpi)
    scale = min((pw - 2 * margin) / img.width, (ph - 2 * margin) / img.height, 1.0 if img.width > 600 else 4.0)
    im = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    page = Image.new("RGB", (pw, ph), "white")
    page.paste(im, ((pw - im.width) // 2, (ph - im.height) // 2))
    buf = io.BytesIO()
    page.save(buf, "PDF", resolution=dpi, quality=85)
    return buf.getvalue()


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _font_path() -> str | None:
    for pat in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansCJK*.ttc",
                "/usr/share/fonts/**/wqy-zenhei.ttc", "/usr/share/fonts/**/*CJK*.tt[cf]"):
        hits = glob.glob(pat, recursive=True)
        if hits:
            return sorted(hits)[0]
    return None


def _watermark_xobject(writer: PdfWriter, watermark: str):
    """A transparent, diagonal, tiled text watermark as an image XObject (gray with soft mask)."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = 1240, 1754
    fp = _font_path()
    font = ImageFont.truetype(fp, 56) if fp else ImageFont.load_default(size=56)
    tile = Image.new("L", (w * 2, h * 2), 0)
    d = ImageDraw.Draw(tile)
    y = 0
    while y < h * 2:
        d.text(((y // 260) % 2 * 300, y), ("　　" + watermark) * 4, fill=70, font=font)
        y += 260
    alpha = tile.rotate(30, resample=Image.BILINEAR).crop((w // 2, h // 2, w // 2 + w, h // 2 + h))
    smask = StreamObject()
    smask._data = zlib.compress(alpha.tobytes(), 6)
    smask.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(w), NameObject("/Height"): NumberObject(h),
                  NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                  NameObject("/BitsPerComponent"): NumberObject(8), NameObject("/Filter"): NameObject("/FlateDecode")})
    img = StreamObject()
    img._data = zlib.compress(bytes([110]) * (w * h), 9)
    img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(w), NameObject("/Height"): NumberObject(h),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8), NameObject("/Filter"): NameObject("/FlateDecode"),
                NameObject("/SMask"): writer._add_object(smask)})
    return writer._add_object(img), w / h


def _stamp(writer: PdfWriter, *, first_numbered: int = 2, watermark: str | None = None) -> None:
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))
    wm = _watermark_xobject(writer, watermark) if watermark else None
    q = writer._add_object(DecodedStreamObject())
    q.get_object().set_data(b"q\n")
    for n, page in enumerate(writer.pages, 1):
        res = page.get("/Resources")
        res = res.get_object() if res is not None else DictionaryObject()
        page[NameObject("/Resources")] = res
        fonts = res.get("/Font")
        fonts = fonts.get_object() if fonts is not None else DictionaryObject()
        res[NameObject("/Font")] = fonts
        fonts[NameObject("/DosPgNo")] = font
        box = page.mediabox
        x0, y0, pw, ph = float(box.left), float(box.bottom), float(box.width), float(box.height)
        ops = ["Q"]
        if wm:
            xo = res.get("/XObject")
            xo = xo.get_object() if xo is not None else DictionaryObject()
            res[NameObject("/XObject")] = xo
            xo[NameObject("/DosWm")] = wm[0]
            ratio = wm[1]
            dw = min(pw, ph * ratio)
            dh = dw / ratio
            ops.append(f"q {dw:.2f} 0 0 {dh:.2f} {x0 + (pw - dw) / 2:.2f} {y0 + (ph - dh) / 2:.2f} cm /DosWm Do Q")
        if n >= first_numbered:
            s = str(n)
            ops.append(f"q 0 g BT /DosPgNo 12 Tf 1 0 0 1 {x0 + pw - 42 - 6.7 * len(s):.2f} {y0 + ph - 36:.2f} Tm ({s}) Tj ET Q")
        wrap_page_contents(writer, page, q, "\n".join(ops).encode("ascii") + b"\n")


def sort_items(items: list[BindItem]) -> list[BindItem]:
    """DOMAIN §5 order: category, then date, then title."""
    return sorted(items, key=lambda i: (i.category_order, i.date or "", i.title))


def layout(items: list[BindItem], cover_pages: int = 1, index_pages: int = 1) -> tuple[list[dict], int]:
    """The 卷内文件目录 rows for ``items`` (already sorted, ``pages`` set) and the
    physical page number where the 卷内备考表 starts."""
    rows, page = [], cover_pages + index_pages + 1
    for n, it in enumerate(items, 1):
        rows.append({"seq": str(n), "doc_no": text(it.doc_no), "author": text(it.author), "title": text(it.title),
                     "date": (it.date or "")[:10].replace("-", ""), "pages": str(it.pages),
                     "page_start": str(page), "remarks": text(it.remarks)})
        page += it.pages
    return rows, page


def bind(items: list[BindItem], *, render_frame: Callable[[list[dict], int, int], tuple[bytes, bytes, bytes]],
         watermark: str | None = None, password: str | None = None, title: str = "一人一档",
         paper=None) -> bytes:
    """Assemble the volume.

    ``paper``: a paper token (:class:`dossier.paper.PaperToken`) stamped — QR code
    and text — on every page, before any encryption.

    ``render_frame(index_rows, total_pages, index_pages_assumed)`` returns the
    PDFs of (封面, 卷内文件目录, 卷内备考表) for the given rows; it is called again
    if the cover or 目录 turn out longer than assumed.
    """
    items = sort_items(items)
    for it in items:
        try:
            it.pages = page_count(it.pdf)
        except Exception as exc:  # noqa: BLE001 - a stored PDF that no longer parses
            raise InvalidInput(f"档案件“{it.title}”的 PDF 无法读取：{exc}") from exc
    cover_pages, index_pages = 1, 1
    for _attempt in range(4):
        rows, total = layout(items, cover_pages, index_pages)
        cover, index, remarks = render_frame(rows, total, index_pages)
        cp, ip = page_count(cover), page_count(index)
        if (cp, ip) == (cover_pages, index_pages):
            break
        cover_pages, index_pages = cp, ip
    writer = PdfWriter()
    marks = []

    def add(pdf: bytes, label: str):
        start = len(writer.pages)
        writer.append(PdfReader(io.BytesIO(pdf)), import_outline=False)
        marks.append((label, start))

    add(cover, "档案封面")
    add(index, "卷内文件目录")
    for n, it in enumerate(items, 1):
        add(it.pdf, f"{n}. {it.title}")
    add(remarks, "卷内备考表")
    for label, start in marks:
        writer.add_outline_item(title=label, page_number=start)
    _stamp(writer, first_numbered=2, watermark=watermark)
    if paper is not None:
        from dossier.paper_stamp import stamp_writer

        stamp_writer(writer, paper)
    writer.add_metadata({"/Title": title, "/Producer": "dossier"})
    writer.page_mode = "/UseOutlines"
    if password:
        writer.encrypt(user_password=password, owner_password=None, algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def index_rows_from_pdf(pdf: bytes, password: str | None = None) -> list[tuple[str, int]]:
    """(bookmark title, 1-based page) pairs of a bound volume — for checks and tests."""
    r = PdfReader(io.BytesIO(pdf))
    if r.is_encrypted:
        r.decrypt(password or "")
    return [(o.title, r.get_destination_page_number(o) + 1) for o in r.outline if not isinstance(o, list)]


_ = date  # (dates in rows are ISO strings)
