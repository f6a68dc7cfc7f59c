"""The embedded search backend: Whoosh over an :class:`EncryptedStorage`.

One ``WhooshIndex`` is one index directory (a scope's clerk index or its
inspection index). Writes take a lock file beside the directory, re-read the
directory (another process may have committed), commit, and are visible to
the next search. A rebuild builds a complete new index in a sibling
directory and swaps it in, so the directory is always either the complete
old index, the complete new one, or absent (``index status`` says so).

Speed (issue 5 performance):

- a write keeps the open index and its searcher: deletions are found with the
  searcher already open, and after the commit only the segments that changed
  get a new reader (the others are reused, their deletion sets updated), so
  one update does not reopen every segment;
- index files are derived data: they are written atomically (temp file +
  rename) but not fsynced (``durable=False`` by default). After a power loss a
  lost write leaves an older, complete index (``index status`` and every
  search see it as stale: its fingerprint is behind the store) and a torn
  file fails its AES-GCM check (``index status`` says corrupt, a search warns
  and skips that index, the next commit or ``index rebuild`` rebuilds it);
- filter-only queries (``status: risk: scope: label: date:``) are not scored:
  the matching documents are a set, and the first ``limit`` by 档号 come from a
  per-segment cache of the ``sort_no`` column; with free terms, the filters
  are a document set that restricts scoring (Whoosh ``filter=``).
"""

from __future__ import annotations

import heapq
import os
import re
import shutil
from pathlib import Path
from typing import Iterable

from whoosh import scoring
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter
from whoosh.fields import COLUMN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.query import And, NullQuery, NumericRange, Phrase, Term
from whoosh.query import Or as _WhooshOr

from ..errors import IntegrityError, InvalidInput
from ..store.atomic import fsync_dir
from ..store.lock import file_lock
from .aside import IndexSpec
from .analysis import BigramTokenizer, NameTokenizer, WordsTokenizer, chains, name_tokens, query_grams
from .backend import CLERK, INSPECT, TIER_EXACT, TIER_NAME, TIER_TEXT, Hit
from .documents import blind_id, blind_name
from .normalize import is_cjk, is_id_number, nfkc, norm_id, norm_name, norm_phone
from .query import ParsedQuery
from .segments import SegmentBuilder
from .storage import EncryptedStorage

SCHEMA_VERSION = 2   # 2: sort_no column; status/risk/labels unscored; version one term

B_EXACT, B_TAIL, B_FRAG, B_FRAG1, B_SCOPE, B_ADDR, B_WORD, B_TEXT = 1000, 200, 100, 20, 10, 3, 3, 1
MERGE_AT = 12
TIDY_SMALL = 100     # segments of at most this many documents are merged by ``tidy``
_IDENT = re.compile(r"^[0-9X]+$")
_WILD = re.compile(r"[*?]")


class Or(_WhooshOr):
    """Whoosh's ``Or`` with its binary tree of union matchers, always. On an index
    under 5,000 documents (a 社区's) Whoosh's automatic choice is its "preloaded"
    matcher, which builds and clears a 2,048-slot score array in Python for every
    segment and every ``Or``: half of a search's CPU time. Same matches, same
    scores (summed), ~2× cheaper here."""
    matcher_type = _WhooshOr.DEFAULT_MATCHER


def _kw(scorable: bool = True) -> KEYWORD:
    return KEYWORD(commas=True, scorable=scorable)


