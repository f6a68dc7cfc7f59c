"""Long work off the request: a background thread per job, its progress polled by htmx.

- A job runs in its own thread with **its own library session**, opened with
  the web session's unlocked keys (:func:`open_library`): the web session's
  lock stays free, so the user's other pages — and the small status fragment
  that htmx polls — are answered while a large import or a bind runs.
- A job belongs to one web session and lives in ``ws.jobs`` only (memory:
  an upload held for its confirm, the workbooks and PDFs it made). Logout,
  a timeout or a revocation wipes them with the keys. Its id is random and
  is all a URL carries.
- Its results are files (name, MIME type, bytes) downloaded once the job is
  done, and a dict the result page shows. Library errors become a Chinese
  message on the job; anything else a reference number (no values in the log).
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import DossierError, NotFound

log = logging.getLogger("dossier.web")
MAX_JOBS = 8          # per web session: the oldest finished ones are dropped beyond this


def open_library(path, ws):
    """A library session of its own for ``ws``'s user (the one place jobs open one)."""
    from .. import api

    ar = api.open_unlocked(path, ws.unlocked)
    aside = ws.shared.get("index_aside")
    if aside is not None:      # its index writes keep their order with the pages' (index/aside.py)
        ar.index_aside = aside
    return ar


@dataclass(eq=False)
class Job:
    id: str
    kind: str                  # import-preview, import, bind …
    title: str
    status: str = "running"    # running, done, failed
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)     # key → (file name, MIME type, bytes)
    data: dict = field(default_factory=dict)      # what the pages keep between steps (an upload)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def progress(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self.stage, self.done, self.total = stage, done, total

    def finish(self, status: str, result: dict | None = None, message: str = "") -> None:
        """The outcome, all at once: a page never sees "done" without its result."""
        with self._lock:
            self.result = result if result is not None else self.result
            self.message, self.status, self.finished = message, status, time.monotonic()

    def snapshot(self) -> "Job":
        """A consistent copy for one page (status, result, progress read together; ``data``
        and ``files`` are the job's own dicts). A page that read ``result`` and then
        ``running`` separately could see the job finish in between and show an empty
        result as final (the roster preview's intermittent failure)."""
        with self._lock:
            snap = copy.copy(self)
        snap._lock = threading.Lock()
        return snap

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def seconds(self) -> int:
        return int((self.finished or time.monotonic()) - self.started)


def start(ctx, kind: str, title: str, work: Callable, *, data: dict | None = None,
          inline: bool = False) -> Job:
    """Run ``work(ar, job)`` in a thread with a library session of its own; its return
    value (a dict) becomes ``job.result``."""
    ws, path = ctx.ws, ctx.app.state.path
    job = Job(secrets.token_urlsafe(16), kind, title, data=dict(data or {}))
    _make_room(ws)
    ws.jobs[job.id] = job

    def run():
        ar = None
        try:
            if ws.unlocked is None:
                raise NotFound("会话已结束")
            ar = open_library(path, ws)
            job.finish("done", work(ar, job) or {})
        except DossierError as e:
            job.finish("failed", message=e.message)
        except Exception as e:   # noqa: BLE001 - never a traceback to the browser, nor values in the log
            ref = secrets.token_hex(4)
            log.error("后台任务出错 %s：%s（编号 %s）", kind, type(e).__name__, ref)
            job.finish("failed", message=f"处理时出错（编号 {ref}）。请稍后再试，或把编号告诉管理员。")
        finally:
            if job.finished is None:        # BaseException: still a finished job
                job.finish("failed", message="处理中断")
            if ar is not None:
                try:
                    ar.close()
                except Exception:   # noqa: BLE001
                    pass

    if inline:          # small work: done before the page answers (the same job page shows it)
        run()
    else:
        threading.Thread(target=run, name=f"dossier-job-{kind}", daemon=True).start()
    return job


def _make_room(ws) -> None:
    done = [j for j in ws.jobs.values() if not j.running]
    for j in sorted(done, key=lambda j: j.started)[:max(0, len(ws.jobs) - MAX_JOBS + 1)]:
        ws.jobs.pop(j.id, None)


def get(ctx, job_id: str, kind: str | tuple[str, ...] | None = None) -> Job:
    """This session's job (another session's or an unknown id: not found), as a
    :meth:`Job.snapshot`: what a page shows of it is one consistent state."""
    job = ctx.ws.jobs.get(job_id) if ctx.ws is not None else None
    kinds = (kind,) if isinstance(kind, str) else kind
    if job is None or (kinds and job.kind not in kinds):
        raise NotFound("没有这项任务（可能已过期或会话已重新登录），请重新开始。")
    return job.snapshot()


def drop(ctx, kind_prefix: str) -> None:
    """Forget this session's finished jobs of a kind (a new upload replaces the last one)."""
    for j in list(ctx.ws.jobs.values()):
        if j.kind.startswith(kind_prefix) and not j.running:
            ctx.ws.jobs.pop(j.id, None)
