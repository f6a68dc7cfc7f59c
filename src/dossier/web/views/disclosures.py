"""Disclosures (披露, DOMAIN §7) as pages: the list, a request (persons by 档号,
purpose, fields, until), grant and revoke, and the export of the package.

The same library as ``dossier disclose`` (``Disclosures``): who may grant, revoke
or export is decided there, by keys; the export is the watermarked, leak-checked
PDF the CLI writes, sent as an attachment (the library audits it). Every action
is a POST; the URL carries only the request's number.
"""

from __future__ import annotations

import re

from starlette.routing import Route

from ...errors import DisclosureRefused, InvalidInput, NotFound, PermissionDenied
from .. import results
from ..pages import Ctx, page

ROLES = ("admin", "clerk", "inspector", "approver")


def _d(ar):
    from ...approve.hooks import ensure_attached

    return ensure_attached(ar).disclosures


def _refs(text: str) -> list[str]:
    return [r for r in re.split(r"[\s,，、;；]+", text or "") if r]


def _labels() -> dict:
    from ...disclose.packages import FIELD_LABELS

    return FIELD_LABELS


@page(roles=ROLES)
def disclosures(ctx: Ctx):
    ar = ctx.ar
    d = _d(ar)
    form = {"refs": "", "purpose": "", "fields": ["name", "id_number"], "until": ""}
    errors: dict[str, str] = {}
    if ctx.request.method == "POST":
        form = {"refs": ctx.field("refs"), "purpose": ctx.field("purpose").strip(), "fields": ctx.fields("fields"),
                "until": ctx.field("until").strip()}
        try:
            refs = _refs(form["refs"])
            if not refs:
                raise InvalidInput(field="refs", reason="请至少填写一个档号")
            out = d.request(refs, purpose=form["purpose"], fields=form["fields"], until=form["until"] or None)
            return ctx.redirect("/disclosures", f"已提交披露申请 {out['id']}（{out['persons']} 人），等待授权")
        except InvalidInput as e:
            errors[e.field if e.field in form else "refs"] = e.reason or e.message
        except (DisclosureRefused, NotFound, PermissionDenied) as e:
            errors["refs"] = e.message
    rows = list(reversed(d.list()))
    me, role = ar.user.name, ar.user.role
    for r in rows:
        r["may_decide"] = role in ("admin", "clerk") and r["status"] == "待授权"
        r["may_revoke"] = r["status"] != "已撤销" and (role in ("admin", "clerk") or r["requester"] == me)
        r["may_export"] = r["requester"] == me and r["status"] == "已授权"
    return ctx.render("disclosures.html", title="披露", rows=rows, form=form, errors=errors, labels=_labels(),
                      may_request=True, status=400 if errors else 200)


@page(roles=ROLES)
def grant(ctx: Ctx, did: str):
    try:
        out = _d(ctx.ar).grant(did)
    except DisclosureRefused as e:
        return ctx.redirect("/disclosures", f"未授权：{e.message}", "error")
    return ctx.redirect("/disclosures", f"已授权 {out['id']}，申请人 {out['requester']} 现在可以导出")


@page(roles=ROLES)
def revoke(ctx: Ctx, did: str):
    try:
        _d(ctx.ar).revoke(did)
    except DisclosureRefused as e:
        return ctx.redirect("/disclosures", f"未撤销：{e.message}", "error")
    return ctx.redirect("/disclosures", f"已撤销 {did}，之后不能再导出", "warn")


@page(roles=ROLES)
def export(ctx: Ctx, did: str):
    """The package (POST: an optional PDF password travels in the body, never in a URL)."""
    try:
        pdf = _d(ctx.ar).export(did, password=ctx.field("pdf_password") or None)
    except DisclosureRefused as e:
        return ctx.redirect("/disclosures", f"未导出：{e.message}", "error")
    return results.attachment(pdf, f"披露材料-{did}.pdf", results.PDF)


ROUTES = [
    Route("/disclosures", disclosures, methods=["GET", "POST"]),
    Route("/disclosures/{did}/grant", grant, methods=["POST"]),
    Route("/disclosures/{did}/revoke", revoke, methods=["POST"]),
    Route("/disclosures/{did}/export", export, methods=["POST"]),
]
