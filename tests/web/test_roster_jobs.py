"""Roster jobs run in a background thread (web/jobs.py): a roster larger than
``roster.INLINE_BYTES`` is checked and imported off the request, its page polled.

The intermittent failure of this path (issue 11) was a race in the page, not in
the thread: the job page read the job's result, the job then finished, and the
template read "not running" — an empty result shown as final. A page now
renders one consistent snapshot of the job (:meth:`Job.snapshot`)."""

from __future__ import annotations

import io
import os
import threading

import openpyxl

from dossier.web import jobs
from dossier.web.views import roster as roster_view
from test_roster_pages import job_url, names_in_archive, roster, upload, wait


def large_roster(rows: list[dict]) -> bytes:
    """A real workbook over the inline limit: the rows, and a scanned page (an
    incompressible picture) on a second sheet, as offices' rosters often carry."""
    from openpyxl.drawing.image import Image
    from PIL import Image as PILImage

    wb = openpyxl.load_workbook(io.BytesIO(roster(rows)))
    pic = PILImage.frombytes("RGB", (320, 320), os.urandom(320 * 320 * 3))
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    ws = wb.create_sheet("扫描件")
    ws.add_image(Image(io.BytesIO(buf.getvalue())), "A1")
    out = io.BytesIO()
    wb.save(out)
    data = out.getvalue()
    assert len(data) > roster_view.INLINE_BYTES, len(data)
    return data


def test_a_large_roster_is_previewed_and_imported_in_a_background_thread(web, world, monkeypatch):
    started = []
    real = jobs.threading.Thread

    def counting(*a, **kw):
        t = real(*a, **kw)
        started.append(kw.get("name", ""))
        return t

    monkeypatch.setattr(jobs.threading, "Thread", counting)
    b = web("li")
    people = [world.person(), world.person(), world.person()]
    url = job_url(upload(b, large_roster(people), world.scope_a))
    html = wait(b, url)
    assert started == ["dossier-job-import-preview"]
    assert "校验通过" in html and "确认导入" in html, html[html.find("<main"):][:3000]
    assert '<span class="n">3</span><span>新增人员</span>' in html
    assert names_in_archive(world) == set()
    done = wait(b, job_url(b.post(url + "/confirm", follow_redirects=False)))
    assert started == ["dossier-job-import-preview", "dossier-job-import"]
    assert "导入完成" in done and "新增 3 人" in done, done[done.find("<main"):][:3000]
    assert names_in_archive(world) == {p["name"] for p in people}


def test_a_job_finishing_while_its_page_renders_shows_progress_not_an_empty_result(web, world, monkeypatch):
    """Deterministic: the job finishes exactly between the page reading the job and
    rendering it. The page must show it running (the next poll shows the result),
    never a finished preview with nothing in it."""
    monkeypatch.setattr(roster_view, "INLINE_BYTES", 0)
    b = web("li")
    release, finished = threading.Event(), threading.Event()
    real_work = roster_view.summarize

    def slow_summarize(res):
        release.wait(30)
        try:
            return real_work(res)
        finally:
            finished.set()

    monkeypatch.setattr(roster_view, "summarize", slow_summarize)
    url = job_url(upload(b, roster([world.person(), world.person()]), world.scope_a))
    templates = b.app.state.templates
    real_render = templates.render

    def render(template, /, **context):
        if template == "import_job.html" and not release.is_set():
            release.set()                 # the job finishes now, after the page read it
            assert finished.wait(30)
            for _ in range(200):          # and its thread has recorded the outcome
                if all(not j.running for ws in b.app.state.sessions._by_id.values() for j in ws.jobs.values()):
                    break
                threading.Event().wait(0.01)
        return real_render(template, **context)

    monkeypatch.setattr(templates, "render", render)
    first = b.get(url).text
    assert 'hx-trigger="every 1s"' in first, first[first.find("<main"):][:2000]   # still running, as read
    html = wait(b, url)
    assert "校验通过" in html and '<span class="n">2</span><span>新增人员</span>' in html, \
        html[html.find("<main"):][:3000]
