"""Forms (文书) and 会商 meetings: fill and download, bind the 一人一档 PDF, record a meeting.

The same library calls as the CLI: ``ar.forms.list()`` (``form list``),
``ar.forms.fill`` (``form fill``: person, list/statistics and meeting forms,
kept in the dossier as the CLI keeps them, audited there), ``ar.forms.bind``
(``bind``, a background job: LibreOffice takes a while) and
``ar.meetings.add/list`` (``meeting add/list``). URLs carry dossier and
meeting ids only; anything with personal values is a POST. Downloads are
attachments (``web/downloads.py``), never kept by the browser (no-store).
"""

from __future__ import annotations

import re

from starlette.routing import Route

from ...errors import InvalidInput
from .. import jobs
from ..downloads import MIME, PDF, attachment
from ..pages import Ctx, page
from .roster import import_scopes, status_fragment

ROLES = ("admin", "clerk")
KIND_LABELS = {"person": "个人文书", "list": "清单", "statistics": "统计表", "meeting": "会议文书"}
BIND_PARTS = ("cover", "file-index", "remarks")      # 装订 makes these itself
LEVELS = ("高", "中", "低")
MEETING_ROWS = 3


def _pdf_available() -> bool:
    from ...forms.pdf import find_soffice

    return find_soffice() is not None


def _forms(ar, kind: str | tuple[str, ...]):
    kinds = (kind,) if isinstance(kind, str) else kind
    return [s for s in ar.forms.list() if s.kind in kinds]


def _fmt(ctx: Ctx, allowed: tuple[str, ...]) -> str:
    fmt = ctx.field("fmt") or allowed[0]
    if fmt not in allowed:
        raise InvalidInput(field="fmt", reason="不支持的格式：" + fmt)
    if fmt == "pdf" and not _pdf_available():
        raise InvalidInput(field="fmt", reason="本机未安装 LibreOffice，不能生成 PDF；请选择 docx")
    return fmt


def _persons(ar) -> list[dict]:
    return sorted(ar.persons.list(), key=lambda p: (p["scope"], p["archive_no"]))


# ------------------------------------------------------------------ the list of forms

@page(roles=ROLES)
def forms_home(ctx: Ctx):
    ar = ctx.ar
    specs = ar.forms.list()
    return ctx.render("forms.html", title="文书", specs=specs, kind_labels=KIND_LABELS,
                      person_forms=[s for s in specs if s.kind == "person"],
                      list_forms=[s for s in specs if s.kind in ("list", "statistics")],
                      meeting_forms=[s for s in specs if s.kind == "meeting"],
                      persons=_persons(ar), scopes=import_scopes(ar) or [], pdf=_pdf_available())


@page(roles=ROLES)
def pick_person(ctx: Ctx):
    pid = ctx.query("pid")
    if not re.fullmatch(r"[0-9a-fA-F-]{8,64}", pid or ""):
        return ctx.redirect("/forms", "请选择人员", "warn")
    return ctx.redirect(f"/forms/person/{pid}")


# ------------------------------------------------------------------ person forms and binding

def _person(ar, pid: str):
    row = ar.dossiers._readable(pid, "填写文书")
    _, content = ar.dossiers.load(row)
    return row, content["state"]["profile"].get("name", "")


@page(roles=ROLES)
def person_forms(ctx: Ctx, pid: str, error: str = ""):
    ar = ctx.ar
    row, name = _person(ar, pid)
    specs = _forms(ar, "person")
    return ctx.render("forms_person.html", title="个人文书", pid=row.id, row=row, name=name,
                      main=[s for s in specs if s.code not in BIND_PARTS],
                      parts=[s for s in specs if s.code in BIND_PARTS], pdf=_pdf_available(), error=error,
                      binds=[j for j in ctx.ws.jobs.values() if j.kind == "bind" and j.data.get("pid") == row.id],
                      status=400 if error else 200)


