"""Attachments (scans, photos): validated by content, cleaned, then stored encrypted.

Accepted: PDF, JPEG, PNG — judged by their bytes (magic numbers and a full
parse), never by the file name. Refused with a clear message, before anything
is stored: other content (an ``.exe`` renamed ``.pdf``), a name that claims
another type than the content, truncated or corrupt files, password-protected
PDFs, files over the size limit, and images over the pixel limit
(decompression bombs). Images are decoded and re-encoded by Pillow, which
drops EXIF (GPS, camera, time), XMP, ICC comments and text chunks; the EXIF
orientation is applied to the pixels first so the photo stays upright.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from dossier.errors import InvalidInput

MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 60_000_000

# DOMAIN §5 卷内文件顺序: category name (and common spellings) → order.
CATEGORIES: dict[str, int] = {
    "卷内文件目录": 0, "基本信息": 1, "身份证明": 2, "决定": 3, "协议": 4, "审批表": 5, "会商纪要": 6,
    "管控方案": 7, "谈话记录": 8, "检测报告": 9, "帮扶救助": 10, "状态变更": 11, "解除": 12, "备考表": 13,
}
_CATEGORY_ALIASES = {
    "登记表": 1, "身份证": 2, "户口": 2, "决定书": 3, "认定书": 3, "协议书": 4, "担保书": 4, "康复计划": 4,
    "风险评估": 5, "纪要": 6, "一人一策": 7, "包保": 7, "双向管控函": 7, "见面核查": 8, "谈话": 8,
    "检测": 9, "尿检": 9, "毛发": 9, "帮扶": 10, "救助": 10, "请假": 11, "告诫": 11, "死亡": 11, "错录": 11,
    "退出": 12, "解除通知书": 12, "照片": 2, "其他": 11,
}

_MAGIC = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\xff\xd8\xff", "jpeg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
)
_EXT = {".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png"}
_KNOWN_OTHER = ((b"MZ", "Windows 可执行文件"), (b"\x7fELF", "Linux 可执行文件"), (b"PK\x03\x04", "ZIP/Office 文档"),
                (b"GIF8", "GIF 图片"), (b"II*\x00", "TIFF 图片"), (b"MM\x00*", "TIFF 图片"),
                (b"Rar!", "RAR 压缩包"), (b"\xd0\xcf\x11\xe0", "旧版 Office 文档"))


@dataclass
class CleanAttachment:
    data: bytes           # what is stored (images re-encoded, metadata stripped)
    kind: str             # pdf | jpeg | png
    mime: str
    pages: int
    sha256: str
    size: int
    width: int | None = None
    height: int | None = None


def category_order(category: str | int | None) -> int:
    if category is None or category == "":
        return 11
    if isinstance(category, int) or str(category).isdigit():
        n = int(category)
        if 0 <= n <= 13:
            return n
        raise InvalidInput(field="category", reason=f"类别序号应为 0–13：{category}")
    c = str(category).strip()
    if c in CATEGORIES:
        return CATEGORIES[c]
    if c in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[c]
    for k, v in list(CATEGORIES.items()) + list(_CATEGORY_ALIASES.items()):
        if k in c or c in k:
            return v
    valid = "、".join(CATEGORIES)
    raise InvalidInput(field="category", reason=f"未知类别“{category}”；可用：{valid}")


_PATH_SEGMENT_UP = re.compile(r"(^|[/\\])\.\.([/\\]|$)")


def check_title(title, what: str = "题名") -> str:
    """A title or file name as given, stripped; refused when empty, with a control
    character (NUL, ESC, line breaks …) or a ``..`` path segment. Titles and names are
    shown and stored, never used as paths."""
    from dossier.model.fields import refuse_controls

    text = "" if title is None else str(title).strip()
    if not text:
        raise InvalidInput(field="title", reason=f"请给出附件{what}（--title）")
    refuse_controls(text, what)
    if _PATH_SEGMENT_UP.search(text):
        raise InvalidInput(field=what, reason=f"“{text}”含有“..”路径写法（如 ../），不能作为{what}")
    return text


def read_upload(path: str | Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The file a clerk attaches, refused over the size limit before it is read."""
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise InvalidInput(f"附件“{p.name}”大小 {size / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB，未保存")
    return p.read_bytes()


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, kind, mime in _MAGIC:
        if data.startswith(magic):
            return kind, mime
    return None


