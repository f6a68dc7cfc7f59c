"""Cross-check of the archive's two signed histories: the dossier versions and
the audit chain (issue 16).

Each history is signed and hash-chained on its own, so cutting the newest
version of a dossier (rows deleted, head pointer set back) leaves both
intact; only comparing them shows the cut. The rules:

- every version that anchors the chain (``audit_head``: written with the
  chain head just after its own ``dossier.change`` event) points at a
  ``dossier.change`` event of the same version number and author, for the
  same dossier, recording the same version hash (``vhash``: the version hash
  computed without the anchor, which cannot include itself);
- every ``dossier.change`` event is pointed at by a version: one that is not
  names a version that was deleted, and a dossier whose head is below a
  version the chain records has been set back;
- every approval event names a version of the dossier that holds that
  approval step; every disclosure request, grant and revocation in the chain
  matches the disclosure table (and no row lacks its request event); every
  ``user.add`` event names an existing user with that role and key, every
  ``user.revoke`` one a revoked user.

Pure: works on plain rows from :class:`dossier.store.queries.MetaQueries`
(or any store's equivalent) and the chain's events, so it runs unchanged on
another store. Versions written before the audit chain existed
(``audit_head`` NULL, covered by their signature) need no event; change
events written before ``vhash`` was recorded are matched by position,
number, author and dossier only (see docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .versions import VersionRow, version_hash

CHANGE = "dossier.change"
# approval event → the kind of step entry it records in the dossier's state
APPROVAL_ACTIONS = {"approve.submit": "sign", "approve.sign": "sign", "approve.return": "return"}
# disclosure event → the status it leaves (the strings of dossier.disclose.grants)
DISCLOSURE_STATUS = {"disclose.request": "待授权", "disclose.grant": "已授权", "disclose.revoke": "已撤销"}


@dataclass(frozen=True)
class VersionLink:
    """What the cross-check needs of one stored version."""

    dossier: str
    version: int
    author: str
    anchor_seq: int | None    # the chain event this version anchors; None: written before the chain
    digest: str               # version hash without the anchor (hex), what ``vhash`` records
    anchor_event: str | None = None   # its event by id (a format-2 event, linked by the store; the
                                      # anchor's seq is then the head its author saw, not the event)


def version_digest(archive_id: str, dossier: str, version: int, parent_hash: bytes, author: str, time: str,
                   key_version: int, content: bytes, body_digest: bytes | None = None) -> str:
    """The hash a ``dossier.change`` event records for its version (the version hash minus its anchor)."""
    return version_hash(archive_id, dossier, version, parent_hash, author, time, key_version, content, None,
                        body_digest).hex()


def anchor_seq(audit_head: bytes | None) -> int | None:
    if audit_head is None:
        return None
    try:
        return int(json.loads(bytes(audit_head))["seq"])
    except (ValueError, KeyError, TypeError):
        return -1        # unreadable anchor: the version's own hash check reports it; no event matches -1


def anchor_event(audit_head: bytes | None) -> str | None:
    if audit_head is None:
        return None
    try:
        ev = json.loads(bytes(audit_head)).get("event")
    except (ValueError, AttributeError, TypeError):
        return None
    return str(ev) if ev is not None else None


def link_of(archive_id: str, v: VersionRow) -> VersionLink:
    return VersionLink(v.dossier, v.version, v.author, anchor_seq(v.audit_head),
                       version_digest(archive_id, v.dossier, v.version, v.parent_hash, v.author, v.time,
                                      v.key_version, v.content, v.body_digest),
                       anchor_event(v.audit_head))


def user_key_digest(sign_pub: bytes) -> str:
    """What a ``user.add`` event records of the new user's signing key."""
    return hashlib.sha256(bytes(sign_pub)).hexdigest()[:32]


@dataclass
class Inputs:
    links: Sequence[VersionLink]
    dossiers: Mapping[str, tuple[str, int]]          # dossier id → (档号, head)
    events: Sequence                                  # AuditEvent, in chain order
    open_private: Callable                            # event → private details, or None without the key
    users: Sequence[Mapping] = ()                     # rows: name, role, step, status, sign_pub
    disclosures: Sequence[Mapping] = ()               # rows: id, requester, fields, until, status, granted_by
    approval_steps: Callable | None = None            # (dossier, version) → {approval id: {(action, step)}} | None
    received: Mapping = field(default_factory=dict)   # (dossier, version) → hash hex of versions received (issue 13)


class _Out(list):
    def add(self, where: str, problem: str, **ids) -> None:
        self.append({"where": where, "problem": problem, **{k: v for k, v in ids.items() if v is not None}})


