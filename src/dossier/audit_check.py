"""The audit chain verified on its own and against the archive: what ``audit
verify`` runs, and what ``check`` adds through ``ar.extra_checks``.

1. the chain itself (:func:`dossier.audit.verify_chain`): every event's hash,
   link and signature, against the heads anchored in dossier versions and the
   exported heads given (or found in the configured ``head_dir``);
2. the cross-check of the chain with the versions, approvals, disclosures
   and users (:mod:`dossier.crosscheck`), on rows read through
   :class:`dossier.store.queries.MetaQueries`;
3. a warning when no head was exported for too long (:mod:`dossier.audit_heads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import audit_heads, crosscheck, received
from .audit import PendingSignatures, verify_chain
from .errors import AuditChainError, DossierError
from .store.queries import MetaQueries

if TYPE_CHECKING:
    from .session import Session
    from .audit import ChainReport


@dataclass
class AuditCheck:
    chain: "ChainReport | None" = None
    chain_error: AuditChainError | None = None
    problems: list[dict] = field(default_factory=list)      # cross-check findings
    warnings: list[str] = field(default_factory=list)
    heads_checked: int = 0
    last_export: str | None = None
    pending: "PendingSignatures | None" = field(default=None, repr=False)   # signatures checked aside

    def settle(self) -> bool:
        """Once the pending signatures are answered: an event whose signature failed is the
        chain's first problem (see :class:`dossier.audit.PendingSignatures`). True if so."""
        err = self.pending.first_bad() if self.pending is not None else None
        self.pending = None
        if err is None:
            return False
        self.chain, self.chain_error = None, err
        return True

    @property
    def ok(self) -> bool:
        return self.chain_error is None and not self.problems

    def to_dict(self) -> dict:
        d = self.chain.to_dict() if self.chain else {"events": None, "head": None, "anchors_checked": None}
        return {**d, "ok": self.ok, "chain_error": self.chain_error.message if self.chain_error else None,
                "problems": self.problems, "warnings": self.warnings, "exported_heads_checked": self.heads_checked,
                "last_export": self.last_export}


def verify(ar: "Session", *, heads: Sequence = (), links: Sequence | None = None,
           max_head_age_days: int | None = None, now=None, signatures=None) -> AuditCheck:
    """Verify the chain (against ``heads``: files or directories of exported heads; the
    configured ``head_dir`` when none are given) and cross-check it with the archive.

    The events' Ed25519 signatures are verified on another core while the rest runs
    (:mod:`dossier.crypto.verify_aside`) when it pays. ``signatures``: the caller's
    :class:`~dossier.crypto.verify_aside.Signatures` (``dossier check`` shares one with
    the versions): the answer is then the caller's to wait for, and ``out.settle()``
    must be called after its ``settle()``."""
    from .approve.hooks import ensure_attached
    from .crypto import verify_aside

    ensure_attached(ar)
    out = AuditCheck()
    exported, notes = audit_heads.load_heads(heads or audit_heads.default_head_places(ar), ar.archive_id)
    out.warnings += notes
    out.heads_checked = len(exported)
    events = ar.audit_chain.events()
    own = signatures is None
    if own:
        signatures = verify_aside.Signatures(verify_aside.stream(len(events)))
    try:
        _verify(ar, out, events, exported, links, max_head_age_days, now, signatures)
        if own:
            signatures.settle()
            out.settle()
    finally:
        if own:
            signatures.close()
    return out


def _verify(ar: "Session", out: AuditCheck, events: list, exported: list, links: Sequence | None,
            max_head_age_days: int | None, now, signatures) -> None:
    from .approve.hooks import public_keys, version_anchors

    pending = PendingSignatures(signatures) if signatures.deferred else None
    try:
        out.chain = verify_chain(events, public_keys(ar), [*ar.audit_chain.anchors(), *version_anchors(ar), *exported],
                                 archive_id=ar.archive_id, signatures=pending)
    except AuditChainError as e:
        out.chain_error = e
    if pending is not None:
        out.pending = pending
    q = MetaQueries(ar.con)
    origins = received.origins(ar.con)
    if links is None:
        from .versions import VersionRow

        # versions received from another archive have no change event here (issue 13)
        removed = received.redacted(ar.con)
        links = []
        for r in q.all_versions():
            if (r["dossier"], r["version"]) in origins:
                continue
            v = VersionRow.from_row(r)
            v.body_digest = removed.get((v.dossier, v.version))    # content removed at a hand-over
            links.append(crosscheck.link_of(ar.archive_id, v))
    unreadable: list[dict] = []
    inp = _inputs(ar, q, links, events, unreadable)
    if origins:
        inp.received = {k: bytes(r["hash"]).hex() for r in q.all_versions()
                        if (k := (r["dossier"], r["version"])) in origins}
    out.problems = crosscheck.cross_check(inp)
    out.problems[:0] = unreadable
    out.last_export = audit_heads.last_export(events)
    warning = audit_heads.head_age_warning(events, audit_heads.max_age_days(ar, max_head_age_days), now)
    if warning:
        out.warnings.append(warning)


def _inputs(ar: "Session", q: MetaQueries, links: Sequence, events: Sequence,
            unreadable: list) -> crosscheck.Inputs:
    from .approve.hooks import open_private

    def private(ev):
        try:
            return open_private(ar, ev)
        except DossierError as e:      # held the key, but the sealed details do not open
            unreadable.append({"where": f"审计链第 {ev.seq} 条事件", "problem": f"{e.message}", "seq": ev.seq})
            return None

    rows = {r["id"]: r for r in q.dossiers()}
    return crosscheck.Inputs(
        links=links, dossiers={i: (r["archive_no"], r["head"]) for i, r in rows.items()}, events=events,
        open_private=private, users=q.users(), disclosures=q.disclosures(),
        approval_steps=_approval_steps(ar, rows))


def _approval_steps(ar: "Session", rows: dict):
    """(dossier, version) → {approval id: {(action, step)}} from that version's state;
    None when it cannot be read (no key, or damaged: reported by the version check)."""
    from .dossiers import DossierRow

    def steps(dossier_id: str, version: int):
        r = rows[dossier_id]
        row = DossierRow(r["id"], r["archive_no"], r["scope"], "", r["head"])
        try:
            _, content = ar.dossiers.load(row, version)
        except DossierError:
            return None
        return {rec.get("id"): {(s.get("action", "sign"), s.get("step")) for s in rec.get("steps") or ()}
                for rec in content.get("state", {}).get("approvals") or ()}
    return steps


def check_hook(ar: "Session", report, *, heads: Sequence = (), max_head_age_days: int | None = None,
               signatures=None, **_options) -> None:
    """``dossier check``'s part: chain, cross-check (with the versions the check just
    read) and the export-age warning, into the check's report. ``signatures``: the
    check's :class:`~dossier.crypto.verify_aside.Signatures`; when it defers, the chain's
    verdict is completed by ``report.after_signatures`` once it has settled."""
    res = verify(ar, heads=heads, links=report.links, max_head_age_days=max_head_age_days, signatures=signatures)
    slot = None
    if res.chain_error is not None:
        report.add("审计链", res.chain_error.message)
        slot = report.problems[-1]
    report.problems.extend(res.problems)
    report.warnings.extend(res.warnings)
    if res.pending is not None:
        def settle() -> None:
            if not res.settle():
                return
            if slot is not None:        # the first bad event is an earlier one than first thought
                slot["problem"] = res.chain_error.message
            else:
                report.add("审计链", res.chain_error.message)
        report.after_signatures.append(settle)
