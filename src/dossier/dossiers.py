"""Dossiers (一人一档): resolve a reference, read any version, write a new one,
history and field-level diff."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Callable, TypeVar

from .clock import now_iso
from .errors import DossierError, IntegrityError, InvalidInput, NotFound, PermissionDenied, RefusedOperation, VersionConflict
from . import received
from .store import meta
from .store.atomic import crash_point
from .versions import GENESIS, VersionRow, content_ad, encode_state, open_content, version_hash

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")

READ_ROLES = ("admin", "clerk", "approver")
WRITE_ROLES = ("admin", "clerk")
EMPTY_STATE = {"profile": {}, "entries": [], "attachments": [], "documents": []}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ContentRemoved(RefusedOperation):
    """该版本的内容已随档案移交从本库清除。"""


_BY_KEY = "SELECT d.* FROM dossier_keys k JOIN dossiers d ON d.top_scope=k.top_scope AND d.id=k.dossier WHERE "


def ref_norm(archive_no: str) -> str:
    return re.sub(r"[\s·.．・\-—_]", "", archive_no).upper()


@dataclass
class DossierRow:
    id: str
    archive_no: str
    scope: int
    scope_path: str
    head: int


@dataclass
class DossierView:
    id: str
    archive_no: str
    scope: str
    version: int
    head: int
    author: str
    time: str
    message: str
    state: dict
    as_of: date
    labels: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)   # transfers that brought versions here (issue 13)
    sent: dict | None = None                              # the transfer that took the file away

    @property
    def profile(self) -> dict:
        return self.state.get("profile", {})

    @property
    def entries(self) -> list[dict]:
        return self.state.get("entries", [])

    def to_dict(self) -> dict:
        d = {"archive_no": self.archive_no, "id": self.id, "scope": self.scope, "version": self.version,
             "head": self.head, "author": self.author, "time": self.time, "message": self.message,
             "as_of": self.as_of.isoformat(), "profile": self.profile, "entries": self.entries,
             "labels": self.labels, "alerts": self.alerts}
        if self.received:
            d["received_from"] = self.received
        if self.sent:
            d["transferred_to"] = {k: self.sent[k] for k in ("id", "peer_archive", "peer_name", "time", "keep_copy")}
        for k, v in self.state.items():
            d.setdefault(k, v)
        return d


# how often an entry added concurrently on PostgreSQL is made again on a head another writer
# moved meanwhile, before VersionConflict (Dossiers.commit, ``concurrent``)
CAS_RETRIES = 3
_UNREAD = object()      # Dossiers.load: the author's key not read with the version


class Dossiers:
    def __init__(self, ar: "Session"):
        self.ar = ar
        self._verified: set = set()   # (public key, signature, hash) checked or made in this session

    # -- resolving ---------------------------------------------------------
    def resolve(self, ref: str) -> DossierRow:
        ar = self.ar
        ref = (ref or "").strip()
        if not ref:
            raise InvalidInput(field="ref", reason="请给出档号或公民身份号码")
        con = ar.con
        row = None
        # through dossier_keys (the archive-wide keys, unpartitioned), then the dossier in its
        # top-level scope's partition (docs/decisions.md "Partitioning by scope")
        if _UUID.match(ref):
            row = con.execute(_BY_KEY + "k.dossier=?", (ref,)).fetchone()
        if row is None:
            from .model.idnumber import normalize as normalize_id_text
            idn = normalize_id_text(ref)
            if re.fullmatch(r"\d{17}[\dX]", idn):
                row = con.execute(_BY_KEY + "k.id_token=?", (ar.keyring.blind_token(idn),)).fetchone()
            elif re.fullmatch(r"\d{15}", idn):
                raise InvalidInput(field="ref", reason="15 位旧身份证号不可用于查找，请换用 18 位号码")
        if row is None:
            row = con.execute(_BY_KEY + "k.ref_norm=?", (ref_norm(ref),)).fetchone()
        if row is None:
            raise NotFound("找不到该档号或身份证号对应的档案")
        return DossierRow(row["id"], row["archive_no"], row["scope"], ar.scopes.path_of(row["scope"]), row["head"])

    def _readable(self, ref: str, what: str = "查看档案") -> DossierRow:
        ar = self.ar
        row = self.resolve(ref)
        if ar.user.role not in READ_ROLES:
            raise PermissionDenied(f"{ar.user.role_label}不能查看档案明文（请用 dossier search 查看脱敏结果，或申请披露）")
        ar.scopes.require(row.scope, what)
        return row

    # -- reading -----------------------------------------------------------
    def version_row(self, dossier_id: str, version: int) -> VersionRow:
        r = self.ar.con.execute("SELECT * FROM versions WHERE dossier=? AND version=?",
                                (dossier_id, version)).fetchone()
        if r is None:
            raise NotFound(f"没有第 {version} 版")
        return VersionRow.from_row(r)

    def _sign_public(self, author: str) -> bytes | None:
        r = self.ar.con.execute("SELECT sign_pub FROM users WHERE name=?", (author,)).fetchone()
        return r[0] if r else None

    def load(self, row: DossierRow, version: int | None = None) -> tuple[VersionRow, dict]:
        """Decrypt a version after checking its hash, chain link and signature."""
        ar = self.ar
        version = row.head if version is None else version
        if not 1 <= version <= row.head:
            raise NotFound(f"档案 {row.archive_no} 没有第 {version} 版（共 {row.head} 版）")
        author_pub = _UNREAD
        if version == 1:
            v, parent = self.version_row(row.id, version), GENESIS
        else:       # the version, its parent's hash and its author's key in one query (one round trip on a server)
            got = {r["version"]: r for r in ar.con.execute(
                "SELECT v.*, u.sign_pub AS author_pub FROM versions v LEFT JOIN users u ON u.name=v.author"
                " WHERE v.top_scope=? AND v.dossier=? AND v.version IN (?,?)",
                (ar.scopes.top_of(row.scope), row.id, version - 1, version))}
            if version not in got:
                raise NotFound(f"没有第 {version} 版")
            if version - 1 not in got:
                raise NotFound(f"没有第 {version - 1} 版")
            v, parent = VersionRow.from_row(got[version]), got[version - 1]["hash"]
            author_pub = got[version]["author_pub"]
        o = received.origin(ar.con, row.id, version)
        gone = received.redacted(ar.con, row.id).get((row.id, version)) if received.has_tables(ar.con) else None
        if gone is not None:
            self._check_removed(row, v, parent, o, gone)
        if o is not None:
            return v, self._open_received(row, v, parent, o)
        if author_pub is _UNREAD:
            author_pub = self._sign_public(v.author)
        problems = v.verify(ar.archive_id, author_pub, parent, self._verified)
        if problems:
            raise IntegrityError(f"档案 {row.archive_no} 第 {version} 版完整性校验失败：{'；'.join(problems)}")
        _, key = ar.keyring.scope_key(row.scope, "data", v.key_version)
        return v, open_content(ar.archive_id, row.scope, v, key)

    def _check_removed(self, row: DossierRow, v: VersionRow, parent: bytes, o, digest: bytes) -> None:
        """A version whose content the file's hand-over removed: its header still verifies
        (hash from the recorded body digest, link, signature); then say the content is gone."""
        v.body_digest = digest
        problems = v.verify(o.archive_id if o else self.ar.archive_id,
                            o.author_key if o else self._sign_public(v.author), parent, self._verified)
        if problems:
            raise IntegrityError(f"档案 {row.archive_no} 第 {v.version} 版完整性校验失败：{'；'.join(problems)}")
        t = received.sent(self.ar.con, row.id) or {}
        raise ContentRemoved(f"档案 {row.archive_no} 第 {v.version} 版的内容已在移交至“{t.get('peer_name', '?')}”时"
                             "从本库清除（本库只保留脱敏存根）", version=v.version)

    def _open_received(self, row: DossierRow, v: VersionRow, parent: bytes, o: "received.Origin") -> dict:
        """A version received from another archive: its header verifies against the
        origin archive and the author's key recorded at import; its data key is
        wrapped under this archive's scope key (``o.local_key_version``)."""
        problems = v.verify(o.archive_id, o.author_key, parent, self._verified)
        if problems:
            raise IntegrityError(f"档案 {row.archive_no} 第 {v.version} 版（接收的版本）完整性校验失败：{'；'.join(problems)}")
        _, key = self.ar.keyring.scope_key(row.scope, "data", o.local_key_version)
        return open_content(o.archive_id, o.scope, v, key)

    def head_rows(self, scope_ids: set[int], keys: tuple[list[tuple], set[str]] | None = None
                  ) -> tuple[list[DossierRow], set[str]]:
        """The row (id, 档号, scope, head version) of every dossier in ``scope_ids``, in 档号
        order, from the dossiers table alone: no version is read, decrypted or verified
        (a caller trusting a version it verified earlier identifies it by id and number:
        versions are immutable, see :class:`dossier.reports.agenda.AgendaCache`). Also the
        ids of those whose head is not an ordinary version of this archive (received from
        another archive, its content removed by a hand-over, or the file handed over): a
        cache must not answer for them. ``keys``: what :meth:`head_keys` returned for these
        scopes (not read again)."""
        rows, special = keys if keys is not None else self.head_keys(scope_ids)
        paths: dict[int, str] = {}
        out = []
        for did, archive_no, sid, head in rows:
            if sid not in paths:
                paths[sid] = self.ar.scopes.path_of(sid)
            out.append(DossierRow(did, archive_no, sid, paths[sid], head))
        return out, special

    def head_keys(self, scope_ids: set[int]) -> tuple[list[tuple], set[str]]:
        """:meth:`head_rows` as plain tuples (id, 档号, scope id, head version), without the
        scope paths: what identifies the heads of these scopes, cheap to compare."""
        ar = self.ar
        wanted = sorted(int(s) for s in scope_ids)
        if not wanted:
            return [], set()
        # (no top_scope here: on SQLite the dossiers_scope_heads index answers it alone, and would
        # not with the key; docs/decisions.md lists it among the queries without the key)
        rows = [tuple(r) for r in ar.con.execute(
            "SELECT id, archive_no, scope, head FROM dossiers"
            f" WHERE scope IN ({','.join('?' * len(wanted))}) AND head > 0 ORDER BY archive_no", wanted).fetchall()]
        special: set[str] = set()
        if received.has_tables(ar.con):
            q = f"SELECT d.id FROM dossiers d WHERE d.scope IN ({','.join('?' * len(wanted))}) AND ("
            special = {r[0] for r in ar.con.execute(
                q + "EXISTS (SELECT 1 FROM transfers_out t WHERE t.dossier=d.id)"
                " OR EXISTS (SELECT 1 FROM received_versions rv WHERE rv.dossier=d.id AND rv.version=d.head)"
                " OR EXISTS (SELECT 1 FROM redacted_versions rd WHERE rd.dossier=d.id AND rd.version=d.head))",
                wanted)}
        return rows, special

    def _tops(self, scope_ids: list[int]) -> list[int]:
        """The top-level scopes (partition keys) of ``scope_ids``, sorted."""
        out = set()
        for s in scope_ids:
            try:
                out.add(self.ar.scopes.top_of(s))
            except (KeyError, NotFound):     # no such scope: no dossiers in it either
                continue
        return sorted(out)

    def _head_query(self, scope_ids: set[int], only: set[str] | None) -> tuple[list, dict, dict]:
        """The rows of :meth:`heads` (head version, its parent's hash) in 档号 order, the
        authors' public keys and the origins of heads received from another archive."""
        ar = self.ar
        wanted = sorted(int(s) for s in scope_ids)
        if not wanted or (only is not None and not only):
            return [], {}, {}
        tops = self._tops(wanted)       # the partitions these scopes are in (PostgreSQL prunes the rest)
        if not tops:
            return [], {}, {}
        # only the caller's scopes are read (the dossiers_scope index): the cost grows with
        # what the caller may see, not with the archive
        sql = ("SELECT d.id AS did, d.archive_no, d.scope, d.head, v.*, p.hash AS parent"
               " FROM dossiers d JOIN versions v ON v.top_scope=d.top_scope AND v.dossier=d.id AND v.version=d.head"
               " LEFT JOIN versions p ON p.top_scope=d.top_scope AND p.dossier=d.id AND p.version=d.head-1"
               f" WHERE d.top_scope IN ({','.join('?' * len(tops))}) AND d.scope IN ({','.join('?' * len(wanted))})")
        params: list = [*tops, *wanted]
        if only is not None and len(only) <= 500:
            ids = sorted(only)
            sql += f" AND d.id IN ({','.join('?' * len(ids))})"
            params += ids
        if getattr(ar.con, "is_postgres", False):
            rows = ar.con.execute(sql + " ORDER BY d.archive_no", params).fetchall()
        else:       # SQLite would sort whole rows (the content too) in a temporary b-tree: ~1/3 of
            # the query's time over 5,000 heads; the same order (BINARY = code points) here
            rows = ar.con.execute(sql, params).fetchall()
            rows.sort(key=lambda r: r["archive_no"])
        rows = [r for r in rows if r["scope"] in scope_ids and (only is None or r["did"] in only)]
        sign_pub: dict[str, bytes | None] = {}
        for r in rows:
            if r["author"] not in sign_pub:
                sign_pub[r["author"]] = self._sign_public(r["author"])
        received_heads = received.head_origins(ar.con, wanted) if rows else {}
        origins = {r["did"]: o for r in rows if (o := received_heads.get((r["did"], r["version"]))) is not None}
        return rows, sign_pub, origins

    def _scope_paths(self, rows) -> dict[int, str]:
        paths: dict[int, str] = {}
        for r in rows:
            if r["scope"] not in paths:
                paths[r["scope"]] = self.ar.scopes.path_of(r["scope"])
        return paths

    def heads(self, scope_ids: set[int], only: set[str] | None = None, *, signatures_aside: bool = False):
        """(row, version row, content) of the head of every dossier in ``scope_ids``,
        in 档号 order — decrypted and verified like :meth:`load` (hash, chain link to the
        parent, author's signature), in one query rather than three per dossier.
        ``only``: just these dossier ids (the others are not decrypted).

        ``signatures_aside``: for a caller that uses nothing before the generator is
        exhausted (a report computed over all of them): the Ed25519 signatures of this
        archive's own versions may be verified by a forked child on another core meanwhile
        (:mod:`dossier.crypto.verify_aside`); a bad one then raises
        :class:`IntegrityError` after the last head, before the caller's result exists.
        (A caller that reduces each head to a small result: :meth:`heads_map`.)"""
        ar = self.ar
        rows, sign_pub, origins = self._head_query(scope_ids, only)
        if not rows:
            return
        verified, aside, delegated = self._verified, None, []
        if signatures_aside:
            from .crypto import verify_aside

            delegated = [t for r in rows if r["did"] not in origins and sign_pub[r["author"]] is not None
                         and (t := (sign_pub[r["author"]], bytes(r["signature"]), bytes(r["hash"])))
                         not in self._verified]
            aside = verify_aside.start(delegated)
            if aside is not None:       # taken as checked here; the child's answer decides below
                verified = self._verified | set(delegated)
        paths = self._scope_paths(rows)
        try:
            for r in rows:
                sid = r["scope"]
                row = DossierRow(r["did"], r["archive_no"], sid, paths[sid], r["head"])
                v = VersionRow.from_row(r)
                parent = GENESIS if v.version == 1 else r["parent"]
                o = origins.get(row.id)
                if o is not None:
                    yield row, v, self._open_received(row, v, parent, o)
                    continue
                problems = v.verify(ar.archive_id, sign_pub[v.author], parent, verified)
                if problems:
                    raise IntegrityError(f"档案 {row.archive_no} 第 {v.version} 版完整性校验失败：{'；'.join(problems)}")
                _, key = ar.keyring.scope_key(sid, "data", v.key_version)
                yield row, v, open_content(ar.archive_id, sid, v, key)
            if aside is not None:
                bad = aside.failures()
                if bad:
                    h = delegated[bad[0]][2]
                    r = next(r for r in rows if bytes(r["hash"]) == h)
                    raise IntegrityError(f"档案 {r['archive_no']} 第 {r['version']} 版完整性校验失败：作者签名无效")
                self._verified.update(delegated)
        finally:
            if aside is not None:
                aside.close()

    def heads_map(self, scope_ids: set[int], fn: Callable[[DossierRow, VersionRow, dict], T]
                  ) -> list[tuple[DossierRow, T]]:
        """``(row, fn(row, version row, content))`` for the head of every dossier in
        ``scope_ids``, in 档号 order, each head checked exactly as :meth:`heads` checks it
        (hash, chain link, author's signature) before ``fn`` sees its content; all of them
        computed before this returns, so nothing reaches the caller unless every head passed.

        For a pass that reduces each head to a small result (the 工作台): the heads may be
        shared with a forked child on the other core (:mod:`dossier.crypto.shared_pass`),
        which checks, decrypts and runs ``fn`` on its part and sends back the results only.
        So ``fn`` must be pure — read its arguments and memory, no archive access (no
        connection, no key lookup), no side effect the caller relies on — and return
        picklable values. A head that fails a check raises :class:`IntegrityError` here,
        whichever process met it first (the child's part is then checked again here)."""
        from .crypto import shared_pass

        ar = self.ar
        rows, sign_pub, origins = self._head_query(scope_ids, None)
        if not rows:
            return []
        paths = self._scope_paths(rows)
        drows = [DossierRow(r["did"], r["archive_no"], r["scope"], paths[r["scope"]], r["head"]) for r in rows]
        # everything the child needs is looked up here, before the fork: the data keys (a key
        # the user lacks is raised where that head comes, as :meth:`heads` would)
        keys: dict[tuple[int, int], bytes | DossierError] = {}
        for r in rows:
            k = (r["scope"], r["key_version"])
            if k not in keys and r["did"] not in origins:
                try:
                    keys[k] = ar.keyring.scope_key(k[0], "data", k[1])[1]
                except DossierError as e:
                    keys[k] = e
        archive_id, verified = ar.archive_id, self._verified
        plain = [i for i, r in enumerate(rows) if r["did"] not in origins]

        def own(j: int):
            r, row = rows[plain[j]], drows[plain[j]]
            v = VersionRow.from_row(r)
            problems = v.verify(archive_id, sign_pub[v.author], GENESIS if v.version == 1 else r["parent"], verified)
            if problems:
                raise IntegrityError(f"档案 {row.archive_no} 第 {v.version} 版完整性校验失败：{'；'.join(problems)}")
            key = keys[(row.scope, v.key_version)]
            if isinstance(key, DossierError):
                raise key
            return fn(row, v, open_content(archive_id, row.scope, v, key))

        out: list = [None] * len(rows)
        for i, res in zip(plain, shared_pass.map_shared(len(plain), own)):
            out[i] = res
        # the child's share was verified there: its triples join this session's (as v.verify
        # adds those it checks here), now that every head has passed
        verified.update((sign_pub[rows[i]["author"]], bytes(rows[i]["signature"]), bytes(rows[i]["hash"]))
                        for i in plain)
        for i, r in enumerate(rows):
            if r["did"] in origins:         # received from another archive: read here, as :meth:`heads` does
                v = VersionRow.from_row(r)
                parent = GENESIS if v.version == 1 else r["parent"]
                out[i] = fn(drows[i], v, self._open_received(drows[i], v, parent, origins[r["did"]]))
        return list(zip(drows, out))

    def show(self, ref: str, version: int | None = None, as_of: date | None = None) -> DossierView:
        from .rules.alerts import alerts
        from .rules.labels import derive_labels

        row = self._readable(ref)
        v, content = self.load(row, version)
        as_of = as_of or date.today()
        state = content["state"]
        view = DossierView(row.id, row.archive_no, row.scope_path, v.version, row.head, v.author, v.time,
                           content.get("message", ""), state, as_of)
        view.labels = derive_labels(view.profile, view.entries, as_of)
        view.alerts = alerts(view.profile, view.entries, as_of)
        view.received = self._received_from(row)
        view.sent = received.sent(self.ar.con, row.id)
        self.ar.audit("view", dossier=row.id, version=v.version)
        return view

    def history(self, ref: str) -> list[dict]:
        row = self._readable(ref, "查看档案历史")
        out = []
        for n in range(1, row.head + 1):
            try:
                v, content = self.load(row, n)
            except ContentRemoved:      # handed over: header verified, content gone (issue 13)
                v, content = self.version_row(row.id, n), {"message": "（内容已随档案移交从本库清除）"}
            out.append({"version": n, "author": v.author, "time": v.time, "message": content.get("message", ""),
                        "hash": v.hash.hex()})
        return out

    def provenance(self, ref: str) -> tuple[list[dict], dict | None]:
        """(transfers that brought versions here, the transfer that took the file away) — issue 13."""
        row = self._readable(ref)
        return self._received_from(row), received.sent(self.ar.con, row.id)

    def _received_from(self, row: DossierRow) -> list[dict]:
        """The transfers that brought this file, with the sender's reason (sealed under the scope key)."""
        from .crypto import aead

        out = received.received_from(self.ar.con, row.id)
        for r in out:
            sealed = r.pop("_reason", None)
            r["reason"] = ""
            if sealed:
                _, key = self.ar.keyring.scope_key(row.scope, "data", int.from_bytes(sealed[:4], "big"))
                r["reason"] = aead.open_(key, sealed[4:], received.reason_ad(self.ar.archive_id, row.scope, row.id,
                                                                              r["transfer"])).decode()
        return out

    def diff(self, ref: str, v1: int, v2: int) -> dict:
        from .diffing import diff_states

        row = self._readable(ref, "比较版本")
        _, a = self.load(row, v1)
        _, b = self.load(row, v2)
        return {"archive_no": row.archive_no, "from": v1, "to": v2,
                "changes": diff_states(a["state"], b["state"])}

    # -- writing -----------------------------------------------------------
    def commit(self, ref: str | DossierRow, mutate: Callable[[dict], None], message: str, *,
               roles: tuple[str, ...] = WRITE_ROLES, what: str = "修改档案", concurrent: bool = False) -> int:
        """Apply ``mutate`` to a copy of the head state and store it as a new
        version. Returns the new version number.

        ``concurrent`` (adding an entry: ``mutate`` only adds to the state it is given, so it
        can run again): on PostgreSQL, outside another transaction, lock this dossier only
        and take the archive lock at the audit append (``store.meta.transaction(late_lock)``),
        so writers to other dossiers overlap; if a writer that held the archive lock moved
        the dossier on meanwhile, the compare-and-swap on its head fails and the change is
        made again on the new head (up to :data:`CAS_RETRIES` times, then VersionConflict).
        SQLite and nested calls: exactly as without it."""
        ar = self.ar
        ar.require_role(*roles, what=what)
        late = concurrent and not getattr(ar, "_tx_depth", 0) and getattr(ar.con, "is_postgres", False)
        attempts = 1 + CAS_RETRIES if late else 1
        row, based_on = None, 0
        for attempt in range(attempts):
            try:
                with ar.transaction(late_lock=late) as con:
                    row = self.resolve(ref) if isinstance(ref, str) else self.resolve(ref.id)
                    if meta.lock_dossier(con, row.id):
                        row = self.resolve(row.id)      # its head, now that no other entry can land
                    based_on = row.head
                    ar.scopes.require(row.scope, what)
                    self.refuse_if_sent(row)
                    v, content = self.load(row)
                    state = content["state"]      # freshly decoded by load(): nobody else holds it, no copy needed
                    mutate(state)
                    return self._write(row, state, message, parent=v.hash)
            except VersionConflict as e:
                if attempt + 1 < attempts:
                    continue
                if row is not None and e.base == e.head == 0:     # found at the commit: name the versions
                    now = self.resolve(row.id).head
                    raise VersionConflict(base=based_on, head=now) from None
                raise

    def refuse_if_sent(self, row: DossierRow) -> None:
        """A file handed over to another archive is read-only here (issue 13)."""
        t = received.sent(self.ar.con, row.id)
        if t is not None:
            kept = "只读副本" if t["keep_copy"] else "脱敏存根"
            raise RefusedOperation(f"档案 {row.archive_no} 已于 {t['time'][:10]} 移交至“{t['peer_name']}”"
                                   f"（档案库 {t['peer_archive']}），本库只保留{kept}，不能修改；"
                                   "如需续写请在接收方档案库进行")

    def create(self, scope: int, archive_no: str, id_token: bytes, dossier_id: str, state: dict,
               message: str) -> DossierRow:
        con = self.ar.con
        top = self.ar.scopes.top_of(scope)
        # on PostgreSQL sent with the next statement (one round trip fewer per new person); the
        # archive-wide keys in dossier_keys, in the same transaction: a duplicate ID, 档号 or
        # dossier id anywhere in the archive fails the whole 建档 (docs/decisions.md)
        meta.execute_later(con, "INSERT INTO dossier_keys(id_token, ref_norm, archive_no, dossier, top_scope)"
                           " VALUES(?,?,?,?,?)", (id_token, ref_norm(archive_no), archive_no, dossier_id, top))
        meta.execute_later(con, "INSERT INTO dossiers(id, archive_no, ref_norm, scope, id_token, head, created,"
                           " top_scope) VALUES(?,?,?,?,?,0,?,?)",
                           (dossier_id, archive_no, ref_norm(archive_no), scope, id_token, now_iso(), top))
        row = DossierRow(dossier_id, archive_no, scope, self.ar.scopes.path_of(scope), 0)
        self._write(row, state, message)
        return row

    def _write(self, row: DossierRow, state: dict, message: str, *, parent: bytes | None = None) -> int:
        """Store ``state`` as version ``row.head + 1``. ``parent``: the hash of version
        ``row.head`` when the caller has just loaded it (else it is read here)."""
        from .crypto import aead

        ar = self.ar
        con = ar.con
        head = row.head
        new = head + 1
        if head == 0:
            parent = GENESIS
        elif parent is None:
            parent = con.execute("SELECT hash FROM versions WHERE top_scope=? AND dossier=? AND version=?",
                                 (ar.scopes.top_of(row.scope), row.id, head)).fetchone()[0]
        kv, key = ar.keyring.scope_key(row.scope, "data")
        content = aead.seal_envelope(key, encode_state(state, message),
                                     content_ad(ar.archive_id, row.scope, row.id, new))
        t = now_iso()
        # the change's audit event joins this transaction, so the version and its event commit
        # together and the anchored chain head (the event itself) already includes it; the
        # event records the version's hash without the anchor (see dossier.crosscheck). On
        # PostgreSQL the append takes the archive lock if the transaction began without it
        # (Dossiers.commit, ``concurrent``), in one round trip with the chain's head.
        ev = ar.audit("dossier.change", dossier=row.id, version=new, archive_no=row.archive_no,
                      vhash=version_hash(ar.archive_id, row.id, new, parent, ar.user.name, t, kv, content, None).hex())
        audit_head = getattr(ar, "audit_head", lambda ev=None: None)(ev)
        h = version_hash(ar.archive_id, row.id, new, parent, ar.user.name, t, kv, content, audit_head)
        sig = ar.keys.sign_bytes(h)
        # compare-and-swap on the version number, and on the scope's key version: a head moved
        # by another writer since ``row`` was read, or a key rotated since ``kv`` was, is a
        # conflict, never an overwrite or a version sealed under a retired key. Under SQLite's
        # one writer lock neither can happen (and the check is immediate); on PostgreSQL a
        # writer that began without the archive lock meets it here, and the swap, the event,
        # the version and the commit travel in one round trip — a failed swap stops the rest
        # there (docs/decisions.md, issue 12)
        top = ar.scopes.top_of(row.scope)
        meta.execute_later(con, "UPDATE dossiers SET head=? WHERE top_scope=? AND id=? AND head=? AND"
                           " (SELECT MAX(key_version) FROM scope_keys WHERE scope=? AND kind='data')=?",
                           (new, top, row.id, head, row.scope, kv), expect_rows=1)
        meta.execute_later(con, "INSERT INTO versions(dossier, version, parent_hash, author, time, key_version,"
                           " content, audit_head, hash, signature, top_scope) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           (row.id, new, parent, ar.user.name, t, kv, content, audit_head, h, sig, top))
        self._verified.add((ar.keys.sign_public, sig, h))
        crash_point("after-version-insert")
        row.head = new
        ar.after_commit(row, new, state)
        return new