def cross_check(inp: Inputs) -> list[dict]:
    """Problems found, each ``{"where", "problem", …ids}`` like :class:`dossier.checker.CheckReport`."""
    cache: dict[int, dict | None] = {}

    def private(ev) -> dict | None:
        if ev.seq not in cache:
            cache[ev.seq] = inp.open_private(ev)
        return cache[ev.seq]

    out = _Out()
    _versions(inp, private, out)
    _approvals(inp, private, out)
    _disclosures(inp, out)
    _users(inp, out)
    _received(inp, private, out)
    return list(out)


IMPORT = "transfer.import"


def _received(inp: Inputs, private, out: _Out) -> None:
    """Versions received from another archive have no change event here; the
    ``transfer.import`` event of their dossier names each of them with its hash."""
    if not inp.received:
        return
    named: dict[tuple[str, int], str] = {}
    blind: set[str] = set()
    for ev in inp.events:
        if ev.action != IMPORT or ev.public.get("merged"):    # a merge names versions kept beside the file
            continue
        p = private(ev)
        if p is None:
            blind.add(ev.public.get("transfer"))
            continue
        for n, h in (p.get("vhashes") or {}).items():
            named[(p.get("dossier"), int(n))] = h
    for (d, n), h in sorted(inp.received.items()):
        no = inp.dossiers.get(d, (d, 0))[0]
        where = f"档案 {no} 第 {n} 版"
        if (d, n) not in named:
            if not blind:
                out.add(where, "接收的版本没有导入事件记录（被插入）", archive_no=no, version=n)
        elif named[(d, n)] != h:
            out.add(where, "接收的版本与导入事件记录的哈希不符（被替换）", archive_no=no, version=n)


def _versions(inp: Inputs, private, out: _Out) -> None:
    by_seq = {ev.seq: ev for ev in inp.events}
    by_id = ({ev.event_id: ev for ev in inp.events}
             if any(ln.anchor_event is not None for ln in inp.links) else {})
    claimed: dict[int, VersionLink] = {}
    for ln in inp.links:
        if ln.anchor_seq is None:
            continue
        no = inp.dossiers.get(ln.dossier, (ln.dossier, 0))[0]
        where, ids = f"档案 {no} 第 {ln.version} 版", {"archive_no": no, "version": ln.version}
        if ln.anchor_event is not None:
            ev = by_id.get(ln.anchor_event)
            if ev is None:
                out.add(where, f"审计链中没有该版本锚定的事件（{ln.anchor_event[:12]}；审计链被截断或删改）", **ids)
                continue
        else:
            ev = by_seq.get(ln.anchor_seq)
        if ev is None:
            out.add(where, f"审计链中没有该版本锚定的第 {ln.anchor_seq} 条事件（审计链被截断或删改）", **ids)
            continue
        if ev.action != CHANGE or ev.public.get("version") != ln.version or ev.actor != ln.author:
            out.add(where, f"审计链第 {ev.seq} 条事件（{ev.action}，{ev.actor}）不是该版本的修改记录", seq=ev.seq, **ids)
            continue
        if ev.seq in claimed:
            out.add(where, f"与另一版本锚定同一条审计事件（第 {ev.seq} 条）", seq=ev.seq, **ids)
            continue
        claimed[ev.seq] = ln
        p = private(ev)
        if p is None:
            continue
        if p.get("dossier") != ln.dossier:
            out.add(where, f"审计链第 {ev.seq} 条事件记录的是另一份档案的修改", seq=ev.seq, **ids)
        elif "vhash" in p and p["vhash"] != ln.digest:
            out.add(where, f"版本与审计链第 {ev.seq} 条事件记录的哈希不符（版本被替换）", seq=ev.seq, **ids)
    _unclaimed_changes(inp, private, claimed, out)


def _unclaimed_changes(inp: Inputs, private, claimed: dict, out: _Out) -> None:
    """Change events no version points at: deleted versions, heads set back, deleted dossiers."""
    have = {(ln.dossier, ln.version) for ln in inp.links}
    beyond: dict[str, list] = {}
    for ev in inp.events:
        if ev.action != CHANGE or ev.seq in claimed:
            continue
        n = ev.public.get("version")
        p = private(ev)
        if p is None:
            out.add(f"审计链第 {ev.seq} 条事件", f"记录了一次档案修改（第 {n} 版，{ev.actor}，{ev.ts}），"
                    "档案库中没有对应的版本（当前用户无该辖区密钥，无法识别是哪份档案）", seq=ev.seq)
            continue
        d = p.get("dossier")
        if d not in inp.dossiers:
            no = p.get("archive_no") or f"（内部编号 {d}）"
            out.add(f"档案 {no}", f"审计链第 {ev.seq} 条事件记录了它的第 {n} 版（{ev.actor}，{ev.ts}），"
                    "档案库中没有这份档案（被删除）", archive_no=p.get("archive_no"), version=n, seq=ev.seq)
            continue
        no, head = inp.dossiers[d]
        if isinstance(n, int) and n > head:
            beyond.setdefault(d, []).append((n, ev))
        elif (d, n) in have:
            out.add(f"档案 {no} 第 {n} 版", f"没有锚定记录它的审计链第 {ev.seq} 条事件（版本与审计链不对应）",
                    archive_no=no, version=n, seq=ev.seq)
        else:
            out.add(f"档案 {no} 第 {n} 版", f"审计链第 {ev.seq} 条事件记录了该版本，档案中没有（被删除）",
                    archive_no=no, version=n, seq=ev.seq)
    for d, items in beyond.items():
        no, head = inp.dossiers[d]
        items.sort(key=lambda x: x[0])
        vs = "、".join(f"第 {n} 版（审计链第 {ev.seq} 条事件，{ev.actor}，{ev.ts[:10]}）" for n, ev in items)
        out.add(f"档案 {no}", f"档案只有 {head} 版，审计链还记录了 {vs}：最新版本被删除或链头被回退",
                archive_no=no, version=items[-1][0], versions=[n for n, _ in items], head=head)


