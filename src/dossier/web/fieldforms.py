"""HTML forms generated from the model's field definitions (the same ``Field``
tuples that validate YAML files and the sheet templates): one definition.

Input ``name`` attributes are the YAML keys (``date``, ``method``, ``person_seen``
…); an object's subfields are ``key.sub``, a list of objects' rows
``key.0.sub``. :func:`parse` turns a submitted form back into the mapping that
``normalize_entry`` / ``normalize_profile`` validate, so the browser and a
YAML file go through exactly the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.fields import Field

# Fields shown first on each form; the others are under "更多项目" (same form, folded).
PRIMARY = {
    "interview": ("date", "method", "subject", "person_seen", "staff", "location", "content", "findings"),
    "test": ("date", "sample", "method", "result", "institution", "report_no", "testers"),
    "assessment": ("date", "suggested_level", "proposed_level", "rationale", "next_review"),
    "measure": ("date", "level", "visit_freq_days", "test_freq_days", "measures", "responsibles", "filed_with"),
    "assistance": ("date", "assistance_type", "provider", "content", "outcome"),
    "status": ("start", "status", "end", "place", "decision_doc"),
    "agreement": ("agreement_type", "signed", "period_start", "period_end", "parties"),
    "drug_event": ("date", "event_type", "drugs", "handling", "unit"),
    "profile": ("name", "id_number", "phone", "hukou_address", "residence_address", "first_seized_date",
                "drug_types", "addiction", "source", "social_worker", "community_officer"),
}
LIST_ROWS = 2          # rows offered for a list of objects (工作人员, 包保责任人, 家庭成员)


@dataclass
class Widget:
    """One field as the template draws it."""

    field: Field
    name: str             # the input's name attribute
    kind: str             # text, textarea, date, number, select, bool, multi, group, rows
    value: object = ""
    error: str = ""
    children: list | None = None      # group: [Widget]; rows: [[Widget]]

    @property
    def label(self) -> str:
        return self.field.label

    @property
    def required(self) -> bool:
        return self.field.required

    @property
    def choices(self):
        return self.field.choices


_KIND = {"str": "text", "text": "textarea", "date": "date", "bool": "bool", "int": "number",
         "float": "number", "enum": "select", "list": "text", "list_enum": "multi", "object": "group",
         "list_object": "rows"}


def widgets(fields: tuple[Field, ...], values: dict | None = None, errors: dict | None = None,
            prefix: str = "") -> list[Widget]:
    values, errors = values or {}, errors or {}
    out = []
    for f in fields:
        name = prefix + f.name
        kind = _KIND[f.kind]
        v = values.get(f.name)
        w = Widget(f, name, kind, _shown(f, v), errors.get(name, ""))
        if kind == "group":
            w.children = widgets(f.subfields, v if isinstance(v, dict) else {}, errors, prefix=name + ".")
        elif kind == "rows":
            rows = list(v) if isinstance(v, list) else []
            rows += [{}] * max(LIST_ROWS - len(rows), 1 if rows else 0)
            w.children = [widgets(f.subfields, r if isinstance(r, dict) else {}, errors, prefix=f"{name}.{i}.")
                          for i, r in enumerate(rows)]
        out.append(w)
    return out


def split(ws: list[Widget], kind: str) -> tuple[list[Widget], list[Widget]]:
    """(the primary fields in their order, the rest) for a form of ``kind``."""
    order = PRIMARY.get(kind, ())
    first = sorted((w for w in ws if w.field.name in order), key=lambda w: order.index(w.field.name))
    rest = [w for w in ws if w.field.name not in order]
    return first, rest


def _shown(f: Field, v) -> object:
    if v is None:
        return ""
    if f.kind == "list" and isinstance(v, list):
        return "、".join(str(x) for x in v)
    if f.kind == "bool":
        return "true" if v is True else "false" if v is False else str(v)
    if f.kind == "list_enum":
        return list(v) if isinstance(v, list) else [v]
    return v


def parse(fields: tuple[Field, ...], form, prefix: str = "") -> dict:
    """The submitted values as a mapping for the model's normaliser (empty inputs left out)."""
    out: dict = {}
    for f in fields:
        name = prefix + f.name
        if f.kind == "object":
            sub = parse(f.subfields, form, prefix=name + ".")
            if sub:
                out[f.name] = sub
        elif f.kind == "list_object":
            rows, i = [], 0
            while any(k.startswith(f"{name}.{i}.") for k in form.keys()):
                row = parse(f.subfields, form, prefix=f"{name}.{i}.")
                if row:
                    rows.append(row)
                i += 1
            if rows:
                out[f.name] = rows
        elif f.kind == "list_enum":
            got = [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
            if got:
                out[f.name] = got
        else:
            v = form.get(name)
            if isinstance(v, str) and v.strip():
                out[f.name] = v.strip() if f.kind != "text" else v.strip("\r\n ")
    return out


def error_map(exc) -> tuple[dict[str, str], list[str]]:
    """(field name → message, messages that name no field of the form) of a validation error."""
    errs = getattr(exc, "errors", None) or [exc]
    by_field: dict[str, str] = {}
    other: list[str] = []
    for e in errs:
        name = getattr(e, "field", None)
        reason = getattr(e, "reason", None) or getattr(e, "message", str(e))
        if name:
            key = str(name).replace("[", ".").replace("]", "")
            by_field[key] = (by_field.get(key, "") + "；" if key in by_field else "") + reason
        else:
            other.append(getattr(e, "message", str(e)))
    return by_field, other
