"""Synthetic search corpora (also used by benchmarks/bench_search.py).

The corpora are indexed at the backend level (documents built from synthetic
dossier states, one bulk build), which is what the archive's ``index
rebuild`` does, without paying for 5,000 signed versions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dossier import synth
from dossier.crypto.aead import new_key
from dossier.index.documents import clerk_doc, inspect_doc
from dossier.index.whoosh_backend import WhooshIndex

TODAY = date(2025, 6, 1)
SCOPE = "珠晖区/粤汉街道/苗圃社区"


@dataclass
class Corpus:
    persons: list[dict]          # {"id", "archive_no", "profile", "entries"}
    clerk: object                # a Backend: WhooshIndex, or BlindIndex on the PostgreSQL lane
    inspect: object
    root: Path
    blind_key: bytes
    file_key: bytes
    by_id: dict = field(default_factory=dict)


def make_states(n: int, seed: int, entries: int = 4) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p = synth.person(rng, today=TODAY, full=True)
        es = synth.entries(rng, p, today=TODAY, n=entries)
        out.append({"id": f"{seed:04d}-{i:06d}", "archive_no": f"430405004-JD·2025-Y-012-{i:04d}",
                    "profile": p, "entries": es})
    return out


def whoosh_index(root: Path, kind: str, key: bytes, context: tuple, blind_key: bytes | None = None):
    return WhooshIndex(root / kind, kind, key, context, blind_key=blind_key, durable=False)


def blind_factory(cluster):
    """A maker of blind-token indexes, each in a new database of ``cluster`` (tests/pgcluster.py)."""
    import psycopg

    from dossier.index.blind_backend import BlindIndex

    def make(root: Path, kind: str, key: bytes, context: tuple, blind_key: bytes | None = None):
        con = psycopg.connect(cluster.new_database("ix"), autocommit=True)
        return BlindIndex(con, kind, key, context, 1, 1, blind_key=blind_key)
    return make


def build_corpus(root: Path, n: int, seed: int, make=whoosh_index) -> Corpus:
    persons = make_states(n, seed)
    fk, bk = new_key(), new_key()
    clerk = make(root, "clerk", fk, ("test-archive", "1", "k1"))
    insp = make(root, "inspect", fk, ("test-archive", "1", "k1"), bk)
    clerk.rebuild([clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons])
    insp.rebuild([inspect_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY, bk) for p in persons])
    return Corpus(persons, clerk, insp, root, bk, fk, {p["id"]: p for p in persons})
