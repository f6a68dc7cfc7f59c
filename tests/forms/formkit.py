"""Helpers for the forms tests (synthetic data only)."""

from __future__ import annotations

import io
import shutil
from datetime import date

import pytest

from dossier.forms import sample

HAS_SOFFICE = shutil.which("soffice") is not None
needs_soffice = pytest.mark.skipif(not HAS_SOFFICE, reason="LibreOffice (soffice) not installed")

NASTY = '<&>"\'</w:t></w:r>{{ 7*7 }}{% for x in y %}{%tr endfor %}\x07\x0c'


def full_profile(name="林晓峰", n=7) -> dict:
    p = dict(sample.sample_dossier(n=n, name=name)["profile"])
    p.pop("birth_date", None)
    return p


def full_entries() -> list[dict]:
    out = []
    for e in sample.sample_dossier()["entries"]:
        e = {k: v for k, v in e.items() if k != "id"}
        out.append(e)
    return out


def gps_jpeg(w=320, h=200) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (w, h), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"          # Make
    exif[0x0132] = "2024:02:20 10:00:00"
    gps = {1: "N", 2: (28.0, 53.0, 30.0), 3: "E", 4: (112.0, 36.0, 10.0)}
    exif[0x8825] = gps               # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def small_pdf(pages=2, text="扫描件") -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(595, 842)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


TODAY = date(2025, 6, 1)
