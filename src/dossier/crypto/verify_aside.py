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

import array
import contextlib
import json
import os
import select
import signal
import struct
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


def _read_answer(fd: int):
    """The child's JSON answer from the pipe's read end ``fd`` (closed here); None when the
    child died before answering or wrote something else."""
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read()
        return json.loads(data) if data else None
    except (OSError, ValueError):
        return None


class _Child:
    """A forked child and the pipe ends this side holds (attributes named in ``_FDS``)."""

    _FDS: tuple[str, ...] = ()
    pid: int | None

    def close(self) -> None:
        """Stop the child if its answer is no longer wanted (safe to call twice)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        for name in self._FDS:
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)
        if self.pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = None


class Aside(_Child):
    _FDS = ("fd",)

    def __init__(self, triples: list[tuple[bytes, bytes, bytes]], pid: int, fd: int):
        self.triples, self.pid, self.fd = triples, pid, fd
        self._answer: list[int] | None = None

    def failures(self) -> list[int]:
        """Indexes of the triples whose signature does not verify (waits for the child)."""
        if self._answer is not None:
            return self._answer
        fd, self.fd = self.fd, None
        try:
            got = _read_answer(fd)
        finally:
            self._reap()
        if not isinstance(got, list):           # the child died: do it here
            from .keys import verify

            got = [i for i, (pub, sig, msg) in enumerate(self.triples) if not verify(pub, sig, msg)]
        self._answer = got
        return got



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


# -- a stream of signatures, sent while the caller is still reading them (``dossier check``) -------------
_REC = struct.Struct(">HHH")        # lengths of the public key, the signature, the message
_SEND_AT = 1 << 16                  # bytes of records gathered before a (non-blocking) write to the child


class Stream(_Child):
    """Ed25519 checks handed to a forked child one by one, while the caller goes on
    reading and checking everything else; :meth:`failures` (once, at the end) says which
    failed. The parent never waits on the child while it adds: records it cannot write at
    once (the pipe is full: the child is behind) wait in a buffer for the next add.

    Every record is also kept here (~0.15 KB each), so that if the child dies or answers
    nonsense the parent verifies them all itself: no signature goes unchecked."""

    _FDS = ("_w", "_r")

    def __init__(self, pid: int, w: int, r: int):
        self.pid, self._w, self._r = pid, w, r
        self._kept = bytearray()          # every record, in order (the fallback)
        self._starts = array.array("Q")   # where each record starts in _kept
        self._sent = 0                    # bytes of _kept written to the child
        self._limit: int | None = None    # bytes from here on are the parent's own (failures)
        self._next_send = _SEND_AT        # the next write to the pipe once _kept is this long
        self._broken = False              # a write failed: the child did not get everything
        self.count = 0
        self._answer: list[int] | None = None

    def add(self, pub: bytes, sig: bytes, msg: bytes) -> int:
        """Queue one check; returns its index (what :meth:`failures` lists)."""
        pub, sig, msg = bytes(pub), bytes(sig), bytes(msg)
        self._starts.append(len(self._kept))
        self._kept += _REC.pack(len(pub), len(sig), len(msg)) + pub + sig + msg
        self.count += 1
        if len(self._kept) >= self._next_send:
            self._send()
            # the child is behind when the pipe is full: try again once another batch is here
            self._next_send = len(self._kept) + _SEND_AT
        return self.count - 1

    def _send(self) -> None:
        """Write what the pipe takes now, without waiting (up to ``_limit``)."""
        end = len(self._kept) if self._limit is None else self._limit
        if self._w is None:
            return
        try:
            while self._sent < end:
                with memoryview(self._kept) as m:
                    n = os.write(self._w, m[self._sent:min(end, self._sent + (1 << 20))])
                self._sent += n
        except BlockingIOError:
            pass            # the pipe is full (the child is behind): the rest goes with a later add
        except OSError:     # the child is gone: failures() verifies everything here
            os.close(self._w)
            self._w = None
            self._broken = True

    def _share_the_rest(self) -> list[int]:
        """At the end the parent has nothing else to do: what the child has not been sent
        yet is shared — the pipe takes what it can from the front, the parent verifies from
        the back, until they meet. Returns the indexes of the parent's failures; every
        record from ``_limit`` on is the parent's."""
        from .keys import verify

        bad: list[int] = []
        last = self.count
        self._limit = len(self._kept)
        while self._w is not None and self._sent < self._limit:
            self._send()
            if self._sent >= self._limit:
                break
            start = self._starts[last - 1]
            if start < self._sent:      # the child already has (part of) it: wait for the pipe
                select.select([], [self._w], [], 1.0)
                continue
            last -= 1
            self._limit = start
            (_, pub, sig, msg), = _records(bytes(self._kept[start:self._starts[last + 1]
                                                             if last + 1 < self.count else len(self._kept)]))
            if not verify(pub, sig, msg):
                bad.append(last)
        self._mine = last
        return bad

    def failures(self) -> list[int]:
        """Indexes of the added checks that fail (waits for the child; verifies here if it died)."""
        if self._answer is not None:
            return self._answer
        got, mine_bad, self._mine = None, [], self.count
        try:
            if self._w is not None:
                mine_bad = self._share_the_rest()
                if self._w is not None:
                    os.close(self._w)
                    self._w = None
            fd, self._r = self._r, None
            got = _read_answer(fd)
        except (OSError, ValueError):
            got = None
        finally:
            self._reap()
        if not self._broken and isinstance(got, dict) and got.get("n") == self._mine \
                and isinstance(got.get("bad"), list):
            bad = [int(i) for i in got["bad"]] + mine_bad
        else:          # the child died (or the pipe broke): verify here everything that was not the parent's
            end = self._starts[self._mine] if self._mine < self.count else len(self._kept)
            bad = _verify_records(bytes(self._kept[:end])) + mine_bad
        self._answer = sorted(bad)
        self._kept, self._starts = bytearray(), array.array("Q")
        return self._answer



