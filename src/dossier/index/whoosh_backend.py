"""The embedded search backend: Whoosh over an :class:`EncryptedStorage`.

One ``WhooshIndex`` is one index directory (a scope's clerk index or its
inspection index). Writes take a lock file beside the directory, re-read the
directory (another process may have committed), commit, and are visible to
the next search. A rebuild builds a complete new index in a sibling
directory and swaps it in, so the directory is always either the complete
old index, the complete new one, or absent (``index status`` says so).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterable

from whoosh import scoring
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.query import And, Every, NullQuery, NumericRange, Or, Phrase, Term

from ..errors import IntegrityError, InvalidInput
from ..store.atomic import fsync_dir
from ..store.lock import file_lock
from .analysis import BigramTokenizer, NameTokenizer, WordsTokenizer, chains, name_tokens, query_grams
from .backend import CLERK, INSPECT, TIER_EXACT, TIER_NAME, TIER_TEXT, Hit
from .documents import blind_id, blind_name
from .normalize import is_cjk, is_id_number, nfkc, norm_id, norm_name, norm_phone
from .query import ParsedQuery
from .storage import EncryptedStorage

SCHEMA_VERSION = 1

B_EXACT, B_TAIL, B_FRAG, B_FRAG1, B_SCOPE, B_ADDR, B_WORD, B_TEXT = 1000, 200, 100, 20, 10, 3, 3, 1
MERGE_AT = 12
_IDENT = re.compile(r"^[0-9X]+$")
_WILD = re.compile(r"[*?]")


def _kw() -> KEYWORD:
    return KEYWORD(commas=True, scorable=True)


def schema_for(kind: str) -> Schema:
    common = dict(id=ID(stored=True, unique=True), archive_no=STORED(), scope=STORED(),
                  version=NUMERIC(int, bits=32, stored=True, sortable=True),
                  schema_version=STORED(), scope_terms=_kw(), archive_key=_kw(), status=_kw(), risk=_kw(),
                  labels=_kw(), dates=NUMERIC(int, bits=32), data=STORED())
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
         "schema_version": SCHEMA_VERSION, "data": doc["data"]}
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
    """Date ranges as a search *filter* (a doc set), not inside an And: Whoosh
    2.7's IntersectionMatcher asserts on a NumericRange over a multi-valued
    field (seen at 20,000 persons with ``risk:中 date:…``)."""
    rs = [NumericRange("dates", 0 if lo is None else lo, 99991231 if hi is None else hi) for lo, hi in q.dates]
    if not rs:
        return None
    return rs[0] if len(rs) == 1 else And(rs)


def build_query(kind: str, q: ParsedQuery, blind_key: bytes | None = None):
    """The scoring query (date ranges go to :func:`date_filter`)."""
    if q.empty:
        raise InvalidInput(field="query", reason="请输入检索词或条件（如 张三、431234、status:社区康复）")
    parts = [inspect_term(t, blind_key) if kind == INSPECT else clerk_term(t) for t in q.terms]
    parts += filter_queries(q)
    if any(p is NullQuery for p in parts):
        return NullQuery
    if not parts:
        return Every()
    return parts[0] if len(parts) == 1 else And(parts)


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
                 blind_key: bytes | None = None, durable: bool = True):
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

    # -- lifecycle ----------------------------------------------------------------
    @property
    def _lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    def exists(self) -> bool:
        return self.storage.exists_on_disk()

    def _signature(self):
        return tuple(sorted(self.storage._stat.items()))

    def refresh(self) -> bool:
        """Re-read the directory; True when an index is there."""
        self.storage.load()
        if not any(n.endswith(".toc") for n in self.storage.files):
            self._ix = self._searcher = None
            return False
        sig = self._signature()
        if self._ix is None or sig != self._loaded_sig:
            try:
                self._ix = self.storage.open_index()
            except IntegrityError:
                raise
            except Exception as e:  # an authenticated but unreadable index (old format, bug)
                raise IntegrityError(f"检索索引无法读取（{type(e).__name__}），请运行 dossier index rebuild") from None
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._loaded_sig = sig
        return True

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = self._ix = None

    def searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher(weighting=scoring.BM25F())
        return self._searcher

    # -- writing ------------------------------------------------------------------
    def _writer_do(self, fn) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with file_lock(self._lock_path):
            self.storage.load()
            if any(n.endswith(".toc") for n in self.storage.files):
                ix = self.storage.open_index()
                if ix.schema.names() != schema_for(self.kind).names():
                    raise IntegrityError("检索索引格式已变化，请运行 dossier index rebuild")
            else:
                self.storage.create()
                ix = self.storage.create_index(schema_for(self.kind))
            w = ix.writer()
            try:
                fn(w)
            except BaseException:
                w.cancel()
                raise
            # single-person commits write one small segment; merging them on
            # every commit (Whoosh's default) costs 100s of ms now and then, so
            # merge only once enough small segments have piled up
            w.commit(merge=len(ix._segments()) >= MERGE_AT)
        self._ix = None
        self.refresh()

    def upsert(self, docs: Iterable[dict]) -> None:
        docs = list(docs)
        if docs:
            self._writer_do(lambda w: [w.update_document(**to_fields(self.kind, d)) for d in docs])

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self._writer_do(lambda w: [w.delete_by_term("id", i) for i in ids])

    def rebuild(self, docs: Iterable[dict], *, limitmb: int = 256) -> int:
        """Build a fresh index from ``docs`` beside the old one, then swap."""
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = parent / f".{self.path.name}.new-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        st = EncryptedStorage(tmp, self._key, self._context, durable=self._durable)
        st.create()
        ix = st.create_index(schema_for(self.kind))
        w = ix.writer(limitmb=limitmb)
        n = 0
        try:
            for d in sorted(docs, key=lambda d: d["id"]):
                w.add_document(**to_fields(self.kind, d))
                n += 1
        except BaseException:
            w.cancel()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        w.commit(merge=False)
        with file_lock(self._lock_path):
            old = parent / f".{self.path.name}.old-{os.getpid()}"
            if self.path.exists():
                os.replace(self.path, old)
            os.replace(tmp, self.path)
            fsync_dir(parent)
            shutil.rmtree(old, ignore_errors=True)
        self.close()
        self.storage = EncryptedStorage(self.path, self._key, self._context, durable=self._durable)
        self._loaded_sig = None
        self.refresh()
        return n

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

    def search(self, query: ParsedQuery, limit: int = 20) -> list[Hit]:
        if not self.refresh():
            return []
        wq = build_query(self.kind, query, self._blind_key)
        if wq is NullQuery:
            return []
        fetch = max(limit * 3, 50)
        results = self.searcher().search(wq, limit=fetch, filter=date_filter(query))
        free = list(query.terms)
        hits = []
        for r in results:
            f = r.fields()
            data = dict(f.get("data") or {})
            if self.kind == INSPECT:
                tier = TIER_EXACT if free else TIER_TEXT
                snip = None
            else:
                tier = clerk_tier(free, data)
                snip = snippet(free, data) if free else None
                data.pop("body", None)
            hits.append(Hit(f["id"], f.get("archive_no", ""), f.get("scope", ""), float(r.score), tier,
                            int(f.get("version", 0)), data, snip))
        hits.sort(key=lambda h: (h.tier, -h.score, h.archive_no))
        return hits[:limit]
