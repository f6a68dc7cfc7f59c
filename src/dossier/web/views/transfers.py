"""Transfers between archives (issue 13), admins only: this archive's transfer key
and its fingerprints, the trusted offices, export (档号 + the other office's key
file → a bundle to download) and import (upload → what it holds → confirm).

The same library as ``dossier transfer …`` (:mod:`dossier.transfer`). Uploads
(the other office's key file, a bundle) are held in memory — in ``ws.jobs``
between the look and the confirm — and never written to disk; the bundle made
by an export is kept there for its download only. Every answer is no-store
(the security middleware)."""

from __future__ import annotations

import secrets

from starlette.routing import Route

from ...errors import DossierError, InvalidInput
from .. import jobs
from ..downloads import attachment
from ..pages import Ctx, page
from .admin import TABS

ADMIN = ("admin",)
DTB = "application/octet-stream"
KEY_TEXT = "text/plain; charset=utf-8"


def _upload(ctx: Ctx, name: str, what: str, limit: int | None = None) -> tuple[str, bytes]:
    f = ctx.form.get(name) if ctx.form is not None else None
    if f is None or isinstance(f, str) or not f.filename:
        raise InvalidInput(field=name, reason=f"请选择{what}")
    limit = limit or ctx.app.state.settings.max_upload
    data = f.file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(field=name, reason=f"文件超过 {ctx.app.state.settings.max_upload_mb:g} MB")
    if not data:
        raise InvalidInput(field=name, reason="文件是空的")
    return f.filename, data


def _hold(ctx: Ctx, kind: str, title: str, *, data: dict | None = None, files: dict | None = None) -> jobs.Job:
    jobs.drop(ctx, kind)
    job = jobs.Job(secrets.token_urlsafe(16), kind, title, status="done", data=dict(data or {}),
                   files=dict(files or {}))
    jobs._make_room(ctx.ws)
    ctx.ws.jobs[job.id] = job
    return job


def _scopes(ar) -> list[str]:
    return sorted(ar.scopes.path_of(s) for s in ar.scopes.covered() if ar.keyring.holds(s, "data"))


@page(roles=ADMIN)
def overview(ctx: Ctx):
    from ...transfer import keys as tkeys
    from ...transfer import transfers, trusted

    ar = ctx.ar
    error = ""
    if ctx.request.method == "POST":        # the root admin makes the keys; anyone adds a trusted office
        try:
            if ctx.field("action") == "trust":
                t = tkeys.trust_add(ar, ctx.field("fingerprint"), ctx.field("name").strip())
                return ctx.redirect("/transfers", f"已信任 {t['fingerprint']} {t['name']}")
            tkeys.ensure(ar)
            return ctx.redirect("/transfers", "已生成本库移交密钥")
        except DossierError as e:
            error = getattr(e, "reason", None) or e.message
    pk = tkeys.public_key(ar)
    root = ar.config.get("root_admin")
    return ctx.render("transfers.html", title="档案移交", tabs=TABS, pk=pk, trusted=trusted(ar), rows=transfers(ar),
                      root_admin=root, can_make=ar.user.name == root, error=error, status=400 if error else 200)


@page(roles=ADMIN)
def key_file(ctx: Ctx):
    from ...transfer import keys as tkeys

    pk = tkeys.public_key(ctx.ar) or tkeys.ensure(ctx.ar)
    return attachment(pk.to_text().encode("utf-8"), f"{pk.name}_接收公钥.txt", KEY_TEXT)