def _records(data: bytes, start: int = 0):
    """(end offset, pub, sig, msg) of each whole record in ``data`` from ``start``."""
    n = len(data)
    while start + _REC.size <= n:
        a, b, c = _REC.unpack_from(data, start)
        end = start + _REC.size + a + b + c
        if end > n:
            return
        p = start + _REC.size
        yield end, data[p:p + a], data[p + a:p + a + b], data[p + a + b:end]
        start = end


def _verify_records(data: bytes) -> list[int]:
    from .keys import verify

    return [i for i, (_, pub, sig, msg) in enumerate(_records(data)) if not verify(pub, sig, msg)]


def _child_loop(r: int) -> dict:
    """The child's work: verify each record as it arrives; the answer once the parent closes."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    known: dict[bytes, object] = {}
    bad: list[int] = []
    buf = b""
    i = 0
    while True:
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        buf += chunk
        end = 0
        for end, pub, sig, msg in _records(buf):
            key = known.get(pub)
            if key is None:
                try:
                    key = Ed25519PublicKey.from_public_bytes(pub)
                except ValueError:
                    key = False
                if len(known) < 10_000:
                    known[pub] = key
            try:
                if key is False:
                    raise InvalidSignature
                key.verify(sig, msg)
            except (InvalidSignature, ValueError):
                bad.append(i)
            i += 1
        buf = buf[end:]
    return {"n": i, "bad": bad}


def stream(expected: int) -> Stream | None:
    """A :class:`Stream` to a forked child when ``expected`` checks are worth it (same
    conditions as :func:`start`), else None (verify them yourself)."""
    if expected < MIN_TRIPLES or not hasattr(os, "fork") or not _single_threaded() or _cores() < 2:
        return None
    to_child, from_parent = os.pipe()[::-1]     # (write end, read end) of the records' pipe
    answer_r, answer_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (to_child, from_parent, answer_r, answer_w):
            os.close(fd)
        return None
    if pid == 0:                                   # the child
        code = 0
        try:
            os.close(to_child)
            os.close(answer_r)
            out = _child_loop(from_parent)
            with os.fdopen(answer_w, "wb") as f:
                f.write(json.dumps(out).encode())
        except BaseException:  # noqa: BLE001 - nothing may escape a forked child
            code = 1
        os._exit(code)
    os.close(from_parent)
    os.close(answer_w)
    os.set_blocking(to_child, False)
    return Stream(pid, to_child, answer_r)


class Signatures:
    """What a long check calls for every signature: verified by the :class:`Stream`'s child
    when there is one (the answer comes at :meth:`settle`), else at once, here.

    ``check(pub, sig, msg, on_bad)`` returns True/False when it verified here, None when
    the check is pending; ``on_bad()`` is then called by :meth:`settle` if it fails, in
    the order the checks were added."""

    def __init__(self, aside: Stream | None = None):
        self.aside = aside
        self._pending: list = []

    @property
    def deferred(self) -> bool:
        return self.aside is not None

    def check(self, pub: bytes | None, sig: bytes, msg: bytes, on_bad) -> bool | None:
        if self.aside is None or pub is None:
            from .keys import verify

            return pub is not None and verify(bytes(pub), bytes(sig), bytes(msg))
        self.aside.add(pub, sig, msg)
        self._pending.append(on_bad)
        return None

    def settle(self) -> int:
        """Wait for the pending checks; call ``on_bad`` of each that failed; how many failed."""
        if self.aside is None:
            return 0
        try:
            bad = self.aside.failures()
        finally:
            self.aside.close()
        pending, self._pending, self.aside = self._pending, [], None
        for i in bad:
            pending[i]()
        return len(bad)

    def close(self) -> None:
        """Drop the pending checks (an exception left the caller's check)."""
        if self.aside is not None:
            self.aside.close()
            self.aside = None
        self._pending = []