def _approvals(inp: Inputs, private, out: _Out) -> None:
    for ev in inp.events:
        kind = APPROVAL_ACTIONS.get(ev.action)
        if kind is None:
            continue
        p = private(ev)
        if p is None:
            continue
        d, v = p.get("dossier"), ev.public.get("version")
        step, aid = ev.public.get("step"), ev.public.get("approval")
        if d not in inp.dossiers:
            continue      # reported with the dossier's change events
        no, head = inp.dossiers[d]
        if not isinstance(v, int) or v > head:
            out.add(f"档案 {no}", f"审计链第 {ev.seq} 条事件记录的审批（{step}，{ev.actor}）所在的第 {v} 版不存在",
                    archive_no=no, version=v, seq=ev.seq)
            continue
        steps = inp.approval_steps(d, v) if inp.approval_steps else None
        if steps is not None and (kind, step) not in steps.get(aid, ()):
            out.add(f"档案 {no} 第 {v} 版", f"审计链第 {ev.seq} 条事件记录的审批（{step}，{ev.actor}）不在该版本中",
                    archive_no=no, version=v, seq=ev.seq)


def _disclosures(inp: Inputs, out: _Out) -> None:
    chain: dict[str, dict] = {}
    for ev in inp.events:
        status = DISCLOSURE_STATUS.get(ev.action)
        rid = ev.public.get("request")
        if status is None or not rid:
            continue
        rec = chain.setdefault(rid, {"seq": ev.seq})
        rec["status"] = status
        if ev.action == "disclose.request":
            rec.update(requester=ev.actor, fields=ev.public.get("fields"), until=ev.public.get("until"))
        elif ev.action == "disclose.grant":
            rec["granted_by"] = ev.actor
    rows = {r["id"]: r for r in inp.disclosures}
    for rid, rec in chain.items():
        where = f"披露申请 {rid}"
        row = rows.get(rid)
        if row is None:
            out.add(where, f"审计链中有记录（第 {rec['seq']} 条事件起），档案库中没有（被删除）", request=rid)
            continue
        if "requester" not in rec:
            out.add(where, "审计链中没有它的申请事件", request=rid)
            continue
        if row["status"] != rec["status"]:
            out.add(where, f"状态为“{row['status']}”，审计链记录的是“{rec['status']}”（被改动）", request=rid)
        if row["requester"] != rec["requester"] or json.loads(row["fields"]) != rec["fields"] \
                or (row["until"] or None) != (rec["until"] or None):
            out.add(where, "申请人、字段或期限与审计链记录不符（被改动）", request=rid)
        if rec.get("granted_by") and row["granted_by"] != rec["granted_by"]:
            out.add(where, f"授权人与审计链记录（{rec['granted_by']}）不符", request=rid)
    for rid in rows:
        if rid not in chain:
            out.add(f"披露申请 {rid}", "审计链中没有它的申请事件（记录被插入）", request=rid)


def _users(inp: Inputs, out: _Out) -> None:
    rows = {u["name"]: u for u in inp.users}
    for ev in inp.events:
        if ev.action not in ("user.add", "user.revoke"):
            continue
        name = ev.public.get("user")
        u = rows.get(name)
        where = f"用户 {name}"
        if u is None:
            out.add(where, f"审计链第 {ev.seq} 条事件记录了该用户，档案库中没有（被删除）", user=name, seq=ev.seq)
        elif ev.action == "user.add" and (u["role"] != ev.public.get("role") or u["step"] != ev.public.get("step")
                                          or user_key_digest(u["sign_pub"]) != ev.public.get("key")):
            out.add(where, f"角色、环节或公钥与审计链第 {ev.seq} 条事件的记录不符", user=name, seq=ev.seq)
        elif ev.action == "user.revoke" and u["status"] != "revoked":
            out.add(where, f"审计链第 {ev.seq} 条事件记录该用户已停用，档案库中却是“{u['status']}”（被恢复）",
                    user=name, seq=ev.seq)
