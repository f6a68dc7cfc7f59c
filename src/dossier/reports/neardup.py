"""Near-duplicate texts (copied interview notes) without comparing all pairs.

Character shingles → MinHash signatures → LSH bands. Texts that share a band
bucket become candidates; a candidate is checked against the bucket's first
member with the exact Jaccard similarity of its shingles and joined to it
(union-find) when similar enough. Work is linear in the number of texts times
the number of bands; a bucket never produces all its pairs, so even a note
pasted into hundreds of files costs one comparison per copy.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np

_PRIME = np.uint64((1 << 61) - 1)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """NFKC, lower case, without spaces and punctuation (small edits of punctuation do not matter)."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text or "").lower())


def shingles(text: str, k: int) -> set[int]:
    t = normalize(text)
    if len(t) < k:
        return {zlib.crc32(t.encode())} if t else set()
    b = t.encode("utf-32-le")          # 4 bytes a character: a shingle is a plain byte slice
    w = 4 * k
    return {zlib.crc32(b[i:i + w]) for i in range(0, len(b) - w + 4, 4)}


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class _UF:
    def __init__(self, n: int):
        self.p = list(range(n))

    def find(self, x: int) -> int:
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[rb] = ra


def near_duplicate_groups(texts: list[str], *, threshold: float = 0.8, k: int = 3, bands: int = 16,
                          rows: int = 4, seed: int = 7, slack: float = 0.15) -> list[tuple[list[int], float]]:
    """Groups (indices, lowest similarity to the group's first member) of texts whose
    shingle Jaccard similarity is at least ``threshold``. Empty texts are ignored.

    16 bands of 4 rows find a pair of similarity 0.8 with probability 0.9998; a
    candidate whose signatures agree on fewer than (threshold − slack) of the
    hashes (3 standard deviations below 0.8 with 64 hashes) is not checked."""
    if not texts:
        return []
    n_hash = bands * rows
    rng = np.random.default_rng(seed)
    a = rng.integers(1, (1 << 61) - 2, size=n_hash, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 2, size=n_hash, dtype=np.uint64)
    sh = [shingles(t, k) for t in texts]
    sigs = np.full((len(texts), n_hash), np.iinfo(np.uint64).max, dtype=np.uint64)
    for i, s in enumerate(sh):
        if not s:
            continue
        h = np.fromiter(s, dtype=np.uint64, count=len(s))
        # (a*h + b) mod p on 64-bit ints: overflow wraps, which keeps it a fine hash family for MinHash
        sigs[i] = ((np.outer(a, h) + b[:, None]) % _PRIME).min(axis=1)
    uf = _UF(len(texts))
    checked: set[tuple[int, int]] = set()
    sim_to_root: dict[int, float] = {}
    present = np.array([bool(x) for x in sh], dtype=bool)
    idx = np.arange(len(texts))
    mix = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
                    0x85EBCA77C2B2AE63, 0xFF51AFD7ED558CCD][:rows] + [1] * max(0, rows - 6), dtype=np.uint64)
    for band in range(bands):
        block = sigs[:, band * rows:(band + 1) * rows]
        keys = np.bitwise_xor.reduce(block * mix, axis=1)        # one 64-bit key per text and band
        keys[~present] = idx[~present].astype(np.uint64)          # empty texts never share a bucket
        _, first_idx, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rep = first_idx[inverse.ravel()]
        cand = np.nonzero((rep != idx) & present)[0]
        # the signatures estimate the similarity; only plausible pairs get the exact check
        agree = np.count_nonzero(sigs[cand] == sigs[rep[cand]], axis=1)
        for i in cand[agree >= (threshold - slack) * n_hash].tolist():
            j = int(rep[i])
            if uf.find(i) == uf.find(j) or (j, i) in checked:
                continue
            checked.add((j, i))
            s = jaccard(sh[i], sh[j])
            if s >= threshold:
                uf.union(j, i)
                sim_to_root[i] = max(sim_to_root.get(i, 0.0), s)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        if sh[i]:
            groups.setdefault(uf.find(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) > 1:
            root = members[0]
            low = min(jaccard(sh[root], sh[m]) for m in members[1:])
            out.append((members, round(low, 3)))
    return out
