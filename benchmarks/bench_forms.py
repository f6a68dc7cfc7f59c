#!/usr/bin/env python
"""Benchmarks for issue 4 (forms), ratios measured in one run.

    python benchmarks/bench_forms.py [--n 1000] [--pdf-n 100] [--skip-pdf]

1. Fill N 审批表: prepared template (parse once, render many) vs the naive
   docxtpl loop (load template, render, save per document). Same contexts.
2. PDF-N documents to PDF: one warm LibreOffice batch vs one
   ``soffice --convert-to`` call per document.
3. Bind a 40-page 一人一档 from an archive (cover, 目录, documents, 备考表):
   one bind on its own, and a batch of binds sharing one warm LibreOffice.

Synthetic data only.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dossier.forms import Registry, context_for, sample  # noqa: E402
from dossier.forms.render import naive_render  # noqa: E402

TODAY = date(2024, 3, 5)


def contexts(reg, n):
    spec = reg.get("risk-approval")
    names = ["林晓峰", "王建国", "陈小梅", "赵志强", "黄丽", "周子涵", "吴海", "郑伟"]
    return [context_for(spec, TODAY, dossier=sample.sample_dossier(n=i, name=names[i % len(names)] + str(i)))
            for i in range(n)]


def bench_fill(n):
    reg = Registry()
    spec = reg.get("risk-approval")
    ctxs = contexts(reg, n)
    t = time.perf_counter()
    fast = [reg.prepared("risk-approval").render(c) for c in ctxs]   # includes preparing once
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    naive = [naive_render(spec.path, c) for c in ctxs]
    t_naive = time.perf_counter() - t
    assert len(fast) == len(naive) == n
    print(f"[fill] {n} 审批表: prepared {t_fast:.2f}s ({1000 * t_fast / n:.1f} ms/doc), "
          f"naive docxtpl {t_naive:.2f}s ({1000 * t_naive / n:.1f} ms/doc) → {t_naive / t_fast:.1f}× faster")
    return fast


def bench_pdf(docs):
    from dossier.forms.pdf import PdfConverter, find_soffice

    exe = find_soffice()
    if not exe:
        print("[pdf] skipped: LibreOffice not installed")
        return
    n = len(docs)
    t = time.perf_counter()
    with PdfConverter() as conv:
        pdfs = conv.convert(docs)
    t_warm = time.perf_counter() - t
    assert len(pdfs) == n
    t = time.perf_counter()
    with PdfConverter(warm=True) as conv:
        chunks = [conv.convert(docs[i:i + 10]) for i in range(0, n, 10)]
    t_office = time.perf_counter() - t
    assert sum(map(len, chunks)) == n
    work = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    try:
        t = time.perf_counter()
        for i, d in enumerate(docs):
            p = work / f"{i}.docx"
            p.write_bytes(d)
            subprocess.run([exe, f"-env:UserInstallation=file://{work / 'profile'}", "--headless",
                            "--convert-to", "pdf", "--outdir", str(work / "out"), str(p)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        t_cold = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"[pdf] {n} docs: one warm batch {t_warm:.1f}s, {n} separate soffice calls {t_cold:.1f}s "
          f"→ {t_cold / t_warm:.1f}× faster; warm office, {len(chunks)} requests of ≤10: {t_office:.1f}s")


def bench_bind(batch: int = 5):
    """A 40-page 一人一档 from an encrypted archive (dossier.forms.service.bind_dossier): 4 forms kept
    with their PDF, a scanned attachment making up the rest; the 封面/目录/备考表 rendered and converted
    per bind. Timed: one bind on its own (starts its LibreOffice), and ``batch`` binds sharing one
    warm LibreOffice (what a batch of binds costs each)."""
    import tempfile as tf

    import dossier
    from dossier.forms import service
    from dossier.forms.bind import page_count
    from dossier.forms.pdf import PdfConverter, find_soffice
    from pypdf import PdfWriter

    if not find_soffice():
        print("[bind] skipped: LibreOffice not installed")
        return
    path = Path(tf.mkdtemp(prefix="bench-bind-")) / "archive"
    try:
        dossier.init_archive(path, name="bench", admin="admin", password="bench-admin-pw")
        with dossier.open_archive(path, user="admin", password="bench-admin-pw") as ar:
            ar.scopes.add(sample.SCOPE)
            d = sample.sample_dossier()
            prof = {k: v for k, v in d["profile"].items() if k != "birth_date"}
            ref = ar.persons.add(sample.SCOPE, prof, today=TODAY)
            for e in d["entries"]:
                e = {k: v for k, v in e.items() if k != "id"}
                ar.entries.add(ref.archive_no, e.pop("type"), e, today=TODAY)
            kept = service.fill_batch(ar, [{"code": c, "ref": ref.archive_no} for c in
                                           ("basic-info", "risk-approval", "control-plan", "interview")], today=TODAY)
            have = sum(page_count(r.data) for r in kept)
            w = PdfWriter()
            for _ in range(40 - 3 - have):
                w.add_blank_page(595, 842)
            buf = io.BytesIO()
            w.write(buf)
            service.attach(ar, ref.archive_no, buf.getvalue(), "扫描件.pdf", title="社区康复协议书及检测报告（扫描件）",
                           category="协议", today=TODAY)
            singles = []
            for _ in range(2):
                st: dict = {}
                t = time.perf_counter()
                pdf = service.bind_dossier(ar, ref.archive_no, today=TODAY, watermark="仅供内部使用", stats=st)
                singles.append(time.perf_counter() - t)
            pages = page_count(pdf)
            t = time.perf_counter()
            with PdfConverter(warm=True) as conv:
                t_start = time.perf_counter() - t
                each = []
                for _ in range(batch):
                    t1 = time.perf_counter()
                    service.bind_dossier(ar, ref.archive_no, today=TODAY, watermark="仅供内部使用", converter=conv)
                    each.append(time.perf_counter() - t1)
            t_batch = time.perf_counter() - t
        print(f"[bind] {pages}-page 一人一档 (archive, watermark), LibreOffice calls per bind: "
              f"{st.get('converter_calls')}: one bind on its own {min(singles):.2f}s (runs {', '.join(f'{x:.2f}' for x in singles)}); "
              f"{batch} binds on one warm LibreOffice {t_batch:.2f}s in all — first {each[0]:.2f}s "
              f"(office start), then {min(each[1:]):.2f}–{max(each[1:]):.2f}s each (goal < 3 s)")
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pdf-n", type=int, default=100)
    ap.add_argument("--skip-pdf", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    docs = bench_fill(a.n)
    if not a.skip_pdf:
        bench_pdf(docs[: a.pdf_n])
        bench_bind()


if __name__ == "__main__":
    main()
