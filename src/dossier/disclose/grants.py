"""Disclosure requests, grants, revocation and export (DOMAIN §7).

request (who, purpose, persons, fields, until) → grant by an admin, or a
clerk whose scopes cover every person → export by the requester, with
exactly the granted fields in clear and everything else masked.

Enforced by keys: at grant time the granter (who can decrypt the dossiers)
reduces each profile to the grant and wraps that payload to the
requester's X25519 key; the requester's export opens it, so an inspector
never needs a scope's data key. Revocation deletes the payload; expiry and
revocation are checked at export (exit 31). Every step is an audit event.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import TYPE_CHECKING

from ..clock import now_iso
from ..crypto import aead
from ..crypto.keys import wrap_to
from ..errors import DisclosureRefused, InvalidInput, NotFound, PermissionDenied
from . import leakguard, packages

if TYPE_CHECKING:
    from ..session import Session

SCHEMA = """
CREATE TABLE IF NOT EXISTS disclosures(
    id TEXT PRIMARY KEY, requester TEXT NOT NULL, purpose TEXT NOT NULL,
    fields TEXT NOT NULL, dossiers TEXT NOT NULL, until TEXT,
    status TEXT NOT NULL, created TEXT NOT NULL,
    granted_by TEXT, granted_at TEXT, revoked_by TEXT, revoked_at TEXT,
    payload BLOB);
