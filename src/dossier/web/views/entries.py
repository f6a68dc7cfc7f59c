"""Recording entries (见面、检测、评估 …) and attaching scans and photos."""

from __future__ import annotations

from starlette.routing import Route

from ...errors import InvalidInput, ValidationErrors
from ...model.entries import ENTRY_TYPES
from .. import fieldforms
from ..pages import Ctx, page

CATEGORIES = ("基本信息", "身份证明", "决定", "协议", "审批表", "会商纪要", "管控方案", "谈话记录", "检测报告",
              "帮扶救助", "状态变更", "解除")
WITH_TEST = "with_test"        # the 见面 form's "同时记录检测" box; the test's inputs are named test.<key>


@page(roles=("admin", "clerk"))
def entry_new(ctx: Ctx, pid: str):
    ar = ctx.ar
    kind = ctx.query("type", "interview")
    if kind not in ENTRY_TYPES:
        raise InvalidInput(field="type", reason="未知记录类型；可用：" + "、".join(
            f"{t.name}（{t.label}）" for t in ENTRY_TYPES.values()))
    etype = ENTRY_TYPES[kind]
    row = ar.dossiers._readable(pid, "添加记录")
    view_name = _name_of(ar, pid)
    from datetime import date

    today = date.today().isoformat()
    values = {"date": today} if any(f.name == "date" for f in etype.fields) else {}
    if kind == "interview":
        values["person_seen"] = True
    errors, other, test_errors, with_test = {}, [], {}, False
    test_values = {"sample": "尿液", "method": "现场快检"}
    if ctx.request.method == "POST":
        values = fieldforms.parse(etype.fields, ctx.form)
        with_test = kind == "interview" and ctx.field(WITH_TEST) == "1"
        if with_test:
            test_values = fieldforms.parse(ENTRY_TYPES["test"].fields, ctx.form, prefix="test.")
            test_values.setdefault("date", values.get("date", ""))
        try:
            added = _save(ar, pid, kind, values, test_values if with_test else None)
            labels = "、".join(f"{ENTRY_TYPES[e['type']].label}（{e.get('date', '')}）" for e in added)
            return ctx.redirect(f"/persons/{pid}", f"已添加：{labels}，档案为第 {added[-1]['version']} 版")
        except _Failed as f:
            errors, other = fieldforms.error_map(f.error)
            if f.prefix:
                test_errors = {f.prefix + k: v for k, v in errors.items()}
                errors = {}
    ws = fieldforms.widgets(etype.fields, values, errors)
    first, rest = fieldforms.split(ws, kind)
    test_first = test_rest = None
    if kind == "interview":
        tw = fieldforms.widgets(ENTRY_TYPES["test"].fields, test_values, test_errors, prefix="test.")
        tw = [w for w in tw if w.field.name != "date"]
        test_first, test_rest = fieldforms.split(tw, "test")
    return ctx.render("entry_form.html", title=f"新增{etype.label}", etype=etype, kind=kind, pid=pid, row=row,
                      person_name=view_name, first=first, rest=rest, errors=other, types=ENTRY_TYPES,
                      test_first=test_first, test_rest=test_rest, with_test=with_test,
                      status=400 if (errors or other or test_errors) else 200)


class _Failed(Exception):
    def __init__(self, error, prefix: str = ""):
        self.error, self.prefix = error, prefix


def _save(ar, pid: str, kind: str, values: dict, test: dict | None) -> list[dict]:
    """One transaction: the entry and (with a 见面) its test, or nothing."""
    from ...model.entries import normalize_entry

    from datetime import date
    try:
        normalize_entry(kind, values, today=date.today())
    except (ValidationErrors, InvalidInput) as e:
        raise _Failed(e) from None
    if test is not None:
        try:
            normalize_entry("test", test, today=date.today())
        except (ValidationErrors, InvalidInput) as e:
            raise _Failed(e, "test.") from None
    try:
        with ar.transaction():
            added = [ar.entries.add(pid, kind, values)]
            if test is not None:
                added.append(ar.entries.add(pid, "test", test))
    except (ValidationErrors, InvalidInput) as e:
        raise _Failed(e) from None
    return added


def _name_of(ar, pid: str) -> str:
    """The name for the form's heading (as `entry add` reads it: no view event)."""
    _, content = ar.dossiers.load(ar.dossiers.resolve(pid))
    return content["state"]["profile"].get("name", "")


@page(roles=("admin", "clerk"), upload=True)
def attach(ctx: Ctx, pid: str):
    ar = ctx.ar
    row = ar.dossiers._readable(pid, "添加附件")
    error, title, category, on = "", "", "", ""
    if ctx.request.method == "POST":
        title, category, on = ctx.field("title").strip(), ctx.field("category"), ctx.field("date")
        upload = next((f for f in (ctx.form.get("photo"), ctx.form.get("file"))
                       if f is not None and not isinstance(f, str) and f.filename), None)
        try:
            if upload is None:
                raise InvalidInput(field="file", reason="请拍照或选择一个文件（PDF、JPG、PNG）")
            data = upload.file.read(ctx.app.state.settings.max_upload + 1)
            if len(data) > ctx.app.state.settings.max_upload:
                raise InvalidInput(field="file", reason=f"文件超过 {ctx.app.state.settings.max_upload_mb:g} MB")
            from ...forms.service import attach as do_attach
            from ...model.dates import parse_date

            item = do_attach(ar, pid, data, upload.filename or "upload", title=title,
                             category=category or None,
                             on=parse_date(on, field="date") if on else None)
            return ctx.redirect(f"/persons/{pid}", f"已加入附件《{item['title']}》（第 {item['version']} 版）")
        except InvalidInput as e:
            error = e.reason or e.message
    return ctx.render("attach.html", title="添加附件", pid=pid, row=row, person_name=_name_of(ar, pid),
                      error=error, title_value=title, category=category, date_value=on, categories=CATEGORIES,
                      status=400 if error else 200)


ROUTES = [
    Route("/persons/{pid}/entries/new", entry_new, methods=["GET", "POST"]),
    Route("/persons/{pid}/attach", attach, methods=["GET", "POST"]),
]
