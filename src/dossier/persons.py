"""Persons (registering a dossier) and entries (dated records appended to it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Mapping

from .clock import now_iso
from .dossiers import EMPTY_STATE, WRITE_ROLES, DossierRow
from .errors import InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from .session import Session


@dataclass
class PersonRef:
    id: str
    archive_no: str
    version: int
    scope: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"archive_no": self.archive_no, "id": self.id, "version": self.version, "scope": self.scope,
                "warnings": self.warnings}


def make_archive_no(street_code: str | None, year: int, community_code: str, seq: int) -> str:
    """档号 (DOMAIN §5 [建议]): {街道9位区划码}-JD·{年度}-Y-{社区3位码}-{人员4位序号}."""
    return f"{(street_code or '000000000')[:9]:0>9}-JD·{year}-Y-{community_code[-3:]:0>3}-{seq:04d}"


class Persons:
    def __init__(self, ar: "Session"):
        self.ar = ar

    def add(self, scope: str, profile: Mapping, *, today: date | None = None, message: str = "建档") -> PersonRef:
        from .model.person import CanonicalProfile, normalize_profile

        ar = self.ar
        ar.require_role(*WRITE_ROLES, what="登记人员")
        today = today or date.today()
        sid = ar.scopes.id_of(scope)
        ar.scopes.require(sid, "在此辖区登记人员")
        if isinstance(profile, CanonicalProfile) and profile.today == today:
            clean, warnings = profile.profile(), list(profile.warnings)    # normalised already
        else:
            clean, warnings = normalize_profile(profile, today=today)
        token = ar.keyring.blind_token(clean["id_number"])
        with ar.transaction() as con:
            dup = con.execute("SELECT archive_no FROM dossier_keys WHERE id_token=?", (token,)).fetchone()
            if dup:
                raise InvalidInput(field="id_number", reason=f"该公民身份号码已建档（档号 {dup[0]}），不能重复登记")
            seq = con.execute("UPDATE scopes SET seq=seq+1 WHERE id=? RETURNING seq", (sid,)).fetchone()[0]
            archive_no = make_archive_no(self._street_code(sid), today.year, self._community_code(sid), seq)
            dossier_id = str(uuid.uuid4())
            state = {**EMPTY_STATE, "profile": clean}
            row = ar.dossiers.create(sid, archive_no, token, dossier_id, state, message)
        # no separate "create" event: version 1's own dossier.change event (recorded in the
        # same transaction, see Dossiers._write) is the creation
        return PersonRef(dossier_id, archive_no, row.head, row.scope_path, warnings)

    def _community_code(self, sid: int) -> str:
        code = self.ar.scopes.get(sid)["code"]
        return code[-3:] if code else f"{sid:03d}"

    def _street_code(self, sid: int) -> str | None:
        scopes = self.ar.scopes
        parts = scopes.path_of(sid).split("/")
        if len(parts) >= 2:
            code = scopes.get(scopes.id_of("/".join(parts[:2])))["code"]
            return code
        return None

    def update(self, ref: str, changes: Mapping, *, message: str | None = None, today: date | None = None,
               expect_version: int | None = None) -> int | None:
        """Change profile fields; returns the new version, or None when nothing changed.

        ``expect_version``: the version the change was made on (a form opened
        earlier); if the dossier has moved on since, VersionConflict names what
        changed in between and nothing is saved."""
        from .model.person import normalize_profile

        today = today or date.today()
        partial, _ = normalize_profile(changes, today=today, partial=True)
        ar = self.ar
        with ar.transaction():
            row = ar.dossiers.resolve(ref)
            ar.dossiers.refuse_if_sent(row)     # before the (masked) stub's profile fails validation below
            if expect_version is not None and expect_version != row.head:
                from .errors import VersionConflict

                d = ar.dossiers.diff(ref, expect_version, row.head) if 1 <= expect_version < row.head else None
                raise VersionConflict(base=expect_version, head=row.head, changes=(d or {}).get("changes", []))
            _, content = ar.dossiers.load(row)
            old = content["state"]["profile"]
            changed = {k: v for k, v in partial.items() if old.get(k) != v}
            if not changed:
                return None
            if "id_number" in changed:
                raise InvalidInput(field="id_number", reason="公民身份号码不能通过修改变更（错录请走更正流程）")
            merged = {**old, **changed}
            normalize_profile(merged, today=today)   # the whole profile must still be valid
            from .diffing import _label
            msg = message or "修改：" + "、".join(_label(k) for k in sorted(changed))

            def mutate(state):
                state["profile"].update(changed)
            return ar.dossiers.commit(row, mutate, msg)

    def resolve(self, ref: str) -> DossierRow:
        return self.ar.dossiers.resolve(ref)

    def list(self, scope: str | None = None) -> list[dict]:
        """Persons in a scope subtree the user can read (name and ID in full)."""
        ar = self.ar
        if ar.user.role not in ("admin", "clerk", "approver"):
            raise PermissionDenied(f"{ar.user.role_label}不能列出人员名单（请用 dossier search）")
        covered = ar.scopes.covered()
        if scope:
            sid = ar.scopes.id_of(scope)
            wanted = set(ar.scopes.subtree(sid))
            if not wanted & covered:
                raise PermissionDenied(f"用户“{ar.user.name}”的辖区不包括“{ar.scopes.path_of(sid)}”")
            wanted &= covered
        else:
            wanted = covered
        out = []
        for row, _, content in ar.dossiers.heads(wanted):
            p = content["state"]["profile"]
            out.append({"archive_no": row.archive_no, "id": row.id, "name": p.get("name"),
                        "id_number": p.get("id_number"), "gender": p.get("gender"), "scope": row.scope_path,
                        "version": row.head})
        ar.audit("list", scope=scope or "*", count=len(out))
        return out


class Entries:
    def __init__(self, ar: "Session"):
        self.ar = ar

    def add(self, ref: str, type_name: str, data: Mapping, *, message: str | None = None,
            today: date | None = None, import_batch: str | None = None) -> dict:
        """Append an entry. ``import_batch`` marks historical records loaded in bulk
        (a roster import), so timing checks (backdating, bursts) skip them."""
        from .model.dossier_rules import check_dossier
        from .model.entries import ENTRY_TYPES, normalize_entry, resolve_entry_type

        ar = self.ar
        today = today or date.today()
        t = resolve_entry_type(type_name)
        entry = normalize_entry(t, data, today=today)
        entry["id"] = str(uuid.uuid4())
        entry["recorded_at"] = now_iso()
        entry["author"] = ar.user.name
        if import_batch:
            entry["import_batch"] = import_batch
        msg = message or f"新增{ENTRY_TYPES[t].label}（{entry.get('date', '')}）"

        def mutate(state):
            entries = state.setdefault("entries", [])
            entries.append(entry)
            check_dossier(state["profile"], entries, today=today)
        entry["version"] = ar.dossiers.commit(ref, mutate, msg, what="添加记录", concurrent=True)
        return entry