def validate(data: bytes, filename: str = "", *, max_bytes: int = MAX_BYTES) -> CleanAttachment:
    """Check an attachment by content and return what may be stored (raises InvalidInput)."""
    name = Path(filename).name or "附件"
    check_title(name, "文件名")
    if len(data) == 0:
        raise InvalidInput(f"附件“{name}”是空文件，未保存")
    if len(data) > max_bytes:
        raise InvalidInput(f"附件“{name}”大小 {len(data) / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB，未保存")
    found = sniff(data)
    if found is None:
        what = next((label for magic, label in _KNOWN_OTHER if data.startswith(magic)), "未知格式")
        raise InvalidInput(f"附件“{name}”的内容不是 PDF、JPG 或 PNG（实际为：{what}），未保存")
    kind, mime = found
    claimed = _EXT.get(Path(name).suffix.lower())
    if Path(name).suffix and claimed is None:
        raise InvalidInput(f"附件“{name}”的扩展名不受支持（只接受 .pdf、.jpg、.jpeg、.png），未保存")
    if claimed and claimed != kind:
        raise InvalidInput(f"附件“{name}”名为 {claimed.upper()}，内容却是 {kind.upper()}——文件与其名称不符，未保存")
    if kind == "pdf":
        return _pdf(data, name, mime)
    return _image(data, name, kind, mime)


def _pdf(data: bytes, name: str, mime: str) -> CleanAttachment:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if b"%%EOF" not in data[-2048:]:
        raise InvalidInput(f"附件“{name}”不完整（PDF 缺少文件结尾，可能传输中断或被截断），未保存")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidInput(f"附件“{name}”受密码保护（已加密），请提供未加密的扫描件，未保存")
        pages = len(reader.pages)
        for p in reader.pages:
            p.mediabox  # noqa: B018 - touch every page object
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise InvalidInput(f"附件“{name}”是损坏的 PDF，无法读取（{type(exc).__name__}），未保存") from exc
    if pages < 1:
        raise InvalidInput(f"附件“{name}”是没有页面的 PDF，未保存")
    return CleanAttachment(data=data, kind="pdf", mime=mime, pages=pages,
                           sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _image(data: bytes, name: str, kind: str, mime: str) -> CleanAttachment:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:     # reads the header only
            if probe.width * probe.height > MAX_PIXELS:  # Pillow itself only warns below 2 × its limit
                raise InvalidInput(f"附件“{name}”像素过多（{probe.width}×{probe.height}，上限 {MAX_PIXELS:,} 像素，"
                                   "可能是解压炸弹），未保存")
            probe.verify()
        img = Image.open(io.BytesIO(data))
        img.load()  # a truncated file fails here ("image file is truncated")
    except Image.DecompressionBombError as exc:
        raise InvalidInput(f"附件“{name}”像素过多（超过 {MAX_PIXELS:,} 像素，可能是解压炸弹），未保存") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"附件“{name}”是损坏或不完整的图片，无法读取（{exc}），未保存") from exc
    img = ImageOps.exif_transpose(img)
    out = io.BytesIO()
    if kind == "jpeg":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(out, "JPEG", quality=92, optimize=True)       # no exif=, no icc, no comments
    else:
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
            img = img.convert("RGBA")
        img.info.clear()
        img.save(out, "PNG", optimize=False)                   # no text/eXIf chunks written
    clean = out.getvalue()
    return CleanAttachment(data=clean, kind=kind, mime=mime, pages=1, sha256=hashlib.sha256(clean).hexdigest(),
                           size=len(clean), width=img.width, height=img.height)
