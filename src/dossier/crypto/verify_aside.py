"""Ed25519 verification of many signatures on the other core, while the caller works.

A fresh session reading thousands of heads (``dossier agenda`` for a 街道 of
5,000) spends about half its time in Ed25519 verification (~0.1 ms each; the
library holds the GIL, so a thread does not help). :func:`start` forks one child
that verifies the given (public key, signature, message) triples and answers
with the indexes of those that fail, while the parent decrypts and evaluates;
the caller asks :meth:`Aside.failures` before it uses any result.

Only in a single-threaded process with more than one core (a fork of a threaded
process — the web server — could inherit a lock held by another thread), never on
Windows; otherwise :func:`start` returns None and the caller verifies as usual.
The child touches nothing but the triples and its pipe, and ends with ``os._exit``.
If it fails to answer, the parent verifies everything itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading

MIN_TRIPLES = 1000        # below this, forking costs more than it saves


def _cores() -> int:
    env = os.environ.get("DOSSIER_VERIFY_ASIDE", "").strip()
    if env == "0":
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Aside:
    def __init__(self, triples: list[tuple[bytes, bytes, bytes]], pid: int, fd: int):
        self.triples, self.pid, self.fd = triples, pid, fd
        self._answer: list[int] | None = None

    def failures(self) -> list[int]:
        """Indexes of the triples whose signature does not verify (waits for the child)."""
        if self._answer is not None:
            return self._answer
        got = None
        try:
            with os.fdopen(self.fd, "rb") as f:
                self.fd = None
                data = f.read()
            got = json.loads(data) if data else None
        except (OSError, ValueError):
            got = None
        finally:
            self._reap()
        if not isinstance(got, list):           # the child died: do it here
            from .keys import verify

            got = [i for i, (pub, sig, msg) in enumerate(self.triples) if not verify(pub, sig, msg)]
        self._answer = got
        return got

    def close(self) -> None:
        """Stop the child if its answer is no longer wanted (safe to call twice)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = None


def _single_threaded() -> bool:
    return threading.active_count() == 1


def start(triples: list[tuple[bytes, bytes, bytes]]) -> Aside | None:
    """Verify ``triples`` in a forked child, or None (verify them yourself)."""
    if len(triples) < MIN_TRIPLES or not hasattr(os, "fork") or not _single_threaded() or _cores() < 2:
        return None
    from .keys import verify

    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:                                   # the child
        code = 0
        try:
            os.close(r)
            bad = [i for i, (pub, sig, msg) in enumerate(triples) if not verify(pub, sig, msg)]
            with os.fdopen(w, "wb") as out:
                out.write(json.dumps(bad).encode())
        except BaseException:  # noqa: BLE001 - nothing may escape a forked child
            code = 1
        os._exit(code)
    os.close(w)
    return Aside(triples, pid, r)
