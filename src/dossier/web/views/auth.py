"""Login, logout and the password change."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from starlette.responses import RedirectResponse
from starlette.routing import Route

from ...errors import InvalidInput, WrongPassword
from ..pages import COOKIE, Ctx, page

LOGIN_FAILED = "用户名或口令错误"


def _client(ctx: Ctx) -> str:
    return ctx.request.client.host if ctx.request.client else "?"


async def login_page(request):
    """GET /login: the form, with a double-submit token for the CSRF check."""
    app = request.app
    if app.state.sessions.get(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse("/", status_code=303)
    token = request.cookies.get("dossier_pre") or secrets.token_urlsafe(32)
    request.state.pre_csrf = token
    ctx = Ctx(request, app)
    resp = ctx.render("login.html", title="登录")
    _set_cookie(resp, "dossier_pre", token, app.state.tls, max_age=3600)
    return resp


@page(login=False)
def login_submit(ctx: Ctx):
    app, req = ctx.app, ctx.request
    req.state.pre_csrf = req.cookies.get("dossier_pre", "")
    user = ctx.field("user").strip()
    password = ctx.field("password")
    client = _client(ctx)
    keys = (f"u:{user}", f"ip:{client}")
    wait = app.state.throttle.blocked_for(*keys)
    if wait:
        _note_failure(ctx, user, client, "throttled")
        return ctx.render("login.html", status=429, title="登录", user_value=user,
                          error=f"登录失败次数过多，请 {int(wait // 60) + 1} 分钟后再试")
    if not user or not password:
        return ctx.render("login.html", status=400, title="登录", user_value=user, error="请输入用户名和口令")
    try:
        ws = app.state.sessions.login(user, password)
    except WrongPassword:
        app.state.throttle.failed(*keys)
        _note_failure(ctx, user, client, "wrong")
        return ctx.render("login.html", status=401, title="登录", user_value=user, error=LOGIN_FAILED)
    app.state.throttle.succeeded(keys[0])
    with ws.lock:
        ar = ws.library(app.state.path)
        ar.audit("login", client=client, via="web")
        _flush_failures(app, ar)
    resp = RedirectResponse("/", status_code=303)
    # the KDF's own time (the user's own login: nothing the browser could not time itself),
    # so "login = the KDF + …" is measured against this KDF, not another run of it
    resp.headers["Server-Timing"] = f"kdf;dur={ws.kdf_s * 1000:.1f}"
    _set_cookie(resp, COOKIE, ws.sid, app.state.tls)
    resp.delete_cookie("dossier_pre", path="/")
    return resp


def _note_failure(ctx: Ctx, user: str, client: str, why: str) -> None:
    """Failed logins have no key to sign with: they wait in memory and are written to
    the audit chain by the next successful login on this server — in any of its
    workers under ``serve --workers`` (the front keeps them; docs/decisions.md)."""
    ctx.app.state.failed_logins.note({"user": user[:64], "client": client, "why": why,
                                      "at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")})


def _flush_failures(app, ar) -> None:
    for f in app.state.failed_logins.take():
        ar.audit("login.failed", observed_by="server", **f)


@page
def logout(ctx: Ctx):
    ctx.app.state.sessions.end(ctx.ws, "logout")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@page
def password_page(ctx: Ctx):
    if ctx.request.method == "GET":
        return ctx.render("password.html", title="修改口令")
    old, new, again = ctx.field("old"), ctx.field("new"), ctx.field("again")
    error = None
    if new != again:
        error = "两次输入的新口令不一致"
    else:
        try:
            from ... import api

            api.unlock(ctx.app.state.path, user=ctx.ws.user, password=old)   # the old one, once more
            ctx.ar.users.passwd(new)
        except WrongPassword:
            error = "原口令不正确"
        except InvalidInput as e:
            error = e.reason or e.message
    if error:
        return ctx.render("password.html", status=400, title="修改口令", error=error)
    return ctx.redirect("/", "口令已修改；下次登录请用新口令")


def _set_cookie(resp, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    resp.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/", max_age=max_age)


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/password", password_page, methods=["GET", "POST"]),
]