def schema_for(kind: str) -> Schema:
    # status / risk / labels are filters only (never scored): no per-document
    # lengths. version is never searched: one term, not Whoosh's 8 tiers.
    common = dict(id=ID(stored=True, unique=True), archive_no=STORED(), sort_no=COLUMN(), scope=STORED(),
                  version=NUMERIC(int, bits=32, stored=True, sortable=True, shift_step=0),
                  schema_version=STORED(), scope_terms=_kw(), archive_key=_kw(), status=_kw(False),
                  risk=_kw(False), labels=_kw(False), dates=NUMERIC(int, bits=32), data=STORED())
    # dates stays signed: whoosh's range queries on unsigned NUMERIC fields match wrongly
    if kind == INSPECT:
        return Schema(name_blind=_kw(), id_blind=_kw(), **common)
    return Schema(name_exact=_kw(), name=TEXT(analyzer=NameTokenizer(), phrase=False),
                  id_full=_kw(), id_tail=_kw(), phone_full=_kw(), phone_tail=_kw(),
                  addr=TEXT(analyzer=BigramTokenizer(), phrase=True),
                  text=TEXT(analyzer=BigramTokenizer(), phrase=True),
                  words=TEXT(analyzer=WordsTokenizer(), phrase=False), **common)


def _join(values) -> str:
    return ",".join(str(v).replace(",", " ") for v in values if v)


def to_fields(kind: str, doc: dict) -> dict:
    """A backend-neutral document → Whoosh field values."""
    f = {"id": doc["id"], "archive_no": doc["archive_no"], "scope": doc["scope"], "version": doc["version"],
         "schema_version": SCHEMA_VERSION, "data": doc["data"],
         "sort_no": str(doc["archive_no"]).encode("utf-8")}
    for k in ("scope_terms", "archive_key", "status", "risk", "labels"):
        f[k] = _join(doc.get(k, []))
    if doc.get("dates"):
        f["dates"] = list(doc["dates"])
    if kind == INSPECT:
        f["name_blind"] = _join(doc.get("name_blind", []))
        f["id_blind"] = _join(doc.get("id_blind", []))
    else:
        for k in ("name_exact", "id_full", "id_tail", "phone_full", "phone_tail"):
            f[k] = _join(doc.get(k, []))
        f["name"] = "\n".join(doc.get("name", []))
        f["addr"] = "\n".join(doc.get("addr", []))
        f["text"] = "\n".join(doc.get("text", []))
        f["words"] = "\n".join([*doc.get("addr", []), *doc.get("text", [])])
    return {k: v for k, v in f.items() if v not in ("", None, [])}


# -- queries ------------------------------------------------------------------------

def _grams_query(field: str, value: str, boost: float):
    parts = []
    for grams in query_grams(value):
        parts.append(Term(field, grams[0]) if len(grams) == 1 else Phrase(field, grams))
    if not parts:
        return None
    q = parts[0] if len(parts) == 1 else And(parts)
    q.boost = boost
    return q


def _name_fragment(value: str):
    chars = [c for c in norm_name(_WILD.sub("", value)) if c != "·"]
    if not chars or len(chars) > 12 or not all(is_cjk(c) or c.isalpha() for c in chars):
        return None
    if len(chars) == 1:
        return Term("name", chars[0], boost=B_FRAG1)
    pairs = sorted({chars[k] + chars[k + 1] for k in range(len(chars) - 1)})
    if len(pairs) == 1:
        return Term("name", pairs[0], boost=B_FRAG)
    return And([Term("name", p) for p in pairs], boost=B_FRAG)


def clerk_term(t) -> object:
    v = t.value
    ident = norm_id(_WILD.sub("", v))
    subs = []
    if t.field in (None, "id", "phone", "no") and ident:
        if t.field in (None, "id") and is_id_number(ident):
            subs.append(Term("id_full", ident, boost=B_EXACT))
        if t.field in (None, "id", "phone") and _IDENT.match(ident) and len(ident) in (4, 6):
            if t.field != "phone":
                subs.append(Term("id_tail", ident, boost=B_TAIL))
            if t.field != "id":
                subs.append(Term("phone_tail", ident, boost=B_TAIL))
        ph = norm_phone(v)
        if t.field in (None, "phone") and 7 <= len(ph) <= 12 and re.fullmatch(r"[\d\s\-+()]+", v):
            subs.append(Term("phone_full", ph, boost=B_EXACT))
        if t.field in (None, "no"):
            subs.append(Term("archive_key", ident, boost=B_EXACT))
    if t.field in (None, "name"):
        nm = norm_name(_WILD.sub("", v))
        if nm:
            subs.append(Term("name_exact", nm, boost=B_EXACT))
        frag = _name_fragment(v)
        if frag is not None:
            subs.append(frag)
    if t.field is None:
        for field, boost in (("addr", B_ADDR), ("text", B_TEXT)):
            q = _grams_query(field, v, boost)
            if q is not None:
                subs.append(q)
        w = nfkc(v).strip()
        if w and not re.search(r"\s", w):
            subs.append(Term("words", w, boost=B_WORD))
            subs.append(Term("scope_terms", w, boost=B_SCOPE))
    return Or(subs) if subs else NullQuery


