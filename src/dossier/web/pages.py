"""The glue between Starlette and the library: one decorator that every page uses.

``@page(...)`` resolves the session from the cookie (no session: to /login),
checks the CSRF token of a POST (403, nothing done), reads the form with the
upload limits, runs the page function in a worker thread holding the web
session's lock with its open library session, and turns library errors into
pages (a refusal is a 403 page, an unknown 档号 a 404, never a traceback).
"""

from __future__ import annotations

import functools
import os
import logging
import secrets
from dataclasses import dataclass, field
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import DossierError, InvalidInput, NotFound, PermissionDenied, WrongPassword
from .security import same_token

log = logging.getLogger("dossier.web")
DEBUG = os.environ.get("DOSSIER_WEB_DEBUG", "") not in ("", "0")
COOKIE = "dossier_session"


@dataclass
class Ctx:
    """What a page function gets: the request, its web session, the open library
    session (``ar``), the submitted form (a POST) and the application."""

    request: Request
    app: object
    ws: object | None = None
    ar: object | None = None
    form: FormData | None = None
    extra_headers: dict = field(default_factory=dict)

    # -- reading the form ---------------------------------------------------------
    def field(self, name: str, default: str = "") -> str:
        v = self.form.get(name) if self.form is not None else None
        return v if isinstance(v, str) else default

    def fields(self, name: str) -> list[str]:
        return [v for v in (self.form.getlist(name) if self.form is not None else []) if isinstance(v, str)]

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    # -- answering ------------------------------------------------------------------
    def render(self, template: str, /, status: int = 200, **context) -> HTMLResponse:
        html = self.app.state.templates.render(template, ctx=self, **context)
        return HTMLResponse(html, status_code=status, headers=self.extra_headers)

    def partial(self, template: str, **context) -> HTMLResponse:
        return self.render(template, **context)

    def redirect(self, url: str, flash: str | None = None, kind: str = "ok") -> Response:
        if flash:
            self.flash(flash, kind)
        if self.request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    def flash(self, message: str, kind: str = "ok") -> None:
        if self.ws is not None:
            self.ws.flashes.append((kind, message))

    def take_flashes(self) -> list[tuple[str, str]]:
        if self.ws is None:
            return []
        out, self.ws.flashes[:] = list(self.ws.flashes), []
        return out

    @property
    def csrf(self) -> str:
        return self.ws.csrf if self.ws is not None else self.request.state.pre_csrf

    @property
    def user(self):
        return self.ar.user if self.ar is not None else None

    @property
    def role(self) -> str:
        return self.ws.role if self.ws is not None else ""


def page(fn: Callable | None = None, *, login: bool = True, roles: tuple[str, ...] = (),
         upload: bool = False):
    """Make ``fn(ctx, **path_params)`` a Starlette endpoint (see module doc)."""
    if fn is None:
        return functools.partial(page, login=login, roles=roles, upload=upload)

    @functools.wraps(fn)
    async def endpoint(request: Request):
        app = request.app
        ws = app.state.sessions.get(request.cookies.get(COOKIE))
        if login and ws is None:
            if request.method != "GET":
                return HTMLResponse("会话已结束，请重新登录。", status_code=401)
            return RedirectResponse("/login", status_code=303)
        if roles and ws is not None and ws.role not in roles:
            ctx = Ctx(request, app, ws)
            return await _guarded(ctx, lambda c: _refused(c, "您的角色不能打开此页面"))
        form = None
        if request.method == "POST":
            if upload and not await _bounded_body(request, app.state.settings.max_upload):
                return HTMLResponse(TOO_LARGE.format(mb=app.state.settings.max_upload_mb), status_code=413)
            try:
                form = await request.form(max_files=10 if upload else 0, max_fields=2000,
                                          max_part_size=app.state.settings.max_upload if upload else 1024 * 1024)
            except Exception:   # noqa: BLE001 - a malformed or oversized body
                return HTMLResponse("提交的内容过大或格式不正确。", status_code=413)
            expected = ws.csrf if ws is not None else request.cookies.get("dossier_pre")
            sent = form.get("csrf") or request.headers.get("x-csrf-token")
            if not same_token(expected, sent):
                await form.close()
                return HTMLResponse("请求缺少有效的安全令牌（CSRF），未执行任何操作。请返回后刷新页面再试。",
                                    status_code=403)
        ctx = Ctx(request, app, ws, form=form)
        try:
            return await _guarded(ctx, lambda c: fn(c, **request.path_params))
        finally:
            if form is not None:
                await form.close()

    endpoint.page_fn = fn
    return endpoint


TOO_LARGE = ("<!doctype html><html lang=zh-CN><meta charset=utf-8><title>文件过大</title>"
             "<link rel=stylesheet href=/static/app.css><main class=narrow><h1>文件过大</h1>"
             "<p>上传的内容超过 {mb:g} MB，未接收、未保存任何内容。请拆分文件，或请管理员调整 archive.toml 的 "
             "[web] max_upload_mb。</p><p><a href=\"/\">回到工作台</a></p></main>")


async def _bounded_body(request: Request, limit: int) -> bool:
    """Read an upload's body into memory, at most ``limit`` bytes of file plus the form's
    overhead (False beyond it: nothing is parsed). Held in memory, the multipart parser's
    spooled files never roll over to a temporary file on disk."""
    from starlette.formparsers import MultiPartParser

    cap = limit + 256 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return False
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > cap:
            return False
        chunks.append(chunk)
    request._body = b"".join(chunks)          # Request.form() parses this instead of the stream
    if MultiPartParser.spool_max_size < cap:   # a part never spills to TMPDIR (the body is bounded)
        MultiPartParser.spool_max_size = cap
    return True


async def _guarded(ctx: Ctx, call) -> Response:
    return await run_in_threadpool(_run, ctx, call)


def _run(ctx: Ctx, call) -> Response:
    ws = ctx.ws
    try:
        if ws is None:
            return call(ctx)
        with ws.lock:
            try:
                ctx.ar = ws.library(ctx.app.state.path)
            except WrongPassword:
                ctx.app.state.sessions.end(ws, "revoked")
                return RedirectResponse("/login", status_code=303)
            return call(ctx)
    except DossierError as e:
        return error_page(ctx, e)
    except Exception as e:   # noqa: BLE001 - never a traceback to the browser, nor values in the log
        ref = secrets.token_hex(4)
        log.error("页面出错 %s %s：%s（编号 %s）", ctx.request.method, ctx.request.url.path, type(e).__name__, ref,
                  exc_info=DEBUG)   # a traceback can hold values: only when a developer asks
        return ctx.render("error.html", status=500, title="出错了",
                          message=f"服务器处理请求时出错（编号 {ref}）。请稍后再试，或把编号告诉管理员。")


def _refused(ctx: Ctx, message: str) -> Response:
    return ctx.render("error.html", status=403, title="无权访问", message=message)


def error_page(ctx: Ctx, e: DossierError) -> Response:
    if isinstance(e, PermissionDenied):
        status, title = 403, "无权访问"
    elif isinstance(e, NotFound):
        status, title = 404, "未找到"
    elif isinstance(e, InvalidInput):
        status, title = 400, "输入有误"
    else:
        status, title = 409 if int(e.exit_code) < 20 else 500, "未能完成"
    return ctx.render("error.html", status=status, title=title, message=e.message)