@page(roles=ADMIN, upload=True)
def export(ctx: Ctx):
    from ...transfer import export as do_export

    ar = ctx.ar
    pid = ctx.query("pid")        # from a person page: the opaque id, never a 档号, in the URL
    form = {"refs": ar.dossiers.resolve(pid).archive_no if pid else "", "reason": "执行地变更", "keep_copy": False}
    error, result = "", None
    if ctx.request.method == "POST":
        form = {"refs": ctx.field("refs"), "reason": ctx.field("reason").strip(),
                "keep_copy": ctx.field("keep_copy") == "1"}
        try:
            refs = [r.strip() for r in form["refs"].replace("，", "\n").replace(",", "\n").splitlines() if r.strip()]
            if not refs:
                raise InvalidInput(field="refs", reason="请填写要移交的档号（每行一个）")
            _, key = _upload(ctx, "key", "对方的接收公钥文件（.txt）", 64 * 1024)
            try:
                text = key.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(field="key", reason="接收公钥文件应为文本文件（由对方 dossier transfer key -o 生成）") from None
            res = do_export(ar, refs, text, reason=form["reason"], keep_copy=form["keep_copy"])
            data = res.pop("bundle")
            job = _hold(ctx, "transfer-export", "移交包", data={"result": res},
                        files={"bundle": (f"移交包_{res['to']['name']}_{res['bundle_id'][:8]}.dtb", DTB, data)})
            return ctx.redirect(f"/transfers/export/{job.id}", f"已生成移交包（{len(res['persons'])} 人）")
        except DossierError as e:
            error = getattr(e, "reason", None) or e.message
    return ctx.render("transfer_export.html", title="移交档案", tabs=TABS, form=form, error=error, result=result,
                      status=400 if error else 200)


@page(roles=ADMIN)
def export_done(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, "transfer-export")
    return ctx.render("transfer_export.html", title="移交档案", tabs=TABS, form=None, error="", result=j.data["result"],
                      job=j)


@page(roles=ADMIN)
def download(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, "transfer-export")
    name, mime, data = j.files["bundle"]
    ctx.ar.audit("export", kind="transfer_bundle", transfer=j.data["result"]["bundle_id"])
    return attachment(data, name, mime)


@page(roles=ADMIN, upload=True)
def import_(ctx: Ctx):
    """Upload a bundle: what it holds is shown (masked), nothing is written yet."""
    from ...transfer import show

    ar = ctx.ar
    error = ""
    if ctx.request.method == "POST":
        try:
            name, data = _upload(ctx, "bundle", "移交包文件（.dtb）")
            info = show(ar, data)
            job = _hold(ctx, "transfer-import", "移交包", data={"bundle": data, "name": name, "info": info})
            return ctx.redirect(f"/transfers/import/{job.id}")
        except DossierError as e:
            error = getattr(e, "reason", None) or e.message
    return ctx.render("transfer_import.html", title="接收移交", tabs=TABS, job=None, info=None, error=error, scopes=[],
                      result=None, status=400 if error else 200)


@page(roles=ADMIN)
def import_job(ctx: Ctx, job: str):
    """The look before the confirm (GET), and the confirm (POST: scope, fingerprint)."""
    from ...transfer import import_bundle

    j = jobs.get(ctx, job, "transfer-import")
    ar = ctx.ar
    error, result = "", j.data.get("result")
    scope, fp = ctx.field("scope"), ctx.field("fingerprint").strip()
    if ctx.request.method == "POST" and result is None:
        try:
            if not scope:
                raise InvalidInput(field="scope", reason="请选择接收到哪个辖区")
            result = import_bundle(ar, j.data["bundle"], scope, trust_fingerprint=fp or None,
                                   merge=ctx.field("merge") == "1")
            j.data["result"] = result
            j.data.pop("bundle", None)          # imported: the upload is dropped from memory
        except DossierError as e:
            error = getattr(e, "reason", None) or e.message
    return ctx.render("transfer_import.html", title="接收移交", tabs=TABS, job=j, info=j.data["info"], error=error,
                      scopes=_scopes(ar), scope=scope, fingerprint=fp, result=result, status=400 if error else 200)


ROUTES = [
    Route("/transfers", overview, methods=["GET", "POST"]),
    Route("/transfers/key", key_file, methods=["GET"]),
    Route("/transfers/export", export, methods=["GET", "POST"]),
    Route("/transfers/export/{job}", export_done, methods=["GET"]),
    Route("/transfers/export/{job}/bundle", download, methods=["GET"]),
    Route("/transfers/import", import_, methods=["GET", "POST"]),
    Route("/transfers/import/{job}", import_job, methods=["GET", "POST"]),
]