def inspect_term(t, blind_key: bytes) -> object:
    """Exact values only: a blind token for a full name or a full ID number, or
    an exact 档号. A prefix, wildcard or fragment hashes to a token that no
    document has, so it matches nothing."""
    v = t.value
    subs = []
    ident = norm_id(v)
    if t.field in (None, "id") and is_id_number(ident):
        subs.append(Term("id_blind", blind_id(blind_key, ident), boost=B_EXACT))
    if t.field in (None, "name") and norm_name(v):
        subs.append(Term("name_blind", blind_name(blind_key, v), boost=B_EXACT))
    if t.field in (None, "no") and ident:
        subs.append(Term("archive_key", ident, boost=B_EXACT))
    return Or(subs) if subs else NullQuery


def filter_queries(q: ParsedQuery) -> list:
    out = []
    for kind, values in q.filters.items():
        field = {"status": "status", "risk": "risk", "label": "labels", "scope": "scope_terms"}[kind]
        alts = []
        for v in values:
            v = nfkc(v)
            if kind == "scope":
                parts = [p for p in re.split(r"[/／›>]", v) if p.strip()]
                alts.append(And([Term(field, p.strip()) for p in parts]) if len(parts) > 1
                            else Term(field, parts[0].strip()) if parts else NullQuery)
            else:
                alts.append(Term(field, v))
        out.append(Or(alts) if len(alts) > 1 else alts[0])
    return out


def date_filter(q: ParsedQuery):
    """Date ranges as one query (kept for callers that want a Whoosh filter)."""
    rs = date_ranges(q)
    if not rs:
        return None
    return rs[0] if len(rs) == 1 else And(rs)


def date_ranges(q: ParsedQuery) -> list:
    """One ``NumericRange`` per ``date:`` range. Each is evaluated on its own
    as a document set (see :func:`filter_docs`), never inside an ``And``:
    Whoosh 2.7's IntersectionMatcher asserts on a NumericRange over a
    multi-valued field (seen at 20,000 persons with ``risk:中 date:…``)."""
    return [NumericRange("dates", 0 if lo is None else lo, 99991231 if hi is None else hi) for lo, hi in q.dates]


def filter_parts(q: ParsedQuery) -> list:
    """Every filter of the query (status, risk, label, scope, date) as its own query."""
    return filter_queries(q) + date_ranges(q)


def build_query(kind: str, q: ParsedQuery, blind_key: bytes | None = None):
    """The scoring query of the free terms; ``None`` when the query has
    filters only (nothing to score); ``NullQuery`` when nothing can match.
    Filters are not part of it: see :func:`filter_parts`."""
    if q.empty:
        raise InvalidInput(field="query", reason="请输入检索词或条件（如 张三、431234、status:社区康复）")
    parts = [inspect_term(t, blind_key) if kind == INSPECT else clerk_term(t) for t in q.terms]
    if any(p is NullQuery for p in parts):
        return NullQuery
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)


def filter_docs(searcher, q: ParsedQuery) -> set | None:
    """The documents every filter admits (a set of document numbers, deleted
    documents excluded), or ``None`` when the query has no filter. Each filter
    is matched on its own, unscored, and the sets intersected."""
    allowed = None
    for fq in filter_parts(q):
        if fq is NullQuery:
            return set()
        docs = set(searcher.docs_for_query(fq))
        allowed = docs if allowed is None else allowed & docs
        if not allowed:
            return set()
    return allowed


