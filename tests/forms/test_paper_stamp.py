"""Paper tokens on generated paper: every page of a form PDF, a bound 一人一档, a
审批表 (stamped before its signatures, which stay valid) and a disclosure package
carries a QR code that zxing reads back (from the page as poppler renders it)
to a token that ``verify-paper`` accepts for the right 档号 and version."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time

import pytest
from pypdf import PdfReader, PdfWriter

from dossier import paper
from dossier.forms import service
from dossier.paper_stamp import stamp_pdf

from formkit import TODAY, needs_soffice

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")


def page_tokens(pdf: bytes, tmp_path, password: str | None = None) -> list[str | None]:
    """The token read from the bottom-right corner of every page (rendered at 300 dpi)."""
    import zxingcpp
    from PIL import Image

    r = PdfReader(io.BytesIO(pdf))
    if r.is_encrypted:
        r.decrypt(password or "")
    src = tmp_path / f"in-{time.monotonic_ns()}.pdf"
    src.write_bytes(pdf)
    out = []
    for i, page in enumerate(r.pages, 1):
        w, h = float(page.cropbox.width) * 300 / 72, float(page.cropbox.height) * 300 / 72
        cw, ch = 1400, 420                     # 118 mm × 36 mm: the QR code and its text
        prefix = tmp_path / f"p{time.monotonic_ns()}"
        subprocess.run(["pdftoppm", "-r", "300", "-f", str(i), "-l", str(i), "-singlefile", "-gray",
                        "-x", str(int(w - cw)), "-y", str(int(h - ch)), "-W", str(cw), "-H", str(ch),
                        *(["-upw", password] if password else []), "-png", str(src), str(prefix)],
                       check=True, capture_output=True)
        hits = [b.text for b in zxingcpp.read_barcodes(Image.open(f"{prefix}.png"))
                if b.text.startswith(paper.PREFIX)]
        out.append(hits[0] if len(hits) == 1 else None)
    return out


def printed_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


# ----------------------------------------------------------------------------- the stamp itself

def test_stamp_is_deterministic_fast_and_keeps_content():
    tok = "DP1" + base64.b32encode(bytes(range(96))).decode().rstrip("=")
    w = PdfWriter()
    for _ in range(100):
        w.add_blank_page(595.28, 841.89)
    buf = io.BytesIO()
    w.write(buf)
    t = time.perf_counter()
    a = stamp_pdf(buf.getvalue(), tok)
    assert time.perf_counter() - t < 1.0
    assert stamp_pdf(buf.getvalue(), tok) == a
    text = printed_text(a)
    assert text.count("dossier verify-paper:") == 100 and paper.group(tok)[:17] in text


# ----------------------------------------------------------------------------- forms and binding

@needs_soffice
@needs_poppler
def test_form_pdf_and_bound_file_carry_verifiable_qr_on_every_page(person_world, tmp_path, run_dossier):
    world, no, prof = person_world
    with world.open("li") as ar:
        r = service.fill(ar, "审批表", ref=no, today=TODAY, fmt="pdf")
        filed = ar.dossiers.show(no).version
        doc = ar.dossiers.show(no).state["documents"][-1]
    assert r.paper is not None and r.kept[0]["version"] == filed
    assert doc["paper_doc"] == r.paper.doc_id
    with world.open("li") as ar:     # the stored PDF is unstamped; the printed one is reproducible from it
        view = ar.dossiers.show(no)
        stored = ar.blobs.get(doc["pdf_blob"], scope=view.scope, dossier_id=view.id, kind="document")
        again = paper.issue(ar, no, version=filed, doc_id=doc["paper_doc"])
    assert again.token == r.paper.token and stamp_pdf(stored, again) == r.data
    toks = page_tokens(r.data, tmp_path)
    assert len(toks) == 2 and toks == [r.paper.token] * 2
    assert paper.group(r.paper.token)[:26] in printed_text(r.data)
    # the real executable, as an inspector (no data key): the right 档号 and version, unchanged
    png = tmp_path / "qr.png"
    png.write_bytes(r.paper.qr_png())
    res = run_dossier(["verify-paper", "--image", png, "--json"], env=world.env("qian"))
    assert res.code == 0, res.stderr
    v = json.loads(res.stdout)
    assert v["valid"] and v["archive_no"] == no and v["version"] == filed and not v["changed_since"]
    assert v["doc_id"] == doc["paper_doc"] and prof["name"] not in res.stdout

    with world.open("li") as ar:
        stats: dict = {}
        bound = service.bind_dossier(ar, no, today=TODAY, stats=stats, password="pw-1")
        head = ar.dossiers.show(no).version
    btok = stats["paper"]
    toks = page_tokens(bound, tmp_path, password="pw-1")
    assert len(toks) >= 5 and set(toks) == {btok.token}      # cover, 目录, the form's 2 pages, 备考表 …
    with world.open("qian") as ar:
        b = paper.verify(ar, toks[0])
    assert b["archive_no"] == no and b["version"] == head and not b["changed_since"]
    assert b["doc_id"] == btok.doc_id != r.paper.doc_id

    # a new version of the dossier: both papers now say changed-since
    with world.open("li") as ar:
        ar.entries.add(no, "interview", {"date": "2025-05-30", "subject": "本人", "person_seen": True,
                                         "content": "回访。"}, today=TODAY)
    res = run_dossier(["verify-paper", paper.group(toks[0]), "--json"], env=world.env("qian"))
    v = json.loads(res.stdout)
    assert res.code == 0 and v["changed_since"] and v["head"] == head + 1 and v["version"] == head
    with world.open("admin") as ar:
        f = paper.verify(ar, r.paper.text)
    assert f["changed_since"] and f["version"] == filed


@needs_soffice
@needs_poppler
def test_minutes_carry_first_persons_token(person_world, tmp_path):
    world, no, prof = person_world
    with world.open("li") as ar:
        service.add_meeting(ar, {"no": "〔2025〕第2期", "date": "2025-05-20", "place": "会议室", "host": "黄志远",
                                 "persons": [{"ref": no, "level": "中"}]}, today=TODAY)
        r = service.fill(ar, "minutes", meeting="〔2025〕第2期", today=TODAY, fmt="pdf")
        v = paper.verify(ar, r.paper.token)
    assert set(page_tokens(r.data, tmp_path)) == {r.paper.token}
    assert v["archive_no"] == no and not v["changed_since"]


# ----------------------------------------------------------------------------- 审批表

@needs_soffice
@needs_poppler
@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig missing")
def test_approval_form_stamped_before_signatures_three_signers_pass_pdfsig(person_world, tmp_path):
    from dossier.approve import pdfsign
    from dossier.approve.chain import Approvals

    world, no, _ = person_world
    with world.open("li") as ar:
        basis = ar.dossiers.show(no).version
        ar.entries.add(no, "measure", {"date": "2025-05-01", "level": "中", "filed_with": "街道",
                                       "measures": ["每季度见面核查"]}, today=TODAY)
        basis += 1
        st = Approvals(ar).submit(no, level="中", reason="正在执行社区康复", date="2025-05-06")
    with world.open("zhao") as ar:
        Approvals(ar).sign(no, step="派出所核查", opinion="经核查属实", date="2025-05-07")
    with world.open("li") as ar:
        Approvals(ar).record_meeting(no, minutes_no="〔2025〕第3期", date="2025-05-08", conclusion="中")
        pdf = Approvals(ar).export(no)
        assert Approvals(ar).verify(no)["ok"]
    f = tmp_path / "审批表.pdf"
    f.write_bytes(pdf)
    sigs = pdfsign.pdfsig_report(str(f))
    assert len(sigs) == 3 and all(s["valid"] for s in sigs), sigs
    toks = page_tokens(pdf, tmp_path)
    assert len(toks) == 2 and toks[0] and set(toks) == {toks[0]}
    with world.open("qian") as ar:
        v = paper.verify(ar, toks[0])
    # the form names the version it was filled from (its form_ref); the chain's versions follow
    assert v["archive_no"] == no and v["version"] == basis and v["doc_id"] == st["approval"]
    assert v["changed_since"] and v["head"] == basis + 3


# ----------------------------------------------------------------------------- disclosure

@needs_poppler
def test_disclosure_page_token_masked_and_leak_guard_passes(world, tmp_path):
    from dossier.disclose import leakguard, packages

    ref, prof = world.add_person()
    with world.open("li") as ar:
        row = ar.dossiers.resolve(ref.archive_no)
        version = row.head
    fields = ["ethnicity"]
    rec = {"archive_no": ref.archive_no, **packages.reduce_profile(prof, fields)}
    policy = leakguard.Policy.build(packages.forbidden_values(prof, fields), [prof["ethnicity"]])
    with world.open("qian") as ar:          # the requester exports: no scope key needed for the token
        tok = packages.paper_token(ar, row.id, version, rec)
        pdf = packages.build_package([rec], number="D20250601-abc123", recipient="qian", purpose="核查",
                                     date="2025-06-01", policy=policy, tokens=[tok])
        v = paper.verify(ar, tok.token)
    leakguard.guard(pdf, "pdf", policy)
    assert page_tokens(pdf, tmp_path) == [tok.token]
    assert v["archive_no"] == ref.archive_no and v["version"] == version
    assert paper.parse(tok.token)["name"] == rec["name"] != prof["name"]
    assert prof["name"] not in printed_text(pdf) and prof["id_number"] not in printed_text(pdf)
