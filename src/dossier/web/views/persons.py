"""Person files: the list, the file page, registering and editing a profile, history."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ...errors import InvalidInput, ValidationErrors
from ...model.person import PROFILE_FIELDS
from .. import fieldforms
from ..pages import Ctx, page

STATUSES = ("社区戒毒", "社区康复", "强制隔离戒毒", "自愿戒毒", "药物维持治疗", "无措施", "在控", "失控",
            "羁押拘留", "服刑", "出国境", "死亡")
RISKS = ("高", "中", "低")
LABELS = ("戒断三年未复吸", "戒断5年", "戒断10年", "流入", "复吸")


@page(roles=("admin", "clerk", "approver"))
def person_list(ctx: Ctx):
    ar = ctx.ar
    scope = ctx.query("scope")
    status, risk, label = ctx.query("status"), ctx.query("risk"), ctx.query("label")
    try:
        pageno = max(1, int(ctx.query("page", "1")))
    except ValueError:
        pageno = 1
    scopes = sorted(set(_readable_scopes(ar)))
    if scope and scope not in scopes:
        scope = ""
    if status or risk or label:
        q = " ".join(f"{k}:{v}" for k, v in (("status", status), ("risk", risk), ("label", label)) if v)
        if scope:
            q += f" scope:{scope.split('/')[-1]}"
        found = ar.search.search(q, limit=10000)
        rows = [r for r in found["results"] if not scope or r["scope"].startswith(scope)]
        warnings = found["warnings"]
    else:
        rows = ar.persons.list(scope or None)
        warnings = []
    size = ctx.app.state.settings.page_size
    pages = max(1, (len(rows) + size - 1) // size)
    pageno = min(pageno, pages)
    shown = rows[(pageno - 1) * size: pageno * size]
    return ctx.render("persons.html", title="人员档案", rows=shown, total=len(rows), pageno=pageno, pages=pages,
                      scope=scope, scopes=scopes, status_filter=status, risk=risk, label=label, statuses=STATUSES,
                      risks=RISKS, labels=LABELS, warnings=warnings, can_add=ar.user.role in ("admin", "clerk"))


def _readable_scopes(ar) -> list[str]:
    covered = ar.scopes.covered()
    return [ar.scopes.path_of(s) for s in covered]


def _writable_scopes(ar) -> list[str]:
    """Scopes where persons are registered (the leaves the user covers)."""
    out = []
    for s in sorted(ar.scopes.covered()):
        path = ar.scopes.path_of(s)
        if ar.keyring.holds(s, "data"):
            out.append(path)
    leaves = [p for p in out if not any(q.startswith(p + "/") for q in out)]
    return leaves or out


@page(roles=("admin", "clerk", "approver"))
def person_show(ctx: Ctx, pid: str):
    ar = ctx.ar
    view = ar.dossiers.show(pid)
    from ...model.entries import ENTRY_TYPES

    entries = sorted(view.entries, key=lambda e: (e.get("date", ""), e.get("recorded_at", "")), reverse=True)
    profile_rows = [(f, view.profile.get(f.name)) for f in PROFILE_FIELDS
                    if view.profile.get(f.name) not in (None, "", [], {})]
    approval = None
    if hasattr(ar, "approvals") and view.state.get("approvals"):
        try:
            approval = ar.approvals.status(pid)
        except Exception:   # noqa: BLE001 - the file page shows what it can
            approval = None
    return ctx.render("person.html", title=view.profile.get("name", "档案"), view=view, entries=entries,
                      types=ENTRY_TYPES, profile_rows=profile_rows, approval=approval,
                      can_write=ar.user.role in ("admin", "clerk") and not view.sent, fields=_entry_field_labels())


def _entry_field_labels() -> dict:
    from ...model.entries import ENTRY_TYPES

    return {t: {f.name: f for f in et.fields} for t, et in ENTRY_TYPES.items()}


@page(roles=("admin", "clerk"))
def person_new(ctx: Ctx):
    ar = ctx.ar
    scopes = _writable_scopes(ar)
    values, errors, other = {}, {}, []
    scope = ctx.query("scope") or (scopes[0] if len(scopes) == 1 else "")
    if ctx.request.method == "POST":
        scope = ctx.field("scope")
        values = fieldforms.parse(PROFILE_FIELDS, ctx.form)
        try:
            if scope not in scopes:
                raise InvalidInput(field="scope", reason="请选择所属辖区")
            ref = ar.persons.add(scope, values)
            msg = f"已建档：档号 {ref.archive_no}" + "".join(f"（提示：{w}）" for w in ref.warnings)
            return ctx.redirect(f"/persons/{ref.id}", msg)
        except (ValidationErrors, InvalidInput) as e:
            errors, other = fieldforms.error_map(e)
    ws = fieldforms.widgets(PROFILE_FIELDS, values, errors)
    first, rest = fieldforms.split(ws, "profile")
    return ctx.render("person_form.html", title="登记人员", first=first, rest=rest, scopes=scopes, scope=scope,
                      errors=other, scope_error=errors.get("scope", ""), status=400 if errors or other else 200)


@page(roles=("admin", "clerk"))
def person_edit(ctx: Ctx, pid: str):
    ar = ctx.ar
    view = ar.dossiers.show(pid)
    values, errors, other, conflict = dict(view.profile), {}, [], None
    base = view.head
    if ctx.request.method == "POST":
        submitted = fieldforms.parse(PROFILE_FIELDS, ctx.form)
        try:
            base = int(ctx.field("base_version") or 0)
        except ValueError:
            base = 0
        values = {**submitted}
        # an emptied input leaves the stored value as it is (as an empty roster cell does)
        changes = {k: v for k, v in submitted.items() if k != "id_number"}
        try:
            v = ar.persons.update(pid, changes, message=ctx.field("message") or None, expect_version=base)
            return ctx.redirect(f"/persons/{pid}", "无变化，未生成新版本" if v is None else f"已保存为第 {v} 版")
        except (ValidationErrors, InvalidInput) as e:
            errors, other = fieldforms.error_map(e)
        except _conflict_error() as e:
            conflict = e
            base = view.head
    ws = fieldforms.widgets(PROFILE_FIELDS, values, errors)
    first, rest = fieldforms.split(ws, "profile")
    return ctx.render("person_form.html", title="修改基本信息", view=view, first=first, rest=rest, base=base,
                      errors=other, conflict=conflict, status=409 if conflict else (400 if errors or other else 200))


def _conflict_error():
    from ...errors import VersionConflict

    return VersionConflict


@page(roles=("admin", "clerk", "approver"))
def person_history(ctx: Ctx, pid: str):
    ar = ctx.ar
    rows = ar.dossiers.history(pid)
    row = ar.dossiers.resolve(pid)
    diff = None
    v1, v2 = ctx.query("v1"), ctx.query("v2")
    if v1 and v2:
        try:
            diff = ar.dossiers.diff(pid, int(v1), int(v2))
        except ValueError:
            diff = None
    return ctx.render("history.html", title="版本历史", rows=rows, row=row, diff=diff, pid=pid,
                      v1=v1 or (str(row.head - 1) if row.head > 1 else "1"), v2=v2 or str(row.head))


@page(roles=("admin", "clerk", "approver"))
def download(ctx: Ctx, pid: str, item: str):
    """An attachment or a generated document of the file (audited as an export)."""
    from ...forms.service import stored_file

    name, mime, data = stored_file(ctx.ar, pid, item, pdf=ctx.query("pdf") == "1")
    from urllib.parse import quote

    return Response(data, media_type=mime, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


ROUTES = [
    Route("/persons", person_list, methods=["GET"]),
    Route("/persons/new", person_new, methods=["GET", "POST"]),
    Route("/persons/{pid}", person_show, methods=["GET"]),
    Route("/persons/{pid}/edit", person_edit, methods=["GET", "POST"]),
    Route("/persons/{pid}/history", person_history, methods=["GET"]),
    Route("/persons/{pid}/files/{item}", download, methods=["GET"]),
]
