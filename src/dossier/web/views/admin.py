"""Administration (admins only): users, scopes, ``check`` and the audit log.

The same library as ``dossier user/scope/check/audit``: ``Users.add/revoke``,
``Scopes.add/list``, ``Session.check`` (as a background job in its own library
session, its progress polled by htmx), ``hooks.audit_events`` and
``audit_check.verify`` (as ``dossier audit verify``). Revoking a user also ends that user's browser sessions
at once (``SessionStore.end_user``).
"""

from __future__ import annotations

import json
import threading
import time

from starlette.routing import Route

from ...errors import AuditChainError, DossierError, InvalidInput, NotFound, RefusedOperation
from .. import results
from ..pages import Ctx, page

ADMIN = ("admin",)
TABS = (("/admin/users", "用户"), ("/admin/scopes", "辖区"), ("/admin/check", "校验"), ("/admin/audit", "审计日志"),
        ("/transfers", "档案移交"))
AUDIT_LIMIT = 200


def _render(ctx: Ctx, template: str, **kw):
    return ctx.render(template, tabs=TABS, **kw)


@page(roles=ADMIN)
def overview(ctx: Ctx):
    ar = ctx.ar
    users = ar.users.list()
    return _render(ctx, "admin.html", title="管理", users=users, scopes=ar.scopes.list(),
                   active=sum(1 for u in users if u["status"] == "active"))


# ----------------------------------------------------------------------------- users

@page(roles=ADMIN)
def users(ctx: Ctx):
    from ...api import ROLE_LABELS, ROLES
    from ...users import STATUS_LABELS, STEPS

    ar = ctx.ar
    form = {"name": "", "role": "clerk", "step": "", "scopes": [], "full_name": "", "unit": "", "title": ""}
    errors: dict[str, str] = {}
    if ctx.request.method == "POST":
        form = {"name": ctx.field("name").strip(), "role": ctx.field("role"), "step": ctx.field("step"),
                "scopes": ctx.fields("scopes"), "full_name": ctx.field("full_name").strip(),
                "unit": ctx.field("unit").strip(), "title": ctx.field("title").strip()}
        pw, again = ctx.field("password"), ctx.field("password2")
        try:
            if pw != again:
                raise InvalidInput(field="password2", reason="两次输入的口令不一致")
            info = ar.users.add(form["name"], role=form["role"], password=pw, scopes=form["scopes"],
                                step=form["step"] or None, full_name=form["full_name"] or None,
                                unit=form["unit"] or None, title=form["title"] or None)
            scopes = f"，辖区：{'、'.join(info['scopes'])}" if info["scopes"] else ""
            who = f"（{info['full_name']}，{info['unit']}）" if info["complete"] else "（未填写姓名和单位：签章只显示用户名）"
            return ctx.redirect("/admin/users", f"已新增用户 {info['name']}{who}（{ROLE_LABELS[info['role']]}）{scopes}"
                                "；请把初始口令当面交给本人，并请其登录后修改")
        except InvalidInput as e:
            key = {"scope": "scopes"}.get(e.field, e.field)
            errors[key if key in ("name", "role", "step", "scopes", "password", "password2", "full_name", "unit",
                                  "title") else "name"] = e.reason or e.message
        except RefusedOperation as e:
            errors["name"] = e.message
    rows = ar.users.list()
    return _render(ctx, "admin_users.html", title="用户", rows=rows, form=form, errors=errors, roles=ROLES,
                   role_labels=ROLE_LABELS, steps=STEPS, status_labels=STATUS_LABELS,
                   scope_paths=[s["path"] for s in ar.scopes.list()], me=ar.user.name,
                   status=400 if errors else 200)


