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
    agenda = list(ar.agenda(within_days=within))
    approvals = [it for it in agenda if it["kind"] in APPROVAL_KINDS]
    items = [it for it in agenda if it["kind"] not in APPROVAL_KINDS]
    kinds: dict[str, int] = {}
    for it in items:
        label = it.get("kind_label") or it["kind"]
        kinds[label] = kinds.get(label, 0) + 1
    return ctx.render("home.html", title="工作台", items=items, approvals=approvals, within=within,
                      choices=WITHIN, kinds=kinds, overdue=sum(1 for it in items if it.get("overdue")))


ROUTES = [Route("/", home, methods=["GET"])]
