"""Search on an open archive: ``ar.search(query)``, ``ar.search.status()``,
``ar.search.rebuild()``, and the commit hook that keeps the indexes current.

Layout under the archive (no names on disk; scope ids and key versions only)::

    index/<scope id>/clerk-k<key version>/*.enc     sealed with HKDF(scope data key)
    index/<scope id>/inspect-k<key version>/*.enc   sealed with HKDF(scope inspection key)

A rotated scope key gives a new directory: the old index cannot be read with
the new key anyway, and the next commit (or ``index rebuild``) rebuilds it.

Who searches what (keys, not ``if`` statements, decide): an inspector searches
the inspection indexes of the scopes whose inspection key it holds, and sees
masked values; everyone else searches the clerk indexes of the scopes whose
data key it holds, within the scopes it covers.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import DossierError, IntegrityError, PermissionDenied
from . import batches, parallel
from .backend import CLERK, INSPECT
from .query import parse

log = logging.getLogger("dossier.index")
KEY_KIND = {CLERK: "data", INSPECT: "inspect"}
_NONE = MappingProxyType({})     # SearchService._held_now outside the commit hook


def ar_path(ar, sid: int) -> str:
    try:
        return ar.scopes.path_of(sid)
    except Exception:
        return str(sid)


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dossier-index-v1", info=info).derive(key)


class SearchService:
    def __init__(self, ar):
        self.ar = ar
        self._indexes: dict[tuple[int, str, int], object] = {}
        self.errors: list[str] = []   # index updates that failed after a data commit (see status)
        self._stream = None           # an IndexStream while a large batch builds new indexes
        self._prepared = None         # one started ahead of the batch (see on_batch_prepare)
        self._held_now = _NONE        # during the commit hook: scope → keys held, (scope, kind) → version

    # -- plumbing -------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.ar.path) / (self.ar.config.get("index", {}) or {}).get("dir", "index")

    @property
    def mode(self) -> str:
        return INSPECT if self.ar.user.role == "inspector" else CLERK

    def index(self, sid: int, kind: str):
        """The index of one scope and kind (raises PermissionDenied without its key)."""
        kv, key = self.ar.keyring.scope_key(sid, KEY_KIND[kind], self._held_now.get((sid, KEY_KIND[kind])))
        ck = (sid, kind, kv)
        ix = self._indexes.get(ck)
        if ix is None:
            ix = self._open_index(sid, kind, kv, key)
            self._indexes[ck] = ix
        return ix

    # -- the backend: chosen here, once, by the store (issue 12 part 2) --------------------------
    @property
    def in_database(self) -> bool:
        """Whether the indexes live in the store's database (PostgreSQL: blind tokens, see
        ``blind_backend``) instead of sealed Whoosh files under the archive directory. The
        database backend writes in this process (no forked index workers)."""
        return bool(getattr(self.ar.con, "is_postgres", False))

    def _open_index(self, sid: int, kind: str, kv: int, key: bytes):
        blind_key = _hkdf(key, b"blind") if kind == INSPECT else None
        context = (self.ar.archive_id, str(sid), f"k{kv}")
        if self.in_database:
            from .blind_backend import BlindIndex

            return BlindIndex(self.ar.con, kind, _hkdf(key, f"blind-index|{kind}".encode()), context, sid, kv,
                              blind_key=blind_key)
        from .whoosh_backend import WhooshIndex

        # derived data: written atomically but not fsynced (see whoosh_backend's module doc)
        return WhooshIndex(self.root / str(sid) / f"{kind}-k{kv}", kind, _hkdf(key, f"files|{kind}".encode()),
                           context, blind_key=blind_key, durable=False)

    def ensure(self, progress: Callable | None = None, today: date | None = None) -> int:
        """Build every index of this user's scopes that does not exist yet or is behind the
        store (after ``migrate``: the copy's indexes are rebuilt, not copied, when the copy
        uses the other backend); returns how many were built."""
        today = today or date.today()
        n = 0
        for sid in self._scopes(CLERK):
            kinds = tuple(k for k in self._kinds_held(sid) if not self._current(sid, k))
            if kinds:
                docs = self._docs(sid, kinds, today, progress)
                for kind in kinds:
                    self.index(sid, kind).rebuild(docs[kind])
                    n += 1
        return n

    def _store_rows(self, sid: int | None = None) -> dict[str, tuple[int, int, str]]:
        sql = "SELECT id, scope, head, archive_no FROM dossiers"
        rows = self.ar.con.execute(sql + (" WHERE scope=?" if sid is not None else ""),
                                   (() if sid is None else (sid,))).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _scopes(self, kind: str) -> list[int]:
        """Scopes with dossiers that this user covers and holds the key for."""
        ar = self.ar
        covered = ar.scopes.covered()
        if len(covered) <= 64:       # a clerk's few scopes: one indexed probe each, not a scan of the archive
            with_data = {s for s in covered
                         if ar.con.execute("SELECT 1 FROM dossiers WHERE scope=? LIMIT 1", (s,)).fetchone()}
        else:
            with_data = {r[0] for r in ar.con.execute("SELECT DISTINCT scope FROM dossiers")}
        return sorted(s for s in covered & with_data if ar.keyring.holds(s, KEY_KIND[kind]))

    def _hit_rows(self, ids: list[str]) -> dict[str, tuple[int, int, str]]:
        """:meth:`_store_rows` of just these dossiers."""
        out: dict[str, tuple[int, int, str]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for r in self.ar.con.execute("SELECT id, scope, head, archive_no FROM dossiers"
                                         f" WHERE id IN ({','.join('?' * len(part))})", part):
                out[r[0]] = (r[1], r[2], r[3])
        return out

    def _store_print(self, sid: int) -> tuple[int, int]:
        """(dossiers, sum of their head versions) of a scope: what an index's fingerprint is compared with."""
        n, heads = self.ar.con.execute("SELECT count(*), coalesce(sum(head), 0) FROM dossiers WHERE scope=?",
                                       (sid,)).fetchone()
        return int(n), int(heads)

    def _docs(self, sid: int, kinds: tuple[str, ...], today: date, progress: Callable | None = None,
              known: dict | None = None):
        """Index documents of every dossier of a scope, per kind (decrypts each
        head, except those in ``known``: dossier id → (version, state) just
        committed)."""
        path = self.ar.scopes.path_of(sid)
        blind_key = self.index(sid, INSPECT)._blind_key if INSPECT in kinds else None
        out = {k: [] for k in kinds}
        for dossier_id, archive_no, head, state in self._sources(sid, known, progress):
            for kind in kinds:
                out[kind].append(self._doc(kind, dossier_id, archive_no, path, head, state, today, blind_key))
        return out

    def _sources(self, sid: int, known: dict | None = None, progress: Callable | None = None) -> list[tuple]:
        """(dossier id, 档号, head, state) of every dossier of a scope; states decrypted
        unless given in ``known`` (dossier id → (version, state) just committed)."""
        return list(self._iter_sources(sid, known, progress))

    def _iter_sources(self, sid: int, known: dict | None = None, progress: Callable | None = None):
        """``_sources`` one at a time (the stream indexes while the next is decrypted)."""
        from ..dossiers import DossierRow

        ar = self.ar
        path = ar.scopes.path_of(sid)
        rows = ar.con.execute("SELECT id, archive_no, head FROM dossiers WHERE scope=? ORDER BY id",
                              (sid,)).fetchall()
        for r in rows:
            row = DossierRow(r[0], r[1], sid, path, r[2])
            got = (known or {}).get(row.id)
            if got is not None and got[0] == row.head:
                state = got[1]
            else:
                _, content = ar.dossiers.load(row)
                state = content["state"]
            yield row.id, row.archive_no, row.head, state
            if progress:
                progress(1)

    @staticmethod
    def _doc(kind, dossier_id, archive_no, path, version, state, today, blind_key):
        from .documents import clerk_doc, inspect_doc

        if kind == CLERK:
            return clerk_doc(dossier_id, archive_no, path, version, state, today)
        return inspect_doc(dossier_id, archive_no, path, version, state, today, blind_key)

    def _kinds_held(self, sid: int) -> tuple[str, ...]:
        if self._held_now is not _NONE:     # in the commit hook: asked once, with the key versions
            held = self._held_now.get(sid)
            if held is None:
                held = self._held_now[sid] = self.ar.keyring.holdings(sid)
                self._held_now.update({(sid, k): kv for k, kv in held.items()})
            return tuple(k for k in (CLERK, INSPECT) if KEY_KIND[k] in held)
        return tuple(k for k in (CLERK, INSPECT) if self.ar.keyring.holds(sid, KEY_KIND[k]))

    def _current(self, sid: int, kind: str) -> bool:
        try:
            ix = self.index(sid, kind)
            return ix.exists() and ix.fingerprint() == self._store_print(sid)
        except IntegrityError:
            return False

    # -- commit hook ----------------------------------------------------------------
    def on_commit_batch(self, ar, items) -> None:
        """After a transaction's commit (registered on ``ar.on_commit_batch``):
        ``items`` is ``[(row, version, state), ...]``, one per changed dossier
        (its last state). Grouped by scope; per scope and index kind, one
        writer and one commit, so a 10,000-row import pays one index commit
        per 社区, not one per person. A failure here cannot undo the committed
        data; it is logged, kept in ``errors``, and ``index status`` reports
        the index as stale (or corrupt)."""
        self._held_now = {}    # the keys held and their versions, one query per scope (_kinds_held)
        try:
            self._on_commit_batch(items)
        finally:
            self._held_now = _NONE

    def _on_commit_batch(self, items) -> None:
        today = date.today()
        stream, self._stream = self._stream, None
        done = batches.finish(self, stream, items) if stream is not None and stream.streaming else set()
        groups: dict[int, list] = {}
        for item in items:
            groups.setdefault(item[0].scope, []).append(item)
        tasks = [(sid, kind, its) for sid, its in groups.items() for kind in self._kinds_held(sid)
                 if (sid, kind) not in done]
        left = len({row.id for _, _, its in tasks for row, _, _ in its})    # not built by the stream
        if (left >= parallel.PARALLEL_MIN_DOCS and len(tasks) > 1 and parallel.workers() > 1
                and not self.in_database):
            self._update_parallel(tasks, today)
            return
        if self.in_database:
            self._update_blind(tasks, today)
            return
        for sid, kind, its in tasks:
            try:
                if not self._update_aside(sid, kind, its, today):
                    self._update_kind(sid, kind, its, today)
            except (DossierError, OSError) as e:
                self._failed(its, e)

    def _update_blind(self, tasks, today: date) -> None:
        """PostgreSQL: a scope's indexes (clerk and inspection) updated in one transaction
        (``blind_backend.upsert_many``: fewer round trips, one commit). A missing index (or any
        integrity error): nothing was written, and each kind takes the serial path, which
        rebuilds it from the store when it can."""
        from .blind_backend import upsert_many

        by_scope: dict[int, list] = {}
        for sid, kind, its in tasks:
            by_scope.setdefault(sid, []).append((kind, its))
        for sid, parts in by_scope.items():
            try:
                path = self.ar.scopes.path_of(sid)
                work = []
                for kind, its in parts:       # clerk, then inspection (``_kinds_held``): one order
                    ix = self.index(sid, kind)
                    work.append((ix, [self._doc(kind, row.id, row.archive_no, path, version, state, today,
                                                ix._blind_key) for row, version, state in its]))
                upsert_many(work)
                continue
            except IntegrityError:
                pass    # an index missing or unreadable: each kind on its own below (which rebuilds it)
            except (DossierError, OSError) as e:
                for _, its in parts:
                    self._failed(its, e)
                continue
            for kind, its in parts:
                try:
                    self._update_kind(sid, kind, its, today)
                except (DossierError, OSError) as e:
                    self._failed(its, e)

    # -- index writes aside (dossier serve: a helper process writes, see ``aside``) ---------
    def _update_aside(self, sid: int, kind: str, items, today: date) -> bool:
        """Hand one index's update to the process's index-writing helper
        (``ar.index_aside``, set by ``dossier serve``); False when there is none,
        or the backend cannot be opened elsewhere, or the index must be (re)built
        here from the store (missing, or the helper could not write it)."""
        aside = getattr(self.ar, "index_aside", None)
        if aside is None:
            return False
        ix = self.index(sid, kind)
        spec = getattr(ix, "aside_spec", None)
        if spec is None or aside.take_broken(spec.key) or not ix.exists():
            return False
        path = self.ar.scopes.path_of(sid)
        blind_key = getattr(ix, "_blind_key", None)
        try:
            aside.submit(spec, SearchService._doc, [(kind, row.id, row.archive_no, path, version, state, today,
                                                     blind_key) for row, version, state in items])
        except (RuntimeError, OSError):      # the server is stopping, or no helper could start: write here
            return False
        return True

    def _settle(self, ix) -> None:
        """Before reading or writing an index here: wait for its updates handed to
        the helper (read your writes; bounded, see ``aside.WAIT_S``)."""
        aside = getattr(self.ar, "index_aside", None)
        spec = getattr(ix, "aside_spec", None)
        if aside is not None and spec is not None:
            aside.wait([spec.key])

    # -- large batches: indexes built beside the writes (see ``batches`` and ``stream``)
    def on_batch_begin(self, ar, size_hint: int):
        """Registered on ``ar.on_batch_begin`` (see :func:`batches.begin`)."""
        return None if self.in_database else batches.begin(self, size_hint)

    def on_batch_prepare(self, ar, size_hint: int):
        """Registered on ``ar.on_batch_prepare`` (see :func:`batches.prepare`)."""
        return None if self.in_database else batches.prepare(self, size_hint)

    def _failed(self, its, e) -> None:
        nos = [row.archive_no for row, _, _ in its]
        which = nos[0] if len(nos) == 1 else f"{nos[0]} 等 {len(nos)} 份"
        msg = f"检索索引未能更新（档号 {which}）：{e}；请运行 dossier index rebuild"
        self.errors.append(msg)
        log.warning(msg)

    def _update_parallel(self, tasks, today: date) -> None:
        """Many indexes changed at once (an import): documents are built here, the
        indexes are written side by side in worker processes (see ``parallel``)."""
        jobs, planned = [], []
        for sid, kind, its in tasks:
            try:
                ix, op, docs = self._plan(sid, kind, its, today)
            except (DossierError, OSError) as e:
                self._failed(its, e)
                continue
            if op is None:
                continue
            path = self.ar.scopes.path_of(sid)

            def job(ix=ix, op=op, sources=docs, kind=kind, path=path):
                # documents are built in the worker too (analysis-free, but 10,000s of them)
                getattr(ix, op)([self._doc(kind, i, no, path, v, st, today, ix._blind_key)
                                 for i, no, v, st in sources])

            cost = len(docs) * (4 if kind == CLERK else 1)     # a clerk document has many more fields
            jobs.append((cost, job))
            planned.append((sid, kind, its))
        for (sid, kind, its), got in zip(planned, parallel.run(jobs)):
            # the files changed under this process's open index: open it afresh when next used
            for ck in [ck for ck in self._indexes if ck[:2] == (sid, kind)]:
                self._indexes.pop(ck).close()
            if got is None:
                continue
            if got[0] != "integrity":
                self._failed(its, got[1])
                continue
            try:      # an unreadable index (torn, old format): the serial path rebuilds it from the store
                self._update_kind(sid, kind, its, today)
            except (DossierError, OSError) as e:
                self._failed(its, e)

    def _plan(self, sid: int, kind: str, items, today: date):
        """(index, "rebuild" | "upsert" | None, sources) for one scope and kind; a source is
        (dossier id, 档号, version, state): what a document is built from (in the worker)."""
        ix = self.index(sid, kind)
        self._settle(ix)
        if not ix.exists():
            if not self.ar.keyring.holds(sid, "data"):
                return ix, None, []
            known = {row.id: (version, state) for row, version, state in items}
            return ix, "rebuild", self._sources(sid, known)
        return ix, "upsert", [(row.id, row.archive_no, version, state) for row, version, state in items]

    def on_commit(self, ar, row, version: int, state: dict) -> None:
        """One dossier's commit (not registered: the batch hook does this)."""
        self.on_commit_batch(ar, [(row, version, state)])

    def update(self, dossier_id: str, archive_no: str, sid: int, version: int, state: dict,
               today: date | None = None) -> None:
        """Index one dossier's state now (every kind this user holds)."""
        from ..dossiers import DossierRow

        row = DossierRow(dossier_id, archive_no, sid, self.ar.scopes.path_of(sid), version)
        for kind in self._kinds_held(sid):
            self._update_kind(sid, kind, [(row, version, state)], today or date.today())

    def update_many(self, items, today: date | None = None) -> None:
        """Index ``[(row, version, state), ...]`` now, raising on failure."""
        groups: dict[int, list] = {}
        for item in items:
            groups.setdefault(item[0].scope, []).append(item)
        for sid, its in groups.items():
            for kind in self._kinds_held(sid):
                self._update_kind(sid, kind, its, today or date.today())

    def _update_kind(self, sid: int, kind: str, items, today: date) -> None:
        ix = self.index(sid, kind)
        self._settle(ix)
        # a data key is needed to rebuild a missing or unreadable index; without
        # it only an existing, readable index is updated
        can_rebuild = self.ar.keyring.holds(sid, "data")
        if not ix.exists():
            if can_rebuild:
                known = {row.id: (version, state) for row, version, state in items}
                ix.rebuild(self._docs(sid, (kind,), today, known=known)[kind])
            return
        path = self.ar.scopes.path_of(sid)
        docs = [self._doc(kind, row.id, row.archive_no, path, version, state, today, ix._blind_key)
                for row, version, state in items]
        try:
            ix.upsert(docs)
        except IntegrityError as e:
            if not can_rebuild:
                raise
            # torn or tampered file, or an index of an older format: the store
            # is the truth, so build the index again from it
            log.warning("检索索引不可读（%s），正在从档案重建：%s", ar_path(self.ar, sid), e)
            known = {row.id: (version, state) for row, version, state in items}
            ix.rebuild(self._docs(sid, (kind,), today, known=known)[kind])

    # -- search ---------------------------------------------------------------------
    def __call__(self, query: str, limit: int = 20) -> list[dict]:
        return self.search(query, limit=limit)["results"]

    def search(self, query: str, limit: int = 20) -> dict:
        """``{"results": [...], "warnings": [...]}``; results best first.

        Every search is audited (who, the query, how many results)."""
        from ..errors import InvalidInput
        from .documents import scope_terms

        ar = self.ar
        if limit < 1:
            raise InvalidInput(field="limit", reason="应为正整数")
        q = parse(query)
        kind = self.mode
        sids = self._scopes(kind)
        if q.filters.get("scope"):
            wanted = [[p for p in v.replace("／", "/").split("/") if p] for v in q.filters["scope"]]
            sids = [s for s in sids if any(all(p in scope_terms(ar.scopes.path_of(s)) for p in w) for w in wanted)]
        hits, warnings = [], []
        for sid in sids:
            ix = self.index(sid, kind)
            self._settle(ix)
            if not ix.exists():
                warnings.append(f"辖区“{ar.scopes.path_of(sid)}”尚无检索索引，结果可能不全；请运行 dossier index rebuild")
                continue
            try:
                got = ix.search(q, limit)
                fp = ix.fingerprint() if hasattr(ix, "fingerprint") else None
            except IntegrityError:
                # a torn (power loss) or tampered file: skip this index, never guess
                warnings.append(f"辖区“{ar.scopes.path_of(sid)}”的检索索引已损坏，未检索该辖区；"
                                "请运行 dossier index rebuild")
                continue
            store = self._hit_rows([h.id for h in got])
            for h in got:
                s = store.get(h.id)
                if s is None or s[0] != sid:
                    continue   # never return a person missing from the store (or moved away)
                h.stale = h.version < s[1]
                hits.append(h)
            if fp is not None and fp != self._store_print(sid):
                warnings.append(f"辖区“{ar.scopes.path_of(sid)}”的检索索引已过期，结果可能不全；"
                                "请运行 dossier index rebuild")
        hits.sort(key=lambda h: (h.tier, -h.score, h.archive_no))
        hits = hits[:limit]
        results = [self._result(h, kind) for h in hits]
        ar.audit("search", query=query, count=len(results), mode=kind)
        return {"results": results, "warnings": warnings}

    @staticmethod
    def _result(h, kind: str) -> dict:
        d = h.data
        r = {"archive_no": h.archive_no, "name": d.get("name", ""), "id_number": d.get("id_number", ""),
             "phone": d.get("phone", ""), "address": d.get("address", ""), "scope": h.scope,
             "score": round(h.score, 3), "match": ("exact", "partial", "text")[h.tier],
             "status": d.get("status", []), "risk": d.get("risk"), "labels": d.get("labels", []),
             "id": h.id, "version": h.version}
        if kind == CLERK:
            r["snippet"] = h.snippet
        else:
            r["masked"] = True
        if getattr(h, "stale", False):
            r["stale"] = True
        return r

    # -- maintenance ----------------------------------------------------------------
    def status(self) -> list[dict]:
        """Per scope and index kind the user can open: how many dossiers, how
        many indexed, which are stale (indexed version behind), missing or extra."""
        ar = self.ar
        out = []
        covered = ar.scopes.covered()
        sids = sorted(s for s in covered if s in {r[0] for r in ar.con.execute("SELECT DISTINCT scope FROM dossiers")}
                      or (self.root / str(s)).exists())
        for sid in sids:
            store = self._store_rows(sid)
            for kind in self._kinds_held(sid):
                ix = self.index(sid, kind)
                self._settle(ix)
                rec = {"scope": ar.scopes.path_of(sid), "kind": kind, "dossiers": len(store)}
                try:
                    if not ix.exists():
                        rec.update(indexed=0, state="missing" if store else "empty", stale=[], missing=list(store),
                                   extra=[])
                    else:
                        have = ix.indexed_versions()
                        stale = [i for i, v in have.items() if i in store and v < store[i][1]]
                        missing = [i for i in store if i not in have]
                        extra = [i for i in have if i not in store]
                        # two documents of one dossier (an update that failed half-way) count as stale
                        duplicated = ix.doc_count() != len(have)
                        ok = not (stale or missing or extra or duplicated)
                        rec.update(indexed=len(have), state="ok" if ok else "stale", stale=stale, missing=missing,
                                   extra=extra)
                except IntegrityError as e:
                    rec.update(indexed=None, state="corrupt", error=str(e), stale=[], missing=[], extra=[])
                rec["archive_nos"] = sorted(store[i][2] for i in rec["stale"] + rec["missing"] if i in store)
                out.append(rec)
        return out

    def rebuild(self, progress: Callable | None = None, today: date | None = None) -> list[dict]:
        """Rebuild every index this user can rebuild (needs the scope's data key
        to read the dossiers) from the dossiers, each swapped in atomically."""
        ar = self.ar
        today = today or date.today()
        sids = [s for s in self._scopes(CLERK)]
        if not sids and ar.user.role == "inspector":
            raise PermissionDenied("督查人员没有辖区数据密钥，不能重建检索索引（请由社区专干或管理员运行）")
        batches.sweep_leftovers(self.root)
        if getattr(self.ar, "index_aside", None) is not None:
            self.ar.index_aside.wait(None)
        out = None if self.in_database else batches.rebuild(self, sids, today, progress)
        if out is None:
            out = []
            for sid in sids:
                kinds = self._kinds_held(sid)
                docs = self._docs(sid, kinds, today, progress)
                for kind in kinds:
                    n = self.index(sid, kind).rebuild(docs[kind])
                    out.append({"scope": ar.scopes.path_of(sid), "kind": kind, "documents": n})
        ar.audit("index-rebuild", scopes=len(sids))
        return out

    def close(self) -> None:
        for ix in self._indexes.values():
            ix.close()
        self._indexes.clear()

