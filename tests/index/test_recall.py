"""Recall on generated corpora: every person is found by full name, by any
two-character fragment of the name, by ID last 6, by phone last 4, and by
社区; exact matches rank first. 500 persons always, 5,000 under ``-m slow``."""

from __future__ import annotations

from collections import defaultdict

import pytest

from dossier.index.normalize import norm_name
from dossier.index.query import parse
from dossier.synth import COMMUNITIES


def _queries(persons):
    """query → the set of person ids that must be among its results."""
    table: dict[str, set[str]] = defaultdict(set)
    for p in persons:
        prof = p["profile"]
        name = norm_name(prof["name"])
        table[name].add(p["id"])
        for k in range(len(name) - 1):
            table[name[k:k + 2]].add(p["id"])
        table[prof["id_number"][-6:]].add(p["id"])
        table[prof["phone"][-4:]].add(p["id"])
    # a fragment also finds every other person whose name contains it
    for p in persons:
        name = norm_name(p["profile"]["name"])
        for k in range(len(name) - 1):
            table[name[k:k + 2]].add(p["id"])
    for c in COMMUNITIES:
        ids = {p["id"] for p in persons if c in p["profile"]["residence_address"] or c in p["profile"]["hukou_address"]}
        if ids:
            table[c] = ids
    return table


def _check_recall(corpus, sample: int | None = None):
    table = _queries(corpus.persons)
    items = sorted(table.items())
    if sample:
        items = items[::max(1, len(items) // sample)]
    missed = {}
    n = len(corpus.persons)
    for q, expected in items:
        got = {h.id for h in corpus.clerk.search(parse(q), limit=n)}
        if not expected <= got:
            missed[q] = sorted(expected - got)[:3]
    assert not missed, f"{len(missed)} queries missed persons: {dict(list(missed.items())[:5])}"
    return len(items)


def _check_exact_first(corpus, count: int):
    by_name = defaultdict(set)
    for p in corpus.persons:
        by_name[norm_name(p["profile"]["name"])].add(p["id"])
    for name, ids in sorted(by_name.items())[:count]:
        hits = corpus.clerk.search(parse(name), limit=len(ids) + 20)
        assert {h.id for h in hits[:len(ids)]} == ids, name
        assert all(h.tier == 0 for h in hits[:len(ids)])
        assert all(h.tier > 0 for h in hits[len(ids):])


def test_recall_500(small_corpus):
    n = _check_recall(small_corpus)
    assert n > 1000


def test_exact_name_and_id_rank_first_500(small_corpus):
    _check_exact_first(small_corpus, 150)
    for p in small_corpus.persons[:50]:
        hits = small_corpus.clerk.search(parse(p["profile"]["id_number"]), limit=5)
        assert hits[0].id == p["id"] and hits[0].tier == 0


def test_fragment_ranks_before_text(small_corpus):
    p = small_corpus.persons[3]
    frag = norm_name(p["profile"]["name"])[:2]
    hits = small_corpus.clerk.search(parse(frag), limit=500)
    tiers = [h.tier for h in hits]
    assert tiers == sorted(tiers)
    assert p["id"] in {h.id for h in hits if h.tier <= 1}


@pytest.mark.slow
def test_recall_5000(big_corpus):
    n = _check_recall(big_corpus)
    assert n > 5000


@pytest.mark.slow
def test_exact_first_5000(big_corpus):
    _check_exact_first(big_corpus, 500)
