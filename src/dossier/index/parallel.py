"""Independent index writes spread over forked worker processes.

A large batch (a roster import) changes several indexes at once: one per
社区 and kind. Whoosh indexing is pure Python, so on a machine with more than
one core the indexes are written side by side: the parent runs one share of
the jobs itself and forks one child per further core for the others.

A job gets its documents computed beforehand (by the parent, which alone
touches the archive's SQLite connection); it only analyses, encrypts and
writes files of its own index directory, under that index's lock. A child
ends with ``os._exit`` (no finalizers: the inherited SQLite connection and
open files are left alone) after reporting each job's outcome through a pipe.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Callable, Sequence

from ..errors import IntegrityError

log = logging.getLogger("dossier.index")
PARALLEL_MIN_DOCS = 400     # below this, forking costs more than it saves


def workers() -> int:
    """Worker processes to use (1: run serially). ``DOSSIER_INDEX_WORKERS`` overrides."""
    env = os.environ.get("DOSSIER_INDEX_WORKERS", "").strip()
    if env.isdigit():
        return max(1, int(env))
    if env:
        log.warning("DOSSIER_INDEX_WORKERS=%r 不是正整数，已忽略（按处理器核数）", env)
    if not hasattr(os, "fork"):
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _outcome(job: Callable[[], None]) -> tuple[str, str] | None:
    try:
        job()
    except IntegrityError as e:
        return ("integrity", str(e))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which decides
        return ("error", f"{type(e).__name__}: {e}")
    return None


def shares(costs: Sequence[float], n: int) -> list[list[int]]:
    """Job indexes split into ``n`` shares of similar total cost (largest first, greedy)."""
    out: list[list[int]] = [[] for _ in range(n)]
    load = [0.0] * n
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        k = load.index(min(load))
        out[k].append(i)
        load[k] += costs[i]
    return [s for s in out if s]


def run(jobs: Sequence[tuple[float, Callable[[], None]]], n_workers: int | None = None
        ) -> list[tuple[str, str] | None]:
    """Run ``jobs`` (``(cost, fn)``), return each one's outcome in order: ``None``
    when it succeeded, else ``(kind, message)`` with kind ``integrity`` or ``error``."""
    n = min(n_workers or workers(), len(jobs))
    results: list[tuple[str, str] | None] = [None] * len(jobs)
    if n <= 1:
        for i, (_, fn) in enumerate(jobs):
            results[i] = _outcome(fn)
        return results
    parts = shares([c for c, _ in jobs], n)
    children = []
    for part in parts[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                      # child: run its share, report, leave without cleanup
            code = 0
            try:
                os.close(r)
                with os.fdopen(w, "w", encoding="utf-8") as out:
                    for i in part:
                        got = _outcome(jobs[i][1])
                        out.write(json.dumps([i, got], ensure_ascii=False) + "\n")
                        out.flush()
            except BaseException:  # noqa: BLE001 - nothing may escape a forked child
                code = 1
            os._exit(code)
        os.close(w)
        children.append((pid, r, part))
    try:
        for i in parts[0]:                # the parent's own share meanwhile
            results[i] = _outcome(jobs[i][1])
    finally:                              # children are always reaped, even on Ctrl-C
        for pid, r, part in children:
            with os.fdopen(r, "r", encoding="utf-8") as f:
                text = f.read()
            _, status = os.waitpid(pid, 0)
            seen = set()
            for line in text.splitlines():
                i, got = json.loads(line)
                results[i] = tuple(got) if got else None
                seen.add(i)
            for i in part:                # a child that died before reporting a job
                if i not in seen:
                    results[i] = ("error", f"索引写入进程异常退出（状态 {status}）")
    return results


__all__ = ["run", "workers", "shares", "PARALLEL_MIN_DOCS"]