def run_query(searcher, kind: str, q: ParsedQuery, limit: int, blind_key: bytes | None = None,
              sort_key=None) -> list[tuple[int, float]]:
    """``[(docnum, score), ...]``: with free terms, up to ``max(3·limit, 50)``
    best-scored documents among those the filters admit (the caller re-ranks
    them by tier); with filters only, the first ``limit`` admitted documents
    by ``sort_key(docnum)`` (the 档号), unscored."""
    wq = build_query(kind, q, blind_key)
    if wq is NullQuery:
        return []
    allowed = filter_docs(searcher, q)
    if allowed is not None and not allowed:
        return []
    if wq is None:   # filters only: nothing to score
        docs = allowed
        if len(docs) > limit:
            docs = heapq.nsmallest(limit, docs, key=sort_key) if sort_key else sorted(docs)[:limit]
        return [(d, 0.0) for d in docs]
    results = searcher.search(wq, limit=max(limit * 3, 50), filter=allowed)
    return [(r.docnum, float(r.score)) for r in results]


# -- ranking and snippets -------------------------------------------------------------

def clerk_tier(terms, data: dict) -> int:
    if not terms:
        return TIER_TEXT
    name = norm_name(data.get("name"))
    idn = norm_id(data.get("id_number"))
    phone = norm_phone(data.get("phone"))
    best = TIER_TEXT
    ntoks = None
    for t in terms:
        v = t.value
        ident = norm_id(v)
        if (norm_name(v) == name and name) or (ident and ident == idn) or (len(norm_phone(v)) >= 7
                                                                           and norm_phone(v) == phone):
            return TIER_EXACT
        if _IDENT.match(ident or "-") and len(ident) in (4, 6) and (idn.endswith(ident) or phone.endswith(ident)):
            best = min(best, TIER_NAME)
            continue
        chars = [c for c in norm_name(_WILD.sub("", v)) if c != "·"]
        if chars and name:
            ntoks = ntoks or set(name_tokens(data.get("name") or ""))
            if len(chars) == 1:
                ok = chars[0] in ntoks
            else:
                ok = all(chars[k] + chars[k + 1] in ntoks for k in range(len(chars) - 1))
            if ok:
                best = min(best, TIER_NAME)
    return best


def snippet(terms, data: dict, width: int = 18) -> str | None:
    """The first place a query term occurs, ±``width`` characters, the match in 【】."""
    raw = data.get("body") or ""
    text = nfkc(raw)
    if not text:
        return None
    shown = raw if len(raw) == len(text) else text   # show the original where offsets agree
    best = None
    for t in terms:
        for needle in [nfkc(t.value)] + ["".join(u[0] for u in ch) for ch in chains(nfkc(t.value))]:
            needle = needle.strip()
            if not needle:
                continue
            i = text.find(needle)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, len(needle))
    if best is None:
        return None
    i, n = best
    start, end = max(0, i - width), min(len(text), i + n + width)
    return (("…" if start else "") + shown[start:i] + "【" + shown[i:i + n] + "】" + shown[i + n:end]
            + ("…" if end < len(text) else ""))


# -- the index ------------------------------------------------------------------------

