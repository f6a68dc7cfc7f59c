"""Render docx templates: sandboxed Jinja, strict fields, prepare once, render many.

A :class:`PreparedTemplate` reads a Word template once: the XML parts that
carry tags (body, headers, footers) are cleaned by docxtpl's ``patch_xml``
(tags split across runs, ``{%tr %}``/``{%tc %}``/``{%p %}`` row/cell/paragraph
tags) and compiled by a :class:`jinja2.sandbox.SandboxedEnvironment` with
autoescape and :class:`~jinja2.StrictUndefined`. Every other member of the
zip is kept as bytes. Rendering a document is then one Jinja render per part,
docxtpl's listing fix (``\\n`` → line break), and a re-zip in memory.

Before anything is rendered, the template's fields are compared with the
catalogue of its kind (:mod:`dossier.forms.fields`); an unknown field is a
:class:`~dossier.errors.TemplateError` naming the field and the template.
Values are data: autoescape turns ``<``, ``&`` and ``</w:t>`` into text, and
``{{ 7*7 }}`` in a value is never evaluated (Jinja does not re-render output).
"""

from __future__ import annotations

import difflib
import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import jinja2
from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from dossier.errors import TemplateError
from dossier.forms import fmt
from dossier.forms.fields import catalogue, describe

_PART_RE = re.compile(r"^word/(document|header\d*|footer\d*|footnotes)\.xml$")
_TC_RE = re.compile(r"\{%-?\s*tc\s")
_PARA_IN = re.compile(r"<w:p([ >])")
_PARA_OUT = re.compile(r"\n<w:p([ >])")


def _finalize(value):
    if isinstance(value, Markup):
        return value
    if isinstance(value, jinja2.Undefined):
        return value
    return fmt.text(value)


def make_env() -> SandboxedEnvironment:
    """The one Jinja environment for forms: sandboxed, autoescaped, strict."""
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, finalize=_finalize,
                               keep_trailing_newline=True)
    env.filters.update(cn_date=fmt.cn_date, checks=fmt.checks, box=fmt.box, yes_no=fmt.yes_no)
    return env


# ------------------------------------------------------------ field analysis

_LOCAL = object()


def _path(node, scope):
    if isinstance(node, nodes.Name):
        if node.name in scope:
            return scope[node.name]
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _path(node.node, scope)
        if base is None or base is _LOCAL:
            return base
        return f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = _path(node.node, scope)
        if base is None or base is _LOCAL:
            return base
        return f"{base}.{node.arg.value}"
    return None


def _names(target) -> list[str]:
    if isinstance(target, nodes.Name):
        return [target.name]
    if isinstance(target, nodes.Tuple):
        return [n for item in target.items for n in _names(item)]
    return []


def _walk(node, scope: dict, used: set):
    if isinstance(node, nodes.For):
        _walk(node.iter, scope, used)
        it = _path(node.iter, scope)
        inner = dict(scope)
        names = _names(node.target)
        for n in names:
            inner[n] = (f"{it}[]" if isinstance(it, str) and len(names) == 1 else _LOCAL)
        inner["loop"] = _LOCAL
        for child in node.body:
            _walk(child, inner, used)
        if node.test is not None:
            _walk(node.test, inner, used)
        for child in node.else_:
            _walk(child, scope, used)
        return
    if isinstance(node, nodes.Assign):
        _walk(node.node, scope, used)
        for n in _names(node.target):
            scope[n] = _LOCAL
        return
    if isinstance(node, nodes.AssignBlock):
        for n in _names(node.target):
            scope[n] = _LOCAL
    if isinstance(node, (nodes.Macro, nodes.CallBlock)):
        inner = dict(scope)
        for a in node.args:
            inner[a.name] = _LOCAL
        inner.update(caller=_LOCAL, varargs=_LOCAL, kwargs=_LOCAL)
        if isinstance(node, nodes.Macro):
            scope[node.name] = _LOCAL
        for child in node.iter_child_nodes():
            _walk(child, inner, used)
        return
    if isinstance(node, nodes.With):
        inner = dict(scope)
        for t, v in zip(node.targets, node.values):
            _walk(v, scope, used)
            for n in _names(t):
                inner[n] = _LOCAL
        for child in node.body:
            _walk(child, inner, used)
        return
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        p = _path(node, scope)
        if isinstance(p, str):
            used.add(p)
            if isinstance(node, nodes.Getitem):
                _walk(node.arg, scope, used)
            return
        if p is _LOCAL:
            return
    for child in node.iter_child_nodes():
        _walk(child, scope, used)


def fields_used(ast) -> set[str]:
    used: set[str] = set()
    _walk(ast, {}, used)
    return used


def unknown_fields(used: set[str], kind: str) -> list[str]:
    cat = catalogue(kind)
    bad = sorted(p for p in used if p not in cat)
    # report the shortest wrong path only (person.nmae, not also person.nmae.x)
    return [p for p in bad if not any(p != q and p.startswith(q + ".") for q in bad)]


