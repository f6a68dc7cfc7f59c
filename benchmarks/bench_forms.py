#!/usr/bin/env python
"""Benchmarks for issue 4 (forms), ratios measured in one run.

    python benchmarks/bench_forms.py [--n 1000] [--pdf-n 100] [--skip-pdf]

1. Fill N 审批表: prepared template (parse once, render many) vs the naive
   docxtpl loop (load template, render, save per document). Same contexts.
2. PDF-N documents to PDF: one warm LibreOffice batch vs one
   ``soffice --convert-to`` call per document.
3. Bind a 40-page 一人一档 (cover, 目录, documents, 备考表; stored PDFs).

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
          f"→ {t_cold / t_warm:.1f}× faster")


def bench_bind():
    from dossier.forms import contexts as cx
    from dossier.forms.bind import BindItem, bind
    from dossier.forms.pdf import PdfConverter, find_soffice

    if not find_soffice():
        print("[bind] skipped: LibreOffice not installed")
        return
    reg = Registry()
    d = sample.sample_dossier()
    with PdfConverter() as conv:
        # stored documents (kept as PDF when filled with --pdf): 审批表, 登记表, 一人一策, 谈话记录
        docs = conv.convert([reg.prepared(c).render(context_for(reg.get(c), TODAY, dossier=d))
                             for c in ("risk-approval", "basic-info", "control-plan", "interview")])
        from pypdf import PdfWriter
        items = [BindItem(reg.get(c).title, p, reg.get(c).category or 11, "2024-03-01")
                 for c, p in zip(("risk-approval", "basic-info", "control-plan", "interview"), docs)]
        have = sum(len(__import__("pypdf").PdfReader(io.BytesIO(p)).pages) for p in docs)
        w = PdfWriter()
        for _ in range(40 - 3 - have):
            w.add_blank_page(595, 842)
        buf = io.BytesIO()
        w.write(buf)
        items.append(BindItem("社区康复协议书及检测报告（扫描件）", buf.getvalue(), 4, "2021-03-02"))
        t = time.perf_counter()

        def frame(rows, total, _):
            base = cx.person_context(d, TODAY, items=rows)
            base["volume"]["pages"] = str(total)
            return tuple(conv.convert([reg.prepared(c).render(base) for c in ("cover", "file-index", "remarks")]))

        pdf = bind(items, render_frame=frame, watermark="仅供内部使用")
        t_bind = time.perf_counter() - t
    pages = len(__import__("pypdf").PdfReader(io.BytesIO(pdf)).pages)
    print(f"[bind] {pages}-page 一人一档 (with watermark): {t_bind:.2f}s (goal < 3 s)")


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
