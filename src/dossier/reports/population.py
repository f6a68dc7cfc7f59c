"""The persons a report looks at: one decrypted pass over the dossiers a user
may read, reduced to what reports need (profile, entries, scope, head).

Reports are pure functions over these records and a date; only this module
touches the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Iterable

from ..dossiers import READ_ROLES
from ..errors import PermissionDenied
from ..model.dates import as_date
from ..model.dossier_rules import death_date, status_on

if TYPE_CHECKING:
    from ..session import Session

# entries that show someone actually worked the file
WORK_TYPES = ("interview", "test", "assessment", "measure")


@dataclass
class PersonRecord:
    id: str
    archive_no: str
    scope: str                       # full scope path (区/街道/社区)
    profile: dict
    entries: list[dict]
    head: int = 1
    head_time: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def community(self) -> str:
        """The 社区 (leaf scope name) the person belongs to."""
        return self.scope.split("/")[-1]

    def dated(self, *types: str) -> list[dict]:
        """Entries of ``types`` (all if none) with a date, oldest first; computed once per
        record (reports only read them: do not modify the list)."""
        key = ("dated", types)
        hit = self._cache.get(key)
        if hit is None:
            if len(types) == 1:          # one type (the frequent case): from one sort of them all, grouped
                groups = self._cache.get("by_type")
                if groups is None:
                    groups = self._cache["by_type"] = {}
                    for e in self.dated():
                        groups.setdefault(e.get("type"), []).append(e)
                hit = groups.get(types[0], [])
            else:
                hit = sorted(
                    (e for e in self.entries if (not types or e.get("type") in types) and as_date(e.get("date"))),
                    key=lambda e: (e["date"], e.get("recorded_at", "")))
            self._cache[key] = hit
        return hit

    def death(self) -> date | None:
        if "death" not in self._cache:
            self._cache["death"] = death_date(self.entries)
        return self._cache["death"]

    def dead_on(self, day: date) -> bool:
        d = self.death()
        return d is not None and d <= day

    def presence(self, day: date) -> str:
        """现实状况 on ``day``; 在控 when nothing else is recorded."""
        if self.dead_on(day):
            return "死亡"
        return status_on(self.entries, "presence", day) or "在控"

    def measure(self, day: date) -> str | None:
        return status_on(self.entries, "measure", day)

    def risk_level(self, day: date) -> str | None:
        """Level of the latest assessment on or before ``day`` (会商结论 before 初评)."""
        items = [e for e in self.dated("assessment") if as_date(e["date"]) <= day]
        for e in reversed(items):
            lvl = e.get("final_level") or e.get("proposed_level") or e.get("suggested_level")
            if lvl:
                return lvl
        return None

    def labels(self, day: date) -> list[str]:
        key = ("labels", day)
        if key not in self._cache:
            from ..rules.labels import derive_labels
            self._cache[key] = derive_labels(self.profile, self.entries, day)
        return self._cache[key]

    def masked_name(self) -> str:
        from ..disclose.masking import mask_name
        return mask_name(self.profile.get("name"))


def load_population(ar: "Session", scope: str | None = None) -> list[PersonRecord]:
    """Decrypt the head version of every dossier in ``scope`` (default: all the user covers).

    Needs the data key: admins, clerks and approvers. Inspectors hold only
    inspection keys and get :class:`PermissionDenied`.
    """
    if ar.user.role not in READ_ROLES:
        raise PermissionDenied(f"{ar.user.role_label}不能解密档案，无法在全量数据上运行此报表"
                               "（请由管理员或社区专干运行，并用 --save 保存督查结果供督查人员查看）")
    wanted = scope_ids(ar, scope)
    out: list[PersonRecord] = []
    # the records are used only once all are read: signatures may be checked on the other core
    for row, v, content in ar.dossiers.heads(wanted, signatures_aside=True):
        st = content["state"]
        out.append(PersonRecord(row.id, row.archive_no, row.scope_path, st.get("profile", {}),
                                st.get("entries", []), row.head, v.time))
    ar.audit("report", scope=scope or "*", count=len(out))
    return out


def scope_ids(ar: "Session", scope: str | None) -> set[int]:
    covered = ar.scopes.covered()
    if not scope:
        return covered
    sid = ar.scopes.id_of(scope)
    wanted = set(ar.scopes.subtree(sid))
    if not wanted & covered:
        raise PermissionDenied(f"用户“{ar.user.name}”的辖区不包括“{ar.scopes.path_of(sid)}”")
    return wanted & covered


def by_community(records: Iterable[PersonRecord]) -> dict[str, list[PersonRecord]]:
    out: dict[str, list[PersonRecord]] = {}
    for r in sorted(records, key=lambda r: r.scope):
        out.setdefault(r.community, []).append(r)
    return out


def ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None
