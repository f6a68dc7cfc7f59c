"""A timing probe inside ``dossier serve`` for benchmarks/bench_tail_ab.py (issue 11, the tail).

Loaded only when this directory is first on PYTHONPATH and PROBE_OUT is set (the benchmark
does both for the server it starts). Per page request (``web.pages``): when it arrived, when a
pool thread took it, its CPU in the thread, how long it waited for its audit event
(``audit._group_commit``), when it got back to the event loop; the writer lock's waits and
holds; every collector pause (``gc.callbacks``). Written as JSON to PROBE_OUT on SIGUSR1.
``PROBE_LIMIT=N``: the pages run at most N at once (a FIFO anyio limiter: the variant tried).
Times are ``time.perf_counter`` (CLOCK_MONOTONIC: comparable with the benchmark's).
"""
import gc
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

OUT = os.environ.get("PROBE_OUT")
if OUT and "serve" in sys.argv:
    pauses, recs, locks, _t = [], [], [], {}

    def _gc(phase, info):
        if phase == "start":
            _t["s"] = time.perf_counter()
        else:
            s = _t.get("s", time.perf_counter())
            pauses.append((info["generation"], time.perf_counter() - s, s))

    gc.callbacks.append(_gc)

    import anyio
    import dossier.audit as A
    import dossier.store.meta as M
    import dossier.web.pages as P

    orig_guarded, orig_run, orig_group = P._guarded, P._run, A._group_commit
    tl = threading.local()
    LIMIT = int(os.environ.get("PROBE_LIMIT", "0"))
    _limiter = []

    async def _guarded(ctx, call):
        ctx._probe = {"t0": time.perf_counter(), "path": ctx.request.url.path}
        if LIMIT:
            if not _limiter:
                _limiter.append(anyio.CapacityLimiter(LIMIT))
            r = await anyio.to_thread.run_sync(P._run, ctx, call, limiter=_limiter[0])
        else:
            r = await orig_guarded(ctx, call)
        ctx._probe["t_end"] = time.perf_counter()
        recs.append(ctx._probe)
        return r

    def _run(ctx, call):
        p = getattr(ctx, "_probe", None)
        if p is not None:
            p["t_thread"], p["cpu0"] = time.perf_counter(), time.thread_time()
            tl.p = p
        try:
            return orig_run(ctx, call)
        finally:
            if p is not None:
                p["t_done"], p["cpu"] = time.perf_counter(), time.thread_time() - p["cpu0"]
                tl.p = None

    def _group_commit(*a, **k):
        t = time.perf_counter()
        try:
            return orig_group(*a, **k)
        finally:
            p = getattr(tl, "p", None)
            if p is not None:
                p["audit"] = p.get("audit", 0) + time.perf_counter() - t

    @contextmanager
    def writing(con, timeout=30.0):
        lock = getattr(con, "write_lock", None)
        if lock is None:
            yield
            return
        t = time.perf_counter()
        if not lock.acquire(timeout=max(0.0, timeout)):
            raise M.Locked()
        t1 = time.perf_counter()
        try:
            yield
        finally:
            lock.release()
            locks.append((t1 - t, time.perf_counter() - t1))

    P._guarded, P._run, A._group_commit, M.writing = _guarded, _run, _group_commit, writing

    def _dump(*_):
        with open(OUT, "w") as f:
            json.dump({"gc": pauses, "recs": recs, "locks": locks}, f)

    signal.signal(signal.SIGUSR1, _dump)
