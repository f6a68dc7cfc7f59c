"""Index writes aside: the search-index update after a commit runs in one
long-lived helper process, on the other core (``dossier serve`` only).

Why: the web server is one Python process. A save was ~20–30 ms of CPU under
its GIL, two thirds of it the Whoosh segment commits of the clerk and
inspection indexes after the data commit; with 20 requests in flight every
page waited for them. Here the commit hook hands the update to a helper
process and the save answers once its data commit is done.

What crosses the pipe (a socketpair: memory only, nothing on disk): per job,
the index's ``aside_spec`` — the backend class and its constructor
arguments, i.e. the index directory and the keys *derived for that index*
(file key, blind key; never a scope, user or signing key) — and the sources
of its documents (dossier id, 档号, version, the committed state). The helper
builds the documents and writes the index through the same backend (for
Whoosh: the encrypting storage, sealed files, atomic writes, the index's
file lock), exactly as the server did in-process. It keeps each index open
(the decrypted copy, as every session does) while it is used and forgets it
after ``IDLE_S`` without a job, or when the server stops.

Guarantees kept:

- **Read your writes.** :meth:`IndexAside.wait` returns once every update
  submitted for the given indexes before the call is done; a search and
  ``index status`` of a session wait for the indexes they read. Past
  ``WAIT_S`` (a stuck helper) the search runs anyway and the existing stale
  detection (indexed version behind the store) marks the results and warns.
- **Never silently stale.** Until an update is written, the index is behind
  the store, and ``index status`` (any process) says *stale*. If the helper
  dies (killed, out of memory), the updates it had not confirmed are applied
  in this process (the repair, in order, before any later update is sent)
  and the next update starts a new helper. An update the helper could not
  write (an unreadable index) is logged, and the next commit of that index in
  a session is done in-process, which rebuilds it from the store.
- **Generic.** Any ``Backend`` that offers ``aside_spec`` (a picklable recipe
  to open itself in another process, see :class:`IndexSpec`) is written here;
  a backend without one is written in-process as before.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger("dossier.index")

WAIT_S = 10.0      # a search waits at most this long for the helper, then the stale detection speaks
IDLE_S = 120.0     # the helper forgets an index (its decrypted copy and derived keys) unused this long


def wanted() -> bool:
    """Whether ``dossier serve`` writes its indexes aside: with ≥ 2 cores, unless
    ``DOSSIER_INDEX_ASIDE=0`` (``=1`` forces it on one core)."""
    env = os.environ.get("DOSSIER_INDEX_ASIDE", "").strip()
    if env in ("0", "1"):
        return env == "1"
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return n >= 2


@dataclass(frozen=True)
class IndexSpec:
    """How to open one index in another process: ``factory(*args, **kwargs)``.
    ``key`` names the index (its directory); ``factory`` must be importable by
    name (a class at module level)."""
    key: str
    factory: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict, compare=False, hash=False)

    def open(self):
        return self.factory(*self.args, **self.kwargs)


@dataclass
class _Job:
    seq: int
    spec: IndexSpec
    build: Callable            # build(*source) -> a document (module-level: pickled by name)
    sources: list
    gen: int = 0               # which helper it was sent to

    def docs(self) -> list[dict]:
        return [self.build(*s) for s in self.sources]


def _apply(ix, jobs: list[_Job]) -> None:
    """The jobs of one index in order, as one upsert (a later document of a dossier wins)."""
    docs = [d for j in jobs for d in j.docs()]
    ix.upsert(docs)


def _outcome(e: BaseException) -> tuple[str, str]:
    from ..errors import IntegrityError

    return ("integrity" if isinstance(e, IntegrityError) else "error", f"{type(e).__name__}: {e}")


class IndexAside:
    """The server's side: ``submit`` after a commit, ``wait`` before reading.
    One per process (``dossier serve`` hangs it on every library session as
    ``ar.index_aside``); thread-safe."""

    def __init__(self, wait_s: float = WAIT_S, idle_s: float = IDLE_S):
        self.wait_s, self.idle_s = wait_s, idle_s
        self._cond = threading.Condition()
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._sock: socket.socket | None = None
        self._gen = 0
        self._seq = 0
        self._pending: dict[int, _Job] = {}     # sent or queued, not yet confirmed
        self._last: dict[str, int] = {}         # index key → last seq submitted
        self._broken: set[str] = set()          # indexes to update in-process next (the helper failed)
        self._repairing = False
        self._closed = False
        self._outbox: list[_Job] = []           # submitted, not yet handed to the pipe
        self.errors: list[str] = []
        self.stats = {"jobs": 0, "commits": 0, "repaired": 0, "helpers": 0}

    # -- the server's side ------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        p = self._proc
        return p.pid if p is not None and p.poll() is None else None

    def take_broken(self, key: str) -> bool:
        """True (once) when the helper could not write this index: update it in-process."""
        with self._cond:
            if key in self._broken:
                self._broken.discard(key)
                return True
            return False

    def submit(self, spec: IndexSpec, build: Callable, sources: list) -> int:
        """Queue an update of one index (returns at once); raises RuntimeError when closed."""
        with self._cond:
            # a helper that ended is repaired (by its reader thread) before anything else is sent
            while self._repairing or (self._proc is not None and self._proc.poll() is not None):
                self._cond.wait(0.05)
            if self._closed:
                raise RuntimeError("index aside closed")
            self._ensure_helper()
            self._seq += 1
            job = _Job(self._seq, spec, build, list(sources), self._gen)
            self._pending[job.seq] = job
            self._outbox.append(job)       # sent by the sender thread: a page never waits on the pipe
            self._last[spec.key] = job.seq
            self.stats["jobs"] += 1
            self._cond.notify_all()
        return job.seq

    def wait(self, keys: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """Until every update submitted so far for ``keys`` (None: all) is written
        (True) or ``timeout`` (default ``wait_s``) passed (False)."""
        deadline = time.monotonic() + (self.wait_s if timeout is None else timeout)
        with self._cond:
            if keys is None:
                upto = {k: s for k, s in self._last.items()}
            else:
                upto = {k: self._last[k] for k in keys if k in self._last}
            if not upto:
                return True
            while any(j.seq <= upto.get(j.spec.key, 0) for j in self._pending.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued (bounded), stop the helper; its indexes and keys go with it."""
        self.wait(None, timeout)
        with self._cond:
            self._closed = True
            proc, conn, sock = self._proc, self._conn, self._sock
            self._proc = self._conn = self._sock = None
            self._cond.notify_all()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)     # EOF for the helper (it ends) and for our reader thread
            except OSError:
                pass
            sock.close()
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- the helper's lifecycle ---------------------------------------------------------
    def _ensure_helper(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        ours, theirs = socket.socketpair()
        pkg_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([pkg_root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
        try:
            proc = subprocess.Popen([sys.executable, "-m", "dossier.index.aside", str(theirs.fileno())],
                                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
                                    close_fds=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._gen += 1
        # the Connection reads a duplicate; ``ours`` is kept to shut the socket down at close
        # (closing a descriptor that the reader thread is blocked on would not wake either side)
        self._proc, self._conn, self._sock = proc, Connection(os.dup(ours.fileno())), ours
        self.stats["helpers"] += 1
        threading.Thread(target=self._reader, args=(self._gen, self._conn, proc), daemon=True,
                         name="index-aside-reader").start()
        threading.Thread(target=self._sender, args=(self._gen, self._conn), daemon=True,
                         name="index-aside-sender").start()

    def _sender(self, gen: int, conn: Connection) -> None:
        """Hand what was submitted to the helper, all that waits in one message
        (while the helper works, the next batch gathers here: under load one
        commit per index carries several saves)."""
        while True:
            with self._cond:
                while not self._outbox and self._gen == gen and self._conn is conn:
                    self._cond.wait()
                if self._gen != gen or self._conn is not conn:
                    return
                jobs, self._outbox = self._outbox, []
            try:
                conn.send(("jobs", [(j.seq, j.spec, j.build, j.sources) for j in jobs]))
            except (OSError, ValueError, EOFError):
                return      # the helper is gone: its reader thread repairs every unconfirmed job
            except Exception:   # noqa: BLE001 - e.g. a spec that cannot be pickled: write them here
                log.warning("检索索引更新无法交给后台进程，改在本进程内完成", exc_info=False)
                self._apply_here(jobs)

    def _reader(self, gen: int, conn: Connection, proc: subprocess.Popen) -> None:
        """Confirmations from one helper; when it ends, repair what it left undone."""
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg[0] == "done":
                _, seqs, outcome = msg
                with self._cond:
                    jobs = [j for s in seqs if (j := self._pending.pop(s, None)) is not None]
                    self.stats["commits"] += 1
                    if outcome is not None and jobs:
                        self._failed(jobs[0].spec.key, outcome)
                    self._cond.notify_all()
        try:
            conn.close()
        except OSError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        self._repair(gen)

    def _failed(self, key: str, outcome: tuple[str, str]) -> None:
        msg = f"检索索引未能在后台更新（{outcome[1]}）；该索引的下一次保存将在本进程内更新，或请运行 dossier index rebuild"
        self.errors.append(msg)
        self._broken.add(key)
        log.warning(msg)

    def _repair(self, gen: int) -> None:
        """The helper of ``gen`` ended: apply its unconfirmed jobs here, in order,
        before any later job is sent (submit waits meanwhile)."""
        with self._cond:
            if self._conn is not None and self._gen == gen:
                if self._sock is not None:
                    self._sock.close()
                self._proc = self._conn = self._sock = None
            self._outbox = [j for j in self._outbox if j.gen != gen]
            self._cond.notify_all()      # its sender thread ends
            jobs = sorted((j for j in self._pending.values() if j.gen == gen), key=lambda j: j.seq)
            if not jobs:
                return
            self._repairing = True
        try:
            if not self._closed:
                log.warning("检索索引后台进程已退出；%d 项未完成的索引更新改在本进程内完成", len(jobs))
            self._apply_here(jobs)
        finally:
            with self._cond:
                self._repairing = False
                self._cond.notify_all()

    def _apply_here(self, jobs: list[_Job]) -> None:
        """Write ``jobs`` in this process, in order, per index (and confirm them)."""
        groups: dict[str, list[_Job]] = {}
        for j in sorted(jobs, key=lambda j: j.seq):
            groups.setdefault(j.spec.key, []).append(j)
        try:
            for key, js in groups.items():
                ix = None
                try:
                    ix = js[-1].spec.open()
                    _apply(ix, js)
                except Exception as e:   # noqa: BLE001 - reported; index status shows the index stale
                    with self._cond:
                        self._failed(key, _outcome(e))
                finally:
                    if ix is not None:
                        ix.close()
        finally:
            with self._cond:
                for j in jobs:
                    self._pending.pop(j.seq, None)
                self.stats["repaired"] += len(jobs)
                self._cond.notify_all()


# -- the helper process --------------------------------------------------------------------

def serve(conn: Connection, idle_s: float = IDLE_S) -> None:
    """The helper's loop: take every job waiting in the pipe, write each index's
    jobs as one upsert (coalesced: under load a commit carries several saves),
    confirm; when nothing waits, merge the small segments of the indexes written
    (``tidy``, when the backend has it: cheaper searches); repeat. Ends at EOF
    (the server closed the pipe or ended)."""
    open_: dict[str, tuple[object, float]] = {}     # index key → (open index, last used)
    untidy: set[str] = set()                        # written since their last merge
    while True:
        try:
            if not conn.poll(min(60.0, idle_s)):
                _forget(open_, idle_s)
                continue
            msgs = [conn.recv()]
            while conn.poll(0):
                msgs.append(conn.recv())
        except (EOFError, OSError):
            break
        groups: dict[str, list[_Job]] = {}
        for m in msgs:
            if m[0] == "jobs":
                for seq, spec, build, sources in m[1]:
                    groups.setdefault(spec.key, []).append(_Job(seq, spec, build, sources))
        for key, jobs in groups.items():
            outcome = None
            try:
                ix = open_[key][0] if key in open_ else jobs[-1].spec.open()
                open_[key] = (ix, time.monotonic())
                _apply(ix, jobs)
            except Exception as e:   # noqa: BLE001 - reported to the server, which decides
                outcome = _outcome(e)
                got = open_.pop(key, None)
                if got is not None:
                    got[0].close()
            try:
                conn.send(("done", [j.seq for j in jobs], outcome))
            except (OSError, ValueError):
                return
            if outcome is None:
                untidy.add(key)
        # nothing else to do: merge the small segments the saves left (cheaper searches)
        for key in list(untidy):
            if conn.poll(0):
                break
            untidy.discard(key)
            got = open_.get(key)
            if got is not None and hasattr(got[0], "tidy"):
                try:
                    got[0].tidy()
                except Exception as e:   # noqa: BLE001 - only speed depends on it; the next write reopens
                    log.warning("检索索引合并未完成（%s）", type(e).__name__)
                    open_.pop(key)[0].close()
        _forget(open_, idle_s)
    for ix, _ in open_.values():
        ix.close()


def _forget(open_: dict, idle_s: float) -> None:
    now = time.monotonic()
    for key in [k for k, (_, t) in open_.items() if now - t > idle_s]:
        open_.pop(key)[0].close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C on the server's terminal: the server ends us (EOF)
    conn = Connection(int(argv[0]))
    serve(conn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
