"""The fields a template may use, per form kind.

The catalogue is the flattened shape of a sample context (``person.name``,
``rows[].id_number``, ``assessment.police.signer`` …), so it can never drift
from what the context builders actually produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache

KINDS = ("person", "list", "statistics", "meeting")
_TODAY = date(2024, 3, 5)


def flatten(value, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if prefix:
        out.add(prefix)
    if isinstance(value, Mapping):
        for k, v in value.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        item = {}
        for x in value:  # union of the items' shapes
            if isinstance(x, Mapping):
                item.update(x)
        if item:
            out |= flatten(item, f"{prefix}[]")
    return out


def sample_context(kind: str) -> dict:
    from dossier.forms import contexts, sample

    if kind == "person":
        return contexts.person_context(sample.sample_dossier(), _TODAY, doc_no="样例")
    if kind == "list":
        return contexts.list_context([sample.sample_dossier()], _TODAY, scope=sample.SCOPE)
    if kind == "statistics":
        return contexts.statistics_context([sample.sample_dossier()], _TODAY, scope=sample.SCOPE)
    if kind == "meeting":
        return contexts.meeting_context(sample.sample_meeting(["d1"]), {"d1": sample.sample_dossier()},
                                        _TODAY, masked=False)
    raise ValueError(kind)


@lru_cache(maxsize=None)
def catalogue(kind: str) -> frozenset[str]:
    """Every dotted path a template of ``kind`` may reference."""
    return frozenset(flatten(sample_context(kind)))


def describe(kind: str) -> list[str]:
    """Leaf fields, sorted (for ``form list --json`` and error hints)."""
    cat = catalogue(kind)
    return sorted(p for p in cat if not any(q.startswith(p + ".") or q.startswith(p + "[]") for q in cat))
