"""Failed logins: after N failures for one user name or one client address
within a window, further tries are refused until the oldest failure leaves
the window. In memory (a restart forgets; the audit chain keeps the record)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, limit: int = 5, window_s: float = 900, clock=time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._fails: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque:
        q = self._fails[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked_for(self, *keys: str) -> float:
        """Seconds until a try is allowed again for any of ``keys`` (0: allowed)."""
        now = self.clock()
        with self._lock:
            waits = [self.window_s - (now - q[0]) for k in keys
                     if len(q := self._prune(k, now)) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for k in keys:
                self._prune(k, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


class FailedLogins:
    """Failed logins waiting to be written to the audit chain by the next successful
    login (they have no key to sign with; docs/decisions.md). In memory; bounded."""

    LIMIT = 10000

    def __init__(self):
        self._pending: list[dict] = []
        self._lock = threading.Lock()

    def note(self, record: dict) -> None:
        with self._lock:
            if len(self._pending) < self.LIMIT:
                self._pending.append(record)

    def take(self) -> list[dict]:
        with self._lock:
            out, self._pending = self._pending, []
        return out
