"""Reports as pages: campaign progress (专项行动), the 附表1 statistics with their
charts, inspection results (督查) and paper verification (纸质核验).

Each page calls the library the CLI calls (``Campaigns.progress``,
``Reports.stats``, ``Reports.inspection``, ``paper.verify_paper``) and renders
its result; the charts are PNG images from the same result (``results.keep``),
drawn by the functions the docx/xlsx reports embed, and the downloads are the
files ``-o`` writes (attachments, each an ``export`` event in the audit chain).
Nothing personal goes into a URL: campaigns by a short key, results by a token,
the paper code by POST.
"""

from __future__ import annotations

import hashlib
from datetime import date

from starlette.routing import Route

from ...errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from ...reports.render import pct
from .. import results
from ..pages import Ctx, page

READERS = ("admin", "clerk", "approver")
EVERYONE = ("admin", "clerk", "approver", "inspector")


def _date(ctx: Ctx, name: str, default: date | None = None, *, form: bool = False) -> date | None:
    from ...model.dates import parse_date

    raw = (ctx.field(name) if form else ctx.query(name)).strip()
    if not raw:
        return default
    return parse_date(raw, field=name, allow_future=True)


def _scopes(ar) -> list[str]:
    """The scope paths the user covers (for the scope pickers), broadest first."""
    return sorted({ar.scopes.path_of(s) for s in ar.scopes.covered()}, key=lambda p: (p.count("/"), p))


def _scope_choice(ar, raw: str) -> str:
    scopes = _scopes(ar)
    if raw and raw not in scopes:
        raise InvalidInput(field="scope", reason="请从列表中选择辖区")
    return raw


def campaign_key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def _campaign(ar, key: str):
    from ...errors import NotFound
    from ...reports.campaigns import Campaigns

    for c in Campaigns(ar).list():
        if campaign_key(c.name) == key:
            return c
    raise NotFound("没有这个专项行动（或您的辖区看不到它）")


def _export_event(ctx: Ctx, kind: str, fmt: str, **details) -> None:
    ctx.ar.audit("export", kind=kind, format=fmt, via="web", **details)


# ----------------------------------------------------------------------------- 专项行动

@page(roles=EVERYONE)
def campaigns(ctx: Ctx):
    from ...reports.campaigns import Campaigns

    items = [(campaign_key(c.name), c) for c in Campaigns(ctx.ar).list()]
    return ctx.render("campaigns.html", title="专项行动", items=items, today=date.today(),
                      can_progress=ctx.role in READERS)


@page(roles=EVERYONE)
def campaign(ctx: Ctx, key: str):
    from ...reports.campaigns import Campaigns, require_readable
    from ...reports.render import PROGRESS_CHARTS

    ar = ctx.ar
    c = _campaign(ar, key)
    require_readable(ar)                     # the library's refusal for inspectors, before anything else
    error = ""
    try:
        as_of = _date(ctx, "as_of", date.today())
    except InvalidInput as e:
        as_of, error = date.today(), e.reason
    p = Campaigns(ar).progress(c.name, as_of=as_of)
    token = results.keep(ctx, "progress", p)
    return ctx.render("campaign.html", title=c.name, c=c, p=p, key=key, token=token, charts=PROGRESS_CHARTS, pct=pct,
                      as_of=as_of.isoformat(), error=error, status=400 if error else 200)


def _chart(ctx: Ctx, kind: str, token: str, draw, chart: str):
    """One chart of a result kept for this session (``draw(data, chart)``; unknown chart: 404)."""
    data = results.get(ctx, kind, token)["data"]
    try:
        return results.png(draw(data, chart))
    except KeyError:
        return ctx.render("error.html", status=404, title="未找到", message="没有这个图表")


@page(roles=READERS)
def campaign_chart(ctx: Ctx, token: str, chart: str):
    from ...reports.render import progress_chart

    return _chart(ctx, "progress", token, progress_chart, chart)


@page(roles=READERS)
def campaign_file(ctx: Ctx, token: str, fmt: str):
    from ...reports import render

    p = results.get(ctx, "progress", token)["data"]
    if fmt == "xlsx":
        data, mime = render.progress_xlsx(p), results.XLSX
    else:
        data, mime, fmt = render.progress_docx(p), results.DOCX, "docx"
    _export_event(ctx, "campaign-progress", fmt, campaign=p["campaign"], as_of=p["as_of"])
    return results.attachment(data, f"{p['campaign']}-周报-{p['as_of']}.{fmt}", mime)


# ----------------------------------------------------------------------------- 附表1

@page(roles=READERS)
def stats(ctx: Ctx):
    from ...reports import Reports
    from ...reports.render import STATS_CHARTS
    from ...reports.stats import COLUMNS

    ar = ctx.ar
    scopes = _scopes(ar)
    asked = "as_of" in ctx.request.query_params
    scope = ctx.query("scope")
    s, token, error = None, "", ""
    as_of, since = date.today(), None
    if asked:
        try:
            scope = _scope_choice(ar, scope)
            as_of = _date(ctx, "as_of", date.today())
            since = _date(ctx, "since")
            s = Reports(ar).stats(scope or None, as_of=as_of, since=since)
            token = results.keep(ctx, "stats", s)
        except InvalidInput as e:
            error = e.reason or e.message
    return ctx.render("stats.html", title="附表1 统计", scopes=scopes, scope=scope, s=s, token=token,
                      as_of=as_of.isoformat(), since=since.isoformat() if since else "", error=error,
                      charts=STATS_CHARTS, columns=COLUMNS, pct=pct, status=400 if error else 200)


