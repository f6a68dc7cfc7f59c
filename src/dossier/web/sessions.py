"""Server-side sessions: a login unseals the user's keys once (the KDF), and
they stay in this process's memory for the working day, like an ssh-agent.

- Never on disk, never in the cookie: the cookie carries a random session id
  (256 bits), nothing else.
- Each web session keeps one library session (:class:`dossier.api.Session`)
  open, used by one request at a time (a lock), so a page does not pay for
  the KDF or for reopening the search index. Before each use the user's row
  is read again: a revoked user's sessions end at their next request, and
  the admin's revoke in the browser ends them at once.
- Idle and absolute timeouts; logout, expiry and revocation drop every
  reference to the keys (Python cannot zero an object it does not own; the
  process holding them is the office server, see docs/decisions.md).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WrongPassword
from .settings import WebSettings


@dataclass(eq=False)
class WebSession:
    sid: str
    user: str
    role: str
    csrf: str
    created: float
    last_seen: float
    unlocked: object | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ar: object | None = None
    ended: str | None = None        # why it ended (logout, idle, absolute, revoked)
    flashes: list = field(default_factory=list)     # messages for the next page
    jobs: dict = field(default_factory=dict)        # background work and its results (web/jobs.py): memory only
    shared: dict = field(default_factory=dict)      # the process's caches hung on the library session (see SessionStore)
    # the 工作台's rendered lists of this session (views/home.py), per window: memory only, gone with the keys
    rendered: dict = field(default_factory=dict)
    kdf_s: float = 0.0      # how long the login's unseal (the KDF) took: the Server-Timing of the login

    def library(self, path: Path):
        """The open library session (opened on first use; the user re-checked each time)."""
        from .. import api

        if self.unlocked is None:
            raise WrongPassword("会话已结束，请重新登录")
        ar = self._ar
        if ar is not None:
            row = ar.con.execute("SELECT status FROM users WHERE name=?", (self.user,)).fetchone()
            if row is None or row["status"] != "active":
                raise WrongPassword(f"用户“{self.user}”已被停用")
            ar.scopes.invalidate()
            ar.user.scopes = ar.scopes.granted_paths(self.user)
            return ar
        ar = api.open_unlocked(path, self.unlocked)
        for name, value in self.shared.items():     # e.g. agenda_cache: read only for what this user may decrypt
            setattr(ar, name, value)
        ar.agenda_memo = {}      # this user's own last agendas (reports/agenda.py): memory only
        self._ar = ar
        return ar

    def wipe(self) -> None:
        ar, self._ar, self.unlocked = self._ar, None, None
        self.jobs.clear()            # uploads held for a confirm, finished downloads: gone with the keys
        self.rendered.clear()        # the 工作台's rendered lists (names, reasons)
        if ar is not None and getattr(ar, "agenda_memo", None) is not None:
            ar.agenda_memo.clear()
        if ar is not None:
            ar.close()


class SessionStore:
    def __init__(self, archive_path, settings: WebSettings, clock=time.monotonic, shared: dict | None = None,
                 sid_prefix: str = ""):
        self.sid_prefix = sid_prefix     # a worker's number behind serve --workers (web/front.py routes by it)
        self.path = Path(archive_path)
        self.settings = settings
        self.clock = clock
        # caches shared by every session of this process (memory only; each checks the
        # caller's keys before answering): set on each session's library session
        self.shared = dict(shared or {})
        self._by_id: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_id)

    def login(self, user: str, password) -> WebSession:
        """Run the KDF once; raises WrongPassword (the same message for an unknown user)."""
        from .. import api

        t = time.perf_counter()
        unlocked = api.unlock(self.path, user=user, password=password)
        kdf_s = time.perf_counter() - t
        now = self.clock()
        ws = WebSession(self.sid_prefix + secrets.token_urlsafe(32), unlocked.user, unlocked.role, secrets.token_urlsafe(32),
                        now, now, unlocked, shared=self.shared)
        ws.kdf_s = kdf_s
        with self._lock:
            self._by_id[ws.sid] = ws
        return ws

    def get(self, sid: str | None) -> WebSession | None:
        """The live session of a cookie, or None; an expired one is ended (and audited)."""
        if not sid:
            return None
        with self._lock:
            ws = self._by_id.get(sid)
        if ws is None:
            return None
        why = self.expired(ws)
        if why:
            self.end(ws, why)
            return None
        ws.last_seen = self.clock()
        return ws

    def expired(self, ws: WebSession) -> str | None:
        now = self.clock()
        if now - ws.created > self.settings.absolute_s:
            return "absolute"
        if now - ws.last_seen > self.settings.idle_s:
            return "idle"
        return None

    def end(self, ws: WebSession, reason: str) -> None:
        """End a session: audit it with the user's own key, then drop the keys."""
        with self._lock:
            self._by_id.pop(ws.sid, None)
        with ws.lock:
            if ws.ended:
                return
            ws.ended = reason
            if reason != "revoked":
                try:
                    ar = ws.library(self.path)
                    ar.audit("logout" if reason == "logout" else "session.end", reason=reason)
                except Exception:   # noqa: BLE001 - the keys go whatever the audit says
                    pass
            ws.wipe()

    def end_user(self, name: str) -> int:
        """End every session of a user (revoked or removed)."""
        with self._lock:
            mine = [ws for ws in self._by_id.values() if ws.user == name]
        for ws in mine:
            self.end(ws, "revoked")
        return len(mine)

    def sweep(self) -> int:
        """End the sessions past their timeouts, and those of users stopped meanwhile by
        another process (``dossier user revoke``, another server): their keys leave memory
        within one sweep, not at their next request (called every 30 s)."""
        with self._lock:
            all_ = list(self._by_id.values())
        gone = [(ws, why) for ws in all_ if (why := self.expired(ws))]
        ending = {id(ws) for ws, _ in gone}
        gone += [(ws, "revoked") for ws in all_ if id(ws) not in ending and self._stopped(ws)]
        for ws, why in gone:
            self.end(ws, why)
        return len(gone)

    @staticmethod
    def _stopped(ws: WebSession) -> bool:
        """Whether the session's user is no longer active (read on its own connection;
        a session busy with a request is skipped: that request reads the row itself)."""
        if not ws.lock.acquire(blocking=False):
            return False
        try:
            ar = ws._ar
            if ar is None or ws.ended:
                return False
            row = ar.con.execute("SELECT status FROM users WHERE name=?", (ws.user,)).fetchone()
            return row is None or row["status"] != "active"
        except Exception:   # noqa: BLE001 - the store unreachable now: the next request decides
            return False
        finally:
            ws.lock.release()

    def end_all(self) -> None:
        with self._lock:
            all_ = list(self._by_id.values())
        for ws in all_:
            self.end(ws, "shutdown")
