"""The 工作台 (home page): what must be done, for the caller's scopes, today."""

from __future__ import annotations

from starlette.routing import Route

from ...errors import InvalidInput
from ..pages import Ctx, page

WITHIN = (7, 14, 30, 60)


@page
def home(ctx: Ctx):
    ar = ctx.ar
    role = ar.user.role
    if role == "inspector":
        return ctx.redirect("/search")
    try:
        within = int(ctx.query("within", "14"))
    except ValueError:
        within = 14
    within = within if within in WITHIN else 14
    items = _agenda(ar, within) if role in ("clerk", "admin", "approver") else []
    pending = []
    if role in ("approver", "clerk") and hasattr(ar, "approvals"):
        pending = ar.approvals.pending()
    kinds: dict[str, int] = {}
    for it in items:
        kinds[it.get("kind_label") or it["kind"]] = kinds.get(it.get("kind_label") or it["kind"], 0) + 1
    return ctx.render("home.html", title="工作台", items=items, pending=pending, within=within,
                      choices=WITHIN, kinds=kinds)


def _agenda(ar, within: int) -> list[dict]:
    fn = getattr(ar, "agenda", None)
    if fn is None:
        return []
    try:
        return fn(within_days=within)
    except InvalidInput:
        return []


ROUTES = [Route("/", home, methods=["GET"])]
