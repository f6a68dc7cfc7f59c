"""What the report, inspection and admin pages keep between two requests: a computed
result (so its charts and its downloads come from the very numbers on the page,
without decrypting the archive again) and background jobs (``check``).

Held in this process's memory only (``app.state.jobs``), under a random token,
for the web session that made it: another user — or the same user after logging
out — gets "not found". Entries expire with the idle timeout, and a few per
session are kept at most.
"""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import quote

from starlette.responses import Response

from ..errors import NotFound

PER_SESSION = 8
_lock = threading.Lock()


def _store(ctx) -> dict:
    return ctx.app.state.jobs


def _purge(ctx, store: dict) -> None:
    live = {ws.sid for ws in list(ctx.app.state.sessions._by_id.values())}
    ttl = ctx.app.state.settings.idle_s
    now = time.monotonic()
    for k, v in list(store.items()):
        if v["sid"] not in live or (not v.get("running") and now - v["at"] > ttl):
            store.pop(k, None)


def keep(ctx, kind: str, data, **extra) -> str:
    """Keep ``data`` for this web session; returns its token."""
    token = secrets.token_urlsafe(16)
    with _lock:
        store = _store(ctx)
        _purge(ctx, store)
        mine = sorted((v["at"], k) for k, v in store.items() if v["sid"] == ctx.ws.sid and not v.get("running"))
        for _, k in mine[:max(0, len(mine) - PER_SESSION + 1)]:
            store.pop(k, None)
        store[token] = {"sid": ctx.ws.sid, "user": ctx.ws.user, "kind": kind, "data": data,
                        "at": time.monotonic(), **extra}
    return token


def get(ctx, kind: str, token: str) -> dict:
    """The entry kept under ``token`` by this web session (else NotFound)."""
    with _lock:
        v = _store(ctx).get(token)
    if v is None or v["sid"] != ctx.ws.sid or v["kind"] != kind:
        raise NotFound("结果已过期或不属于当前会话，请重新运行。")
    return v


def attachment(data: bytes, filename: str, media_type: str) -> Response:
    """A download (``Content-Disposition: attachment``; no-store comes with every response)."""
    return Response(data, media_type=media_type,
                    headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def png(data: bytes) -> Response:
    return Response(data, media_type="image/png")
