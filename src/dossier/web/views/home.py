"""The 工作台 (home page): what must be done, for the caller's scopes, today —
``ar.agenda`` (the same list as ``dossier agenda``), the 审批表 waiting for me in
their own card. Inspectors' home is the search."""

from __future__ import annotations

from starlette.routing import Route

from ..pages import Ctx, page

WITHIN = (7, 14, 30, 60)
APPROVAL_KINDS = ("approval_sign", "approval_meeting", "approval_returned")


@page
def home(ctx: Ctx):
    ar = ctx.ar
    if ar.user.role == "inspector":
        return ctx.redirect("/search")
    try:
        within = int(ctx.query("within", "14"))
    except ValueError:
        within = 14
    within = within if within in WITHIN else 14
    agenda = ar.agenda(within_days=within)
    lists = _lists(ctx, agenda, within)
    return ctx.render("home.html", title="工作台", lists=lists, within=within, choices=WITHIN)


def _lists(ctx: Ctx, agenda, within: int):
    """The two cards, rendered once per agenda memo entry (``agenda.memo_token``: the same
    dossier heads, date, window, campaigns, user and scopes) and kept in the web session
    (memory only, dropped with the keys at logout); any change in the user's scopes brings a
    new token, so the next 工作台 renders the new list."""
    ws, role = ctx.ws, ctx.role
    token = agenda.memo_token
    kept = ws.rendered.get((within, role)) if ws is not None and token is not None else None
    if kept is not None and kept[0] is token:
        return kept[1]
    approvals = [it for it in agenda if it["kind"] in APPROVAL_KINDS]
    items = [it for it in agenda if it["kind"] not in APPROVAL_KINDS]
    kinds: dict[str, int] = {}
    for it in items:
        label = it.get("kind_label") or it["kind"]
        kinds[label] = kinds.get(label, 0) + 1
    lists = ctx.app.state.templates.fragment(
        "_home_lists.html", role=role, items=items, approvals=approvals, within=within, kinds=kinds,
        overdue=sum(1 for it in items if it.get("overdue")))
    if ws is not None and token is not None:
        ws.rendered[(within, role)] = (token, lists)
    return lists

ROUTES = [Route("/", home, methods=["GET"])]
