"""The warm LibreOffice converter and binding with one office call (synthetic data)."""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
from formkit import needs_soffice

from dossier.forms import Registry, context_for, sample, service
from dossier.forms.bind import index_rows_from_pdf, page_count

TODAY = date(2025, 6, 1)


def _docs(n=2):
    reg = Registry()
    d = sample.sample_dossier()
    return [reg.prepared(c).render(context_for(reg.get(c), TODAY, dossier=d)) for c in ("cover", "remarks")][:n]


def _office_pids(path) -> list[int]:
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as fh:
                    if str(path).encode() in fh.read():
                        pids.append(int(p))
            except OSError:
                continue
    return pids


@needs_soffice
def test_warm_converter_reuses_one_office_and_leaves_nothing():
    from dossier.forms.pdf import PdfConverter

    docs = _docs()
    with PdfConverter(warm=True) as conv:
        work = conv.dir
        first = conv.convert(docs)
        second = conv.convert(docs[:1])
        assert conv.warm_calls == 2 and conv.calls == 2          # both through the running office
        assert _office_pids(work)                                  # it is still running between calls
        pipes = list(conv._pipes)
    assert [page_count(p) for p in first] == [1, 1] and page_count(second[0]) == 1
    assert not work.exists()                                       # private directory wiped
    assert not _office_pids(work)                                  # office stopped
    assert not any(p.exists() for p in pipes)                      # its socket file removed


@needs_soffice
def test_bind_wrong_page_guess_rerenders_frame(person_world, monkeypatch):
    """A stored document without a PDF whose length was guessed wrong: the frame is converted
    again and the 目录 still matches the real pages."""
    world, no, _ = person_world
    monkeypatch.setitem(service._USUAL_PAGES, "basic-info", 5)     # the real 登记表 is shorter
    stats: dict = {}
    with world.open("li") as ar:
        pdf = service.bind_dossier(ar, no, today=TODAY, stats=stats)
    assert stats["converter_calls"] == 2
    marks = index_rows_from_pdf(pdf)
    assert marks[0] == ("档案封面", 1) and marks[1] == ("卷内文件目录", 2) and marks[2][1] == 3
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    n = len(reader.pages)
    assert marks[-1][1] == n                                       # 备考表 last, right after the 登记表
    remarks = reader.pages[-1].extract_text().replace(" ", "")
    assert f"共{n}页" in remarks                                   # not the guessed 3 + 5 = 8


@needs_soffice
def test_bind_right_guess_one_office_call(person_world):
    world, no, _ = person_world
    stats: dict = {}
    with world.open("li") as ar:
        service.fill(ar, "审批表", ref=no, today=TODAY)               # kept as docx only: converted at bind
        pdf = service.bind_dossier(ar, no, today=TODAY, stats=stats)
    assert stats["converter_calls"] == 1
    titles = [t for t, _ in index_rows_from_pdf(pdf)]
    assert any("审批表" in t for t in titles) and any("登记表" in t for t in titles)


def test_render_function_not_shadowed_by_submodule():
    import importlib

    import dossier.forms as forms

    importlib.import_module("dossier.forms.render")
    assert callable(forms.render) and forms.render is forms.render_form


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