@page(roles=ADMIN)
def edit_user(ctx: Ctx):
    """``user edit``: the full name, unit and post of an account (a new signing certificate)."""
    name = ctx.field("name").strip()
    try:
        info = ctx.ar.users.edit(name, full_name=ctx.field("full_name"), unit=ctx.field("unit"),
                                 title=ctx.field("title"))
    except (InvalidInput, NotFound, RefusedOperation) as e:
        return ctx.redirect("/admin/users", f"未修改：{getattr(e, 'reason', None) or e.message}", "error")
    if not info["changed"]:
        return ctx.redirect("/admin/users", f"用户 {name} 的信息没有变化", "warn")
    who = "、".join(v for v in (info["full_name"], info["unit"], info["title"]) if v) or "（已清除）"
    return ctx.redirect("/admin/users", f"已更新用户 {name}：{who}；此后的签批使用新的签名证书")


@page(roles=ADMIN)
def revoke_user(ctx: Ctx):
    name = ctx.field("name").strip()
    try:
        info = ctx.ar.users.revoke(name)
    except (NotFound, RefusedOperation) as e:
        return ctx.redirect("/admin/users", f"未停用：{e.message}", "error")
    ended = ctx.app.state.sessions.end_user(name)
    extra = f"，结束了其 {ended} 个在线会话" if ended else ""
    link = getattr(ctx.app.state, "link", None)       # serve --workers: the other workers end theirs too
    if link is not None:
        link.call("end_user", name)
        extra = "，结束了其全部在线会话"
    return ctx.redirect("/admin/users", f"已停用用户 {name}，轮换了 {info['rotated_scopes']} 个辖区的密钥{extra}",
                        "warn")


# ----------------------------------------------------------------------------- scopes

@page(roles=ADMIN)
def scopes(ctx: Ctx):
    ar = ctx.ar
    form = {"path": "", "code": ""}
    errors: dict[str, str] = {}
    if ctx.request.method == "POST":
        form = {"path": ctx.field("path").strip(), "code": ctx.field("code").strip()}
        try:
            created = ar.scopes.add(form["path"], code=form["code"] or None)
            msg = ("已新增辖区：" + "、".join(created)) if created else f"辖区已存在：{form['path']}"
            return ctx.redirect("/admin/scopes", msg, "ok" if created else "warn")
        except InvalidInput as e:
            errors["code" if e.field == "code" else "path"] = e.reason or e.message
    return _render(ctx, "admin_scopes.html", title="辖区", rows=ar.scopes.list(), form=form, errors=errors,
                   status=400 if errors else 200)


# ----------------------------------------------------------------------------- check

def _run_check(path, unlocked, job: dict) -> None:
    """The background job: ``Session.check`` in its own library session (own connection)."""
    from ... import api

    def progress(done, total):
        job["total"] = max(total, 1)
        job["count"] = min(job["count"] + done, job["total"])

    try:
        ar = api.open_unlocked(path, unlocked)
        try:
            job["report"] = ar.check(progress).to_dict()
        finally:
            ar.close()
    except DossierError as e:
        job["error"] = e.message
    except Exception as e:   # noqa: BLE001 - the page says it failed; no values in the message
        job["error"] = f"校验中断（{type(e).__name__}）"
    finally:
        job["finished"] = job["at"] = time.monotonic()
        job["running"] = False


def _job(ctx: Ctx, job_id: str) -> dict:
    return results.get(ctx, "check", job_id)


@page(roles=ADMIN)
def check(ctx: Ctx):
    if ctx.request.method == "POST":
        job_id = results.keep(ctx, "check", None, running=True, count=0, total=0, report=None, error=None,
                              started=time.monotonic())
        job = _job(ctx, job_id)
        t = threading.Thread(target=_run_check, args=(ctx.app.state.path, ctx.ws.unlocked, job),
                             name="dossier-check", daemon=True)
        t.start()
        t.join(1.5)           # a small archive: the report at once, without a progress page
        return ctx.redirect(f"/admin/check/{job_id}")
    return _render(ctx, "admin_check.html", title="校验", job=None, job_id="")


