"""Official forms: template registry, contexts, docx/xlsx rendering, PDF, binding.

Archive-independent core (pure functions of data and a date). The archive
operations (``form fill``, ``meeting add``, ``attach``, ``bind``) live in
:mod:`dossier.forms.service`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

from dossier.errors import InvalidInput, TemplateError
from dossier.forms import contexts
from dossier.forms import render as _render_module  # noqa: F401 - see below
from dossier.forms.registry import FormSpec, Registry

# The submodule dossier.forms.render is imported first, on purpose: importing a submodule sets the
# package attribute of the same name, so a later first import of it would replace the function
# ``render`` below with the module (``from dossier.forms import render`` then gave a module).


def context_for(spec: FormSpec, today: date, *, dossier: Mapping | None = None,
                dossiers: Iterable[Mapping] | None = None, meeting: Mapping | None = None,
                meeting_dossiers: Mapping[str, Mapping] | None = None, scope: str = "",
                doc_no: str = "", items: list[dict] | None = None, interview_id: str | None = None,
                masked: bool | None = None, since: date | None = None) -> dict:
    if spec.kind == "person":
        if dossier is None:
            raise InvalidInput(f"文书“{spec.title}”是个人文书，需要指定人员")
        return contexts.person_context(dossier, today, doc_no=doc_no, items=items, interview_id=interview_id)
    if spec.kind == "list":
        return contexts.list_context(dossiers or [], today, scope=scope, select=spec.select)
    if spec.kind == "statistics":
        return contexts.statistics_context(dossiers or [], today, scope=scope, since=since)
    if spec.kind == "meeting":
        if meeting is None:
            raise InvalidInput(f"文书“{spec.title}”是会议文书，需要指定会议（--meeting）")
        return contexts.meeting_context(meeting, meeting_dossiers or {}, today,
                                        masked=spec.masked if masked is None else masked)
    raise TemplateError(f"未知文书类型：{spec.kind}")


def render(registry: Registry, code: str, context: Mapping, *, fmt: str = "docx") -> bytes:
    """Render form ``code`` with ``context`` to docx (or, for list forms, xlsx) bytes."""
    spec = registry.get(code)
    if fmt == "xlsx":
        if spec.kind not in ("list", "statistics"):
            raise InvalidInput(f"文书“{spec.title}”不是清单类文书，不能输出为 xlsx")
        from dossier.forms.xlsx import write_list_xlsx
        label = next((a for a in spec.aliases if a.startswith("附表")), spec.code)
        return write_list_xlsx(spec.title, label, spec.columns, context)
    if fmt != "docx":
        raise InvalidInput(f"不支持的输出格式：{fmt}（可用 docx、xlsx、pdf）")
    return registry.prepared(code).render(context)


def check_template(path: str | Path, *, kind: str | None = None, registry: Registry | None = None) -> dict:
    """Validate a (user-edited) template: its fields, and unknown ones refused (TemplateError)."""
    from dossier.forms.render import PreparedTemplate

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"模板文件不存在：{path}")
    spec = None
    reg = registry or Registry()
    if kind is None:
        for s in reg.forms():
            if path.name in (s.file, f"{s.code}.docx") or path.stem in [s.title, *s.aliases]:
                spec, kind = s, s.kind
                break
    if kind is None:
        probe = PreparedTemplate(path, "person", check=False)
        roots = {f.split(".")[0].split("[")[0] for f in probe.fields}
        kind = "meeting" if roots & {"meeting", "conclusions", "signin", "decisions"} else \
            "statistics" if "total" in roots else "list" if "rows" in roots else "person"
    tpl = PreparedTemplate(path, kind)   # raises TemplateError naming unknown fields
    return {"template": str(path), "kind": kind, "code": spec.code if spec else None,
            "fields": sorted(tpl.fields), "ok": True}


render_form = render

__all__ = ["Registry", "FormSpec", "context_for", "render", "render_form", "check_template", "contexts"]
