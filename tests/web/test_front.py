"""``dossier serve --workers N``: the front (web/front.py) and what the workers share (web/shared.py)."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import APPROVER, CLERK_A, CLERK_B, INSPECTOR, make_world
from tests.web.browserkit import Server
from tests.web.conftest import csrf_of

from dossier.web.front import BadRequest, body_framing, parse_head, session_worker


# ----------------------------------------------------------------------------- the HTTP the front reads

def head(text: str):
    return parse_head(text.replace("\n", "\r\n").encode() + b"\r\n\r\n")


def test_framing_of_requests():
    assert body_framing(head("POST / HTTP/1.1\nContent-Length: 12"), request=True) == ("length", 12)
    assert body_framing(head("POST / HTTP/1.1\nTransfer-Encoding: chunked"), request=True) == ("chunked", 0)
    assert body_framing(head("GET / HTTP/1.1\nHost: x"), request=True) == ("length", 0)
    assert body_framing(head("HTTP/1.1 200 OK\nServer: x"), request=False) == ("close", 0)


@pytest.mark.parametrize("bad, status", [
    ("POST / HTTP/1.1\nContent-Length: 5\nTransfer-Encoding: chunked", 400),     # read two ways
    ("POST / HTTP/1.1\nContent-Length: 5\nContent-Length: 6", 400),
    ("POST / HTTP/1.1\nContent-Length: -1", 400),
    ("POST / HTTP/1.1\nTransfer-Encoding: gzip, chunked", 501),
])
def test_requests_that_could_be_read_two_ways_are_refused(bad, status):
    with pytest.raises(BadRequest) as e:
        body_framing(head(bad), request=True)
    assert e.value.status == status


@pytest.mark.parametrize("line", ["Host : x", "Bad Name: x", "no colon"])
def test_malformed_header_lines_are_refused(line):
    with pytest.raises(BadRequest):
        head("GET / HTTP/1.1\n" + line)


def test_the_session_cookie_names_the_worker():
    assert session_worker(head("GET / HTTP/1.1\nCookie: a=b; dossier_session=1.abc_-x; c=d"), 2) == 1
    assert session_worker(head("GET / HTTP/1.1\nCookie: dossier_session=0.abc"), 2) == 0
    assert session_worker(head("GET / HTTP/1.1\nCookie: dossier_session=7.abc"), 2) is None     # no such worker
    assert session_worker(head("GET / HTTP/1.1\nCookie: dossier_session=abc"), 2) is None
    assert session_worker(head("GET / HTTP/1.1\nCookie: other=1.abc"), 2) is None


# ----------------------------------------------------------------------------- a real server with two workers

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("front")
    world = make_world(base / "archive")
    srv = Server(world.path, base, args=["--workers", "2"])
    yield world, srv
    srv.stop()


def login(srv, world, user, password=None, headers=None) -> tuple[httpx.Client, httpx.Response]:
    c = httpx.Client(base_url=srv.base, follow_redirects=False, timeout=30)
    page = c.get("/login")
    assert page.status_code == 200
    r = c.post("/login", data={"csrf": csrf_of(page.text), "user": user,
                               "password": password or world.passwords[user]}, headers=headers or {})
    return c, r


def workers_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    pids = [int(x) for x in out.split()]
    return [p for p in pids if b"dossier.web.worker" in Path(f"/proc/{p}/cmdline").read_bytes()]


def socket_paths(pid: int) -> list[str]:
    """The Unix socket paths a process has open (its workers' listeners)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    paths = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[6] in inodes and "dossier-serve-" in f[7]:
            paths.append(f[7])
    return sorted(set(paths))


def test_sessions_spread_over_the_workers_and_stay_on_theirs(served):
    world, srv = served
    clients = []
    for user in (CLERK_A, CLERK_B, APPROVER, INSPECTOR):
        c, r = login(srv, world, user)
        assert r.status_code == 303, r.text
        clients.append((user, c))
    prefixes = [c.cookies["dossier_session"].split(".", 1)[0] for _, c in clients]
    assert set(prefixes) == {"0", "1"}, prefixes
    for _ in range(5):                      # every page of a session reaches the worker holding its keys
        for user, c in clients:
            r = c.get("/", follow_redirects=True)          # (an inspector's home is the search)
            assert r.status_code == 200 and user in r.text and "/login" not in str(r.url), (user, r.status_code)
    user, c = clients[0]
    token = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf": token}).status_code == 303
    assert c.get("/").status_code in (302, 303)           # logged out: to the login page
    for user, c in clients[1:]:
        r = c.get("/", follow_redirects=True)
        assert r.status_code == 200 and "/login" not in str(r.url)
        c.close()


def test_failed_logins_are_counted_for_the_whole_server(tmp_path):
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2"])
    try:
        _five_failures_then_refused(world, srv)
    finally:
        srv.stop()


def _five_failures_then_refused(world, srv):
    seen = set()
    for i in range(5):                      # alternating workers (no session: the least busy, in turn)
        c, r = login(srv, world, "nobody-x", password=f"wrong-{i}",
                     headers={"X-Forwarded-For": f"203.0.113.{i}"})     # dropped by the front
        assert r.status_code == 401
        seen.add(c.cookies.get("dossier_pre"))
        c.close()
    # the sixth try from this address is refused whichever worker takes it, even for a real user
    for user in (CLERK_A, CLERK_B):
        c, r = login(srv, world, user, headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 429, (user, r.status_code)
        assert "dossier_session" not in c.cookies
        c.close()


def test_requests_smuggled_past_the_front_are_refused(served):
    _world, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.count(b"HTTP/1.1") == 1                 # and the connection is closed


def test_a_chunked_upload_and_keep_alive_through_the_front(served):
    _world, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        first = _read_response(s)
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                  b"5\r\nuser=\r\n0\r\n\r\n")
        second = _read_response(s)
    assert first.startswith(b"HTTP/1.1 200 ") and "登录".encode() in first
    assert second.startswith(b"HTTP/1.1 403 ")             # no CSRF token: refused, on the same connection


def _read_response(s: socket.socket) -> bytes:
    def more() -> bytes:
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed before the whole response")
        return data

    data = b""
    while b"\r\n\r\n" not in data:
        data += more()
    headers, _, body = data.partition(b"\r\n\r\n")
    n = int(next(line.split(b":")[1] for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < n:
        body += more()
    return headers + b"\r\n\r\n" + body


def test_a_worker_that_dies_is_replaced_and_the_others_keep_their_sessions(served):
    world, srv = served
    a, r = login(srv, world, CLERK_A)
    assert r.status_code == 303
    b, r = login(srv, world, CLERK_B)
    assert r.status_code == 303
    wa = int(a.cookies["dossier_session"].split(".")[0])
    wb = int(b.cookies["dossier_session"].split(".")[0])
    assert wa != wb
    pids = workers_of(srv.proc.pid)
    assert len(pids) == 2
    victim = next(p for p in pids if f"--index {wb} ".encode() in Path(f"/proc/{p}/cmdline").read_bytes()
                  .replace(b"\0", b" ") + b" ")
    os.kill(victim, signal.SIGKILL)
    assert a.get("/").status_code == 200                  # the other worker's session is untouched
    deadline = time.monotonic() + 60
    while True:                                           # the dead worker's sessions are gone: log in again
        r = b.get("/")
        if r.status_code in (302, 303):
            break
        assert r.status_code in (502, 503) and time.monotonic() < deadline, r.status_code
        time.sleep(0.5)
    b2, r = login(srv, world, CLERK_B)
    assert r.status_code == 303 and b2.get("/").status_code == 200
    new = workers_of(srv.proc.pid)
    assert len(new) == 2 and victim not in new


def test_stopping_the_front_stops_every_worker(tmp_path):
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2"])
    c, r = login(srv, world, CLERK_A)
    assert r.status_code == 303
    pids = workers_of(srv.proc.pid)
    assert len(pids) == 2
    socks = socket_paths(srv.proc.pid)
    assert len(socks) == 2 and all(Path(p).exists() for p in socks)
    srv.stop()
    assert srv.proc.returncode is not None
    for p in pids:
        assert not Path(f"/proc/{p}").exists() or b"zombie" in Path(f"/proc/{p}/status").read_bytes().lower()
    assert not any(Path(p).parent.exists() for p in socks)     # the workers' socket directory is removed
    with world.open("admin") as ar:                        # the worker ended the session as a restart does
        ends = [e for e in ar.audit_chain.events(actor=CLERK_A) if e.action == "session.end"]
    assert ends


def test_tls_at_the_front(world, run_dossier, tmp_path):
    r = run_dossier(["approve", "ca-cert", "-o", tmp_path / "ca.pem"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    srv = Server(world.path, tmp_path, args=["--workers", "2", "--tls-self-signed"], env_user="admin", tls=True)
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with httpx.Client(base_url=srv.base, verify=ctx, follow_redirects=False, timeout=30) as c:
            page = c.get("/login")
            assert page.status_code == 200 and "登录" in page.text
            assert page.headers.get("strict-transport-security")
            assert "Secure" in page.headers.get("set-cookie", "")
            r = c.post("/login", data={"csrf": csrf_of(page.text), "user": CLERK_A,
                                       "password": world.passwords[CLERK_A]})
            assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
            assert c.get("/").status_code == 200
    finally:
        srv.stop()
    assert not list(srv.tmp.glob("dossier-tls-*"))         # the server key is gone


def test_revoking_a_user_in_the_browser_ends_the_sessions_on_every_worker(served):
    """The front tells every worker (web/shared.py): observed as the worker's own log of it."""
    world, srv = served
    sessions = []
    for _ in range(2):
        c, r = login(srv, world, INSPECTOR)
        assert r.status_code == 303
        sessions.append(c)
    assert {c.cookies["dossier_session"][0] for c in sessions} == {"0", "1"}
    admin, r = login(srv, world, "admin")
    assert r.status_code == 303
    token = csrf_of(admin.get("/admin/users").text)
    r = admin.post("/admin/users/revoke", data={"csrf": token, "name": INSPECTOR})
    assert r.status_code == 303
    for c in sessions:
        assert c.get("/").status_code in (302, 303)
    log = srv.log.read_text(errors="replace")
    assert log.count(f"结束用户 {INSPECTOR} 的会话") >= 1, log[-3000:]


def test_a_trusted_proxy_names_the_client(tmp_path):
    """Behind a load balancer (--trust-proxy ADDR) the throttle counts the address it saw, not its own."""
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2", "--trust-proxy", "127.0.0.1"])
    try:
        for i in range(5):
            c, r = login(srv, world, f"nobody-{i}", password="wrong", headers={"X-Forwarded-For": "203.0.113.9"})
            assert r.status_code == 401
            c.close()
        c, r = login(srv, world, CLERK_A, headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.status_code == 429                      # that client is held back …
        c, r = login(srv, world, CLERK_A, headers={"X-Forwarded-For": "203.0.113.10"})
        assert r.status_code == 303                      # … another one behind the same proxy is not
    finally:
        srv.stop()
    # the failures noted by both workers were written by that one login (the front kept them)
    with world.open("admin") as ar:
        failed = [e for e in ar.audit_chain.events(action="login.failed")]
    assert len(failed) == 6 and {e.actor for e in failed} == {CLERK_A}


# ----------------------------------------------------------------------------- desync, slow clients, the front's end

def _exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a new connection, then read until the front closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


SMUGGLED = b"GET /smuggled-by-a-bare-lf HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("attack", [
    # the trailers end at a bare LF for h11, at CRLF CRLF for a lax front: the next request rides in them
    b"POST /login HTTP/1.1\r\nHost: x\r\nCookie: dossier_session=0.x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\n" + SMUGGLED,
    b"POST /login HTTP/1.1\r\nHost: x\r\nCookie: dossier_session=0.x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\nX-T: 1\n\n" + SMUGGLED,
    # a chunk not followed by its CRLF
    b"POST /login HTTP/1.1\r\nHost: x\r\nCookie: dossier_session=0.x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"1\r\nxAB0\r\n\r\n" + SMUGGLED,
])
def test_a_request_hidden_in_a_body_never_reaches_a_pooled_worker_connection(served, attack):
    """Another client's next request on that worker must get its own answer, not the hidden one's."""
    _world, srv = served
    first = _exchange(srv.port, attack)
    assert first.startswith(b"HTTP/1.1 400 ") and first.count(b"HTTP/1.1 ") == 1, first[:200]
    for _ in range(3):                                    # whichever pooled connection the next ones take
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: dossier_session=0.y\r\n\r\n")
            answer = _read_response(s)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("start", [
    b"POST /login HTTP/1.1\nTransfer-Encoding:chunked",        # a header h11 would read in the request line
    b"GET /login HTTP/1.1\rX: y",
    b"GET /login HTTP/1.9",
    b"GET /lo\x00gin HTTP/1.1",
    b"GET  /login HTTP/1.1",
])
def test_odd_request_lines_are_refused_at_the_front(served, start):
    _world, srv = served
    answer = _exchange(srv.port, start + b"\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


@pytest.mark.parametrize("line", [b"X-A: 1\rContent-Length: 5", b"X-\x01: 1", b"X-A: a\x00b", b"Content-Length: 5\x0b",
                                  b" X-Folded: 1"])
def test_odd_header_lines_are_refused_at_the_front(served, line):
    _world, srv = served
    answer = _exchange(srv.port, b"GET /login HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


@pytest.mark.parametrize("size", [b"-1", b"+5", b"0x5", b"5_0", b" 5", b"1" * 17])
def test_odd_chunk_sizes_are_refused(served, size):
    _world, srv = served
    answer = _exchange(srv.port, b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + size + b"\r\nhello\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_pipelined_requests_are_answered_in_order(served):
    _world, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /login HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /no-such-page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d\d\d) ", out)          # (a body does not end in CRLF)
    assert statuses == [b"200", b"200", b"404"], statuses


def test_a_client_that_stalls_in_its_body_is_dropped(tmp_path):
    """Slowloris on a body: the front closes the connection after its idle limit (here 2 s)."""
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2"], extra_env={"DOSSIER_FRONT_IDLE_S": "2"})
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nuser=")
            t0 = time.monotonic()
            while s.recv(65536):                          # closed (after a 408)
                pass
            assert time.monotonic() - t0 < 15
    finally:
        srv.stop()


def test_a_session_cookie_with_a_huge_worker_number_is_just_no_session(served):
    _world, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: dossier_session=" + b"9" * 5000 + b".x\r\n\r\n")
        assert _read_response(s).startswith(b"HTTP/1.1 200 ")


def test_workers_do_not_outlive_a_killed_front(tmp_path):
    """A front killed outright (SIGKILL, a crash): its workers stop as on SIGTERM — sessions ended
    and audited, keys out of memory — and remove their sockets and the private directory."""
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2"])
    try:
        c, r = login(srv, world, CLERK_A)
        assert r.status_code == 303
        pids = workers_of(srv.proc.pid)
        socks = socket_paths(srv.proc.pid)
        assert len(pids) == 2 and len(socks) == 2
        srv.proc.kill()
        srv.proc.wait()
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(Path(f"/proc/{p}").exists() for p in pids)
        assert not Path(socks[0]).parent.exists()
    finally:
        srv.stop()
    with world.open("admin") as ar:
        assert [e for e in ar.audit_chain.events(actor=CLERK_A) if e.action == "session.end"]


def test_stopping_the_front_does_not_wait_for_a_stalled_client(tmp_path):
    world = make_world(tmp_path / "archive")
    srv = Server(world.path, tmp_path, args=["--workers", "2"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nuser=")
        time.sleep(0.5)
        t0 = time.monotonic()
        srv.proc.terminate()
        srv.proc.wait(20)
        assert time.monotonic() - t0 < 10
    srv.stop()


def test_one_address_cannot_hold_every_connection(served):
    """Slowloris on heads: at most MAX_PER_ADDRESS open connections from one address; the next gets 503."""
    from dossier.web.front import MAX_PER_ADDRESS

    _world, srv = served
    held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(MAX_PER_ADDRESS)]
    try:
        for s in held:
            s.sendall(b"GET /login HTTP/1.1\r\n")            # a head that never ends
        deadline = time.monotonic() + 30                     # (the front accepts them in its own time)
        while not (answer := _exchange(srv.port, b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                       timeout=30)).startswith(b"HTTP/1.1 503 "):
            assert answer.startswith(b"HTTP/1.1 200 ") and time.monotonic() < deadline, answer[:100]
            time.sleep(0.5)
    finally:
        for s in held:
            s.close()
    time.sleep(1.0)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:    # and again once they are gone
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(s).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("text, seen", [("203.0.113.9", b"203.0.113.9"), ("::ffff:127.0.0.1", b"127.0.0.1"),
                                        ("[2001:db8::1]", b"2001:db8::1"), ("dead", None), ("::::", None),
                                        ("1.2.3.4:80", None), ("", None)])
def test_a_forwarded_address_must_be_an_address(text, seen):
    from dossier.web.front import _address

    assert _address(text) == seen


@pytest.mark.parametrize("line", [b"X: " + b" \t" * 30000 + b"\x00", b"X:" + b" " * 60000 + b"a\x01"])
def test_checking_a_header_line_takes_linear_time(line):
    """A 64 KB head of blanks must not hold the front's event loop (a backtracking pattern took 15 s)."""
    from dossier.web.front import header_line

    t0 = time.perf_counter()
    with pytest.raises(BadRequest):
        header_line(line)
    assert time.perf_counter() - t0 < 0.5
