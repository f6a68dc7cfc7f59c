"""Search (POST only: a query never goes into a URL, a log or the browser history)."""

from __future__ import annotations

from starlette.routing import Route

from ...errors import InvalidInput
from ..pages import Ctx, page


@page
def search(ctx: Ctx):
    ar = ctx.ar
    q, out, error = "", None, ""
    if ctx.request.method == "POST":
        q = ctx.field("q").strip()
        if not q:
            error = "请输入要查找的内容"
        else:
            try:
                out = ar.search.search(q, limit=50)
            except InvalidInput as e:
                error = e.reason or e.message
    masked = ar.user.role == "inspector"
    # an inspector's page never shows an unmasked value, not even the one just typed
    return ctx.render("search.html", title="检索", q="" if masked else q, asked=bool(q), out=out, error=error, masked=masked,
                      can_open=ar.user.role in ("admin", "clerk", "approver"))


ROUTES = [Route("/search", search, methods=["GET", "POST"])]