"""
FIELDS = tuple(packages.FIELD_LABELS)
REQUESTED, GRANTED, REVOKED = "待授权", "已授权", "已撤销"


def _ctx(archive_id: str, did: str) -> bytes:
    return aead.ad_for("disclosure-payload", archive_id, did)


def _today() -> _dt.date:
    return _dt.date.today()


class Disclosures:
    def __init__(self, ar: "Session"):
        self.ar = ar
        ar.con.executescript(SCHEMA)

    def _get(self, did: str) -> dict:
        r = self.ar.con.execute("SELECT * FROM disclosures WHERE id=?", (did,)).fetchone()
        if r is None:
            raise NotFound(f"没有披露申请 {did}")
        d = dict(r)
        d["fields"], d["dossiers"] = json.loads(d["fields"]), json.loads(d["dossiers"])
        return d

    def request(self, refs: list[str], *, purpose: str, fields: list[str], until: str | None = None) -> dict:
        ar = self.ar
        if not purpose.strip():
            raise InvalidInput(field="purpose", reason="须写明披露用途")
        bad = [f for f in fields if f not in FIELDS]
        if bad or not fields:
            raise InvalidInput(field="fields", reason=f"未知字段 {','.join(bad)}；可选：{','.join(FIELDS)}")
        if until:
            try:
                if _dt.date.fromisoformat(until) < _today():
                    raise InvalidInput(field="until", reason="截止日期已过")
            except ValueError:
                raise InvalidInput(field="until", reason="日期应为 YYYY-MM-DD") from None
        ids = [ar.dossiers.resolve(r).id for r in refs]
        if not ids:
            raise InvalidInput(field="refs", reason="须至少给出一个档号")
        did = "D" + _dt.date.today().strftime("%Y%m%d") + "-" + os.urandom(3).hex()
        with ar.transaction() as con:
            con.execute("INSERT INTO disclosures(id, requester, purpose, fields, dossiers, until, status, created)"
                        " VALUES(?,?,?,?,?,?,?,?)", (did, ar.user.name, purpose, json.dumps(fields),
                                                     json.dumps(ids), until, REQUESTED, now_iso()))
            ar.audit("disclose.request", request=did, dossiers=ids, fields=fields, purpose=purpose, until=until)
        return self.show(did)

    def show(self, did: str) -> dict:
        d = self._get(did)
        return {k: d[k] for k in ("id", "requester", "purpose", "fields", "until", "status", "created",
                                  "granted_by", "granted_at", "revoked_by", "revoked_at")} | {"persons": len(d["dossiers"])}

    def list(self) -> list[dict]:
        return [self.show(r[0]) for r in self.ar.con.execute("SELECT id FROM disclosures ORDER BY created")]

    def _may_decide(self, d: dict, what: str) -> list:
        ar = self.ar
        if ar.user.role not in ("admin", "clerk"):
            raise PermissionDenied(f"只有管理员或辖区的社区专干可以{what}披露")
        rows = [ar.dossiers.resolve(x) for x in d["dossiers"]]
        covered = ar.scopes.covered()
        for row in rows:
            if row.scope not in covered:
                raise PermissionDenied(f"用户“{ar.user.name}”的辖区不包括“{row.scope_path}”，不能{what}该披露")
        return rows

    def grant(self, did: str) -> dict:
        ar = self.ar
        d = self._get(did)
        if d["status"] != REQUESTED:
            raise DisclosureRefused(f"披露申请 {did} 的状态是“{d['status']}”，不能授权")
        if d["until"] and _dt.date.fromisoformat(d["until"]) < _today():
            raise DisclosureRefused(f"披露申请 {did} 已过期")
        rows = self._may_decide(d, "授权")
        records, forbidden, allowed, papers = [], [], [], []
        for row in rows:
            ver, content = ar.dossiers.load(row)
            papers.append([row.id, ver.version])
            prof = content["state"].get("profile", {})
            rec = {"archive_no": row.archive_no, **packages.reduce_profile(prof, d["fields"])}
            records.append({k: v for k, v in rec.items() if isinstance(v, (str, int, float))})
            forbidden += packages.forbidden_values(prof, d["fields"])
            allowed += [str(prof[f]) for f in d["fields"] if prof.get(f)]
        # the expiry travels inside the wrapped (authenticated) payload too, so editing
        # `until` in meta.db cannot extend a grant
        payload = json.dumps({"records": records, "forbidden": forbidden, "allowed": allowed,
                              "papers": papers, "until": d["until"]}, ensure_ascii=False).encode()
        box = ar.con.execute("SELECT box_pub FROM users WHERE name=? AND status='active'", (d["requester"],)).fetchone()
        if box is None:
            raise DisclosureRefused(f"申请人“{d['requester']}”已停用")
        with ar.transaction() as con:
            con.execute("UPDATE disclosures SET status=?, granted_by=?, granted_at=?, payload=? WHERE id=?",
                        (GRANTED, ar.user.name, now_iso(), wrap_to(box[0], payload, _ctx(ar.archive_id, did)), did))
            ar.audit("disclose.grant", request=did, dossiers=d["dossiers"], fields=d["fields"])
        return self.show(did)

    def revoke(self, did: str) -> dict:
        ar = self.ar
        d = self._get(did)
        if d["status"] == REVOKED:
            raise DisclosureRefused(f"披露 {did} 已撤销")
        if ar.user.name != d["requester"]:
            self._may_decide(d, "撤销")
        with ar.transaction() as con:
            con.execute("UPDATE disclosures SET status=?, revoked_by=?, revoked_at=?, payload=NULL WHERE id=?",
                        (REVOKED, ar.user.name, now_iso(), did))
            ar.audit("disclose.revoke", request=did)
        return self.show(did)

    def export(self, did: str, *, password: str | None = None, today: _dt.date | None = None) -> bytes:
        """The package bytes (the caller writes them). Refused (exit 31) when not granted,
        revoked, expired or when the leak guard finds anything."""
        ar = self.ar
        d = self._get(did)
        if d["requester"] != ar.user.name:
            raise DisclosureRefused(f"披露 {did} 是授予“{d['requester']}”的，不能由他人导出")
        if d["status"] != GRANTED or d["payload"] is None:
            raise DisclosureRefused(f"披露 {did} 的状态是“{d['status']}”，不能导出")
        today = today or _today()
        if d["until"] and _dt.date.fromisoformat(d["until"]) < today:
            raise DisclosureRefused(f"披露 {did} 已于 {d['until']} 过期")
        p = json.loads(ar.keys.unwrap(bytes(d["payload"]), _ctx(ar.archive_id, did)))
        # the earlier of the granted expiry (authenticated, in the payload) and the table's
        limits = [u for u in (p.get("until"), d["until"]) if u]
        if limits and _dt.date.fromisoformat(min(limits)) < today:
            raise DisclosureRefused(f"披露 {did} 已于 {min(limits)} 过期")
        tokens = [packages.paper_token(ar, pid, v, rec) for (pid, v), rec in zip(p.get("papers") or [], p["records"])]
        policy = leakguard.Policy.build([tuple(x) for x in p["forbidden"]], p["allowed"])
        try:
            pdf = packages.build_package(p["records"], number=did, recipient=d["requester"], purpose=d["purpose"],
                                         date=today.isoformat(), policy=policy, password=password,
                                         tokens=tokens or None)
        except DisclosureRefused:
            ar.audit("disclose.refused", request=did)
            raise
        ar.audit("disclose.export", request=did, dossiers=d["dossiers"], fields=d["fields"],
                 encrypted=bool(password))
        return pdf
