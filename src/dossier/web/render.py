"""Jinja2 templates of the web face (autoescaped: a value is always text)."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import date
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

HERE = Path(__file__).parent
STATIC = HERE / "static"

# (path, label, roles) of the main navigation
NAV = (
    ("/", "工作台", ("admin", "clerk", "approver")),
    ("/persons", "人员档案", ("admin", "clerk", "approver")),
    ("/search", "检索", ("admin", "clerk", "approver", "inspector")),
    ("/approvals", "审批", ("clerk", "approver")),
    ("/import", "名册导入", ("admin", "clerk")),
    ("/forms", "文书", ("admin", "clerk")),
    ("/meetings", "会商", ("admin", "clerk")),
    ("/campaigns", "专项行动", ("admin", "clerk", "approver", "inspector")),
    ("/stats", "统计报表", ("admin", "clerk", "approver")),
    ("/inspection", "督查", ("admin", "inspector")),
    ("/verify", "纸质核验", ("admin", "clerk", "approver", "inspector")),
    ("/disclosures", "披露", ("admin", "inspector")),
    ("/admin", "管理", ("admin",)),
)


def text(v) -> str:
    """A stored value as people read it (lists 、-joined, booleans 是/否)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, (list, tuple)):
        return "、".join(text(x) for x in v if x not in (None, "", [], {}))
    if isinstance(v, dict):
        return "；".join(f"{k}：{text(x)}" for k, x in v.items() if x not in (None, "", [], {}))
    return str(v)


AXIS_LABELS = {"measure": "措施", "presence": "现实"}


def field_text(v, f=None) -> str:
    """Like :func:`text`, with an object's keys shown by their labels (``f``: its Field)."""
    subs = {s.name: s for s in getattr(f, "subfields", ())} if f is not None else {}
    if isinstance(v, dict):
        return "；".join(f"{subs[k].label if k in subs else k}：{field_text(x, subs.get(k))}"
                        for k, x in v.items() if x not in (None, "", [], {}))
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return " / ".join(field_text(x, f) for x in v)
    if f is not None and f.name == "axis":
        return AXIS_LABELS.get(v, text(v))
    return text(v)


_SPECIAL = re.compile(r"[&<>\"']").search


def _e(v) -> str:
    """``markupsafe.escape(v)`` as a plain ``str``: the same five characters escaped,
    without building a ``Markup`` per value (~2,500 values per 工作台), and a value
    without any of them (nearly all) returned as it is after one scan."""
    s = v if type(v) is str else str(v)
    return html.escape(s, quote=True) if _SPECIAL(s) else s


def agenda_rows(items) -> Markup:
    """The 工作台's list items (the same markup the template wrote per item, made here: a
    clerk's list has hundreds of them and Jinja's attribute lookups were most of the page's
    time). Every value is escaped."""
    out = []
    add = out.append
    for it in items:
        overdue, pid, name, scope = it.get("overdue"), it.get("id"), it.get("name"), it.get("scope")
        href = f"/persons/{_e(pid)}" if pid else "#"
        main = f"{_e(name)} · {_e(it.get('reason'))}" if name else _e(it.get("reason"))
        meta = _e(it.get("archive_no")) + (f" · {_e(scope.split('/')[-1])}" if scope else "")
        add(f'    <li class="{"overdue" if overdue else ""}" data-kind="{_e(it.get("kind"))}">\n'
            f'      <a class="item" href="{href}">\n'
            f'        <span class="due">{"已逾期" if overdue else "到期"} {_e(it.get("due"))}</span>\n'
            f'        <span class="main">{main}</span>\n'
            f'        <span class="meta">{meta}</span>\n'
            f'      </a>\n    </li>\n')
    return Markup("".join(out))


class Templates:
    def __init__(self, routes: set[str]):
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), auto_reload=False,
                                      autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                      undefined=jinja2.ChainableUndefined)
        self.env.filters["text"] = text
        self.env.filters["ftext"] = field_text
        self.env.filters["agenda_rows"] = agenda_rows
        self.env.globals["static"] = self.static_url
        self.env.globals["today"] = date.today
        self.routes = routes
        self._versions: dict[str, str] = {}

    def static_url(self, name: str) -> str:
        v = self._versions.get(name)
        if v is None:
            v = self._versions[name] = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
        return f"/static/{name}?v={v}"

    def nav(self, role: str) -> list[tuple[str, str]]:
        return [(p, label) for p, label, roles in NAV if role in roles and p in self.routes]

    def fragment(self, template: str, /, **context) -> Markup:
        """A part of a page (no ``ctx``, no navigation), ready to be put in a page as it is."""
        return Markup(self.env.get_template(template).render(**context))

    def render(self, template: str, /, **context) -> str:
        ctx = context.get("ctx")
        context.setdefault("nav", self.nav(ctx.role) if ctx is not None and ctx.ws is not None else [])
        return self.env.get_template(template).render(**context)
