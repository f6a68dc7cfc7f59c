"""Approvals: the forms waiting for me, the 审批表 shown in the page, sign or return."""

from __future__ import annotations

import subprocess

from starlette.responses import Response
from starlette.routing import Route

from ...errors import InvalidInput, RefusedOperation
from ..pages import Ctx, page


@page(roles=("clerk", "approver", "admin"))
def approvals(ctx: Ctx):
    ar = ctx.ar
    rows = ar.approvals.pending()
    return ctx.render("approvals.html", title="审批", rows=rows)


@page(roles=("clerk", "approver", "admin"))
def approval(ctx: Ctx, pid: str):
    ar = ctx.ar
    status = ar.approvals.status(pid)
    row = ar.dossiers._readable(pid, "查看审批表")
    _, content = ar.dossiers.load(row)
    name = content["state"]["profile"].get("name", "")
    error, opinion = "", ""
    u = ar.user
    if ctx.request.method == "POST":
        opinion = ctx.field("opinion").strip()
        action = ctx.field("action")
        try:
            if action == "submit":
                ar.approvals.submit(pid, level=ctx.field("level"), reason=ctx.field("reason"), opinion=opinion or None)
                return ctx.redirect(f"/approvals/{pid}", "已提交社区初评并签名")
            step = u.step if u.role == "approver" else status.get("next")
            ar.approvals.sign(pid, step=step, opinion=opinion, return_=action == "return")
            return ctx.redirect("/approvals", "已退回" if action == "return" else f"已签批（{step}）")
        except (InvalidInput, RefusedOperation) as e:
            error = e.reason if isinstance(e, InvalidInput) and e.reason else e.message
    pages = 0
    if status.get("approval"):
        pages = _page_count(ar, pid)
    may_sign = u.role == "approver" and status.get("next") == u.step
    return ctx.render("approval.html", title="审批表", st=status, pid=pid, row=row, name=name, error=error,
                      opinion=opinion, pages=pages, may_sign=may_sign,
                      may_submit=u.role in ("clerk", "admin") and status.get("next") in (None, "社区初评"),
                      status=400 if error else 200)


def _pdf(ar, pid: str) -> bytes:
    return ar.approvals.export(pid)


def _page_count(ar, pid: str) -> int:
    from ...forms.bind import page_count

    try:
        return page_count(ar.approvals.export(pid))
    except Exception:   # noqa: BLE001
        return 0


@page(roles=("clerk", "approver", "admin"))
def approval_pdf(ctx: Ctx, pid: str):
    data = _pdf(ctx.ar, pid)
    return Response(data, media_type="application/pdf",
                    headers={"content-disposition": "attachment; filename*=UTF-8''%E5%AE%A1%E6%89%B9%E8%A1%A8.pdf"})


@page(roles=("clerk", "approver", "admin"))
def approval_page_png(ctx: Ctx, pid: str, n: str):
    """One page of the 审批表 as an image (pdftoppm through pipes: no file on disk)."""
    data = _pdf(ctx.ar, pid)
    try:
        k = max(1, int(n))
    except ValueError:
        k = 1
    try:
        png = subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(k), "-l", str(k), "-singlefile", "-"],
                             input=data, capture_output=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return Response("无法显示审批表页面（缺少 poppler-utils）", status_code=503)
    return Response(png, media_type="image/png")


ROUTES = [
    Route("/approvals", approvals, methods=["GET"]),
    Route("/approvals/{pid}", approval, methods=["GET", "POST"]),
    Route("/approvals/{pid}/form.pdf", approval_pdf, methods=["GET"]),
    Route("/approvals/{pid}/page/{n}.png", approval_page_png, methods=["GET"]),
]
