"""Stamps in their boxes (issue 14): on every shipped 审批表 layout — the official template
(forms engine → LibreOffice) for a short and a long dossier, and the plain layout of
``formpdf.build_form`` — each step's stamp rectangle lies clear of every printed word
(pdftotext -bbox) and, on the template, directly above its own block's signature line."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import subprocess

import pytest
from pypdf import PdfReader

import dossier
from dossier import synth
from dossier.approve import formpdf, pdfsign
from dossier.crypto import kdf
from dossier.model.idnumber import make_id_number

PW = b"stamp-boxes-1"
SCOPE = "珠晖区/粤汉街道/苗圃社区"
# the first printed line under each block's stamp band: the block's own signature line
SIGNATURE_LINE = {"社区初评": "评估人（签名）：", "派出所核查": "社区民警（签名）：", "会商": "主持人（签名）：",
                  "街道审批": "党政主要领导（签名）：", "区禁毒办备案": "经办人（签名）："}


def _words(pdf: bytes, tmp_path) -> list[tuple[int, str, tuple[float, float, float, float]]]:
    src = tmp_path / f"form-{random.random()}.pdf"
    src.write_bytes(pdf)
    xml = subprocess.run(["pdftotext", "-bbox", str(src), "-"], capture_output=True, text=True, check=True).stdout
    out, page, height = [], -1, 842.0
    for line in xml.splitlines():
        m = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', line)
        if m:
            page, height = page + 1, float(m.group(2))
            continue
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line)
        if m:
            x1, y1, x2, y2 = (float(v) for v in m.groups()[:4])
            out.append((page, m.group(5), (x1, height - y2, x2, height - y1)))
    return out


def _rects(pdf: bytes, ft: str = "/Sig") -> dict[str, tuple[int, list[float]]]:
    r = PdfReader(io.BytesIO(pdf))
    out = {}
    for i, page in enumerate(r.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/FT") == ft and "/T" in a:
                out[str(a["/T"])] = (i, [float(v) for v in a["/Rect"]])
    return out


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _assert_clear(pdf: bytes, tmp_path) -> tuple[dict, list]:
    stamps = {pdfsign.STEP_BY_FIELD[k]: v for k, v in _rects(pdf).items()}
    assert set(stamps) == set(pdfsign.STEPS)
    fills = [v for v in _rects(pdf, "/Tx").values()]
    words = _words(pdf, tmp_path)
    for step, (page, rect) in stamps.items():
        assert rect[2] - rect[0] > 150 and rect[3] - rect[1] >= 30, (step, rect)   # room for the stamp
        hits = [w for p, w, box in words if p == page and _overlaps(box, rect)]
        assert not hits, f"{step} stamp {rect} covers printed {hits}"
        for p, fr in fills:
            assert p != page or not _overlaps(fr, rect), (step, fr)
    return stamps, words


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("boxes") / "archive"
    dossier.init_archive(path, name="版式测试", admin="admin", password=PW, kdf_params=kdf.WEAK_FOR_TESTS)
    with dossier.open_archive(path, user="admin", password=PW) as ar:
        ar.scopes.add(SCOPE)
        rng = random.Random(14)
        today = dt.date.today()
        short = ar.persons.add(SCOPE, {"name": "测试丙", "id_number": make_id_number("430405", dt.date(1990, 3, 5), 17),
                                       "gender": "男"}).archive_no
        full = ar.persons.add(SCOPE, synth.person(rng, today=today, full=True)).archive_no
    return path, {"short": short, "full": full}


@pytest.mark.parametrize("which", ["short", "full"])
def test_template_stamps_clear_of_labels_and_above_their_own_signature_line(archive, which, tmp_path):
    path, refs = archive
    with dossier.open_archive(path, user="admin", password=PW) as ar:
        row = ar.dossiers.resolve(refs[which])
        pdf = formpdf.render_form(ar, row, level="中", reason="近期检测阴性，" * (12 if which == "full" else 1),
                                  date=dt.date.today(), form_ref=f"{row.id}@v{row.head}")
    stamps, words = _assert_clear(pdf, tmp_path)
    for step, (page, rect) in stamps.items():
        below = sorted(((box[3], w) for p, w, box in words
                        if p == page and box[3] <= rect[1] + 0.5 and box[2] > rect[0] and box[0] < rect[2]),
                       reverse=True)
        assert below, step
        line_top = below[0][0]
        line = "".join(w for top, w in below if abs(top - line_top) < 2)
        assert SIGNATURE_LINE[step] in line, (step, line)
        assert rect[1] - line_top < 12, (step, rect, line_top)        # right above it, inside the block
    # the conclusions are filled where the form prints them: each field right after its label
    fills = _rects(pdf, "/Tx")
    assert set(fills) == set(pdfsign.FILL_FIELDS.values())
    for name, label in (("Conclusion", "会商结论："), ("FinalLevel", "最终等级"), ("NextReview", "下次复评日期：")):
        page, r = fills[name]
        left = [box for p, w, box in words if p == page and w.endswith(label) and abs(box[1] - r[1]) < 12]
        assert left and min(abs(box[2] - r[0]) for box in left) < 90, (name, r, left)


def test_plain_layout_stamps_clear_of_labels(tmp_path):
    pdf = formpdf.build_form({"姓名": "测试丁", "档号": "TEST-0001"}, level="低", reason="戒断三年以上",
                             form_ref="dossier:test@v1", date="2024-05-06")
    _assert_clear(pdf, tmp_path)


def test_signed_template_keeps_its_labels_visible(archive, tmp_path):
    """After all five signatures the 街道 seal label (once covered by the stamp) is still printed
    outside every stamp."""
    path, refs = archive
    with dossier.open_archive(path, user="admin", password=PW) as ar:
        row = ar.dossiers.resolve(refs["short"])
        pdf = formpdf.render_form(ar, row, level="中", reason="近期检测阴性", date=dt.date.today(),
                                  form_ref=f"{row.id}@v{row.head}")
    stamps = {pdfsign.STEP_BY_FIELD[k]: v for k, v in _rects(pdf).items()}
    seal = [(p, box) for p, w, box in _words(pdf, tmp_path) if "乡镇人民政府" in w]
    assert seal
    for p, box in seal:
        assert not any(sp == p and _overlaps(box, r) for sp, r in stamps.values())
