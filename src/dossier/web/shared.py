"""What the workers of ``dossier serve --workers N`` share through the front.

Two socketpairs per worker (memory only, nothing on disk, no address anyone
else can reach): *calls*, the worker asking the front and waiting for its
answer, and *events*, the front telling the worker. What crosses them: user
names, client addresses and counts of failed logins, the names of users whose
sessions must end — never a key, a password or a session id.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from multiprocessing.connection import Connection

log = logging.getLogger("dossier.web")


class WorkerGone(Exception):
    """A worker that did not start, or stopped answering its link."""


def _pair() -> tuple[Connection, socket.socket]:
    a, b = socket.socketpair()
    return Connection(a.detach()), b


class FrontLink:
    """The front's end of one worker's links; answers its calls in a thread."""

    def __init__(self, front, index: int):
        self.front, self.index = front, index
        self._send_lock = threading.Lock()
        self.ready = threading.Event()
        self.calls = self.events = None
        self._child: tuple[socket.socket, socket.socket] | None = None
        self.reset()

    def reset(self) -> None:
        """New pairs for a (re)started worker; the old ones are closed."""
        self.close()
        self.ready.clear()
        self.calls, child_calls = _pair()
        self.events, child_events = _pair()
        self._child = (child_calls, child_events)
        threading.Thread(target=self._answer, args=(self.calls,), daemon=True,
                         name=f"front-link-{self.index}").start()

    def child_ends(self) -> tuple[socket.socket, socket.socket]:
        return self._child

    def wait_ready(self, timeout: float, proc) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if proc.poll() is not None:
                raise WorkerGone(f"工作进程 {self.index} 未能启动（退出码 {proc.returncode}）")
            if time.monotonic() > deadline:
                raise WorkerGone(f"工作进程 {self.index} 在 {timeout:.0f} 秒内未就绪")

    def send_event(self, msg) -> None:
        try:
            with self._send_lock:
                self.events.send(msg)
        except OSError:
            log.warning("未能通知工作进程 %d（已退出？）", self.index)

    def close(self) -> None:
        for c in (self.calls, self.events):
            if c is not None:
                c.close()
        if self._child is not None:
            for s in self._child:
                s.close()
        self._child = None

    def _answer(self, conn: Connection) -> None:
        throttle = self.front.throttle
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                return                      # the worker ended (or the link was reset)
            if op == "ready":
                self.ready.set()
                answer = None
            elif op == "blocked_for":
                answer = throttle.blocked_for(*args)
            elif op == "failed":
                answer = throttle.failed(*args)
            elif op == "succeeded":
                answer = throttle.succeeded(*args)
            elif op == "note_failure":
                answer = self.front.failed_logins.note(*args)
            elif op == "take_failures":
                answer = self.front.failed_logins.take()
            elif op == "end_user":
                self.front.broadcast_end_user(args[0], origin=self.index)
                answer = None
            else:
                answer = None
                log.warning("工作进程 %d 发来未知请求 %r", self.index, op)
            try:
                conn.send(answer)
            except OSError:
                return


class WorkerLink:
    """A worker's end: calls to the front (one at a time) and its events in a thread."""

    def __init__(self, index: int, calls_fd: int, events_fd: int):
        self.index = index
        self.calls = Connection(calls_fd)
        self.events = Connection(events_fd)
        self._lock = threading.Lock()
        self.on_end_user = None
        self.on_front_gone = None

    def call(self, op: str, *args):
        with self._lock:
            self.calls.send((op, args))
            return self.calls.recv()

    def ready(self) -> None:
        self.call("ready")

    def start_events(self) -> None:
        threading.Thread(target=self._events, daemon=True, name="worker-events").start()

    def _events(self) -> None:
        while True:
            try:
                op, arg = self.events.recv()
            except (EOFError, OSError):
                if self.on_front_gone is not None:
                    self.on_front_gone()    # the front ended (killed?): this worker must not outlive it
                return
            if op == "end_user" and self.on_end_user is not None:
                try:
                    n = self.on_end_user(arg)
                    log.info("结束用户 %s 的会话（本进程 %d 个：管理员已停用该用户）", arg, n or 0)
                except Exception:   # noqa: BLE001 - the next request re-reads the user row anyway
                    log.warning("未能结束用户的会话", exc_info=False)


class SharedThrottle:
    """:class:`~dossier.web.throttle.LoginThrottle`'s interface, kept by the front for every worker."""

    def __init__(self, link: WorkerLink):
        self.link = link

    def blocked_for(self, *keys: str) -> float:
        return self.link.call("blocked_for", *keys)

    def failed(self, *keys: str) -> None:
        self.link.call("failed", *keys)

    def succeeded(self, key: str) -> None:
        self.link.call("succeeded", key)


class SharedFailedLogins:
    """:class:`~dossier.web.throttle.FailedLogins`, kept by the front: the next successful
    login in any worker writes them to the audit chain."""

    def __init__(self, link: WorkerLink):
        self.link = link

    def note(self, record: dict) -> None:
        self.link.call("note_failure", record)

    def take(self) -> list[dict]:
        return self.link.call("take_failures")