# ------------------------------------------------------------ prepared template

class PreparedTemplate:
    """A Word template parsed and compiled once; :meth:`render` many times."""

    def __init__(self, source: str | Path | bytes, kind: str, *, name: str | None = None,
                 env: SandboxedEnvironment | None = None, check: bool = True):
        self.kind = kind
        self.name = name or (Path(source).name if not isinstance(source, bytes) else "<模板>")
        self.env = env or make_env()
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            self._members = [(i, zf.read(i.filename)) for i in zf.infolist()]
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise TemplateError(f"模板“{self.name}”不是有效的 Word（.docx）文件：{exc}", template=self.name) from exc
        names = [i.filename for i, _ in self._members]
        if "word/document.xml" not in names:
            raise TemplateError(f"模板“{self.name}”缺少 word/document.xml，不是 Word 文档", template=self.name)
        from docxtpl import DocxTemplate  # docxtpl's tag cleaning (patch_xml) and listing fix

        self._dt = DocxTemplate(io.BytesIO(data))
        self._parts: dict[str, tuple[str, str, jinja2.Template, bool]] = {}
        self.fields: set[str] = set()
        for info, raw in self._members:
            if not _PART_RE.match(info.filename):
                continue
            xml = raw.decode("utf-8")
            if info.filename == "word/document.xml":
                m1, m2 = re.search(r"<w:body[ >]", xml), xml.rfind("</w:body>")
                start = xml.index(">", m1.start()) + 1
                head, body, tail = xml[:start], xml[start:m2], xml[m2:]
            else:
                m1 = re.search(r"<w:(hdr|ftr|footnotes)[ >]", xml)
                if not m1 or ("{" not in xml):
                    continue
                start = xml.index(">", m1.start()) + 1
                end = xml.rfind("</w:")
                head, body, tail = xml[:start], xml[start:end], xml[end:]
            if "{" not in body:
                continue
            src = _PARA_IN.sub(r"\n<w:p\1", self._dt.patch_xml(body))
            try:
                ast = self.env.parse(src)
                tpl = self.env.from_string(ast)
            except jinja2.TemplateSyntaxError as exc:
                line = re.sub(r"<[^>]+>", "", (src.splitlines() or [""])[max((exc.lineno or 1) - 1, 0)])[:80]
                raise TemplateError(f"模板“{self.name}”语法错误：{exc.message}（附近文字：{line}）",
                                    template=self.name) from exc
            self.fields |= fields_used(ast)
            self._parts[info.filename] = (head, tail, tpl, bool(_TC_RE.search(xml)))
        self.unknown = unknown_fields(self.fields, kind)
        if check:
            self.check()

    def check(self) -> None:
        if self.unknown:
            cat = describe(self.kind)
            hints = []
            for f in self.unknown:
                close = difflib.get_close_matches(f, cat, n=1)
                hints.append(f"{f}（是否应为 {close[0]}？）" if close else f)
            raise TemplateError(f"模板“{self.name}”使用了未知字段：{'、'.join(hints)}；未生成任何文件",
                                template=self.name, fields=self.unknown)

    def render(self, context: Mapping) -> bytes:
        """Render to the bytes of a .docx (nothing touches the disk)."""
        rendered: dict[str, bytes] = {}
        for name, (head, tail, tpl, has_tc) in self._parts.items():
            try:
                out = tpl.render(context)
            except jinja2.UndefinedError as exc:
                raise TemplateError(f"模板“{self.name}”引用了不存在的字段：{exc.message}；未生成任何文件",
                                    template=self.name) from exc
            except jinja2.exceptions.SecurityError as exc:
                raise TemplateError(f"模板“{self.name}”包含不允许的操作：{exc}", template=self.name) from exc
            except (jinja2.TemplateError, TypeError, ValueError, AttributeError) as exc:
                raise TemplateError(f"模板“{self.name}”渲染失败：{exc}", template=self.name) from exc
            out = _PARA_OUT.sub(r"<w:p\1", out)
            if "\n" in out:
                out = self._dt.resolve_listing(out)
            if has_tc:
                from lxml import etree
                doc = re.sub(r"^<\?xml[^>]*\?>\s*", "", head) + out + tail
                tree = self._dt.fix_tables(doc)
                rendered[name] = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=True)
                continue
            rendered[name] = (head + out + tail).encode("utf-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for info, raw in self._members:
                zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(zi, rendered.get(info.filename, raw))
        return buf.getvalue()


def naive_render(path: str | Path, context: Mapping) -> bytes:
    """The plain docxtpl way (load, render, save per document) — the benchmark's baseline."""
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(path))
    tpl.render(dict(context), jinja_env=make_env(), autoescape=True)
    buf = io.BytesIO()
    tpl.save(buf)
    return buf.getvalue()
