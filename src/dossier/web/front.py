"""Several serving processes behind one address: ``dossier serve --workers N``.

One Python process serves its pages on one core (the GIL). With ``--workers N``
(N ≥ 2) the parent process becomes a small front: it listens on the address
(and speaks TLS there), starts N worker processes — each a whole ``dossier
serve`` application (web/worker.py) on a Unix socket in a private directory —
and passes every request to one of them. A session's keys live in one worker
only (memory, never disk, never sent elsewhere), so the front routes by the
session cookie: the worker's number is the session id's prefix (``3.…``). A
request without a session (the login page, a login, static files) goes to the
worker with the fewest requests in flight, so logins spread over the workers.

What the workers share through the front (web/shared.py, a socketpair each):

- the failed-login counts (5 failures per user or client address in 15
  minutes hold for the whole server, not per worker), and the failed logins
  waiting for the next successful login, in any worker, to write them to the
  audit chain;
- the end of a user's sessions when an administrator stops them in the
  browser (every worker ends them at once; the other ways a user is stopped
  are seen by each worker at its next request, which re-reads the user row).

The front speaks just enough HTTP/1.1 to find where each request and response
ends (Content-Length or chunked); the worker's own HTTP layer (uvicorn, h11)
still validates every request. Requests that could be read two ways
(Content-Length with Transfer-Encoding, two different lengths, a transfer
coding other than chunked) are refused here with 400, so the front and the
worker can never disagree on where a request ends. The client's address and
scheme go to the worker in ``X-Forwarded-For`` / ``X-Forwarded-Proto`` (any
such header from the client is dropped first); the workers trust them only
on their private sockets.

If a worker dies, the front starts a new one on the same socket (connections
wait in its backlog meanwhile); the sessions it held are gone, as after a
restart, and their users log in again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .pages import COOKIE

log = logging.getLogger("dossier.web")

HEAD_LIMIT = 64 * 1024          # request or response head (line + headers); a chunk line; the trailers
KEEP_ALIVE_S = 15.0             # an idle client connection is closed after this
FIRST_HEAD_S = 30.0             # time to send the first request head on a new connection
IDLE_S = float(os.environ.get("DOSSIER_FRONT_IDLE_S", "60"))   # a body or a slow reader that stalls this long: dropped
RESPONSE_S = 600.0              # a worker that has not begun its answer after this: 504
MAX_CLIENTS = 2048              # client connections at once (each also holds one to a worker) …
MAX_PER_ADDRESS = 64            # … and from one address (a trusted proxy's are not counted)
CHUNK = 256 * 1024
WORKER_START_S = 120.0
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade", b"expect",
              b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-real-ip"}

# What the front accepts is what h11 (the workers' parser) reads the same way, and no more: a bare CR
# or LF, a control byte, a folded line or an odd chunk size is refused here, never passed on, so a
# request cannot end at one place for the front and at another for the worker (docs/decisions.md).
TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
NAME = re.compile(TOKEN)
VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")      # after stripping SP/HTAB: what h11 reads as a value
REQUEST_LINE = re.compile(rb"(%s) [\x21-\x7e]+ HTTP/1\.([01])" % TOKEN)
STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[\t\x20-\x7e\x80-\xff]*)?\r\n")


class BadRequest(Exception):
    def __init__(self, status: int, reason: bytes):
        super().__init__(status)
        self.status, self.reason = status, reason


@dataclass
class Head:
    start: bytes                          # the request or status line
    headers: list[tuple[bytes, bytes]]    # names lower-cased, values stripped
    raw: list[tuple[bytes, bytes]]        # as received (name case kept)

    def get(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.headers if n == name]

    def tokens(self, name: bytes) -> set[bytes]:
        return {t.strip().lower() for v in self.get(name) for t in v.split(b",") if t.strip()}


def header_line(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    value = value.strip(b" \t")
    if not _ or NAME.fullmatch(name) is None or VALUE.fullmatch(value) is None:   # (linear: no backtracking)
        raise BadRequest(400, b"Bad Request")
    return name, value


def parse_head(data: bytes) -> Head:
    lines = data[:-4].split(b"\r\n")
    start, headers, raw = lines[0], [], []
    if b"\r" in start or b"\n" in start:
        raise BadRequest(400, b"Bad Request")
    for line in lines[1:]:
        name, value = header_line(line)
        raw.append((name, value))
        headers.append((name.lower(), value))
    return Head(start, headers, raw)


def body_framing(head: Head, *, request: bool) -> tuple[str, int]:
    """("length", n), ("chunked", 0) or ("close", 0) (a response read to its end)."""
    te = head.get(b"transfer-encoding")
    cl = head.get(b"content-length")
    if te:
        if cl and request:
            raise BadRequest(400, b"Bad Request")
        codings = [t.strip().lower() for v in te for t in v.split(b",") if t.strip()]
        if codings != [b"chunked"]:
            raise BadRequest(501 if request else 502, b"Not Implemented" if request else b"Bad Gateway")
        return "chunked", 0
    if cl:
        values = {v.strip() for v in cl}
        if len(values) != 1 or not next(iter(values)).isdigit() or len(next(iter(values))) > 18:
            raise BadRequest(400 if request else 502, b"Bad Request" if request else b"Bad Gateway")
        return "length", int(next(iter(values)))
    return ("length", 0) if request else ("close", 0)


async def _timed(aw, seconds: float):
    try:
        return await asyncio.wait_for(aw, seconds)
    except asyncio.TimeoutError:
        raise Stalled() from None


class Stalled(Exception):
    """A peer that sent or read nothing for IDLE_S."""


async def relay_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framing: tuple[str, int]) -> None:
    """Copy one body from ``reader`` to ``writer`` as it is framed (chunked stays chunked, each
    chunk line, chunk end and trailer checked as h11 will read it)."""
    kind, n = framing

    async def copy(n: int) -> None:
        while n:
            data = await _timed(reader.read(min(n, CHUNK)), IDLE_S)
            if not data:
                raise ConnectionError("body cut short")
            writer.write(data)
            n -= len(data)
            await _timed(writer.drain(), IDLE_S)

    if kind == "length":
        await copy(n)
    elif kind == "chunked":
        while True:
            line = await _timed(reader.readuntil(b"\r\n"), IDLE_S)
            m = CHUNK_LINE.fullmatch(line)
            if m is None:
                raise BadRequest(400, b"Bad Request")
            size = int(m[1], 16)
            writer.write(line)
            if size == 0:
                left = HEAD_LIMIT
                while True:                   # trailers, then the empty line
                    t = await _timed(reader.readuntil(b"\r\n"), IDLE_S)
                    left -= len(t)
                    if left < 0:
                        raise BadRequest(400, b"Bad Request")
                    if t != b"\r\n":
                        header_line(t[:-2])
                    writer.write(t)
                    if t == b"\r\n":
                        break
                await _timed(writer.drain(), IDLE_S)
                return
            await copy(size)
            if await _timed(reader.readexactly(2), IDLE_S) != b"\r\n":
                raise BadRequest(400, b"Bad Request")
            writer.write(b"\r\n")
    else:
        while data := await _timed(reader.read(CHUNK), IDLE_S):
            writer.write(data)
            await _timed(writer.drain(), IDLE_S)


def session_worker(head: Head, n_workers: int) -> int | None:
    """The worker a request's session cookie names (None: no session, or not one of ours)."""
    for value in head.get(b"cookie"):
        for part in value.split(b";"):
            name, eq, sid = part.strip().partition(b"=")
            if eq and name == COOKIE.encode():
                prefix, dot, _ = sid.partition(b".")
                if dot and prefix.isdigit() and len(prefix) <= 2 and int(prefix) < n_workers:
                    return int(prefix)
    return None