def _job_view(job: dict) -> dict:
    return {"running": job["running"], "done": job["count"], "total": job["total"],
            "report": job.get("report"), "error": job.get("error"),
            "seconds": round((job.get("finished") or time.monotonic()) - job["started"], 1)}


@page(roles=ADMIN)
def check_job(ctx: Ctx, job_id: str):
    job = _job(ctx, job_id)
    return _render(ctx, "admin_check.html", title="校验", job=_job_view(job), job_id=job_id)


@page(roles=ADMIN)
def check_status(ctx: Ctx, job_id: str):
    job = _job(ctx, job_id)
    return ctx.partial("_check_status.html", job=_job_view(job), job_id=job_id)


# ----------------------------------------------------------------------------- audit

@page(roles=ADMIN)
def audit(ctx: Ctx):
    from ...approve.hooks import audit_events

    ar = ctx.ar
    action, actor, since = ctx.query("action").strip(), ctx.query("actor").strip(), ctx.query("since").strip()
    error = ""
    if since:
        from ...model.dates import parse_date

        try:
            since = parse_date(since, field="since", allow_future=True).isoformat()
        except InvalidInput as e:
            error, since = e.reason, ""
    rows = audit_events(ar, actor=actor or None, since=since or None, action=action or None)
    total = len(rows)
    shown = []
    for r in reversed(rows[-AUDIT_LIMIT:]):
        details = {**r["details"], **(r.get("private") or {})}     # as `audit log` shows them to this user
        shown.append({**r, "details_text": json.dumps(details, ensure_ascii=False) if details else "",
                      "unopened": r["sealed"] and r.get("private") is None})
    actions = sorted({a for (a,) in ar.con.execute("SELECT DISTINCT action FROM audit_events")})
    actors = [u["name"] for u in ar.users.list()]
    return _render(ctx, "admin_audit.html", title="审计日志", rows=shown, total=total, action=action, actor=actor,
                   since=since, actions=actions, actors=actors, error=error, limit=AUDIT_LIMIT,
                   status=400 if error else 200)


@page(roles=ADMIN, upload=True)
def audit_verify(ctx: Ctx):
    """``audit verify`` (optionally with a head exported earlier, field ``head``)."""
    from ...audit_check import verify as verify_audit

    heads, error, rep, broken = [], "", None, ""
    up = ctx.form.get("head") if ctx.form is not None else None
    if up is not None and not isinstance(up, str) and up.filename:
        try:
            heads.append(json.loads(up.file.read(64 * 1024).decode("utf-8")))
            if not isinstance(heads[0], dict) or "seq" not in heads[0] or "hash" not in heads[0]:
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            error = "链头文件格式不正确（应为 dossier audit export-head 导出的 JSON）"
    if not error:
        try:
            # the chain, and its cross-check with the versions, approvals, disclosures and users
            # (as `dossier audit verify`); an uploaded head also anchors it
            got = verify_audit(ctx.ar, heads=heads or ())
            if got.chain_error is not None:
                broken = got.chain_error.message
            else:
                rep = got.to_dict()
        except AuditChainError as e:
            broken = e.message
        except InvalidInput as e:
            error = e.reason or e.message
    return _render(ctx, "admin_audit_verify.html", title="审计链校验", rep=rep, broken=broken, error=error,
                   with_head=bool(heads), status=400 if error else 200)


ROUTES = [
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/users", users, methods=["GET", "POST"]),
    Route("/admin/users/revoke", revoke_user, methods=["POST"]),
    Route("/admin/users/edit", edit_user, methods=["POST"]),
    Route("/admin/scopes", scopes, methods=["GET", "POST"]),
    Route("/admin/check", check, methods=["GET", "POST"]),
    Route("/admin/check/{job_id}", check_job, methods=["GET"]),
    Route("/admin/check/{job_id}/status", check_status, methods=["GET"]),
    Route("/admin/audit", audit, methods=["GET"]),
    Route("/admin/audit/verify", audit_verify, methods=["POST"]),
]