class WhooshIndex:
    """One encrypted Whoosh index (a ``Backend``)."""

    def __init__(self, path: str | os.PathLike, kind: str, file_key: bytes, context: tuple[str, ...], *,
                 blind_key: bytes | None = None, durable: bool = False):
        if kind not in (CLERK, INSPECT):
            raise ValueError(kind)
        if kind == INSPECT and blind_key is None:
            raise ValueError("an inspection index needs its blind key")
        self.path = Path(path)
        self.kind = kind
        self._key = file_key
        self._context = (*context, kind)
        self._blind_key = blind_key
        self._durable = durable
        self.storage = EncryptedStorage(self.path, file_key, self._context, durable=durable)
        self._ix = None
        self._searcher = None
        self._loaded_sig = None
        self._fp = None
        self._sort_cache: dict[str, list] = {}   # segment id → sort_no of each of its documents
        # how the index-writing helper of `dossier serve` opens this index (see index/aside.py):
        # its directory and the keys derived for it, nothing else
        self.aside_spec = IndexSpec(str(self.path), WhooshIndex, (str(self.path), kind, file_key, tuple(context)),
                                    {"blind_key": blind_key, "durable": durable})

    # -- lifecycle ----------------------------------------------------------------
    @property
    def _lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    def exists(self) -> bool:
        return self.storage.exists_on_disk()

    def _signature(self):
        return tuple(sorted(self.storage._stat.items()))

    def refresh(self) -> bool:
        """Re-read the directory; True when an index is there. Cheap when
        nothing changed on disk (a directory scan)."""
        try:
            self.storage.load()
        except IntegrityError:
            self.close()
            raise
        if not any(n.endswith(".toc") for n in self.storage.files):
            self.close()
            return False
        sig = self._signature()
        if self._ix is None or sig != self._loaded_sig:
            self.close()
            try:
                self._ix = self.storage.open_index()
                self._ix._read_toc()   # unreadable TOC or segment list: fail here, not mid-search
            except IntegrityError:
                self._ix = None
                raise
            except Exception as e:  # an authenticated but unreadable index (old format, bug)
                self._ix = None
                raise IntegrityError(f"检索索引无法读取（{type(e).__name__}），请运行 dossier index rebuild") from None
            self._loaded_sig = sig
        return True

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = self._ix = None
        self._loaded_sig = None

    def searcher(self):
        if self._searcher is None:
            try:
                self._searcher = self._ix.searcher(weighting=scoring.BM25F())
            except IntegrityError:
                raise
            except Exception as e:   # a segment listed in the TOC is missing or unreadable
                self.close()
                raise IntegrityError(f"检索索引无法读取（{type(e).__name__}），请运行 dossier index rebuild") from None
        return self._searcher

    def _reopen_searcher(self, old):
        """A searcher on the index just committed, reusing the segment readers
        of ``old`` for segments still there (only their deletion sets may have
        changed, and those live on the segment object): a one-person update
        opens one new segment, not all of them."""
        from whoosh.reading import EmptyReader, MultiReader, SegmentReader
        from whoosh.searching import Searcher

        toc = self._ix._read_toc()
        reusable = {}
        if old is not None:
            for r, _ in old.reader().leaf_readers():
                if isinstance(r, SegmentReader) and hasattr(getattr(r, "_perdoc", None), "_segment"):
                    reusable[r.segment().segment_id()] = r
        readers = []
        for seg in toc.segments:
            r = reusable.pop(seg.segment_id(), None)
            if r is not None:
                r._segment = seg
                r._perdoc._segment = seg
                r.__dict__.pop("deleted_docs_set", None)   # Whoosh caches the deletion set per reader
            else:
                r = SegmentReader(self.storage, toc.schema, seg, generation=toc.generation)
            readers.append(r)
        for r in reusable.values():
            r.close()
        if not readers:
            reader = EmptyReader(toc.schema)
        elif len(readers) == 1:
            reader = readers[0]
        else:
            reader = MultiReader(readers, generation=toc.generation)
        return Searcher(reader, fromindex=self._ix, weighting=scoring.BM25F())

    # -- writing ------------------------------------------------------------------
    def _write(self, docs: list[dict], delete_ids: list[str], parts: list | None = None, tidy: bool = False) -> bool:
        """One writer, one commit: remove ``delete_ids`` and every id of
        ``docs``, then add ``docs``, and the segments of ``parts`` (shares of
        :class:`SegmentBuilder`, see :meth:`add_segments`; only to an index
        that exists: False when it does not)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with file_lock(self._lock_path):
            if self.refresh():   # also picks up another process's commit
                if self._ix.schema.names() != schema_for(self.kind).names():
                    raise IntegrityError("检索索引格式已变化，请运行 dossier index rebuild")
                old = self.searcher()
            elif parts is not None:
                return False
            else:
                self.storage.create()
                self._ix = self.storage.create_index(schema_for(self.kind))
                old = None
            # shares' files move in under the lock, so no other writer's cleanup sweeps them
            extra = self._take_parts(parts) if parts else []
            w = self._ix.writer(codec=_codec())
            try:
                if old is not None:
                    for i in dict.fromkeys([*delete_ids, *(d["id"] for d in docs)]):
                        for docnum in old.document_numbers(id=i):
                            w.delete_document(docnum)
                for d in docs:
                    w.add_document(**to_fields(self.kind, d))
                # single-person commits write one small segment; merging them on
                # every commit (Whoosh's default) costs 100s of ms now and then, so
                # merge only once enough small segments have piled up
                policy = _tidy_policy if tidy else _merge_policy(len(w.segments) >= MERGE_AT)
                if not extra:
                    w.commit(mergetype=policy)
                else:             # Whoosh's MpWriter(multisegment=True) commits the same way
                    final = w._merge_segments(policy, None, None)
                    if w._added:
                        final.append(w._finalize_segment())
                    else:
                        w._close_segment()
                    w._commit_toc(final + extra)
                    w._finish()
            except BaseException:
                if not w.is_closed:
                    w.cancel()
                self.close()
                raise
            # the storage wrote the new files and recorded their stat: no re-read
            self._loaded_sig = self._signature()
            self._searcher = None
            try:
                self._searcher = self._reopen_searcher(old)
            except Exception:   # fall back to opening every segment on the next search
                self._searcher = None
            self._fp = None
        return True

    def _take_parts(self, parts) -> list:
        """Move the shares' segment files into this index's directory and read them in."""
        segs = _move_shares(parts, self.path)
        self.storage.load()
        return segs

    def add_segments(self, parts: list[tuple[str, object]], replace_ids: Iterable[str]) -> bool:
        """Add the segments of :class:`SegmentBuilder` shares to this existing
        index in one commit, every earlier document of ``replace_ids`` removed
        (an import that changed many dossiers). False, changing nothing, when
        the index does not exist. The share directories are consumed."""
        try:
            return self._write([], list(replace_ids), parts=parts)
        finally:
            for d, _ in parts:
                shutil.rmtree(d, ignore_errors=True)

    def tidy(self) -> bool:
        """Merge the small segments (≤ ``TIDY_SMALL`` documents) into one when there are
        two or more: each save adds one, and a search looks up every term in every
        segment (ten of them made a search ~2× dearer than one). The large segments (an
        import's, a rebuild's) are left alone: merging them costs seconds. Called by the
        index-writing helper of ``dossier serve`` when it has nothing else to do (see
        ``aside``); the content does not change. False when there was nothing to merge."""
        if not self.refresh() or sum(1 for s in self._ix._segments() if _small(s)) < 2:
            return False
        return self._write([], [], tidy=True)

    def upsert(self, docs: Iterable[dict]) -> None:
        """Add or replace documents (by ``id``) in one commit; a later
        document of the same id wins."""
        docs = list({d["id"]: d for d in docs}.values())
        if docs:
            self._write(docs, [])

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids and self.exists():
            self._write([], ids)

    def rebuild(self, docs: Iterable[dict]) -> int:
        """Build a fresh index from ``docs`` (one segment, see ``segments``) beside
        the old one, then swap."""
        part = self.path.parent / f".{self.path.name}.part-{os.getpid()}"
        b = SegmentBuilder(part, self.kind, self._key, self._context)
        try:
            for d in sorted({d["id"]: d for d in docs}.values(), key=lambda d: d["id"]):
                b.add(d)
            seg = b.finish()
        except BaseException:
            b.cancel()
            raise
        self.adopt([(str(part), seg)], replace=True)
        return b.count

    def adopt(self, parts: list[tuple[str, object]], *, replace: bool = False) -> bool:
        """Make this index out of the segments of :class:`SegmentBuilder`
        shares (``[(directory, segment), ...]``; the directories are consumed).
        Without ``replace`` the index must not exist yet: returns False,
        changing nothing, when it exists by now (another writer built it
        meanwhile). With ``replace`` an existing index is swapped out (a rebuild)."""
        from whoosh.index import TOC, clean_files

        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = parent / f".{self.path.name}.new-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            st = EncryptedStorage(tmp, self._key, self._context, durable=self._durable).create()
            ix = st.create_index(schema_for(self.kind))
            segments = _move_shares(parts, tmp)
            toc = TOC(ix.schema, segments, ix.latest_generation() + 1)
            toc.write(st, ix.indexname)
            clean_files(st, ix.indexname, toc.generation, segments)
            if self._durable:
                for e in os.scandir(tmp):
                    with open(e.path, "rb") as f:
                        os.fsync(f.fileno())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            for d, _ in parts:
                shutil.rmtree(d, ignore_errors=True)
        with file_lock(self._lock_path):
            old = parent / f".{self.path.name}.old-{os.getpid()}"
            try:
                if self.path.exists():
                    if not replace and self.storage.exists_on_disk():
                        shutil.rmtree(tmp, ignore_errors=True)
                        return False
                    shutil.rmtree(old, ignore_errors=True)     # left by a killed process with our pid
                    os.replace(self.path, old)    # a rebuild, or a leftover directory without an index
                os.replace(tmp, self.path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if self._durable:
                fsync_dir(parent)
            shutil.rmtree(old, ignore_errors=True)
        self.close()
        self.storage = EncryptedStorage(self.path, self._key, self._context, durable=self._durable)
        self._sort_cache.clear()
        self._fp = None
        self.refresh()
        return True

    # -- reading ------------------------------------------------------------------
    def indexed_versions(self) -> dict[str, int]:
        if not self.refresh():
            return {}
        return {f["id"]: int(f["version"]) for f in self.searcher().reader().all_stored_fields()}

    def fingerprint(self) -> tuple[int, int] | None:
        """(documents, sum of indexed versions): equal to the store's (dossiers,
        sum of heads) exactly when no update was missed (heads only grow)."""
        if not self.refresh():
            return None
        if self._fp is not None and self._fp[0] == self._loaded_sig:
            return self._fp[1]
        reader = self.searcher().reader()
        col = reader.column_reader("version")
        n = s = 0
        for docnum in reader.all_doc_ids():
            n += 1
            s += col[docnum]
        self._fp = (self._loaded_sig, (n, s))
        return n, s

    def doc_count(self) -> int:
        return self.searcher().doc_count() if self.refresh() else 0

    def _sort_key(self, searcher):
        """docnum → 档号 bytes (from the ``sort_no`` column, cached per
        segment: segments never change, only their deletion sets do)."""
        keys = getattr(searcher, "_dossier_sort_keys", None)
        if keys is not None:
            return keys.__getitem__
        if "sort_no" not in searcher.schema:
            return None   # an index built before the column (schema 1): 档号 order unknown
        keys = []
        live = set()
        for r, _ in searcher.reader().leaf_readers():
            seg = r.segment() if hasattr(r, "segment") else None
            sid = seg.segment_id() if seg is not None else None
            vals = self._sort_cache.get(sid) if sid else None
            if vals is None:
                if r.has_column("sort_no"):
                    vals = list(r.column_reader("sort_no", translate=False))
                else:
                    vals = [b""] * r.doc_count_all()
                if sid:
                    self._sort_cache[sid] = vals
            if sid:
                live.add(sid)
            keys.extend(vals)
        for sid in set(self._sort_cache) - live:
            del self._sort_cache[sid]
        searcher._dossier_sort_keys = keys
        return keys.__getitem__

    def search(self, query: ParsedQuery, limit: int = 20) -> list[Hit]:
        if not self.refresh():
            return []
        s = self.searcher()
        try:
            found = run_query(s, self.kind, query, limit, self._blind_key,
                              sort_key=None if query.terms else self._sort_key(s))
        except IntegrityError:
            raise
        except (KeyError, OSError, EOFError, ValueError) as e:   # unreadable segment data
            self.close()
            raise IntegrityError(f"检索索引无法读取（{type(e).__name__}），请运行 dossier index rebuild") from None
        return hits_of(s, self.kind, query, found, limit)


def _move_shares(parts, into: Path) -> list:
    """Move the segment files of :class:`SegmentBuilder` shares (``[(directory,
    segment or None), ...]``) into the index directory ``into`` (a file's seal
    does not depend on its directory); returns their segments."""
    segs = []
    for d, seg in parts:
        if seg is None:
            continue
        for e in os.scandir(d):
            if not (e.name.endswith(".toc.enc") or e.name.startswith(".")):
                os.replace(e.path, into / e.name)
        segs.append(seg)
    return segs


def _merge_policy(merge: bool):
    """Whoosh's small-segment merge (or none), and segments whose documents were
    all replaced are dropped (their files go with the commit): the merge policy
    leaves large segments alone, so every large update would otherwise stay on
    disk for good."""
    from whoosh.writing import MERGE_SMALL, NO_MERGE

    base = MERGE_SMALL if merge else NO_MERGE

    def policy(writer, segments):
        return [s for s in base(writer, segments) if s.deleted_count() < s.doc_count_all()]
    return policy


def _small(seg) -> bool:
    return seg.doc_count_all() <= TIDY_SMALL


def _tidy_policy(writer, segments):
    """The small segments merged into the new one (their deleted documents left out);
    a segment whose documents were all replaced is dropped; the others are kept."""
    from whoosh.reading import SegmentReader

    live = [s for s in segments if s.deleted_count() < s.doc_count_all()]
    keep = []
    for seg in live:
        if _small(seg):
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


def hits_of(searcher, kind: str, query: ParsedQuery, found, limit: int) -> list[Hit]:
    """Result rows of ``run_query``'s documents: stored values, tier (exact
    identifier, name fragment, text) and, for clerks, a highlighted snippet."""
    free = list(query.terms)
    hits = []
    for docnum, score in found:
        f = searcher.stored_fields(docnum)
        data = dict(f.get("data") or {})
        if kind == INSPECT:
            tier = TIER_EXACT if free else TIER_TEXT
            snip = None
        else:
            tier = clerk_tier(free, data)
            snip = snippet(free, data) if free else None
            data.pop("body", None)
        hits.append(Hit(f["id"], f.get("archive_no", ""), f.get("scope", ""), score, tier,
                        int(f.get("version", 0)), data, snip))
    hits.sort(key=lambda h: (h.tier, -h.score, h.archive_no))
    return hits[:limit]


class _PostingsWriter(W3PostingsWriter):
    """W3's postings writer, except that a block of one posting is not
    zlib-compressed: most terms of this index (ID numbers, phones, 档号, rare
    address bigrams) have one posting, and compressing ~40 bytes costs time
    and adds bytes. (Upstream meant to skip blocks under 20 bytes; a slip in
    ``_write_block`` compresses them anyway.) Each block records whether it is
    compressed, so the standard reader reads both."""

    def _write_block(self, last=False):
        if len(self._ids) > 1 or not self._compression:
            return super()._write_block(last)
        self._compression, level = 0, self._compression
        try:
            return super()._write_block(last)
        finally:
            self._compression = level


class DossierCodec(W3Codec):
    """Whoosh's W3 codec with :class:`_PostingsWriter`. Segments pickle their
    codec into the TOC: this class must stay importable under this name."""

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)


def _codec():
    """W3 with zlib on posting blocks kept: switching it off saved ~5% of
    indexing time but doubled the index (5,000 persons: 22 → 46 MB) and nearly
    doubled the first search after opening (every file is decrypted into memory
    on open: 70 → 130 ms). Only one-posting blocks go uncompressed (see
    :class:`_PostingsWriter`: 6–10% faster, slightly smaller)."""
    return DossierCodec()