@page(roles=ROLES)
def person_fill(ctx: Ctx, pid: str):
    ar = ctx.ar
    code = ctx.field("code")
    try:
        spec = next((s for s in _forms(ar, "person") if s.code == code), None)
        if spec is None:
            raise InvalidInput(field="code", reason="请选择一种个人文书")
        fmt = _fmt(ctx, ("docx", "pdf"))
        res = ar.forms.fill(spec.code, ref=pid, fmt=fmt, keep=ctx.field("keep") == "1",
                            doc_no=ctx.field("doc_no").strip())
    except InvalidInput as e:
        return person_forms.page_fn(ctx, pid, error=e.reason or e.message)
    row = ar.dossiers.resolve(pid)
    return attachment(res.docx if fmt == "docx" else res.data, f"{res.title}-{row.archive_no}.{fmt}", MIME[fmt])


@page(roles=ROLES)
def person_bind(ctx: Ctx, pid: str):
    ar = ctx.ar
    row, _ = _person(ar, pid)
    if not _pdf_available():
        return person_forms.page_fn(ctx, pid, error="本机未安装 LibreOffice，不能装订 PDF")
    watermark = ctx.field("watermark").strip() or None
    ref, archive_no = row.id, row.archive_no

    def work(ar, job):
        job.progress("装订（转换文书、合并附件）", 0, 0)
        pdf = ar.forms.bind(ref, watermark=watermark)
        from ...forms.bind import page_count

        job.files["pdf"] = (f"一人一档-{archive_no}.pdf", PDF, pdf)
        return {"pages": page_count(pdf), "archive_no": archive_no}

    job = jobs.start(ctx, "bind", "装订一人一档", work, data={"pid": ref, "archive_no": archive_no})
    return ctx.redirect(f"/forms/jobs/{job.id}")


@page(roles=ROLES)
def job_page(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, "bind")
    return ctx.render("forms_job.html", title=j.title, job=j, url=f"/forms/jobs/{j.id}/status")


@page(roles=ROLES)
def job_status(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, "bind")
    return status_fragment(ctx, j, f"/forms/jobs/{j.id}/status")


@page(roles=ROLES)
def job_file(ctx: Ctx, job: str):
    j = jobs.get(ctx, job, "bind")
    if j.running or "pdf" not in j.files:
        raise InvalidInput("装订尚未完成")
    name, mime, data = j.files["pdf"]
    ctx.ar.audit("export", dossier=j.data.get("pid"), kind="bind")
    return attachment(data, name, mime)


# ------------------------------------------------------------------ list forms (附表)

@page(roles=ROLES)
def list_fill(ctx: Ctx):
    ar = ctx.ar
    code, scope = ctx.field("code"), ctx.field("scope")
    spec = next((s for s in _forms(ar, ("list", "statistics")) if s.code == code), None)
    if spec is None:
        raise InvalidInput(field="code", reason="请选择一种附表")
    if scope and scope not in import_scopes(ar):
        raise InvalidInput(field="scope", reason="请从列表中选择范围")
    fmt = _fmt(ctx, ("xlsx", "docx", "pdf"))
    since = None
    if ctx.field("since"):
        from ...model.dates import parse_date

        since = parse_date(ctx.field("since"), field="since")
    res = ar.forms.fill(spec.code, scope=scope or None, fmt=fmt, since=since)
    where = (scope or "全部辖区").split("/")[-1]
    return attachment(res.docx if fmt == "docx" else res.data, f"{res.title}-{where}.{fmt}", MIME[fmt])


# ------------------------------------------------------------------ 会商 meetings

@page(roles=ROLES)
def meetings(ctx: Ctx):
    ar = ctx.ar
    ms = list(reversed(ar.meetings.list()))
    return ctx.render("meetings.html", title="会商", meetings=ms, forms=_forms(ar, "meeting"), pdf=_pdf_available())


def parse_people(text: str) -> list[dict]:
    """One person a line: 单位 姓名 职务 (spaces, commas or 、 between); a lone word is a name."""
    out = []
    for line in (text or "").splitlines():
        parts = [p for p in re.split(r"[\s,，、;；]+", line.strip()) if p]
        if not parts:
            continue
        if len(parts) == 1:
            out.append({"name": parts[0]})
        elif len(parts) == 2:
            out.append({"unit": parts[0], "name": parts[1]})
        else:
            out.append({"unit": parts[0], "name": parts[1], "role": " ".join(parts[2:])})
    return out


def _lines(text: str) -> list[str]:
    return [x.strip() for x in (text or "").splitlines() if x.strip()]


