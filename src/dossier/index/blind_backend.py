"""Blind-token search on PostgreSQL (issue 12, part 2): a second :class:`Backend`.

On an archive whose store is PostgreSQL the search index lives in the same
database, and the database never sees an analysed term or a stored value:

- every term the Whoosh index would hold (name characters and pairs, text and
  address bigrams, jieba words, ID / phone full and last 4 / 6, 档号, scope,
  status, risk, label, date buckets) is stored only as a **blind token**:
  HMAC-SHA256 under a key derived from the scope's data key (clerk index) or
  inspection key (inspection index, which holds exactly the Whoosh inspection
  index's terms: blind exact name / ID, 档号, scope, status, risk, label,
  dates — no fragments), truncated to 8 bytes (a BIGINT) — see
  docs/decisions.md "Blind-token search on PostgreSQL";
- per document one row in ``search_docs`` with the dossier id, the version
  indexed, the 档号 (for the filter-only order; it is in ``dossiers`` anyway)
  and the stored fields **sealed** (AES-GCM, associated data = archive, scope,
  kind, key version, dossier id, version), zlib-compressed and padded to a
  multiple of :data:`PAD`;
- ``search_terms(ix, token, doc)`` with its primary key (ix, token, doc): the
  posting lists.

A query is built by the very same code as the Whoosh query
(``whoosh_backend.build_query`` / ``filter_parts``: the same query language,
boosts and tiers); its leaves become tokens, the posting lists of those
tokens are fetched (one statement), the boolean query is evaluated on them,
filters are checked in SQL against the candidates, the best candidates (by
boost, as Whoosh cuts at ``max(3·limit, 50)``) are decrypted, phrases and date
ranges are verified exactly on the decrypted fields, and the hits are ranked
by ``clerk_tier`` and given ``snippet`` as on Whoosh.

Writes are independent of other writers (several app servers, no file lock):
an upsert locks the documents' rows (``SELECT … FOR UPDATE``, in dossier-id
order), keeps a newer version already there (a slow writer never overwrites a
later state), and replaces the document's tokens in the same transaction. A
rebuild writes a new index number beside the old one and switches the
pointer in ``search_indexes`` in one transaction; the old rows are deleted
after the commit.

The tables are PostgreSQL-only (native DDL, not recorded in
``dossier_schema``): ``dossier migrate`` does not copy them; the copy's index
is rebuilt from its dossiers during the verification (``SearchService.ensure``).
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import hmac
import json
import struct
import zlib
from datetime import date, timedelta
from typing import Iterable

from whoosh.query import And, NullQuery, NumericRange, Or, Phrase, Term

from ..crypto.aead import ad_for, open_, seal
from ..errors import IntegrityError, StoreUnavailable
from .analysis import bigram_tokens, name_tokens, words
from .backend import CLERK, INSPECT, TIER_EXACT, TIER_TEXT, Hit
from .query import ParsedQuery
from .whoosh_backend import build_query, clerk_tier, filter_parts, snippet

TOKEN_BYTES = 8          # a BIGINT; see docs/decisions.md for the choice
PAD = 256                # sealed documents are padded to a multiple of this
LOCK_DDL = 0x646F7373696573   # advisory lock key for creating the tables ("dossies")
ASYNC_COMMIT = "SET LOCAL synchronous_commit = off"   # the commit hook's index writes: derived data
PIPELINE_MAX_TERMS = 20000    # an upsert with at most this many tokens runs in pipeline mode (no COPY)

KEYWORDS = {CLERK: ("name_exact", "id_full", "id_tail", "phone_full", "phone_tail", "archive_key", "scope_terms",
                    "status", "risk", "labels"),
            INSPECT: ("name_blind", "id_blind", "archive_key", "scope_terms", "status", "risk", "labels")}
# what a sealed document keeps besides "data": what phrases and date ranges are verified against
SEALED_FIELDS = ("addr", "text", "dates")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS search_indexes(scope BIGINT NOT NULL, kind TEXT NOT NULL, kv BIGINT NOT NULL,"
    " ix BIGINT NOT NULL, PRIMARY KEY(scope, kind, kv))",
    "CREATE SEQUENCE IF NOT EXISTS search_ix_seq",
    "CREATE SEQUENCE IF NOT EXISTS search_doc_seq",
    "CREATE TABLE IF NOT EXISTS search_docs(ix BIGINT NOT NULL, dossier TEXT COLLATE \"C\" NOT NULL,"
    " doc BIGINT NOT NULL, version BIGINT NOT NULL, sort_no TEXT COLLATE \"C\" NOT NULL,"
    " tokens BYTEA NOT NULL, sealed BYTEA NOT NULL, PRIMARY KEY(ix, dossier))",
    "CREATE UNIQUE INDEX IF NOT EXISTS search_docs_doc ON search_docs(doc)",
    "CREATE INDEX IF NOT EXISTS search_docs_sort ON search_docs(ix, sort_no)",
    "CREATE TABLE IF NOT EXISTS search_terms(ix BIGINT NOT NULL, token BIGINT NOT NULL, doc BIGINT NOT NULL,"
    " PRIMARY KEY(ix, token, doc))",
)
_ready: set = set()       # connection info strings whose tables exist (per process)


def _store_errors(fn):
    """A lost or unreachable server is the store's error (exit 14), as on the data path."""
    import functools

    import psycopg

    @functools.wraps(fn)
    def wrapped(*a, **kw):
        try:
            return fn(*a, **kw)
        except psycopg.OperationalError as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise StoreUnavailable(f"检索索引所在的数据库不可用：{first}") from None
    return wrapped


