"""The tamper-evident audit log: a hash chain of events, each signed by its actor.

Every change, unmasked view, search, export, grant and signature is an event.
An event's hash covers its sequence number, time, actor, action, the public
details and the *ciphertext* of the private details, and the previous event's
hash; the actor signs that hash with their Ed25519 key (``UserKeys.sign_bytes``),
so no user can forge or rewrite another's events, and nobody can rewrite the
chain without the keys of every actor after the change.

Details that name a person (dossier ids, names, queries) go in ``private`` and
are sealed with AES-256-GCM under a key the caller chooses (e.g. the scope key
of the dossier, or the archive's audit key); ``key_id`` records which. The
chain verifies without any of these keys.

A head (``seq``, ``hash``) is anchored in each new dossier version and can be
exported; :func:`verify_chain` given those anchors also detects a tail cut off
below the last anchor. What is detected, naming the first bad event:
an edited event (hash or signature mismatch), a deleted one (gap in ``seq`` /
broken ``prev``), reordered ones, an inserted one, a truncated tail.

Format 2 (entry adds on PostgreSQL, :meth:`AuditLog._append_linked`): the actor signs the
event without its place — its *body*, which names the chain head the actor saw (``~seen``
in the public details) — and the store links it on the true head under the archive lock
(:data:`LINK_SQL`, :func:`link_hash`), so that lock is never held across a client's reply.
:func:`verify_chain` checks both formats in one chain: a format-2 event's link, its
signature over the body, and that its seen head is an earlier point of this chain
(docs/decisions.md, "Writers on PostgreSQL: group commit of the audit chain — events
linked by the store").

Storage: the ``audit_events`` and ``audit_anchors`` tables of the archive's
``meta.db`` (:data:`SCHEMA`), through :class:`AuditLog`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .crypto import aead
from .crypto.keys import verify as ed25519_verify
from .crypto.keys import wrap_to
from .errors import AuditChainError, IntegrityError
from .store.meta import execute_later, lock_archive

FORMAT = 1
GENESIS = "0" * 64
SIG_CONTEXT = b"dossier-audit-event-v1\x00"
# events linked by the store (format 2, see the module docstring): the actor signs the event's body, which names a head of the chain
# the actor saw (SEEN), not its own position; the store links it (seq, prev, hash) under the
# archive lock without the client
SIG_CONTEXT2 = b"dossier-audit-event-v2\x00"
SEEN = "~seen"
LINK_PREFIX = "dossier-audit-link-v2"

# Recommended action names (free text is allowed; these are what the tools write).
ACTIONS = ("archive.init", "user.add", "user.revoke", "scope.grant", "person.add", "dossier.change",
           "view.unmasked", "search", "export", "form.fill", "approve.submit", "approve.sign",
           "approve.return", "disclose.request", "disclose.grant", "disclose.revoke",
           "disclose.export", "audit.export-head", "key.rotate")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq       INTEGER PRIMARY KEY,       -- 1, 2, 3 … no gaps
    event_id  TEXT    NOT NULL UNIQUE,   -- random, 128 bits hex
    ts        TEXT    NOT NULL,          -- UTC, ISO 8601
    actor     TEXT    NOT NULL,          -- user name
    action    TEXT    NOT NULL,
    public    TEXT    NOT NULL,          -- canonical JSON, nothing that names a person
    key_id    TEXT,                      -- which key sealed `sealed` (NULL: no private details)
    sealed    BLOB,                      -- AES-256-GCM of canonical JSON private details
    prev      TEXT    NOT NULL,          -- hash of event seq-1 (GENESIS for seq 1)
    hash      TEXT    NOT NULL,          -- sha256 over the fields above, hex
    sig       BLOB    NOT NULL           -- Ed25519 by actor over SIG_CONTEXT + hash
);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events(actor, ts);
CREATE TABLE IF NOT EXISTS audit_anchors (
    seq       INTEGER NOT NULL,          -- head recorded at this point
    hash      TEXT    NOT NULL,
    ts        TEXT    NOT NULL,
    place     TEXT    NOT NULL           -- where else it is kept, e.g. 'dossier:<id>@v3', 'export'
);
"""


