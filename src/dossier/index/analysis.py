"""Chinese analysis: character bigrams for recall, jieba words for ranking.

- ``units``: a normalised text cut into units — one unit per CJK character,
  one per run of ASCII letters/digits; anything else (punctuation, spaces)
  ends a chain. ``"幸福路12号"`` → ``[幸, 福, 路, 12, 号]``.
- Bigrams over the units of each chain, with positions, so a phrase of the
  query's bigrams is an exact substring match (what FTS5's trigram
  tokenizer gives, but from two characters on).
- Names: every character plus every ordered pair of characters, so any two
  characters of a name find it (张三丰 ← 张三, 三丰, 张丰).
- jieba words (search mode, no HMM) feed a ranking-only field. jieba's
  dictionary is loaded lazily, once per process, from a private cache file
  outside the archive (the cache holds jieba's own dictionary and nothing
  else). Queries never need jieba, so the first search after opening pays
  no dictionary load.

Whoosh pickles the schema, analyzers included, into its TOC: the classes here
must stay importable under these names. The TOC is authenticated (AES-GCM)
before it is unpickled.
"""

from __future__ import annotations

import functools
import os
import threading
from itertools import combinations
from pathlib import Path

from whoosh.analysis import Token, Tokenizer

from .normalize import is_cjk, nfkc, norm_name

Unit = tuple[str, int, int]  # text, startchar, endchar


def chains(text: str) -> list[list[Unit]]:
    """Split already-normalised ``text`` into chains of units."""
    out: list[list[Unit]] = []
    cur: list[Unit] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if is_cjk(ch):
            cur.append((ch, i, i + 1))
            i += 1
        elif ch.isascii() and ch.isalnum():
            j = i + 1
            while j < n and text[j].isascii() and text[j].isalnum():
                j += 1
            cur.append((text[i:j], i, j))
            i = j
        else:
            if cur:
                out.append(cur)
                cur = []
            i += 1
    if cur:
        out.append(cur)
    return out


def bigram_tokens(text: str) -> list[tuple[str, int, int, int]]:
    """(token, pos, startchar, endchar) for a free-text field.

    Each chain gives its consecutive bigrams; a chain of one unit gives the
    unit; an ASCII unit (house number, plate) is also given on its own.
    Chains are separated by a position gap so phrases never bridge them.
    """
    toks: list[tuple[str, int, int, int]] = []
    pos = 0
    for chain in chains(nfkc(text)):
        if len(chain) == 1:
            u = chain[0]
            toks.append((u[0], pos, u[1], u[2]))
            pos += 1
        else:
            for k in range(len(chain) - 1):
                a, b = chain[k], chain[k + 1]
                toks.append((a[0] + b[0], pos, a[1], b[2]))
                if not is_cjk(a[0][0]):
                    toks.append((a[0], pos, a[1], a[2]))
                pos += 1
            last = chain[-1]
            if not is_cjk(last[0][0]):
                toks.append((last[0], pos, last[1], last[2]))
            pos += 1
        pos += 2  # gap between chains
    return toks


def query_grams(text: str) -> list[list[str]]:
    """For a query string: per chain, the bigram sequence to match as a phrase
    (a one-unit chain gives a one-element list)."""
    out = []
    for chain in chains(nfkc(text)):
        if len(chain) == 1:
            out.append([chain[0][0]])
        else:
            out.append([chain[k][0] + chain[k + 1][0] for k in range(len(chain) - 1)])
    return out


def name_tokens(name: str) -> list[str]:
    """Every character of a name and every ordered pair of its characters."""
    s = [c for c in norm_name(name) if c != "·"]
    toks = set(s)
    if len(s) <= 12:
        toks.update(a + b for a, b in combinations(s, 2))
    else:  # very long (transliterated) names: adjacent pairs only
        toks.update(s[k] + s[k + 1] for k in range(len(s) - 1))
    return sorted(toks)


# -- jieba, loaded once per process -------------------------------------------------

_jieba_lock = threading.Lock()
_segmenter = None


def cache_dir() -> Path:
    """Private per-user cache directory (0700), never inside an archive."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "dossier"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def segmenter():
    """The process-wide jieba tokenizer (dictionary loaded on first use)."""
    global _segmenter
    if _segmenter is None:
        with _jieba_lock:
            if _segmenter is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                tk.tmp_dir = str(cache_dir())
                tk.cache_file = "jieba-0.42.1.cache"
                tk.initialize()
                _segmenter = tk
    return _segmenter


def words(text: str) -> list[str]:
    """jieba search-mode words (no HMM: faster, and no invented words), line by line."""
    out: list[str] = []
    for line in nfkc(text).split("\n"):
        if line.strip():
            out.extend(_line_words(line))
    return out


@functools.lru_cache(maxsize=8192)
def _line_words(line: str) -> tuple[str, ...]:
    # cached per process: entry texts repeat (templates, 情况稳定); never written anywhere
    return tuple(w for w in segmenter().cut_for_search(line, HMM=False) if w.strip() and len(w) > 1)


# -- Whoosh tokenizers ----------------------------------------------------------------

class _Base(Tokenizer):
    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self).__name__)


class BigramTokenizer(_Base):
    """Free text and addresses: unit bigrams with positions (see module doc)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if mode == "query":
            # Query side: the query builder passes ready-made grams.
            t.text, t.boost, t.stopped = value, 1.0, False
            if positions:
                t.pos = start_pos
            yield t
            return
        for text, pos, sc, ec in bigram_tokens(value):
            t.text, t.boost, t.stopped = text, 1.0, False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char + sc, start_char + ec
            yield t


class NameTokenizer(_Base):
    """Names: characters and ordered character pairs (no positions)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        toks = [value] if mode == "query" else [x for v in value.split("\n") for x in name_tokens(v)]
        for i, text in enumerate(toks):
            t.text, t.boost, t.stopped = text, 1.0, False
            if positions:
                t.pos = start_pos + i
            yield t


class WordsTokenizer(_Base):
    """jieba words (ranking only)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        toks = [value] if mode == "query" else words(value)
        for i, text in enumerate(toks):
            t.text, t.boost, t.stopped = text, 1.0, False
            if positions:
                t.pos = start_pos + i
            yield t
