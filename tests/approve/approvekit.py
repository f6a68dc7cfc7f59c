"""Helpers for the approval tests: an archive CA, signing identities and a
hand-made one-page 审批表 with five signature areas (until the forms issue's
real template is used)."""

from __future__ import annotations

import io
import shutil

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from dossier.approve import pdfsign
from dossier.crypto.ca import ArchiveCA, generate_signing_identity

needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) not installed")


def make_form_pdf(title: str = "Risk assessment approval form (synthetic)") -> bytes:
    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    ops = [f"BT /F1 16 Tf 60 780 Td ({title}) Tj ET"]
    for _step, (_pg, (x1, y1, x2, y2)) in pdfsign.DEFAULT_AREAS.items():
        ops.append(f"{x1} {y1} {x2 - x1} {y2 - y1} re S")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode())
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): w._add_object(font)})})
    page[NameObject("/Contents")] = w._add_object(stream)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


