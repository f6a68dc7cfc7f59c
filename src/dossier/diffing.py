"""Readable field-level differences between two dossier states."""

from __future__ import annotations


def _label(name: str) -> str:
    try:
        from .model.person import PROFILE_FIELDS
        for f in PROFILE_FIELDS:
            if f.name == name:
                return f.label
    except ImportError:
        pass
    return name


def _entry_title(e: dict) -> str:
    try:
        from .model.entries import ENTRY_TYPES
        label = ENTRY_TYPES[e.get("type")].label
    except (ImportError, KeyError):
        label = e.get("type", "?")
    return f"{label} {e.get('date', '')}".strip()


def diff_states(a: dict, b: dict) -> list[dict]:
    """A list of changes: {kind, field, label, old, new} / {kind, entry...}."""
    changes: list[dict] = []
    pa, pb = a.get("profile", {}), b.get("profile", {})
    for k in sorted(set(pa) | set(pb)):
        if pa.get(k) != pb.get(k):
            kind = "added" if k not in pa else "removed" if k not in pb else "changed"
            changes.append({"kind": kind, "section": "profile", "field": k, "label": _label(k),
                            "old": pa.get(k), "new": pb.get(k)})
    for section in sorted((set(a) | set(b)) - {"profile"}):
        la, lb = a.get(section), b.get(section)
        if isinstance(la or lb, list):
            ida = {_key(x): x for x in (la or [])}
            idb = {_key(x): x for x in (lb or [])}
            for k, x in idb.items():
                if k not in ida:
                    changes.append({"kind": "added", "section": section, "field": section,
                                    "label": _entry_title(x) if section == "entries" else section, "new": x})
                elif ida[k] != x:
                    changes.append({"kind": "changed", "section": section, "field": section,
                                    "label": _entry_title(x) if section == "entries" else section,
                                    "old": ida[k], "new": x})
            for k, x in ida.items():
                if k not in idb:
                    changes.append({"kind": "removed", "section": section, "field": section,
                                    "label": _entry_title(x) if section == "entries" else section, "old": x})
        elif la != lb:
            changes.append({"kind": "changed", "section": section, "field": section, "label": section,
                            "old": la, "new": lb})
    return changes


def _key(x) -> str:
    if isinstance(x, dict) and "id" in x:
        return str(x["id"])
    import json
    return json.dumps(x, sort_keys=True, ensure_ascii=False)