def _raw(con):
    """The psycopg connection behind a :class:`dossier.store.pg.PgConnection` (or itself)."""
    return getattr(con, "_pg", con)


def ensure_tables(con) -> None:
    raw = _raw(con)
    dsn = raw.info.dsn + "|" + str(raw.info.dbname)
    if dsn in _ready:
        return
    if raw.execute("SELECT to_regclass('search_docs_sort') IS NOT NULL AND to_regclass('search_terms') IS NOT NULL"
                   ).fetchone()[0]:
        _ready.add(dsn)
        return
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_DDL,))
        for s in SCHEMA:
            raw.execute(s)
    _ready.add(dsn)


def _hkdf(key: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dossier-blind-v1", info=info).derive(key)


# -- terms -------------------------------------------------------------------------------------

def _kw(value) -> str:
    return str(value).replace(",", " ").strip()


def date_buckets(day: int) -> list[str]:
    """Day, month, year, decade and century of a YYYYMMDD integer."""
    s = f"{int(day):08d}"
    return ["D" + s, "M" + s[:6], "Y" + s[:4], "X" + s[:3], "C" + s[:2]]


def _to_day(v: int, end: bool) -> date:
    v = max(10101, min(int(v), 99991231))
    y, m, d = v // 10000, v // 100 % 100, v % 100
    if not 1 <= m <= 12:
        return date(y, 12, 31) if end else date(y, 1, 1)
    return date(y, m, min(max(d, 1), calendar.monthrange(y, m)[1]))


def date_cover(lo: int, hi: int) -> list[str]:
    """The fewest buckets (days, months, years, decades, centuries) that cover lo..hi exactly."""
    a, b = _to_day(lo, False), _to_day(hi, True)
    last = date(9999, 12, 31)
    out: list[str] = []
    while a <= b:
        step = None
        if a.month == 1 and a.day == 1:
            for years, tag, width in ((100, "C", 2), (10, "X", 3), (1, "Y", 4)):
                if a.year % years:
                    continue
                e = date(a.year + years, 1, 1) - timedelta(days=1) if a.year + years <= 9999 else last
                if e <= b:
                    step = (tag + f"{a.year:04d}"[:width], e)
                    break
        if step is None and a.day == 1:
            e = date(a.year, a.month, calendar.monthrange(a.year, a.month)[1])
            if e <= b:
                step = ("M" + f"{a.year:04d}{a.month:02d}", e)
        if step is None:
            step = ("D" + f"{a.year:04d}{a.month:02d}{a.day:02d}", a)
        out.append(step[0])
        if step[1] >= last:
            break
        a = step[1] + timedelta(days=1)
    return out


def doc_terms(kind: str, doc: dict) -> set[tuple[str, str]]:
    """Every (field, term) the Whoosh index holds for this document (``to_fields`` + the analyzers)."""
    out: set[tuple[str, str]] = set()
    for f in KEYWORDS[kind]:
        for v in doc.get(f, []) or []:
            t = _kw(v)
            if t:
                out.add((f, t))
    for d in doc.get("dates", []) or []:
        out.update(("dates", b) for b in date_buckets(d))
    if kind == CLERK:
        for v in doc.get("name", []) or []:
            out.update(("name", t) for t in name_tokens(v))
        # per value, not over the joined field: a line break ends every bigram chain and every
        # jieba line, so the union is the same set; and a value analysed once is not analysed
        # again when the next entry of the dossier is added (its other ~50 texts are unchanged)
        for f in ("addr", "text"):
            for v in doc.get(f, []) or []:
                out.update((f, t) for t in _value_bigrams(v))
        for f in ("addr", "text"):
            for v in doc.get(f) or []:
                out.update(("words", w) for w in _value_words(v))
    return out


@functools.lru_cache(maxsize=8192)
def _value_bigrams(value: str) -> frozenset[str]:
    # cached per process like analysis._line_words (never written anywhere)
    return frozenset(t[0] for t in bigram_tokens(value))


@functools.lru_cache(maxsize=8192)
def _value_words(value: str) -> tuple[str, ...]:
    return tuple(words(value))


def phrase_at(values: list[str], grams: list[str]) -> bool:
    """Whether ``grams`` occur at consecutive positions of the field (Whoosh's Phrase, slop 1)."""
    pos: dict[str, set[int]] = {}
    for t, p, _, _ in bigram_tokens("\n".join(values)):
        pos.setdefault(t, set()).add(p)
    first = pos.get(grams[0], set())
    return any(all(p + k in pos.get(g, ()) for k, g in enumerate(grams)) for p in first)


# -- the index -----------------------------------------------------------------------------------

class BlindIndex:
    """One scope's clerk or inspection index in PostgreSQL (a ``Backend``)."""

    def __init__(self, con, kind: str, key: bytes, context: tuple[str, ...], scope: int, key_version: int, *,
                 blind_key: bytes | None = None):
        if kind not in (CLERK, INSPECT):
            raise ValueError(kind)
        if kind == INSPECT and blind_key is None:
            raise ValueError("an inspection index needs its blind key")
        self.con = con
        self.kind = kind
        self.scope = int(scope)
        self.kv = int(key_version)
        self._blind_key = blind_key
        self._token_key = _hkdf(key, f"tokens|{kind}".encode())
        self._seal_key = _hkdf(key, f"docs|{kind}".encode())
        self._context = (*context, kind)
        self._tokens: dict[tuple[str, str], int] = {}
        ensure_tables(con)

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def raw(self):
        return _raw(self.con)

    def token(self, field: str, term: str) -> int:
        ck = (field, term)
        t = self._tokens.get(ck)
        if t is None:
            mac = hmac.digest(self._token_key, f"{field}\x00{term}".encode(), "sha256")
            t = int.from_bytes(mac[:TOKEN_BYTES], "big", signed=True)
            if len(self._tokens) < 65536:
                self._tokens[ck] = t
        return t

    def tokens_of(self, doc: dict) -> list[int]:
        return sorted({self.token(f, t) for f, t in doc_terms(self.kind, doc)})

    def _ad(self, dossier: str, version: int) -> bytes:
        return ad_for(*self._context, "blind-doc", dossier, int(version))

    def seal_doc(self, doc: dict) -> bytes:
        keep = {"id": doc["id"], "archive_no": doc["archive_no"], "scope": doc["scope"], "version": doc["version"],
                "data": doc.get("data") or {}}
        for f in SEALED_FIELDS:
            if doc.get(f):
                keep[f] = doc[f]
        body = zlib.compress(json.dumps(keep, ensure_ascii=False, separators=(",", ":")).encode(), 6)
        framed = struct.pack(">I", len(body)) + body
        framed += b"\0" * (-len(framed) % PAD)
        return seal(self._seal_key, framed, self._ad(doc["id"], doc["version"]))

    def open_doc(self, dossier: str, version: int, sealed: bytes) -> dict:
        framed = open_(self._seal_key, bytes(sealed), self._ad(dossier, version), what="检索索引文档")
        (n,) = struct.unpack(">I", framed[:4])
        try:
            return json.loads(zlib.decompress(framed[4:4 + n]))
        except (zlib.error, ValueError) as e:
            raise IntegrityError(f"检索索引文档无法读取（{type(e).__name__}）") from None

    def _ix(self, lock: bool = False) -> int | None:
        row = self.raw.execute("SELECT ix FROM search_indexes WHERE scope=%s AND kind=%s AND kv=%s"
                               + (" FOR UPDATE" if lock else ""), (self.scope, self.kind, self.kv)).fetchone()
        return None if row is None else int(row[0])

    # -- the protocol ----------------------------------------------------------------------------
    @_store_errors
    def exists(self) -> bool:
        return self._ix() is not None

    def close(self) -> None:
        self._tokens.clear()

    @_store_errors
    def indexed_versions(self) -> dict[str, int]:
        ix = self._ix()
        if ix is None:
            return {}
        return {r[0]: int(r[1]) for r in self.raw.execute(
            "SELECT dossier, version FROM search_docs WHERE ix=%s AND version >= 0", (ix,))}

    @_store_errors
    def doc_count(self) -> int:
        ix = self._ix()
        if ix is None:
            return 0
        return int(self.raw.execute("SELECT count(*) FROM search_docs WHERE ix=%s AND version >= 0",
                                    (ix,)).fetchone()[0])

    @_store_errors
    def fingerprint(self) -> tuple[int, int] | None:
        """(documents, sum of indexed versions), compared with the store's (dossiers, sum of heads)."""
        ix = self._ix()
        if ix is None:
            return None
        n, s = self.raw.execute("SELECT count(*), coalesce(sum(version), 0) FROM search_docs"
                                " WHERE ix=%s AND version >= 0", (ix,)).fetchone()
        return int(n), int(s)

    @_store_errors
    def rebuild(self, docs: Iterable[dict], chunk: int = 2000) -> int:
        """A new index number filled with exactly ``docs`` (streamed: analysed, sealed and copied
        ``chunk`` at a time, so a large rebuild never holds every document's tokens), switched in
        in one transaction; the old index's rows are deleted after the commit. A document id
        given twice: the later one wins, as on Whoosh."""
        raw = self.raw
        n = 0
        seen: set[str] = set()
        again: dict[str, dict] = {}
        with raw.transaction():
            new = int(raw.execute("SELECT nextval('search_ix_seq')").fetchone()[0])
            batch: list = []
            for d in docs:
                if d["id"] in seen:
                    again[d["id"]] = d
                    continue
                seen.add(d["id"])
                batch.append((d, self.tokens_of(d), self.seal_doc(d)))
                if len(batch) >= chunk:
                    self._copy_in(new, batch)
                    n += len(batch)
                    batch = []
            self._copy_in(new, batch)
            n += len(batch)
            if again:
                self._upsert_into(new, [(d, self.tokens_of(d), self.seal_doc(d)) for d in again.values()],
                                  newer_only=False)
            old = raw.execute(
                "INSERT INTO search_indexes(scope, kind, kv, ix) VALUES(%s, %s, %s, %s)"
                " ON CONFLICT (scope, kind, kv) DO UPDATE SET ix = EXCLUDED.ix"
                " RETURNING (SELECT ix FROM search_indexes WHERE scope=%s AND kind=%s AND kv=%s)",
                (self.scope, self.kind, self.kv, new, self.scope, self.kind, self.kv)).fetchone()[0]
        if old is not None and int(old) != new:
            self._drop(int(old))
        return n

    def _drop(self, ix: int) -> None:
        with self.raw.transaction():
            self.raw.execute("DELETE FROM search_terms WHERE ix=%s", (ix,))
            self.raw.execute("DELETE FROM search_docs WHERE ix=%s", (ix,))

    @_store_errors
    def drop(self) -> None:
        """Remove this index altogether (tests; a scope key rotated away)."""
        with self.raw.transaction():
            ix = self._ix(lock=True)
            self.raw.execute("DELETE FROM search_indexes WHERE scope=%s AND kind=%s AND kv=%s",
                             (self.scope, self.kind, self.kv))
        if ix is not None:
            self._drop(ix)

    def _copy_in(self, ix: int, rows) -> None:
        """Documents and their tokens in bulk (COPY), doc numbers reserved from the sequence."""
        if not rows:
            return
        raw = self.raw
        nums = [r[0] for r in raw.execute("SELECT nextval('search_doc_seq') FROM generate_series(1, %s)",
                                          (len(rows),))]
        with raw.cursor() as cur:
            with cur.copy("COPY search_docs(ix, dossier, doc, version, sort_no, tokens, sealed) FROM STDIN") as cp:
                for num, (d, toks, sealed) in zip(nums, rows):
                    cp.write_row((ix, d["id"], num, int(d["version"]), str(d["archive_no"]),
                                  _pack(toks), sealed))
            with cur.copy("COPY search_terms(ix, token, doc) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "int8", "int8"])
                for num, (_, toks, _) in zip(nums, rows):
                    for t in toks:
                        cp.write_row((ix, t, num))

    def upsert(self, docs: Iterable[dict]) -> None:
        """Add or replace documents (by ``id``) in one transaction. Rows are locked in id order;
        a document whose row already holds a later version is left alone (another writer's).
        See :func:`upsert_many`."""
        upsert_many([(self, docs)])

    def _upsert_into(self, ix: int, prepared: list[tuple], newer_only: bool = True, copy: bool = True) -> None:
        """``prepared``: (document, its sorted tokens, its sealed fields), in any order. Only the
        tokens that changed are deleted and inserted (an entry added to a dossier changes a few
        of its ~200; the inspection index's, usually none); ``copy``: insert them with COPY
        (large batches) instead of one INSERT of arrays (small ones, in pipeline mode)."""
        raw = self.raw
        prepared = sorted(prepared, key=lambda r: r[0]["id"])
        ids = [d["id"] for d, _, _ in prepared]
        # rows for new documents first (placeholders, version -1), so every document can be locked
        raw.execute("INSERT INTO search_docs(ix, dossier, doc, version, sort_no, tokens, sealed)"
                    " SELECT %s, i, nextval('search_doc_seq'), -1, '', '', '' FROM unnest(%s::text[]) AS u(i)"
                    " ON CONFLICT (ix, dossier) DO NOTHING", (ix, ids))
        have = {r[0]: (int(r[1]), int(r[2]), bytes(r[3])) for r in raw.execute(
            "SELECT dossier, doc, version, tokens FROM search_docs WHERE ix=%s AND dossier = ANY(%s)"
            " ORDER BY dossier FOR UPDATE", (ix, ids)).fetchall()}
        gone_doc, gone_tok, add_doc, add_tok, updates = [], [], [], [], []
        for d, toks, sealed in prepared:
            num, version, old = have[d["id"]]
            if newer_only and version > int(d["version"]):
                continue
            old_set, new_set = set(_unpack(old)), set(toks)
            for t in sorted(old_set - new_set):
                gone_doc.append(num)
                gone_tok.append(t)
            for t in sorted(new_set - old_set):
                add_doc.append(num)
                add_tok.append(t)
            updates.append((int(d["version"]), str(d["archive_no"]), _pack(toks), sealed, ix, d["id"]))
        if gone_tok:
            raw.execute("DELETE FROM search_terms t USING unnest(%s::int8[], %s::int8[]) AS g(doc, token)"
                        " WHERE t.ix=%s AND t.doc = g.doc AND t.token = g.token", (gone_doc, gone_tok, ix))
        if updates:
            with raw.cursor() as cur:
                cur.executemany("UPDATE search_docs SET version=%s, sort_no=%s, tokens=%s, sealed=%s"
                                " WHERE ix=%s AND dossier=%s", updates)
        if not add_tok:
            return
        if not copy:
            raw.execute("INSERT INTO search_terms(ix, token, doc) SELECT %s, t, d"
                        " FROM unnest(%s::int8[], %s::int8[]) AS u(t, d)", (ix, add_tok, add_doc))
            return
        with raw.cursor() as cur:
            with cur.copy("COPY search_terms(ix, token, doc) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "int8", "int8"])
                for t, num in zip(add_tok, add_doc):
                    cp.write_row((ix, t, num))

    @_store_errors
    def delete(self, ids: Iterable[str]) -> None:
        ids = sorted(set(ids))
        if not ids:
            return
        raw = self.raw
        with raw.transaction():
            ix = self._ix()
            if ix is None:
                return
            rows = raw.execute("SELECT doc, tokens FROM search_docs WHERE ix=%s AND dossier = ANY(%s)"
                               " ORDER BY dossier FOR UPDATE", (ix, ids)).fetchall()
            with raw.cursor() as cur:
                cur.executemany("DELETE FROM search_terms WHERE ix=%s AND doc=%s AND token = ANY(%s)",
                                [(ix, int(r[0]), _unpack(bytes(r[1]))) for r in rows])
            raw.execute("DELETE FROM search_docs WHERE ix=%s AND dossier = ANY(%s)", (ix, ids))

    @_store_errors
    def damaged(self) -> list[tuple[str, int]]:
        """(dossier id, version) of every document whose sealed fields fail their check
        (``dossier check``)."""
        ix = self._ix()
        if ix is None:
            return []
        bad = []
        with self.raw.cursor() as cur:
            cur.execute("SELECT dossier, version, sealed FROM search_docs WHERE ix=%s AND version >= 0"
                        " ORDER BY dossier", (ix,))
            for dossier, version, sealed in cur:
                try:
                    if self.open_doc(dossier, int(version), bytes(sealed)).get("id") != dossier:
                        raise IntegrityError("misplaced")
                except IntegrityError:
                    bad.append((dossier, int(version)))
        return bad

    @staticmethod
    def indexes(con) -> list[tuple[int, str, int]]:
        """(scope id, kind, key version) of every blind index in this database."""
        ensure_tables(con)
        return [(int(r[0]), r[1], int(r[2])) for r in _raw(con).execute(
            "SELECT scope, kind, kv FROM search_indexes ORDER BY scope, kind, kv")]

    # -- search -------------------------------------------------------------------------------------
    def _leaf_tokens(self, q) -> list[int]:
        if isinstance(q, Term):
            return [self.token(q.fieldname, q.text)]       # as Whoosh looks a Term up: its text as is
        if isinstance(q, Phrase):
            return [self.token(q.fieldname, w) for w in q.words]
        if isinstance(q, NumericRange):
            return [self.token("dates", b) for b in date_cover(q.start, q.end)]
        if isinstance(q, (And, Or)):
            return [t for s in q.subqueries for t in self._leaf_tokens(s)]
        return []

    def _eval(self, q, post: dict[int, set[int]]) -> dict[int, float]:
        """doc → score of the documents the query's tokens admit (phrases: every gram present;
        verified after decryption). Scores: a leaf's boost; And/Or sum their parts, times their boost."""
        if q is NullQuery or q is None:
            return {}
        boost = float(getattr(q, "boost", 1.0) or 1.0)
        if isinstance(q, Term):
            return dict.fromkeys(post.get(self.token(q.fieldname, q.text), ()), boost)
        if isinstance(q, Phrase):
            sets = [post.get(self.token(q.fieldname, w), set()) for w in q.words]
            docs = set.intersection(*sets) if sets else set()
            return dict.fromkeys(docs, boost)
        if isinstance(q, NumericRange):
            docs = set().union(*(post.get(self.token("dates", b), set()) for b in date_cover(q.start, q.end)))
            return dict.fromkeys(docs, boost)
        parts = [self._eval(s, post) for s in q.subqueries]
        if isinstance(q, And):
            if not parts:
                return {}
            keys = set(parts[0]).intersection(*parts[1:])
        else:
            keys = set().union(*parts) if parts else set()
        return {k: boost * sum(p.get(k, 0.0) for p in parts) for k in keys}

    def _postings(self, ix: int, tokens: list[int], within: list[int] | None = None) -> dict[int, set[int]]:
        post: dict[int, set[int]] = {}
        if not tokens:
            return post
        sql = "SELECT token, doc FROM search_terms WHERE ix=%s AND token = ANY(%s)"
        args: tuple = (ix, sorted(set(tokens)))
        if within is not None:
            sql += " AND doc = ANY(%s)"
            args += (within,)
        for t, d in self.raw.execute(sql, args):
            post.setdefault(t, set()).add(d)
        return post

    def _filter_sql(self, ix: int, filters: list, alias: str) -> tuple[str, list]:
        """EXISTS conditions on ``alias.doc``, one per Or-group of tokens of each filter (a
        candidate superset; :meth:`_admitted` then decides exactly)."""
        conds, args = [], []
        for fq in filters:
            if isinstance(fq, And) and all(isinstance(s, Term) for s in fq.subqueries):
                groups = [self._leaf_tokens(s) for s in fq.subqueries]     # scope parts: each one
            else:
                groups = [self._leaf_tokens(fq)]
            for g in groups:
                conds.append(f"EXISTS (SELECT 1 FROM search_terms f WHERE f.ix=%s AND f.token = ANY(%s)"
                             f" AND f.doc = {alias}.doc)")
                args += [ix, g]
        return " AND ".join(conds) or "TRUE", args

    def _admitted(self, ix: int, filters: list, cands: list[int]) -> set[int]:
        """The candidates every filter admits, decided on their own postings (exact)."""
        keep = set(cands)
        if not filters or not keep:
            return keep
        toks = [t for fq in filters for t in self._leaf_tokens(fq)]
        fpost: dict[int, set[int]] = {}
        for i in range(0, len(cands), 20000):
            for t, docs in self._postings(ix, toks, cands[i:i + 20000]).items():
                fpost.setdefault(t, set()).update(docs)
        for fq in filters:
            keep &= set(self._eval(fq, fpost))
        return keep

    @_store_errors
    def search(self, query: ParsedQuery, limit: int = 20) -> list[Hit]:
        wq = build_query(self.kind, query, self._blind_key)
        if wq is NullQuery:
            return []
        filters = filter_parts(query)
        if any(fq is NullQuery for fq in filters):
            return []
        ix = self._ix()
        if ix is None:
            return []
        raw = self.raw
        if wq is None:        # filters only: the first ``limit`` admitted documents by 档号, unscored
            cond, args = self._filter_sql(ix, filters, "d")
            # the SQL is exact unless a filter is an Or of several scope paths (loosened there)
            loose = any(isinstance(fq, Or) and any(isinstance(x, And) for x in fq.subqueries) for fq in filters)
            out: list[Hit] = []
            offset, step = 0, limit
            while len(out) < limit:
                rows = raw.execute("SELECT d.doc, d.dossier, d.version, d.sealed FROM search_docs d"
                                   f" WHERE d.ix=%s AND d.version >= 0 AND {cond} ORDER BY d.sort_no"
                                   " LIMIT %s OFFSET %s", [ix, *args, step, offset]).fetchall()
                ok = (self._admitted(ix, filters, [int(r[0]) for r in rows]) if loose
                      else {int(r[0]) for r in rows})
                out += self._hits(query, [(int(r[0]), r[1], int(r[2]), bytes(r[3])) for r in rows
                                          if int(r[0]) in ok], {}, {}, None, filters)
                if len(rows) < step:
                    break
                offset += step
            return out[:limit]
        post = self._postings(ix, self._leaf_tokens(wq))
        scored = self._eval(wq, post)
        if scored and filters:
            ok = self._admitted(ix, filters, sorted(scored))
            scored = {d: s for d, s in scored.items() if d in ok}
        want = max(limit * 3, 50)
        order = sorted(scored, key=lambda d: (-scored[d], d))
        out = []
        start = 0
        while start < len(order) and len(out) < want:
            batch = order[start:start + want]
            start += len(batch)
            rows = raw.execute("SELECT doc, dossier, version, sealed FROM search_docs WHERE doc = ANY(%s)"
                               " AND ix=%s AND version >= 0", (batch, ix)).fetchall()
            got = {int(r[0]): (int(r[0]), r[1], int(r[2]), bytes(r[3])) for r in rows}
            out += self._hits(query, [got[d] for d in batch if d in got], scored, post, wq, filters)
        out.sort(key=lambda h: (h.tier, -h.score, h.archive_no))
        return out[:limit]

    def _hits(self, query: ParsedQuery, rows, scored, post, wq, filters) -> list[Hit]:
        """Decrypt, verify (phrases, date ranges) and rank the candidates' documents."""
        free = list(query.terms)
        hits = []
        for num, dossier, version, sealed in rows:
            f = self.open_doc(dossier, version, sealed)
            if f.get("id") != dossier or int(f.get("version", -1)) != version:
                raise IntegrityError("检索索引文档与其位置不符")
            has = {t for t, docs in post.items() if num in docs}
            if wq is not None and not self._verify(wq, f, has):
                continue
            if not all(self._verify(fq, f, None) for fq in filters):
                continue
            data = dict(f.get("data") or {})
            if self.kind == INSPECT:
                tier, snip = (TIER_EXACT if free else TIER_TEXT), None
            else:
                tier = clerk_tier(free, data)
                snip = snippet(free, data) if free else None
                data.pop("body", None)
            hits.append(Hit(dossier, f.get("archive_no", ""), f.get("scope", ""), scored.get(num, 0.0), tier,
                            int(version), data, snip))
        return hits

    def _verify(self, q, f: dict, has: set[int] | None) -> bool:
        """The query on one decrypted document: terms by its tokens (``has``: the query tokens it
        holds; None: already decided in SQL), phrases at consecutive positions of the decrypted
        field, date ranges on the decrypted dates."""
        if q is NullQuery:
            return False
        if isinstance(q, Term):
            return has is None or self._leaf_tokens(q)[0] in has
        if isinstance(q, Phrase):
            return (has is None or all(t in has for t in self._leaf_tokens(q))) and \
                phrase_at(f.get(q.fieldname) or [], list(q.words))
        if isinstance(q, NumericRange):
            return any(q.start <= int(d) <= q.end for d in f.get("dates") or [])
        if isinstance(q, And):
            return all(self._verify(s, f, has) for s in q.subqueries)
        if isinstance(q, Or):
            return any(self._verify(s, f, has) for s in q.subqueries)
        return True


@_store_errors
def upsert_many(work: list[tuple[BlindIndex, Iterable[dict]]]) -> None:
    """:meth:`BlindIndex.upsert` of several indexes on one connection — a scope's clerk and
    inspection index after one data commit — in ONE transaction, in the order given (the
    commit hook gives clerk, then inspection: the same order in every writer, and within each
    the rows are locked in id order, so writers cannot deadlock).

    Tokens and sealed fields are computed before the transaction; a small update (the commit
    hook's: one dossier, ~200 tokens per index) then runs in psycopg's pipeline mode: BEGIN and
    the index numbers; per index, its placeholder rows and its rows locked (the previous
    index's writes go in the same round trip); the last writes and COMMIT — four round trips
    for both indexes, where each index took about nine. The commit does not wait for the disk
    (``synchronous_commit = off``; the Whoosh files are not fsynced either: derived data). The
    data commit before it was flushed and WAL is replayed as a prefix, so a crash can only
    leave the index *behind* the store — what ``index status`` and the search's fingerprint
    check report, as for a crash between the data commit and the index write. A missing index
    raises :class:`IntegrityError` (nothing written; the caller rebuilds it from the store)."""
    jobs = []
    for ix, docs in work:
        docs = sorted({d["id"]: d for d in docs}.values(), key=lambda d: d["id"])
        if docs:
            jobs.append((ix, [(d, ix.tokens_of(d), ix.seal_doc(d)) for d in docs]))
    if not jobs:
        return
    raw = jobs[0][0].raw
    if any(ix.raw is not raw for ix, _ in jobs):
        raise ValueError("upsert_many: indexes on different connections")
    small = sum(len(toks) for _, prepared in jobs for _, toks, _ in prepared) <= PIPELINE_MAX_TERMS
    with contextlib.ExitStack() as stack:
        if small:
            stack.enter_context(raw.pipeline())
        stack.enter_context(raw.transaction())
        raw.execute(ASYNC_COMMIT)
        curs = [raw.execute("SELECT ix FROM search_indexes WHERE scope=%s AND kind=%s AND kv=%s",
                            (ix.scope, ix.kind, ix.kv)) for ix, _ in jobs]
        nums = [cur.fetchone() for cur in curs]
        if any(n is None for n in nums):      # no index yet: the caller rebuilds it from the store
            raise IntegrityError("检索索引尚未建立")
        for (ix, prepared), n in zip(jobs, nums):
            ix._upsert_into(int(n[0]), prepared, copy=not small)   # COPY is not allowed in pipeline mode


def _needs_check(q) -> bool:
    if isinstance(q, (Phrase, NumericRange)):
        return True
    if isinstance(q, (And, Or)):
        return any(_needs_check(s) for s in q.subqueries)
    return False


def _pack(tokens: list[int]) -> bytes:
    return struct.pack(f">{len(tokens)}q", *tokens)


def _unpack(b: bytes) -> list[int]:
    return list(struct.unpack(f">{len(b) // 8}q", b)) if b else []
