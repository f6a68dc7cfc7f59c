"""Roster import: upload → preview (``import --dry-run``) → confirm (the import,
all or nothing, or ``--skip-invalid``); the annotated and the rejected-rows
workbooks and the sheet templates to download.

The same library call as ``dossier import`` (:func:`dossier.io.importer.import_file`),
on the upload held in memory (:class:`dossier.io.grid.MemoryFile`): the file is
never written to disk, nor are the workbooks made of it. Both the preview and
the import run as background jobs (``web/jobs.py``) with progress polled by htmx.
"""

from __future__ import annotations

from starlette.routing import Route

from ...errors import InvalidInput
from .. import jobs
from ..downloads import XLSX, attachment
from ..pages import Ctx, page

ROSTER_SUFFIXES = (".xlsx", ".xls", ".csv")
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_PROBLEMS_SHOWN = 2000
ROLES = ("admin", "clerk")


def import_scopes(ar) -> list[str]:
    """Scopes the user may register persons in (a 街道 too: the 社区（村） column picks the 社区)."""
    out = [ar.scopes.path_of(s) for s in ar.scopes.covered() if ar.keyring.holds(s, "data")]
    return sorted(out)


def check_upload(filename: str, data: bytes) -> None:
    """By name and by content: an .xlsx/.xls workbook or a CSV text, nothing else."""
    name = (filename or "").lower()
    if not name.endswith(ROSTER_SUFFIXES):
        raise InvalidInput(field="file", reason="只接受 Excel 工作簿（.xlsx、.xls）或 CSV 文件")
    if not data:
        raise InvalidInput(field="file", reason="文件是空的")
    if data.startswith(b"PK\x03\x04") or data.startswith(OLE):
        return
    head = data[:65536]
    if b"\x00" in head:
        raise InvalidInput(field="file", reason="文件内容不是 Excel 工作簿，也不是 CSV 文本（请在 Excel/WPS 中另存为 .xlsx）")
    from ...io.reader import decode_text

    try:
        decode_text(data)
    except InvalidInput as e:
        raise InvalidInput(field="file", reason=e.message) from None


def summarize(res) -> dict:
    """What the preview and result pages show of an ImportResult (no row data kept)."""
    c = res.counts()
    problems = [p.to_dict() for p in sorted(res.problems, key=lambda p: (p.level != "error", p.sheet, p.row, p.cell))]
    return {"ok": res.ok, "applied": res.applied, "dry_run": res.dry_run, "summary": res.summary(), "counts": c,
            "errors": len(res.errors), "warnings": len(res.problems) - len(res.errors),
            "problems": problems[:MAX_PROBLEMS_SHOWN], "problems_total": len(problems),
            "notes": list(res.validation.notes),
            "sheets": [{"sheet": t.name, "kind": t.schema.kind, "header_row": t.header_row,
                        "columns": [c.header for c in t.columns if c.target]} for t in res.validation.tables],
            "valid_rows": len(res.planned)}


def _files(job, res, stem: str) -> None:
    if res.report_data:
        job.files["report"] = (f"{stem}_错误标注.xlsx", XLSX, res.report_data)
    if res.rejected_data:
        job.files["rejected"] = (f"{stem}_未导入.xlsx", XLSX, res.rejected_data)


@page(roles=ROLES, upload=True)
def upload(ctx: Ctx):
    from ...model.entries import ENTRY_TYPES

    ar = ctx.ar
    scopes = import_scopes(ar)
    error, scope = "", ctx.query("scope") or (scopes[0] if len(scopes) == 1 else "")
    if ctx.request.method == "POST":
        scope = ctx.field("scope")
        f = ctx.form.get("file")
        try:
            if f is None or isinstance(f, str) or not f.filename:
                raise InvalidInput(field="file", reason="请选择名册文件（.xlsx、.xls 或 .csv）")
            limit = ctx.app.state.settings.max_upload
            data = f.file.read(limit + 1)
            if len(data) > limit:
                raise InvalidInput(field="file", reason=f"文件超过 {ctx.app.state.settings.max_upload_mb:g} MB")
            check_upload(f.filename, data)
            if scope and scope not in scopes:
                raise InvalidInput(field="scope", reason="请从列表中选择登记辖区")
            job = start_preview(ctx, f.filename, data, scope)
            return ctx.redirect(f"/import/{job.id}")
        except InvalidInput as e:
            error = e.reason or e.message
    types = [(name, t.label) for name, t in ENTRY_TYPES.items()]
    return ctx.render("import.html", title="名册导入", scopes=scopes, scope=scope, error=error, types=types,
                      status=400 if error else 200)


INLINE_BYTES = 256 * 1024     # a roster this small is checked and imported within the request