def _canon(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    event_id: str
    ts: str
    actor: str
    action: str
    public: dict
    key_id: str | None
    sealed: bytes | None
    prev: str
    hash: str
    sig: bytes

    def computed_hash(self) -> str:
        if self.seen is not None:
            return link_hash(self.seq, self.prev, self.body_hash())
        return event_hash(self.seq, self.event_id, self.ts, self.actor, self.action, self.public,
                          self.key_id, self.sealed, self.prev)

    @property
    def seen(self) -> tuple[int, str] | None:
        """Format 2 (linked by the store): the chain head (seq, hash) its actor saw and signed;
        None for an event signed at its own place in the chain (format 1)."""
        s = self.public.get(SEEN)
        if s is None:
            return None
        try:
            return int(s[0]), str(s[1])
        except (TypeError, ValueError, IndexError):
            return -1, ""       # unreadable: no head of the chain matches it

    def body_hash(self) -> str:
        """Format 2: the hash its actor signed (everything but the event's place in the chain)."""
        return body_hash(self.event_id, self.ts, self.actor, self.action, self.public, self.key_id, self.sealed)

    def signed_message(self) -> bytes:
        if self.seen is not None:
            return SIG_CONTEXT2 + bytes.fromhex(self.body_hash())
        return SIG_CONTEXT + bytes.fromhex(self.hash)

    def private(self, key: bytes, archive_id: str = "") -> dict | None:
        """Decrypt the private details with the key named by ``key_id``."""
        if self.sealed is None:
            return None
        return json.loads(aead.open_(key, self.sealed, _ad(archive_id, self.event_id, self.key_id),
                                     "审计详情"))

    def private_boxed(self, box_keys, archive_id: str = "") -> dict | None:
        """Decrypt private details sealed to a public key (``append(seal_to=…)``) with the
        matching X25519 private key (``box_keys``: anything with ``unwrap``, e.g. ``UserKeys``)."""
        if self.sealed is None:
            return None
        return json.loads(box_keys.unwrap(self.sealed, _ad(archive_id, self.event_id, self.key_id)))

    def to_dict(self, private: dict | None = None) -> dict:
        d = {"seq": self.seq, "event_id": self.event_id, "ts": self.ts, "actor": self.actor,
             "action": self.action, "details": {k: v for k, v in self.public.items() if k != SEEN},
             "sealed": self.sealed is not None, "key_id": self.key_id, "hash": self.hash, "prev": self.prev}
        if self.seen is not None:
            d["seen"] = list(self.seen)
        if private is not None:
            d["private"] = private
        return d

    @classmethod
    def from_row(cls, row: Sequence) -> "AuditEvent":
        seq, event_id, ts, actor, action, public, key_id, sealed, prev, h, sig = row
        return cls(int(seq), event_id, ts, actor, action, json.loads(public), key_id,
                   bytes(sealed) if sealed is not None else None, prev, h, bytes(sig))


def _ad(archive_id: str, event_id: str, key_id: str | None) -> bytes:
    return aead.ad_for("audit", archive_id, event_id, key_id)


def event_hash(seq: int, event_id: str, ts: str, actor: str, action: str, public: dict,
               key_id: str | None, sealed: bytes | None, prev: str) -> str:
    body = _canon({"v": FORMAT, "seq": seq, "id": event_id, "ts": ts, "actor": actor,
                   "action": action, "public": public, "key_id": key_id,
                   "sealed": hashlib.sha256(sealed).hexdigest() if sealed is not None else None,
                   "prev": prev})
    return hashlib.sha256(body.encode()).hexdigest()


def body_hash(event_id: str, ts: str, actor: str, action: str, public: dict, key_id: str | None,
              sealed: bytes | None) -> str:
    """Format 2: what the actor signs — the event without its place in the chain (``public``
    holds :data:`SEEN`, the head the actor saw)."""
    body = _canon({"v": 2, "id": event_id, "ts": ts, "actor": actor, "action": action, "public": public,
                   "key_id": key_id,
                   "sealed": hashlib.sha256(sealed).hexdigest() if sealed is not None else None})
    return hashlib.sha256(body.encode()).hexdigest()


def link_hash(seq: int, prev: str, body: str) -> str:
    """Format 2: the event's hash in the chain, computed by the store when it links the event
    (:data:`LINK_SQL`; the same bytes as this)."""
    return hashlib.sha256(f"{LINK_PREFIX}:{int(seq)}:{prev}:{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    """The chain's head: what is anchored in dossier versions and exported."""

    archive_id: str
    seq: int
    hash: str
    ts: str

    def to_dict(self) -> dict:
        return {"format": "dossier-audit-head", "version": FORMAT, "archive_id": self.archive_id,
                "seq": self.seq, "hash": self.hash, "ts": self.ts}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Head":
        return cls(str(d.get("archive_id", "")), int(d["seq"]), str(d["hash"]), str(d.get("ts", "")))


@dataclass
class ChainReport:
    events: int
    head: Head | None
    anchors_checked: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"events": self.events, "head": self.head.to_dict() if self.head else None,
                "anchors_checked": self.anchors_checked, "ok": not self.problems}


def _fail(ev: AuditEvent | None, reason: str, seq: int | None = None) -> AuditChainError:
    if ev is not None:
        msg = f"审计链断裂：第 {ev.seq} 条事件（{ev.event_id[:12]}，{ev.ts}，{ev.actor}，{ev.action}）{reason}"
        return AuditChainError(msg, seq=ev.seq, event_id=ev.event_id, reason=reason)
    return AuditChainError(f"审计链断裂：{reason}", seq=seq, reason=reason)


def verify_chain(events: Iterable[AuditEvent], public_keys: Mapping[str, bytes | Sequence[bytes]],
                 anchors: Iterable[Mapping | Head | tuple[int, str]] = (),
                 archive_id: str = "", signatures=None) -> ChainReport:
    """Check the whole chain in the order given (storage order); raise on the first bad event.

    ``public_keys`` maps an actor to its Ed25519 public key (or a list of
    keys, for rotated ones). ``anchors`` are heads recorded elsewhere
    (dossier versions, exported files): each must be a point of this chain,
    so cutting the tail below the last anchor, or rewriting what it covers,
    is detected.

    ``signatures`` (a :class:`PendingSignatures`): the signatures of actors with one key
    are verified later, on another core; the report (or the error raised) then holds
    only until :meth:`PendingSignatures.first_bad` says none of them failed.
    """
    prev_hash = GENESIS
    expected_seq = 1
    by_seq: dict[int, str] = {}
    last: AuditEvent | None = None
    count = 0
    for ev in events:
        count += 1
        if ev.seq != expected_seq:
            if ev.seq > expected_seq:
                raise _fail(ev, f"之前缺少第 {expected_seq}–{ev.seq - 1} 条事件（被删除）")
            raise _fail(ev, f"顺序错乱（应为第 {expected_seq} 条；事件被重排或插入）")
        if ev.computed_hash() != ev.hash:
            raise _fail(ev, "内容与其哈希不符（被修改）")
        if ev.prev != prev_hash:
            raise _fail(ev, "与前一条事件的哈希不衔接（前面的事件被删除、插入或重排）")
        seen = ev.seen
        if seen is not None and not (0 <= seen[0] < ev.seq and (by_seq.get(seen[0]) == seen[1] if seen[0]
                                                               else seen[1] == GENESIS)):
            raise _fail(ev, "签名时所见的链头不在本链中（其前面的事件被删除、插入、重排或改写）")
        keys = public_keys.get(ev.actor)
        if keys is None:
            raise _fail(ev, f"操作人“{ev.actor}”不是本档案库的用户")
        keys = [keys] if isinstance(keys, (bytes, bytearray)) else list(keys)
        msg = ev.signed_message()
        if signatures is not None and len(keys) == 1:
            ok = signatures.check(keys[0], ev, msg)
        else:
            ok = any(ed25519_verify(bytes(k), ev.sig, msg) for k in keys)
        if not ok:
            raise _sig_fail(ev)
        by_seq[ev.seq] = ev.hash
        prev_hash = ev.hash
        expected_seq += 1
        last = ev
    n_anchor = 0
    for a in sorted((_anchor(a) for a in anchors), key=lambda x: x[0]):
        seq, h = a
        n_anchor += 1
        if seq == 0:
            continue
        if seq not in by_seq:
            raise _fail(None, f"审计链只有 {count} 条事件，但已锚定的链头是第 {seq} 条：尾部被截断",
                        seq=count + 1)
        if by_seq[seq] != h:
            raise _fail(None, f"第 {seq} 条事件的哈希与锚定的链头不符（链被改写）", seq=seq)
    head = Head(archive_id, last.seq, last.hash, last.ts) if last else Head(archive_id, 0, GENESIS, "")
    return ChainReport(events=count, head=head, anchors_checked=n_anchor)


def _sig_fail(ev: AuditEvent) -> AuditChainError:
    return _fail(ev, f"不是操作人“{ev.actor}”的有效签名（伪造或被改动）")


class PendingSignatures:
    """The chain's signatures handed to a :class:`dossier.crypto.verify_aside.Signatures`
    (another core) by :func:`verify_chain`. Every pending event comes before the point
    where the chain check stopped (it stops at its first problem), so the first pending
    event whose signature fails *is* the chain's first bad event: its error replaces
    whatever the check found after it."""

    def __init__(self, signatures):
        self.signatures = signatures
        self.bad: list[AuditEvent] = []

    def check(self, key: bytes, ev: AuditEvent, msg: bytes) -> bool:
        ok = self.signatures.check(bytes(key), ev.sig, msg, lambda: self.bad.append(ev))
        return True if ok is None else ok

    def first_bad(self) -> AuditChainError | None:
        """After the signatures' ``settle()``: the error of the first event whose signature
        failed, or None."""
        if not self.bad:
            return None
        return _sig_fail(min(self.bad, key=lambda e: e.seq))


def _anchor(a) -> tuple[int, str]:
    if isinstance(a, Head):
        return a.seq, a.hash
    if isinstance(a, Mapping):
        return int(a["seq"]), str(a["hash"])
    seq, h = a
    return int(seq), str(h)


class _Pending:
    __slots__ = ("fn", "done", "result", "error", "wake", "turn")

    def __init__(self, fn):
        self.fn, self.done, self.result, self.error = fn, False, None, None
        self.wake = threading.Event()    # set when the event is done, or when it is this caller's turn
        self.turn = False                # this caller commits the next group


class _Group:
    """The events of one database file waiting for a commit, and whether some caller
    has the turn to commit them (it holds or is waiting for the writer lock)."""
    __slots__ = ("queue", "taken")

    def __init__(self):
        self.queue: list[_Pending] = []
        self.taken = False


_GROUPS: dict[int, _Group] = {}        # id(writer lock) → its group
_GROUPS_GUARD = threading.Lock()
GROUP_TIMEOUT_S = 30.0                  # as store.meta.transaction: then Locked


def _group_commit(conn, fn) -> "AuditEvent":
    """An event of its own (no caller transaction), committed together with the events
    other threads of this process are appending meanwhile: one caller at a time has the
    turn; it takes the database's writer lock (store/meta.py) and writes every waiting
    event in one transaction (one fsync), in the order they arrived, each signed by its
    own actor. The others wait on their own event, not on the lock: the committer wakes
    each caller of its group at once, and hands the turn to the first caller still
    waiting (before, every waiter took the writer lock in turn only to find its event
    done — under 20 busy threads each of those turns waited for the GIL, and that queue
    was most of a 工作台's tail). Each caller returns once its event is durable, as
    before. If the shared transaction fails, each event of the group is retried alone,
    so one event's error is its own caller's only. A caller that holds the writer lock
    already (re-entrant) commits the waiting events itself."""
    from .errors import Locked

    lock = conn.write_lock
    me = _Pending(fn)
    deadline = time.monotonic() + GROUP_TIMEOUT_S
    with _GROUPS_GUARD:
        g = _GROUPS.setdefault(id(lock), _Group())
        g.queue.append(me)
        if not g.taken:
            g.taken = me.turn = True
    if not me.turn and not _owns(lock):
        woken = me.wake.wait(max(0.0, deadline - time.monotonic()))
        if not woken:
            with _GROUPS_GUARD:
                if not me.done and not me.turn:
                    g.queue.remove(me)
                    raise Locked()
    if not me.done:
        _commit_turn(conn, g, me, deadline)
    if me.error is not None:
        raise me.error
    return me.result


def _owns(lock) -> bool:
    owned = getattr(lock, "_is_owned", None)
    return bool(owned and owned())


def _commit_turn(conn, g: _Group, me: _Pending, deadline: float) -> None:
    """Commit what waits (``me`` among it unless a re-entrant caller took it), then wake
    the group and pass the turn on."""
    from .store.meta import writing

    batch: list[_Pending] = []
    try:
        with writing(conn, max(0.0, deadline - time.monotonic())):
            with _GROUPS_GUARD:
                batch, g.queue = g.queue, []
            _commit_group(conn, batch, g, me)
    finally:
        nxt = None
        with _GROUPS_GUARD:
            if not me.done and me in g.queue:      # no lock (Locked) or interrupted: not committed
                g.queue.remove(me)
            if me.turn:
                if g.queue:
                    nxt = g.queue[0]
                    nxt.turn = True
                else:
                    g.taken = False
        for p in batch:
            if p is not me and p.done:
                p.wake.set()
        if nxt is not None:
            nxt.wake.set()


def _commit_group(conn, batch: list[_Pending], g: _Group, me: _Pending) -> None:
    """One transaction for the whole group: the head read once, the events chained on it in
    memory, one multi-row INSERT, one COMMIT — a handful of SQLite calls whatever the group's
    size (each call lets the GIL go, and under load getting it back is the slow part)."""
    if not batch:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            nxt = _next(conn.execute(HEAD_SQL).fetchone())
            results = []
            for p in batch:
                ev, values = p.fn(nxt)
                results.append((ev, values))
                nxt = (ev.seq + 1, ev.hash)
            for i in range(0, len(results), GROUP_ROWS):
                part = results[i:i + GROUP_ROWS]
                conn.execute(INSERT_SQL.replace(_ROW, ",".join([_ROW] * len(part))),
                             [v for _, values in part for v in values])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        for p, (ev, _) in zip(batch, results):
            p.result, p.done = ev, True
    except Exception:   # noqa: BLE001 - one by one: each event's error goes to its own caller
        for p in batch:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    ev, values = p.fn(_next(conn.execute(HEAD_SQL).fetchone()))
                    conn.execute(INSERT_SQL, values)
                    conn.execute("COMMIT")
                    p.result = ev
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except Exception as e:   # noqa: BLE001
                p.error = e
            p.done = True
    except BaseException:
        with _GROUPS_GUARD:          # interrupted: nothing of the batch was committed
            g.queue[:0] = [p for p in batch if p is not me]
        raise


HEAD_SQL = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
# a format-2 event linked on the chain's head by the store itself (PostgreSQL only: sha256(),
# convert_to(), encode()), after the archive lock in the same round trip; the hash is
# link_hash(seq, prev, body) byte for byte. Parameters: event_id, ts, actor, action, public,
# key_id, sealed, body hash, sig.
LINK_SQL = (
    "INSERT INTO audit_events(seq, event_id, ts, actor, action, public, key_id, sealed, prev, hash, sig)"
    " SELECT h.seq + 1, ?, ?, ?, ?, ?, ?, CAST(? AS bytea), h.hash,"
    f" encode(sha256(convert_to('{LINK_PREFIX}:' || (h.seq + 1) || ':' || h.hash || ':' || CAST(? AS text),"
    " 'UTF8')), 'hex'), ?"
    " FROM (SELECT COALESCE((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0) AS seq,"
    f" COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '{GENESIS}') AS hash) h")
_ROW = "(?,?,?,?,?,?,?,?,?,?,?)"
INSERT_SQL = "INSERT INTO audit_events VALUES " + _ROW
GROUP_ROWS = 50                      # rows per INSERT (11 parameters each; SQLite allows 32,766)


def _next(row) -> tuple[int, str]:
    """(seq, prev) of the event after the head ``row`` (None: the first event)."""
    return (int(row[0]) + 1, row[1]) if row else (1, GENESIS)


class _OneRow:
    def __init__(self, row):
        self._row = row

    def fetchone(self):
        return self._row


class AuditLog:
    """The audit chain in a SQLite connection (the archive's ``meta.db``).

    ``append`` runs inside the caller's transaction when there is one (so an
    event commits with the change it records), else in its own
    ``BEGIN IMMEDIATE`` transaction (so two processes never fork the chain).
    """

    def __init__(self, conn: sqlite3.Connection, archive_id: str = ""):
        self.conn = conn
        self.archive_id = archive_id

    def create(self) -> None:
        self.conn.executescript(SCHEMA)

    # -- writing --------------------------------------------------------------------
    def append(self, actor: str, sign_key, action: str, public: Mapping | None = None, *,
               private: Mapping | None = None, seal_key: bytes | None = None,
               key_id: str | None = None, ts: str | None = None,
               seal_to: bytes | None = None) -> AuditEvent:
        """Add one event signed by ``sign_key`` (a ``UserKeys`` or anything with ``sign_bytes``).

        Private details are sealed under the symmetric ``seal_key``, or, with
        ``seal_to`` (an X25519 public key), sealed to that key's holders only —
        so the actor need not be able to read them back (e.g. the admins' audit key).
        """
        if private and seal_key is None and seal_to is None:
            raise IntegrityError("审计详情含个人信息，必须加密（缺少密钥）")
        public = dict(public or {})
        if not self.conn.in_transaction and getattr(self.conn, "write_lock", None) is not None:
            return _group_commit(self.conn, lambda nxt: self._event(nxt, actor, sign_key, action, public, private,
                                                                    seal_key, key_id, ts, seal_to))
        if getattr(self.conn, "began_late", False) and not self.conn.archive_locked and self.conn.in_transaction:
            return self._append_linked(self.conn, actor, sign_key, action, public, private, seal_key, key_id, ts,
                                       seal_to)
        return self._append(self.conn, actor, sign_key, action, public, private, seal_key, key_id, ts, seal_to,
                            not self.conn.in_transaction)

    def _append(self, con, actor, sign_key, action, public, private, seal_key, key_id, ts, seal_to,
                own_tx: bool) -> AuditEvent:
        if own_tx:
            con.execute("BEGIN IMMEDIATE")
        try:
            # the head is read under the archive's write lock: a PostgreSQL transaction that
            # began without it (store.meta.transaction late_lock) takes it here
            row = (lock_archive(con, then=HEAD_SQL) or self._own_head(con) or con.execute(HEAD_SQL)).fetchone()
            ev, values = self._event(_next(row), actor, sign_key, action, public, private, seal_key, key_id, ts,
                                     seal_to)
            execute_later(con, INSERT_SQL, values)
            if own_tx:
                con.execute("COMMIT")
        except BaseException:
            if own_tx and con.in_transaction:
                con.execute("ROLLBACK")
            raise
        if getattr(con, "archive_locked", False):
            self._last = (id(con), con.tx_serial, ev.seq, ev.hash)
        return ev

    def _append_linked(self, con, actor, sign_key, action, public, private, seal_key, key_id, ts,
                       seal_to) -> AuditEvent:
        """Format 2, in a PostgreSQL transaction that has not taken the archive lock yet (an
        entry add, store.meta.transaction(late_lock=True)): the event names the chain's
        current head as its actor sees it (read now, without the lock), is signed so, and
        is sent for the store to link (:data:`LINK_SQL`): the archive lock, the link on the
        true head, the rest of the transaction and its COMMIT go in one round trip, so the
        lock is held for server work only, never across a client's reply. The returned event
        has no place yet (``seq`` 0): the store gives it one at the commit."""
        row = con.execute(HEAD_SQL).fetchone()
        seen = [int(row[0]), row[1]] if row else [0, GENESIS]
        public = {**public, SEEN: seen}
        event_id, ts, key_id, sealed = self._sealed(actor, private, seal_key, key_id, ts, seal_to)
        body = body_hash(event_id, ts, actor, action, public, key_id, sealed)
        sig = sign_key.sign_bytes(SIG_CONTEXT2 + bytes.fromhex(body))
        execute_later(con, LINK_SQL, (event_id, ts, actor, action, _canon(public), key_id, sealed, body, sig))
        return AuditEvent(0, event_id, ts, actor, action, public, key_id, sealed, "", "", sig)

    def _sealed(self, actor, private, seal_key, key_id, ts, seal_to):
        """(event id, time, key id, sealed private details) of a new event."""
        event_id = os.urandom(16).hex()
        ts = ts or _now()
        sealed = None
        if private:
            key_id = key_id or "audit"
            ad = _ad(self.archive_id, event_id, key_id)
            if seal_to is not None:
                sealed = wrap_to(seal_to, _canon(dict(private)).encode(), ad)
            else:
                sealed = aead.seal(seal_key, _canon(dict(private)).encode(), ad)
        else:
            key_id = None
        return event_id, ts, key_id, sealed

    def _event(self, nxt: tuple[int, str], actor, sign_key, action, public, private, seal_key, key_id, ts,
               seal_to) -> tuple[AuditEvent, tuple]:
        """The signed event that follows ``nxt`` = (its seq, the previous hash), and its row."""
        seq, prev = nxt
        event_id, ts, key_id, sealed = self._sealed(actor, private, seal_key, key_id, ts, seal_to)
        h = event_hash(seq, event_id, ts, actor, action, public, key_id, sealed, prev)
        sig = sign_key.sign_bytes(SIG_CONTEXT + bytes.fromhex(h))
        values = (seq, event_id, ts, actor, action, _canon(public), key_id, sealed, prev, h, sig)
        return AuditEvent(seq, event_id, ts, actor, action, public, key_id, sealed, prev, h, sig), values

    _last: tuple | None = None

    def _own_head(self, con):
        """On PostgreSQL, in a transaction that holds the archive lock and appended the last
        event itself, that event is the head (nobody else can append meanwhile): no round trip.
        None otherwise (read it). An import appends one event per row."""
        last = self._last
        if (last is not None and getattr(con, "archive_locked", False) and con.in_transaction
                and last[0] == id(con) and last[1] == con.tx_serial):
            return _OneRow((last[2], last[3]))
        return None

    def anchor(self, place: str) -> Head:
        """Record the current head as anchored at ``place`` (also put it in the dossier version)."""
        own_tx = not self.conn.in_transaction
        head = self.head()
        self.conn.execute("INSERT INTO audit_anchors VALUES (?,?,?,?)", (head.seq, head.hash, _now(), place))
        if own_tx and self.conn.in_transaction:
            self.conn.commit()
        return head

    # -- reading --------------------------------------------------------------------
    def head(self) -> Head:
        row = self.conn.execute("SELECT seq, hash, ts FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        if not row:
            return Head(self.archive_id, 0, GENESIS, "")
        return Head(self.archive_id, int(row[0]), row[1], row[2])

    def events(self, *, actor: str | None = None, since: str | None = None,
               action: str | None = None) -> list[AuditEvent]:
        """Events in storage order (``rowid``), filtered. The chain check uses the same order."""
        sql = ("SELECT seq, event_id, ts, actor, action, public, key_id, sealed, prev, hash, sig "
               "FROM audit_events")
        cond, args = [], []
        if actor:
            cond.append("actor = ?")
            args.append(actor)
        if since:
            cond.append("ts >= ?")
            args.append(since)
        if action:
            cond.append("(action = ? OR action LIKE ?)")
            args += [action, action + ".%"]
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        sql += " ORDER BY seq"      # seq is the rowid (INTEGER PRIMARY KEY): storage order
        return [AuditEvent.from_row(r) for r in self.conn.execute(sql, args)]

    def anchors(self) -> list[Head]:
        return [Head(self.archive_id, int(s), h, ts)
                for s, h, ts in self.conn.execute("SELECT seq, hash, ts FROM audit_anchors ORDER BY rowid")]

    def verify(self, public_keys: Mapping[str, bytes | Sequence[bytes]],
               extra_anchors: Iterable = ()) -> ChainReport:
        """Verify the stored chain against the stored anchors plus ``extra_anchors``
        (heads from dossier versions and exported files)."""
        return verify_chain(self.events(), public_keys, [*self.anchors(), *extra_anchors],
                            archive_id=self.archive_id)


def encode_sig(sig: bytes) -> str:
    return base64.b64encode(sig).decode()
