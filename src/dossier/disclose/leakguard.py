"""Leak guard: scan an export before it is written, refuse if it holds a value outside the grant.

Every text part is scanned: for a .docx every XML part (body, headers,
footers, footnotes, comments, ``docProps/*``, custom XML); for a PDF the text
of every page, the document information and the XMP metadata. Text is
normalised first: NFKC (full-width digits and letters become ASCII), then
every space, separator and punctuation mark removed, so ``1380 0000-000``,
``１３８００００００００`` and ``1 3 8…`` all match ``13800000000``.

Two kinds of finding:

- a *forbidden value*: an ID number, phone or name of a person in the
  package that the grant does not cover (or of anyone else the caller lists);
- a *pattern*: any 18-digit string with a valid GB 11643 check digit, or any
  11-digit mobile number, that is not one of the granted values.

Found → :class:`~dossier.errors.DisclosureRefused` (exit 31) naming the part
and the kind, never the value; the caller writes nothing.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import DisclosureRefused

_SEP = re.compile(r"[\s\W_]+", re.UNICODE)
_ID = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def normalize(text: str) -> str:
    """NFKC, upper case, and every separator/space/punctuation removed."""
    t = unicodedata.normalize("NFKC", text or "").upper()
    return _SEP.sub("", t)


def id_checksum_ok(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit():
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(s[:17], _W)) % 11] == s[17]


@dataclass(frozen=True)
class Finding:
    part: str
    kind: str          # "id_number", "phone", "name", "value"

    def __str__(self) -> str:
        label = {"id_number": "公民身份号码", "phone": "电话号码", "name": "姓名"}.get(self.kind, "个人信息")
        return f"{self.part} 中含有未授权的{label}"


@dataclass
class Policy:
    """What may appear: ``allowed`` values in clear; ``forbidden`` values (kind, value) never."""

    forbidden: list[tuple[str, str]]
    allowed: set[str]

    @classmethod
    def build(cls, forbidden: Iterable[tuple[str, str]], allowed: Iterable[str] = ()) -> "Policy":
        f = [(k, normalize(v)) for k, v in forbidden if v and len(normalize(v)) >= 2]
        return cls(f, {normalize(a) for a in allowed if a})


def scan_text(text: str, policy: Policy, part: str) -> list[Finding]:
    t = normalize(text)
    out: list[Finding] = []
    for kind, value in policy.forbidden:
        if value in t and value not in policy.allowed:
            out.append(Finding(part, kind))
    # Patterns, on two readings: separators removed (catches "1380 0000 000"), and
    # separators kept as token breaks (catches two numbers that removal would glue together).
    spaced = _SEP.sub(" ", unicodedata.normalize("NFKC", text or "").upper())
    for reading in (t, spaced):
        for m in _ID.finditer(reading):
            if id_checksum_ok(m.group()) and m.group() not in policy.allowed:
                out.append(Finding(part, "id_number"))
        for m in _MOBILE.finditer(reading):
            if m.group() not in policy.allowed:
                out.append(Finding(part, "phone"))
    return sorted(set(out), key=lambda f: (f.part, f.kind))


_TAG = re.compile(r"<[^>]+>")


def docx_parts(data: bytes) -> list[tuple[str, str]]:
    """(part name, text) for every XML part of a docx (tags removed, runs joined)."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                raw = z.read(name).decode("utf-8", "replace")
                out.append((name, _TAG.sub("", raw) + " " + " ".join(re.findall(r'"([^"]*)"', raw))))
    return out


def pdf_parts(data: bytes, password: str | None = None) -> list[tuple[str, str]]:
    """(part, text) for a PDF: each page's text, the info dictionary, the XMP packet."""
    from pypdf import PdfReader

    r = PdfReader(io.BytesIO(data))
    if r.is_encrypted:
        r.decrypt(password or "")
    out = []
    for i, page in enumerate(r.pages, 1):
        out.append((f"第 {i} 页", page.extract_text() or ""))
    info = r.metadata or {}
    out.append(("文档属性", " ".join(f"{k} {v}" for k, v in info.items())))
    try:
        root = r.trailer["/Root"]
        if "/Metadata" in root:
            out.append(("XMP 元数据", root["/Metadata"].get_object().get_data().decode("utf-8", "replace")))
    except Exception:  # noqa: BLE001 - a broken XMP stream is no leak
        pass
    return out


def scan(data: bytes, kind: str, policy: Policy, password: str | None = None) -> list[Finding]:
    parts = docx_parts(data) if kind == "docx" else pdf_parts(data, password)
    out: list[Finding] = []
    for part, text in parts:
        out += scan_text(text, policy, part)
    return out


def guard(data: bytes, kind: str, policy: Policy, password: str | None = None) -> None:
    """Raise :class:`DisclosureRefused` if ``data`` leaks anything; else return quietly."""
    found = scan(data, kind, policy, password)
    if found:
        raise DisclosureRefused("检测到可能的泄露，未写出任何文件：" + "；".join(str(f) for f in found[:5]),
                                findings=[str(f) for f in found])
