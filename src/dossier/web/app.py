"""The Starlette application of ``dossier serve``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..api import read_config
from ..index.aside import IndexAside, wanted as index_aside_wanted
from ..reports.agenda import AgendaCache
from .render import STATIC, Templates
from .security import SecurityHeaders
from .sessions import SessionStore
from .settings import WebSettings
from .throttle import FailedLogins, LoginThrottle

# one module per group of pages, each with ROUTES
VIEWS = ("auth", "home", "persons", "entries", "search", "approvals", "roster", "documents", "reports",
         "disclosures", "admin", "transfers")

log = logging.getLogger("dossier.web")


def create_app(archive_path, *, settings: WebSettings | None = None, tls: bool = False,
               worker: int | None = None) -> Starlette:
    """The application; ``worker``: its number behind the front of ``serve --workers`` (web/front.py)."""
    path = Path(archive_path)
    cfg = read_config(path)            # NoArchive before anything listens
    _ensure_indexes(path, cfg)
    settings = settings or WebSettings.from_config(cfg)
    routes = []
    for name in VIEWS:
        try:
            mod = importlib.import_module(f"{__package__}.views.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.views.{name}":
                raise
            continue
        routes += mod.ROUTES
    paths = {r.path for r in routes}
    routes.append(Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(_sweeper(app))
        try:
            yield
        finally:
            task.cancel()
            app.state.sessions.end_all()      # a restart ends every session: keys only in memory
            app.state.agenda_cache.clear()
            if app.state.index_aside is not None:
                await asyncio.to_thread(app.state.index_aside.close)   # finishes its queue, then ends

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders, tls=tls)],
                    exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.path = path
    app.state.config = cfg
    app.state.archive_name = cfg.get("name", "")
    app.state.settings = settings
    app.state.tls = tls
    app.state.agenda_cache = AgendaCache()     # the 工作台's items per dossier version (reports/agenda.py)
    # the search-index writes after a save, in a helper process on another core (index/aside.py)
    app.state.index_aside = IndexAside() if index_aside_wanted() else None
    shared = {"agenda_cache": app.state.agenda_cache}
    if app.state.index_aside is not None:
        shared["index_aside"] = app.state.index_aside
    app.state.sessions = SessionStore(path, settings, shared=shared,
                                      sid_prefix="" if worker is None else f"{worker}.")
    app.state.throttle = LoginThrottle(settings.login_failures, settings.login_window_minutes * 60)
    app.state.failed_logins = FailedLogins()     # waiting to be written to the audit chain (see views.auth)
    app.state.templates = Templates(paths)
    app.state.jobs = {}
    return app


def _ensure_indexes(path: Path, cfg: dict) -> None:
    """The indexes the pages read on every request, added to an older archive once."""
    from ..store import meta

    con = meta.open_store(path, cfg)     # meta.db, or the PostgreSQL database archive.toml names
    try:
        meta.ensure_serving_indexes(con)
    except Exception as e:   # noqa: BLE001 - only speed depends on it: serve without
        log.warning("未能为档案库添加页面索引（%s），页面照常提供，只是较慢", type(e).__name__)
    finally:
        con.close()


async def _sweeper(app) -> None:
    while True:
        await asyncio.sleep(30)
        try:
            await asyncio.to_thread(app.state.sessions.sweep)
        except Exception:   # noqa: BLE001 - keep sweeping
            log.warning("会话清理出错", exc_info=False)


async def _not_found(request, exc):
    return HTMLResponse(_plain("未找到", "没有这个页面。<a href=\"/\">回到工作台</a>"), status_code=404)


async def _not_allowed(request, exc):
    return HTMLResponse(_plain("不支持的请求", "此页面不接受这种请求。"), status_code=405)


def _plain(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{title}</title>"
            f"<link rel=stylesheet href=/static/app.css><main class=narrow><h1>{title}</h1><p>{body}</p></main>")


def run(app: Starlette, *, host: str = "127.0.0.1", port: int = 8700, ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None, loaded=None, fd: int | None = None, behind_front: bool = False,
        trusted_proxies=()) -> None:
    """Serve ``app`` with uvicorn until interrupted (request lines logged without queries).

    ``loaded()`` runs once the TLS files have been read into memory, before serving:
    ``--tls-self-signed`` removes its key file there (uvicorn ends a SIGTERM by
    re-raising the signal, so a ``finally`` after this call would not run).
    ``fd``/``behind_front``: a worker of ``serve --workers`` on the Unix socket the
    front bound in its private directory; the client's address and scheme come
    from the front's ``X-Forwarded-*`` headers (trusted there only). ``trusted_proxies``:
    the addresses whose ``X-Forwarded-For`` names the client (a load balancer in front;
    by default uvicorn's: 127.0.0.1 only)."""
    import uvicorn

    from .logs import uvicorn_log_config

    where = dict(fd=fd, proxy_headers=True, forwarded_allow_ips="*", timeout_keep_alive=3600) if behind_front \
        else dict(host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                  **({"forwarded_allow_ips": ",".join(trusted_proxies)} if trusted_proxies else {}))
    config = uvicorn.Config(app, **where, log_level="info", access_log=True, server_header=False,
                            date_header=not behind_front, log_config=uvicorn_log_config())
    config.load()
    tune_collector()
    if loaded is not None:
        loaded()
    uvicorn.Server(config).run()


# the cyclic collector of the serving process (docs/decisions.md "The web face under load, part 5")
GC_THRESHOLDS = (50_000, 50, 100)


def tune_collector(spec: str | None = None) -> tuple[int, int, int] | None:
    """Set the serving process's garbage collector for a heap of long-lived objects.

    The server holds hundreds of MB of them (the shared agenda cache, the sessions'
    memos and decrypted indexes); with Python's thresholds (700, 10, 10) a 工作台 under
    load met ~1.3 collections, and every ~100 pages a full one scanned the whole heap
    for 40–170 ms with the GIL held — every request in flight stalled. Here: what is
    loaded at start (modules, templates: never garbage) is frozen out of the scans, and
    the young generation is collected every 50,000 allocations instead of 700, the
    older ones after 50 and 100 of the younger (a full collection still needs a quarter
    of the heap to be new, as Python requires). ``DOSSIER_SERVE_GC``: ``default`` keeps
    Python's settings; ``a,b,c`` other thresholds. Returns the thresholds set (None:
    unchanged)."""
    spec = os.environ.get("DOSSIER_SERVE_GC", "") if spec is None else spec
    spec = spec.strip()
    if spec == "default":
        return None
    thresholds = GC_THRESHOLDS
    if spec:
        try:
            a, b, c = (int(x) for x in spec.split(","))
        except ValueError:
            log.warning("DOSSIER_SERVE_GC=%r 无效（应为 default 或三个整数），使用默认值", spec)
        else:
            thresholds = (a, b, c)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return thresholds
