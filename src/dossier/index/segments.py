"""Write a whole new index segment fast: what a full build and each stream
worker use instead of Whoosh's general ``SegmentWriter``.

Whoosh's writer is made for any mix of additions and deletions: every
posting goes through a pool of tuples that is sorted at the commit, and each
posting's field length is read back from the lengths column. A segment built
from scratch needs none of that: postings are gathered per field and term in
dictionaries (document numbers only grow, so each list is already in order),
the lengths are known when the document is added, and the result goes to the
same codec writers (``per_document_writer`` and ``field_writer`` of the
W3 codec) in the order they require. The files are Whoosh's own; a test
compares every term, posting, length, stored field and column of a segment
built here with one built by Whoosh's writer from the same documents.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from whoosh import formats
from whoosh.analysis import KeywordAnalyzer
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte

from .analysis import BigramTokenizer, NameTokenizer, WordsTokenizer, bigram_tokens, name_tokens, words
from .storage import EncryptedStorage

_COMMAS = re.compile(r"[^,]+")
_KEYWORDS = KeywordAnalyzer(commas=True)


def _frequency_tokens(analyzer):
    """value → token texts, for the analyzers of this schema's frequency fields
    (what Whoosh's analysis would give, without its token objects), or None."""
    if isinstance(analyzer, NameTokenizer):
        return lambda v: [x for line in v.split("\n") for x in name_tokens(line)]
    if isinstance(analyzer, WordsTokenizer):
        return words
    if analyzer == _KEYWORDS:       # KEYWORD(commas=True): comma-separated, stripped
        return lambda v: [m.strip() for m in _COMMAS.findall(v)]
    return None


def fast_index(obj):
    """A faster ``obj.index`` for the fields of this schema: value → [(term bytes,
    frequency, weight, value bytes)], the same items Whoosh's formats produce
    (the segment test compares them); None for any other field."""
    fmt = obj.format
    if fmt is None:
        return None
    fb = fmt.field_boost
    if type(fmt) is formats.Frequency:
        toks = _frequency_tokens(obj.analyzer)
        if toks is None:
            return None

        def index(value):
            counts: dict[str, int] = {}
            for t in toks(value):
                counts[t] = counts.get(t, 0) + 1
            return [(w.encode("utf-8"), n, float(n) * fb, pack_uint(n)) for w, n in counts.items()]
        return index
    if type(fmt) is formats.Positions and isinstance(obj.analyzer, BigramTokenizer):
        encode = fmt.encode

        def index(value):
            poses: dict[str, list[int]] = {}
            for text, pos, _sc, _ec in bigram_tokens(value):
                pl = poses.get(text)
                if pl is None:
                    poses[text] = [pos]
                else:
                    pl.append(pos)
            return [(w.encode("utf-8"), len(pl), float(len(pl)) * fb, encode(pl)) for w, pl in poses.items()]
        return index
    return None


class SegmentBuilder:
    """One segment of a new index, sealed into a private directory
    ``directory`` (:meth:`WhooshIndex.adopt` assembles segments into the
    index). ``add`` documents in any order (a later one with the same id
    replaces the earlier); ``finish`` writes the segment: the per-document
    data, then the postings, with no hole left by a replaced document.
    After an ``add`` that raised, the segment can only be cancelled (the
    callers throw the whole build away then)."""

    def __init__(self, directory: str | os.PathLike, kind: str, file_key: bytes | None, context: tuple[str, ...],
                 *, storage=None):
        """``storage``: another (created) Whoosh storage for the files instead of
        the sealed one (the benchmark's unencrypted baseline)."""
        from .whoosh_backend import _codec, schema_for

        self.dir = Path(directory)
        self.kind = kind
        if storage is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            storage = EncryptedStorage(self.dir, file_key, context, durable=False).create()
        self._storage = storage
        ix = self._storage.create_index(schema_for(kind))
        self._schema = ix.schema
        self._codec = _codec()
        self._segment = self._codec.new_segment(self._storage, ix.indexname)
        self._perdoc = None
        # field name → term bytes → [(slot, weight, value bytes, length), ...]
        self._postings: dict[str, dict[bytes, list]] = {}
        self._fields: dict[str, tuple] = {}
        self._slots: dict[str, int] = {}          # document id → its slot (the latest added)
        self._rows: list = []                     # per slot: what the per-document writer gets
        self._dead: set[int] = set()              # slots replaced by a later document of the same id
        self.failed = False
        self.closed = False
        self.reported = False     # set by the owner once another process has taken the segment

    @property
    def count(self) -> int:
        """Documents the segment will hold (one per id)."""
        return len(self._slots)

    def _field(self, name: str) -> tuple:
        f = self._fields.get(name)
        if f is None:
            obj = self._schema[name]
            index = (fast_index(obj) or (lambda v, obj=obj: list(obj.index(v)))) if obj.indexed else None
            f = self._fields[name] = (obj, index, obj.scorable, obj.stored, obj.column_type,
                                      self._postings.setdefault(name, {}) if obj.indexed else None)
        return f

    def add(self, doc: dict) -> None:
        """Add ``doc``; a later document with the same ``id`` replaces it (a
        dossier changed twice in one batch)."""
        from .whoosh_backend import to_fields

        fields = to_fields(self.kind, doc)
        slot = len(self._rows)
        row = []
        try:
            for name in sorted(fields):
                value = fields[name]
                obj, index, scorable, stored, column, post = self._field(name)
                length = 0
                if index is not None:
                    items = index(value)
                    if scorable:
                        length = sum(it[1] for it in items)
                    # the length each posting carries, as Whoosh reads it back from the lengths column
                    lb = length_to_byte(length) if length else 0
                    plen = byte_to_length(lb) if lb else None
                    for tbytes, _freq, weight, vbytes in items:
                        lst = post.get(tbytes)
                        if lst is None:
                            post[tbytes] = [(slot, weight, vbytes, plen)]
                        else:
                            lst.append((slot, weight, vbytes, plen))
                row.append((name, obj, value if stored else None, length,
                            obj.to_column_value(value) if column and value is not None else None))
        except Exception:
            # postings of this document may be filed already: the segment can only be thrown away
            self.failed = True
            raise
        self._rows.append(row)
        old = self._slots.get(doc["id"])
        if old is not None:
            self._dead.add(old)
            self._rows[old] = None
        self._slots[doc["id"]] = slot

    def finish(self):
        """Write the segment's files; returns the segment (None when no document was added)."""
        if self.failed:
            raise RuntimeError("a document could not be added: cancel this segment")
        if not self._slots:
            self.cancel()
            return None
        # slot → document number: replaced documents leave no hole
        docnum_of = None
        if self._dead:
            docnum_of, n = {}, 0
            for slot, row in enumerate(self._rows):
                if row is not None:
                    docnum_of[slot] = n
                    n += 1
        pdw = self._perdoc = self._codec.per_document_writer(self._storage, self._segment)
        docnum = 0
        for row in self._rows:
            if row is None:
                continue
            pdw.start_doc(docnum)
            for name, obj, stored, length, colval in row:
                pdw.add_field(name, obj, stored, length)
                if colval is not None:
                    pdw.add_column_value(name, obj.column_type, colval)
            pdw.finish_doc()
            docnum += 1
        self._rows = []
        pdw.close()
        fw = self._codec.field_writer(self._storage, self._segment)
        empty = b""
        dead = self._dead
        for name in sorted(self._postings):
            terms = self._postings[name]
            if not terms:
                continue
            started = False
            add = fw.add
            for tbytes in sorted(terms):
                postings = terms[tbytes]
                if docnum_of is not None:
                    postings = [(docnum_of[s], w, v, ln) for s, w, v, ln in postings if s not in dead]
                    if not postings:
                        continue
                if not started:
                    fw.start_field(name, self._schema[name])
                    started = True
                fw.start_term(tbytes)
                for d, weight, vbytes, plen in postings:
                    add(d, weight, empty if vbytes is None else vbytes, plen)
                fw.finish_term()
            if started:
                fw.finish_field()
        fw.close()
        seg = self._segment
        seg.set_doc_count(docnum)
        if seg.should_assemble():
            seg.create_compound_file(self._storage)
            seg.compound = True
        if isinstance(self._storage, EncryptedStorage):
            self._storage.flush()
        self._postings.clear()
        self.closed = True
        return seg

    def cancel(self) -> None:
        if not self.closed and self._perdoc is not None:
            with contextlib.suppress(Exception):     # thrown away anyway
                self._perdoc.close()
        self.closed = True
        self._postings.clear()
        self._rows = []
        shutil.rmtree(self.dir, ignore_errors=True)


__all__ = ["SegmentBuilder"]
