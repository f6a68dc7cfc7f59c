"""Reports: campaigns and their progress, 附表1 statistics, eligibility, and
inspection checks. ``Reports(ar)`` is the session-facing entry point; the
computations themselves are pure functions in the submodules."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Mapping

from ..clock import now_iso
from ..errors import NotFound, PermissionDenied

if TYPE_CHECKING:
    from ..session import Session

INSPECTION_KIND = "inspection"


class Reports:
    def __init__(self, ar: "Session"):
        self.ar = ar

    @property
    def campaigns(self):
        from .campaigns import Campaigns
        return Campaigns(self.ar)

    def stats(self, scope: str | None, *, as_of: date, since: date | None = None) -> dict:
        from .population import load_population
        from .stats import statistics

        out = statistics(load_population(self.ar, scope), as_of, since)
        out["scope"] = scope or "*"
        return out

    def eligibility(self, scope: str | None, *, as_of: date, within_days: int) -> list[dict]:
        from .population import load_population
        from .stats import eligibility

        return eligibility(load_population(self.ar, scope), as_of, within_days)

    def inspect(self, scope: str | None, *, as_of: date, overrides: Mapping | None = None,
                only=None, save: bool = False) -> dict:
        """Run every check on the decrypted dossiers (admins, clerks, approvers).

        With ``save``, the masked result is sealed under the scope's inspection
        key so inspectors of that scope can read it (:meth:`saved_inspection`)."""
        from .inspection import rule_codes, run_checks, summary, thresholds
        from .population import load_population

        ar = self.ar
        only = rule_codes(only)           # refused before any dossier is decrypted
        thresholds(overrides)
        records = load_population(ar, scope)
        scope_path = ar.scopes.path_of(ar.scopes.id_of(scope)) if scope else None
        camps = [c for c in self.campaigns.list()
                 if scope_path is None or c.scope == scope_path or c.scope.startswith(scope_path + "/")
                 or scope_path.startswith(c.scope + "/")]
        findings = run_checks(records, as_of, campaigns=camps, overrides=overrides, only=only)
        result = {"scope": scope_path or "*", "as_of": as_of.isoformat(), "run_by": ar.user.name,
                  "run_at": now_iso(), "persons": len(records), "campaigns": [c.name for c in camps],
                  "thresholds": thresholds(overrides), "summary": summary(findings),
                  "findings": [f.to_dict() for f in findings]}
        if save:
            if scope_path is None:
                raise NotFound("保存督查结果须指定 --scope")
            ar.blobs.put(json.dumps(result, ensure_ascii=False).encode(), scope=scope_path,
                         kind=INSPECTION_KIND, key="inspect")
        ar.audit("inspect", scope=scope_path or "*", findings=len(findings))
        return result

    def inspection(self, scope: str | None, *, as_of: date, overrides: Mapping | None = None,
                   only=None, save: bool = False) -> dict:
        """What ``dossier inspect`` shows the caller: a fresh run on the decrypted dossiers
        (admins, clerks, approvers), or for an inspector — who holds only inspection
        keys — the latest saved (masked) result. An unknown rule code is refused for
        everyone, before anything is decrypted."""
        from .inspection import rule_codes

        rule_codes(only)
        if self.ar.user.role == "inspector":
            return self.saved_inspection(scope)
        return self.inspect(scope, as_of=as_of, overrides=overrides, only=only or None, save=save)

    def saved_inspection(self, scope: str | None) -> dict:
        """The latest saved inspection result an inspector's key opens (for ``scope`` or any
        scope covering it)."""
        ar = self.ar
        sids = None
        if scope:
            sid = ar.scopes.id_of(scope)
            path = ar.scopes.path_of(sid)
            sids = {i for i in ar.scopes._load() if path == ar.scopes.path_of(i)
                    or path.startswith(ar.scopes.path_of(i) + "/")}
        rows = ar.con.execute("SELECT id, scope FROM blobs WHERE kind=? ORDER BY created DESC, rowid DESC",
                              (INSPECTION_KIND,)).fetchall()
        for r in rows:
            if (sids is None or r["scope"] in sids) and ar.keyring.holds(r["scope"], "inspect"):
                return json.loads(ar.blobs.get(r["id"], kind=INSPECTION_KIND, key="inspect"))
        raise PermissionDenied("督查人员不能解密档案；该辖区还没有已保存的督查结果"
                               "（请管理员或社区专干运行 dossier inspect --scope … --save）")