def start_preview(ctx: Ctx, filename: str, data: bytes, scope: str):
    """The dry run of the upload (held in memory by the job: the confirm imports the same bytes)."""
    from ...io.grid import MemoryFile

    jobs.drop(ctx, "import")            # one upload at a time per session: the last one is forgotten
    mf = MemoryFile(filename, data)

    def work(ar, job):
        from ...io.importer import import_file

        res = import_file(ar, mf, scope=scope or None, dry_run=True, progress=job.progress)
        _files(job, res, mf.stem)
        return summarize(res)

    return jobs.start(ctx, "import-preview", "校验名册", work,
                      data={"file": mf, "scope": scope, "name": filename}, inline=len(data) <= INLINE_BYTES)


@page(roles=ROLES)
def job_page(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, ("import-preview", "import"))
    origin = j if j.kind == "import-preview" else ctx.ws.jobs.get(j.data.get("from", ""))
    return ctx.render("import_job.html", title="名册导入", job=j, r=j.result, name=j.data.get("name", ""),
                      scope=j.data.get("scope", ""), held=origin is not None and "file" in origin.data,
                      url=f"/import/{j.id}/status")


@page(roles=ROLES)
def job_status(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, ("import-preview", "import"))
    return status_fragment(ctx, j, f"/import/{j.id}/status")


def status_fragment(ctx: Ctx, j, url: str):
    """The polled fragment: progress while running; a reload of the page once finished."""
    resp = ctx.partial("_job.html", job=j, url=url)
    if not j.running and ctx.request.headers.get("hx-request"):
        resp.headers["HX-Refresh"] = "true"
    return resp


@page(roles=ROLES)
def confirm(ctx: Ctx, job: str):
    prev = jobs.get(ctx, job, "import-preview")
    if prev.running:
        return ctx.redirect(f"/import/{prev.id}", "仍在校验，请稍候", "warn")
    mf = prev.data.get("file")
    if mf is None:
        return ctx.redirect("/import", "该文件已导入或已过期，请重新上传", "warn")
    skip = ctx.field("skip_invalid") == "1"
    scope = prev.data.get("scope", "")

    def work(ar, job):
        from ...io.importer import import_file

        res = import_file(ar, mf, scope=scope or None, skip_invalid=skip, progress=job.progress)
        _files(job, res, mf.stem)
        if res.applied:
            prev.data.pop("file", None)     # imported: the upload leaves memory
        return {**summarize(res), "skip_invalid": skip}

    j = jobs.start(ctx, "import", "导入名册", work,
                   data={"name": prev.data.get("name", ""), "scope": scope, "from": prev.id},
                   inline=len(mf.data) <= INLINE_BYTES)
    return ctx.redirect(f"/import/{j.id}")


@page(roles=ROLES)
def discard(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, ("import-preview", "import"))
    origin = ctx.ws.jobs.get(j.data.get("from", ""))
    for x in (j, origin):
        if x is not None and not x.running:
            ctx.ws.jobs.pop(x.id, None)
    return ctx.redirect("/import", "已放弃本次导入，上传的文件已从内存中清除")


@page(roles=ROLES)
def download(ctx: Ctx, job: str, key: str):
    j = jobs.get(ctx, job, ("import-preview", "import"))
    if j.running or key not in j.files:
        raise InvalidInput("没有这个文件（任务尚未完成，或本次导入没有生成该工作簿）")
    name, mime, data = j.files[key]
    ctx.ar.audit("export", kind="import_" + key, file=j.data.get("name", ""))
    return attachment(data, name, mime)


@page(roles=ROLES)
def template(ctx: Ctx):
    """``dossier sheet template <types>`` as a download (no personal data)."""
    import io

    from ...io.templates import resolve_types, write_template
    from ...model.entries import ENTRY_TYPES

    types = [t for t in ctx.request.query_params.getlist("type") if t]
    if not types:
        raise InvalidInput(field="type", reason="请至少选择一类登记表")
    names = resolve_types(types)
    buf = write_template(names, io.BytesIO())
    label = "外勤" if len(names) > 2 else "、".join(ENTRY_TYPES[n].label.replace("/", "、") for n in names)
    return attachment(buf.getvalue(), f"{label}登记表模板.xlsx", XLSX)


ROUTES = [
    Route("/import", upload, methods=["GET", "POST"]),
    Route("/import/template", template, methods=["GET"]),
    Route("/import/{job}", job_page, methods=["GET"]),
    Route("/import/{job}/status", job_status, methods=["GET"]),
    Route("/import/{job}/confirm", confirm, methods=["POST"]),
    Route("/import/{job}/discard", discard, methods=["POST"]),
    Route("/import/{job}/files/{key}", download, methods=["GET"]),
]