PERSON_KEYS = ("ref", "level", "community_level", "reasons", "measures", "responsible", "next_review")
TEXT_KEYS = ("no", "date", "time", "place", "host", "recorder", "title", "agenda", "unit", "distribution",
             "overview", "attendees", "observers", "absentees", "decisions")


def meeting_data(ctx: Ctx) -> tuple[dict, list[dict]]:
    """(the meeting as ``meeting add`` reads its YAML, the rows as typed)."""
    rows = []
    i = 0
    while f"p{i}.ref" in ctx.form or f"p{i}.level" in ctx.form:
        rows.append({k: ctx.field(f"p{i}.{k}").strip() for k in PERSON_KEYS})
        i += 1
    data = {k: ctx.field(k).strip() for k in ("no", "date", "time", "place", "host", "recorder", "title", "agenda",
                                             "unit", "distribution", "overview") if ctx.field(k).strip()}
    for k in ("attendees", "observers", "absentees"):
        if ctx.field(k).strip():
            data[k] = parse_people(ctx.field(k))
    if _lines(ctx.field("decisions")):
        data["decisions"] = _lines(ctx.field("decisions"))
    persons = [{k: v for k, v in r.items() if v} for r in rows if r["ref"]]
    data["persons"] = persons
    return data, rows


@page(roles=ROLES)
def meeting_new(ctx: Ctx):
    ar = ctx.ar
    from datetime import date

    values = {"date": date.today().isoformat()}
    rows = [dict.fromkeys(PERSON_KEYS, "") for _ in range(MEETING_ROWS)]
    errors: list[str] = []
    if ctx.request.method == "POST":
        values = {k: ctx.field(k) for k in TEXT_KEYS}
        data, rows = meeting_data(ctx)
        if ctx.field("action") == "more":
            rows.append(dict.fromkeys(PERSON_KEYS, ""))
        else:
            try:
                m = ar.meetings.add(data)
                msg = f"已记录会商会议（{m['no'] or m['date']}），{len(m['persons'])} 人的档案各追加一条风险评估记录"
                for a in m.get("approvals") or []:
                    if a.get("ok"):
                        msg += f"；{a.get('archive_no')}：审批表会商一栏已签入"
                    else:
                        ctx.flash(f"{a.get('archive_no') or '（未知档号）'}：审批表会商一栏未签入："
                                  f"{a.get('error') or '原因不明'}（会议已记录）", "warn")
                return ctx.redirect("/meetings", msg)
            except InvalidInput as e:
                errors = [x.strip().lstrip("- ").strip() for x in (e.message or "").splitlines()[1:]] or [e.message]
    return ctx.render("meeting_form.html", title="记录会商会议", v=values, rows=rows, persons=_persons(ar),
                      levels=LEVELS, errors=errors, status=400 if errors else 200)


@page(roles=ROLES)
def meeting_fill(ctx: Ctx, mid: str):
    ar = ctx.ar
    m = ar.meetings.get(mid)
    if m["id"] != mid:
        raise InvalidInput("请用会议编号")
    code = ctx.field("code")
    if code not in {s.code for s in _forms(ar, "meeting")}:
        raise InvalidInput(field="code", reason="请选择会议纪要或签到表")
    fmt = _fmt(ctx, ("docx", "pdf"))
    res = ar.forms.fill(code, meeting=m["id"], fmt=fmt)
    label = m.get("no") or m.get("date") or ""
    return attachment(res.docx if fmt == "docx" else res.data, f"{res.title}{label}.{fmt}", MIME[fmt])


ROUTES = [
    Route("/forms", forms_home, methods=["GET"]),
    Route("/forms/person", pick_person, methods=["GET"]),
    Route("/forms/person/{pid}", person_forms, methods=["GET"]),
    Route("/forms/person/{pid}/fill", person_fill, methods=["POST"]),
    Route("/forms/person/{pid}/bind", person_bind, methods=["POST"]),
    Route("/forms/list", list_fill, methods=["POST"]),
    Route("/forms/jobs/{job}", job_page, methods=["GET"]),
    Route("/forms/jobs/{job}/status", job_status, methods=["GET"]),
    Route("/forms/jobs/{job}/file", job_file, methods=["GET"]),
    Route("/meetings", meetings, methods=["GET"]),
    Route("/meetings/new", meeting_new, methods=["GET", "POST"]),
    Route("/meetings/{mid}/fill", meeting_fill, methods=["POST"]),
]