@dataclass(eq=False)
class Worker:
    index: int
    sock_path: Path
    listener: socket.socket
    proc: subprocess.Popen | None = None
    link: object | None = None                   # shared.FrontLink
    in_flight: int = 0
    logins: int = 0                              # logins sent to it (the front's spread of sessions)
    idle: list = field(default_factory=list)     # pooled (reader, writer) to this worker
    started: float = 0.0
    restarts: int = 0


class Front:
    def __init__(self, archive_path, n_workers: int, *, tls: bool, throttle, trusted_proxies=()):
        self.path = Path(archive_path)
        self.trusted = {_address(p) for p in trusted_proxies}     # whose X-Forwarded-For names the client
        self.n = n_workers
        self.tls = tls
        self.throttle = throttle
        from .throttle import FailedLogins

        self.failed_logins = FailedLogins()
        self.dir = _socket_dir()
        self.workers: list[Worker] = []
        self._rr = itertools.count()
        self._stopping = False
        self._clients: dict[asyncio.Task, bytes] = {}            # open client connections: their address

    # ---------------------------------------------------------------- workers

    def start_workers(self) -> None:
        from .shared import FrontLink

        for i in range(self.n):
            sp = self.dir / f"w{i}.sock"
            lis = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lis.bind(str(sp))
            os.chmod(sp, 0o600)
            lis.listen(1024)
            w = Worker(i, sp, lis)
            w.link = FrontLink(self, i)
            self.workers.append(w)
        for w in self.workers:
            self._spawn(w)
        deadline = time.monotonic() + WORKER_START_S
        for w in self.workers:
            w.link.wait_ready(max(1.0, deadline - time.monotonic()), w.proc)

    def _spawn(self, w: Worker) -> None:
        child_calls, child_events = w.link.child_ends()
        fds = (w.listener.fileno(), child_calls.fileno(), child_events.fileno())
        cmd = [sys.executable, "-m", "dossier.web.worker", "--archive", str(self.path), "--index", str(w.index),
               "--fd", str(fds[0]), "--calls-fd", str(fds[1]), "--events-fd", str(fds[2])]
        if self.tls:
            cmd.append("--tls")
        w.proc = subprocess.Popen(cmd, pass_fds=fds)
        w.started = time.monotonic()
        child_calls.close()
        child_events.close()

    def broadcast_end_user(self, name: str, origin: int) -> None:
        for w in self.workers:
            if w.index != origin and w.link is not None:
                w.link.send_event(("end_user", name))

    async def _watch(self) -> None:
        """Start a new worker in place of one that died."""
        while not self._stopping:
            await asyncio.sleep(1.0)
            for w in self.workers:
                code = w.proc.poll() if w.proc else None
                if code is None or self._stopping:
                    continue
                log.warning("工作进程 %d 意外退出（退出码 %s），正在重启；其上的会话需要重新登录", w.index, code)
                for _r, wr in w.idle:
                    wr.close()
                w.idle.clear()
                if time.monotonic() - w.started < 5:
                    await asyncio.sleep(min(30, 2 ** min(w.restarts, 5)))
                w.restarts += 1
                w.link.reset()
                self._spawn(w)

    def stop_workers(self, timeout: float = 30.0) -> None:
        self._stopping = True
        for w in self.workers:
            if w.proc and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)     # uvicorn's shutdown: sessions end, audited
        deadline = time.monotonic() + timeout
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        for w in self.workers:
            w.link.close()
            w.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- routing

    def pick(self, head: Head) -> Worker:
        """The session's worker; a login goes to the worker that took the fewest logins
        (sessions spread evenly), anything else without a session to the least busy."""
        i = session_worker(head, self.n)
        if i is not None:
            return self.workers[i]
        if head.start.startswith(b"POST /login "):
            w = min(self.workers, key=lambda w: (w.logins, w.in_flight))
            w.logins += 1
            return w
        least = min(w.in_flight for w in self.workers)
        tied = [w for w in self.workers if w.in_flight == least]
        return tied[next(self._rr) % len(tied)]

    async def _connection(self, w: Worker):
        while w.idle:
            r, wr = w.idle.pop()
            if not r.at_eof() and not wr.is_closing():
                return r, wr, True
            wr.close()
        r, wr = await asyncio.open_unix_connection(str(w.sock_path), limit=HEAD_LIMIT)
        return r, wr, False

    async def handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        peer = cwriter.get_extra_info("peername")
        client = (_address(peer[0]) or peer[0].encode()) if isinstance(peer, tuple) else b"127.0.0.1"
        scheme = b"https" if self.tls else b"http"
        task = asyncio.current_task()
        self._clients[task] = client
        try:
            counted = client not in self.trusted
            if len(self._clients) > MAX_CLIENTS or (
                    counted and sum(c == client for c in self._clients.values()) > MAX_PER_ADDRESS):
                await _answer(cwriter, 503, b"Service Unavailable")
                return
            first = True
            while True:
                try:
                    data = await asyncio.wait_for(creader.readuntil(b"\r\n\r\n"),
                                                  FIRST_HEAD_S if first else KEEP_ALIVE_S)
                except asyncio.LimitOverrunError:
                    await _answer(cwriter, 431, b"Request Header Fields Too Large")
                    return
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ssl.SSLError):
                    return
                first = False
                answered = [False]
                try:
                    keep = await self._one(creader, cwriter, data, client, scheme, answered)
                except BadRequest as e:
                    if not answered[0]:
                        await _answer(cwriter, e.status, e.reason)
                    return
                except Stalled:
                    if not answered[0]:
                        await _answer(cwriter, 408, b"Request Timeout")
                    return
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.LimitOverrunError, Stalled):
            return
        except Exception as e:          # noqa: BLE001 - one connection ends; the request is not logged
            log.warning("前端转发请求出错（%s），已关闭该连接", type(e).__name__)
            return
        finally:
            del self._clients[task]
            with contextlib.suppress(Exception):
                cwriter.close()

    async def _one(self, creader, cwriter, data: bytes, client: bytes, scheme: bytes, answered: list) -> bool:
        """Pass one request to its worker and its response back; True: the client connection stays.
        ``answered[0]`` becomes True once a byte of the response has gone to the client."""
        head = parse_head(data)
        start = REQUEST_LINE.fullmatch(head.start)
        if start is None:
            raise BadRequest(400, b"Bad Request")
        method, http10 = start[1], start[2] == b"0"
        if client in self.trusted and (xff := head.get(b"x-forwarded-for")):
            seen = _address(xff[-1].split(b",")[-1].strip().decode("ascii", "replace"))   # what the proxy saw
            if seen:
                client = seen
        req_body = body_framing(head, request=True)
        client_close = b"close" in head.tokens(b"connection") or http10
        if b"100-continue" in head.tokens(b"expect") and not http10:
            cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        out = [head.start]
        out += [n + b": " + v for n, v in head.raw if n.lower() not in HOP_BY_HOP]
        out += [b"X-Forwarded-For: " + client, b"X-Forwarded-Proto: " + scheme]
        if http10:
            out.append(b"Connection: close")
        w = self.pick(head)
        w.in_flight += 1
        reusable = False
        try:
            wreader, wwriter, pooled = await self._connection(w)
            try:
                wwriter.write(b"\r\n".join(out) + b"\r\n\r\n")
                await relay_body(creader, wwriter, req_body)
                while True:                                         # interim answers (1xx): not passed on
                    try:
                        rdata = await _timed(wreader.readuntil(b"\r\n\r\n"), RESPONSE_S)
                    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                        raise BadRequest(502, b"Bad Gateway") from None
                    except Stalled:
                        raise BadRequest(504, b"Gateway Timeout") from None
                    rhead = parse_head(rdata)
                    status = STATUS_LINE.fullmatch(rhead.start)
                    if status is None:
                        raise BadRequest(502, b"Bad Gateway")
                    if not status[1].startswith(b"1"):
                        break
                if method == b"HEAD" or status[1] in (b"204", b"304"):
                    framing = ("length", 0)
                else:
                    framing = body_framing(rhead, request=False)
                worker_close = b"close" in rhead.tokens(b"connection") or framing[0] == "close"
                answered[0] = True
                cwriter.write(rdata)
                await relay_body(wreader, cwriter, framing)
                reusable = not worker_close
                return reusable and not client_close
            finally:
                if reusable and not self._stopping:
                    w.idle.append((wreader, wwriter))
                else:
                    wwriter.close()
        except (FileNotFoundError, ConnectionRefusedError):
            raise BadRequest(503, b"Service Unavailable") from None
        finally:
            w.in_flight -= 1

    # ---------------------------------------------------------------- running

    def run(self, host: str, port: int, ssl_context: ssl.SSLContext | None, ready=None) -> None:
        """Serve until SIGINT/SIGTERM; then the workers end their sessions and stop."""
        try:
            self.start_workers()
            asyncio.run(self._main(host, port, ssl_context, ready))
        finally:
            self.stop_workers()

    async def _main(self, host, port, ssl_context, ready) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(self.handle, host, port, ssl=ssl_context, limit=HEAD_LIMIT,
                                            reuse_address=True, backlog=2048)
        watch = asyncio.create_task(self._watch())
        if ready is not None:
            ready()
        log.info("前端已在 %s:%d 监听，%d 个工作进程", host, port, self.n)
        await stop.wait()
        self._stopping = True
        server.close()                  # no new connections; those open end now (their workers stop next)
        watch.cancel()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)


