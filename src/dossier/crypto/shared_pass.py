"""A pass over many decrypted items shared with one forked child on the other core.

``map_shared(n, work)`` returns ``[work(0), …, work(n - 1)]``. With more than one
core, in a single-threaded process and for at least :data:`MIN_ITEMS` items, the
indexes are cut into chunks; this process and one forked child take chunks in
turn from a pipe (each ``read`` of one fixed-size token is atomic), so a process
whose core is busy with other work takes fewer of them. The child sends each
chunk's results back (pickled, through a pipe: memory only) and this process puts
them in order.

Where it lives: the work is decrypting and verifying (``Dossiers.heads_map``), and
the child is the same process image as the one holding the keys — the reason it
may decrypt at all. The child:

- touches nothing but what ``work`` reads (already in memory before the fork: no
  database connection, no file; it writes no bytecode either) and its two pipes;
- ends with ``os._exit`` (no atexit handler, no buffered output flushed twice, no
  connection closed under the parent's feet);
- on any exception stops: the chunks it took and did not answer are computed here,
  where ``work`` raises the same exception to the caller (an ``IntegrityError`` of a
  head checked in the child is thus raised by this process, as without the child).

This process never waits for the child: once the queue is empty it computes
whatever the child took and has not answered yet (the chunk in its hands, or every
chunk it took if it was killed), then stops it. ``DOSSIER_VERIFY_ASIDE=0`` (as for
:mod:`.verify_aside`) keeps everything in this process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
from typing import Callable, TypeVar

from .verify_aside import _cores, _single_threaded

T = TypeVar("T")

MIN_ITEMS = 1000       # below this the pass is short, and the fork adds CPU (copy-on-write faults, a cold child)
CHUNK = 16             # items per claim (~5 ms of work): what the parent may redo of the child's at the end
_TOKEN = struct.Struct(">H")
_FRAME = struct.Struct(">I")
_MAX_CHUNKS = 16_000   # the tokens (2 bytes each) fit in a pipe's default 64 KiB before the fork


def usable(n: int) -> bool:
    """Whether :func:`map_shared` would share ``n`` items with a child."""
    return n >= MIN_ITEMS and hasattr(os, "fork") and _single_threaded() and _cores() >= 2


def map_shared(n: int, work: Callable[[int], T], *, chunk: int | None = None) -> list[T]:
    """``[work(i) for i in range(n)]``, computed by this process and a forked child when
    :func:`usable`. ``work`` must read only what is in memory (no connection, no file),
    change nothing the caller keeps, and return picklable values."""
    if not usable(n):
        return [work(i) for i in range(n)]
    chunk = max(chunk or CHUNK, -(-n // _MAX_CHUNKS))
    count = -(-n // chunk)
    spans = [(c * chunk, min(n, (c + 1) * chunk)) for c in range(count)]
    try:
        q_r, q_w = os.pipe()
    except OSError:
        return [work(i) for i in range(n)]
    try:
        os.write(q_w, b"".join(_TOKEN.pack(c) for c in range(count)))
    finally:
        os.close(q_w)                  # both sides read the queue to its end (EOF)
    try:
        r_r, r_w = os.pipe()
    except OSError:
        os.close(q_r)
        return [work(i) for i in range(n)]
    with contextlib.suppress(AttributeError, OSError):      # Linux: room for every answer at once
        import fcntl

        fcntl.fcntl(r_w, fcntl.F_SETPIPE_SZ, 1 << 20)
    try:
        pid = os.fork()
    except OSError:
        os.close(r_r)
        os.close(r_w)
        try:
            return [work(i) for i in range(n)]
        finally:
            os.close(q_r)
    if pid == 0:
        _child(q_r, r_r, r_w, work, spans)      # never returns
    os.close(r_w)
    results: list[list | None] = [None] * count
    reader = _Answers(r_r, results)
    try:
        while (c := _claim(q_r)) is not None:
            lo, hi = spans[c]
            results[c] = [work(i) for i in range(lo, hi)]
            reader.drain()
        # the queue is empty: what the child took and has not answered yet (its chunk in
        # hand, or all of them if it never ran) is done here rather than waited for — on a
        # busy host the child may not get a core for a while
        for c in range(count):
            if results[c] is None:
                reader.drain()
            if results[c] is None:
                lo, hi = spans[c]
                results[c] = [work(i) for i in range(lo, hi)]
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(q_r)
        reader.close()
        _reap(pid, wait=reader.done)
    out: list[T] = []
    for got in results:
        out.extend(got)
    return out


def _claim(q_r: int) -> int | None:
    tok = os.read(q_r, _TOKEN.size)
    return _TOKEN.unpack(tok)[0] if len(tok) == _TOKEN.size else None


class _Answers:
    """The child's framed answers: (length, pickle of (chunk, results)); length 0 = done."""

    def __init__(self, fd: int, results: list):
        self.fd, self.results, self.buf, self.done = fd, results, bytearray(), False
        os.set_blocking(fd, False)

    def drain(self) -> bool:
        """Read what the child has sent so far; False once its end is closed."""
        while self.fd is not None:
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                return False
            self.buf += data
            self._frames()
        return False

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= _FRAME.size:
            size = _FRAME.unpack_from(buf)[0]
            if size == 0:
                self.done = True
                del buf[:_FRAME.size]
                continue
            if len(buf) < _FRAME.size + size:
                return
            c, got = pickle.loads(bytes(buf[_FRAME.size:_FRAME.size + size]))
            del buf[:_FRAME.size + size]
            if 0 <= c < len(self.results) and self.results[c] is None:
                self.results[c] = got

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _reap(pid: int, wait: bool) -> None:
    """Collect the child: it said it is done (about to exit), else it is stopped first."""
    with contextlib.suppress(ChildProcessError):
        pid_, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
        if pid_ == 0:                  # still running (it stalled, or this process stopped early)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _child(q_r: int, r_r: int, r_w: int, work, spans) -> None:
    code = 0
    try:
        os.close(r_r)
        sys.dont_write_bytecode = True
        while (c := _claim(q_r)) is not None:
            lo, hi = spans[c]
            data = pickle.dumps((c, [work(i) for i in range(lo, hi)]), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(r_w, _FRAME.pack(len(data)) + data)
        _write_all(r_w, _FRAME.pack(0))
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 1
    os._exit(code)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