@page(roles=READERS)
def stats_chart(ctx: Ctx, token: str, chart: str):
    from ...reports.render import stats_chart as draw

    return _chart(ctx, "stats", token, draw, chart)


@page(roles=READERS)
def stats_file(ctx: Ctx, token: str):
    from ...reports.render import stats_xlsx

    s = results.get(ctx, "stats", token)["data"]
    _export_event(ctx, "stats", "xlsx", scope=s.get("scope", "*"), as_of=s["as_of"])
    return results.attachment(stats_xlsx(s), f"附表1-{s['as_of']}.xlsx", results.XLSX)


# ----------------------------------------------------------------------------- 督查

@page(roles=EVERYONE)
def inspection(ctx: Ctx):
    """Run the checks (admins, clerks, approvers) or open the saved, masked result
    (inspectors) — ``Reports.inspection``, as ``dossier inspect``."""
    from ...reports import Reports
    from ...reports.inspection import DEFAULT_THRESHOLDS

    ar = ctx.ar
    inspector = ar.user.role == "inspector"
    scopes = _scopes(ar)
    error, scope, rules, save = "", "", [], False
    as_of = date.today().isoformat()
    if ctx.request.method == "POST" or (inspector and "scope" in ctx.request.query_params):
        src = ctx.field if ctx.request.method == "POST" else ctx.query
        scope = src("scope")
        rules = ctx.fields("rule") if ctx.request.method == "POST" else []
        save = ctx.field("save") == "1"
        try:
            scope = _scope_choice(ar, scope)
            day = _date(ctx, "as_of", date.today(), form=ctx.request.method == "POST")
            as_of = day.isoformat()
            if save and not scope:
                raise InvalidInput(field="scope", reason="保存脱敏结果须选定辖区")
            result = Reports(ar).inspection(scope or None, as_of=day, only=rules or None, save=save)
            token = results.keep(ctx, "inspection", result)
            msg = "已保存脱敏结果，督查人员可查看" if save and not inspector else None
            return ctx.redirect(f"/inspection/{token}", msg)
        except InvalidInput as e:
            error = e.reason or e.message
        except (NotFound, PermissionDenied) as e:      # e.g. no saved result for this scope yet
            error = e.message
    return ctx.render("inspection.html", title="督查核查", scopes=scopes, scope=scope, rules=rules, save=save,
                      as_of=as_of, error=error, inspector=inspector, thresholds=DEFAULT_THRESHOLDS,
                      status=400 if error else 200)


@page(roles=EVERYONE)
def inspection_result(ctx: Ctx, token: str):
    from ...reports.inspection import DEFAULT_THRESHOLDS

    r = results.get(ctx, "inspection", token)["data"]
    return ctx.render("inspection_result.html", title="督查核查结果", r=r, token=token,
                      titles={k: v["title"] for k, v in DEFAULT_THRESHOLDS.items()},
                      inspector=ctx.role == "inspector")


@page(roles=EVERYONE)
def inspection_file(ctx: Ctx, token: str):
    from ...reports.render import inspection_docx

    r = results.get(ctx, "inspection", token)["data"]
    _export_event(ctx, "inspection-report", "docx", scope=r["scope"], as_of=r["as_of"])
    return results.attachment(inspection_docx(r), f"核查报告-{r['as_of']}.docx", results.DOCX)


# ----------------------------------------------------------------------------- 纸质核验

@page(roles=EVERYONE, upload=True)
def verify(ctx: Ctx):
    """Type the printed code (``code``) or upload a photo of the QR code (``photo``);
    the answer is the result page of this POST (nothing in a URL)."""
    from ... import paper

    if ctx.request.method == "GET":
        return ctx.render("verify.html", title="纸质文件核验")
    code = ctx.field("code").strip()
    upload = ctx.form.get("photo")
    image = None
    if upload is not None and not isinstance(upload, str) and upload.filename:
        image = upload.file.read(ctx.app.state.settings.max_upload + 1)
        if not image:
            image = None
    result, failure, error = None, "", ""
    try:
        if image is not None and len(image) > ctx.app.state.settings.max_upload:
            raise InvalidInput(field="photo", reason=f"照片超过 {ctx.app.state.settings.max_upload_mb:g} MB")
        if code and image is not None:
            raise InvalidInput(field="code", reason="请只用一种方式：输入核验码，或上传二维码照片")
        if not code and image is None:
            raise InvalidInput(field="code", reason="请输入纸面上的核验码，或上传二维码照片")
        result = paper.verify_paper(ctx.ar, token=code or None, image=image)
    except IntegrityError as e:
        failure = e.message
    except InvalidInput as e:
        error = e.reason or e.message
    return ctx.render("verify.html", title="纸质文件核验", result=result, failure=failure, error=error,
                      status=400 if error else 200)


ROUTES = [
    Route("/campaigns", campaigns, methods=["GET"]),
    Route("/campaigns/{key}", campaign, methods=["GET"]),
    Route("/campaigns/r/{token}/{chart}.png", campaign_chart, methods=["GET"]),
    Route("/campaigns/r/{token}/report.{fmt}", campaign_file, methods=["GET"]),
    Route("/stats", stats, methods=["GET"]),
    Route("/stats/r/{token}/{chart}.png", stats_chart, methods=["GET"]),
    Route("/stats/r/{token}/stats.xlsx", stats_file, methods=["GET"]),
    Route("/inspection", inspection, methods=["GET", "POST"]),
    Route("/inspection/{token}", inspection_result, methods=["GET"]),
    Route("/inspection/{token}/report.docx", inspection_file, methods=["GET"]),
    Route("/verify", verify, methods=["GET", "POST"]),
]