def _address(text: str) -> bytes | None:
    """An IP address as the throttle and the workers' log see it (IPv4-mapped IPv6 as IPv4); None: not one."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip).encode()


def _socket_dir() -> Path:
    """A private (0700) directory for the workers' sockets: under TMPDIR, or under /tmp
    when TMPDIR is too deep for a Unix socket's path (108 bytes on Linux)."""
    for base in (tempfile.gettempdir(), "/tmp"):
        if len(base) + len("/dossier-serve-xxxxxxxx/w64.sock") < 100:
            d = Path(tempfile.mkdtemp(prefix="dossier-serve-", dir=base))
            os.chmod(d, 0o700)
            return d
    raise OSError("没有可放置工作进程套接字的短路径临时目录")


async def _answer(writer: asyncio.StreamWriter, status: int, reason: bytes) -> None:
    body = b"<!doctype html><meta charset=utf-8><title>" + reason + b"</title><p>" + reason + b"</p>"
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
                 b"Cache-Control: no-store\r\nConnection: close\r\n\r\n%s" % (status, reason, len(body), body))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.drain(), 10)


def tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def serve_workers(archive_path, n_workers: int, *, host: str, port: int, tls: bool,
                  certfile: str | None = None, keyfile: str | None = None, loaded=None, ready=None,
                  settings=None, trusted_proxies=()) -> None:
    """``dossier serve --workers N``: the front and its N workers, until interrupted."""
    from .logs import configure_front_logging
    from .settings import WebSettings
    from .throttle import LoginThrottle
    from ..api import read_config

    configure_front_logging()
    settings = settings or WebSettings.from_config(read_config(Path(archive_path)))
    ctx = tls_context(certfile, keyfile) if tls else None
    if loaded is not None:
        loaded()                       # the TLS files are in memory now (--tls-self-signed removes its key)
    throttle = LoginThrottle(settings.login_failures, settings.login_window_minutes * 60)
    Front(archive_path, n_workers, tls=tls, throttle=throttle, trusted_proxies=trusted_proxies).run(
        host, port, ctx, ready)

