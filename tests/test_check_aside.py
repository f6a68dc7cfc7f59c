"""``check`` with the signatures verified on the other core (crypto/verify_aside.py):
the same findings as verifying them in the process — a forged version signature names
its dossier and version, a forged audit event's signature breaks the chain at that
event (``audit verify``: exit 21) even when a later event is damaged too, and a child
that dies leaves nothing unchecked. Both stores (the tampering goes through the store)."""

from __future__ import annotations

import os

import pytest

from dossier import audit_check
from dossier.crypto import verify_aside
from dossier.errors import AuditChainError


@pytest.fixture
def aside(monkeypatch):
    """The child runs on these small archives (and under pytest's workers); records each stream."""
    monkeypatch.setattr(verify_aside, "MIN_TRIPLES", 1)
    monkeypatch.setattr(verify_aside, "_single_threaded", lambda: True)
    monkeypatch.setattr(verify_aside, "_cores", lambda: 1 if os.environ.get("DOSSIER_VERIFY_ASIDE") == "0" else 2)
    streams = []
    real = verify_aside.stream

    def stream(expected):
        s = real(expected)
        streams.append(s)
        return s
    monkeypatch.setattr(verify_aside, "stream", stream)
    return streams


@pytest.fixture
def filled(world):
    x, _ = world.add_person(world.scope_a, entries=3)
    world.add_person(world.scope_a, entries=1)
    world.add_person(world.scope_b, entries=2)
    return world, x


def flip_sig(world, table: str, col: str, where: str, args: tuple) -> None:
    con = world.store()
    try:
        sig = bytearray(con.execute(f"SELECT {col} FROM {table} WHERE {where}", args).fetchone()[0])
        sig[9] ^= 0x04
        con.execute(f"UPDATE {table} SET {col}=? WHERE {where}", (bytes(sig), *args))
        con.commit()
    finally:
        con.close()


def checked(world, monkeypatch, aside_on: bool):
    monkeypatch.setenv("DOSSIER_VERIFY_ASIDE", "1" if aside_on else "0")
    with world.open("admin") as ar:
        return ar.check()


def test_a_clean_archive_passes_with_every_signature_sent_aside(filled, aside, monkeypatch):
    world, _ = filled
    monkeypatch.setenv("DOSSIER_VERIFY_ASIDE", "1")
    with world.open("admin") as ar:
        events = len(ar.audit_chain.events())
        rep = ar.check()
    assert rep.ok, rep.problems
    s = [s for s in aside if s is not None]
    assert len(s) == 1
    assert s[0].count == rep.versions + events      # every version's signature and every event's


def test_a_forged_version_signature_is_found_aside_naming_the_version(filled, aside, monkeypatch):
    world, x = filled
    flip_sig(world, "versions", "signature", "dossier=? AND version=?", (x.id, 3))
    rep = checked(world, monkeypatch, True)
    assert aside and aside[0] is not None and aside[0].count > 0
    del aside[:]
    mine = [p for p in rep.problems if p.get("archive_no") == x.archive_no and p.get("version") == 3]
    assert [p["problem"] for p in mine] == ["作者签名无效"], rep.problems
    assert f"档案 {x.archive_no} 第 3 版" in mine[0]["where"]
    inline = checked(world, monkeypatch, False)
    assert aside == [None]                      # verified in the process this time
    assert sorted(map(str, inline.problems)) == sorted(map(str, rep.problems))


def test_a_forged_event_signature_breaks_the_chain_there(filled, aside, monkeypatch):
    world, _ = filled
    flip_sig(world, "audit_events", "sig", "seq=?", (5,))
    rep = checked(world, monkeypatch, True)
    chain = [p for p in rep.problems if p["where"] == "审计链"]
    assert len(chain) == 1 and "第 5 条事件" in chain[0]["problem"] and "签名" in chain[0]["problem"]
    with world.open("admin") as ar:
        res = audit_check.verify(ar)
    assert isinstance(res.chain_error, AuditChainError) and res.chain_error.exit_code == 21
    assert res.chain_error.details["seq"] == 5


def test_the_first_bad_event_wins_when_a_later_one_is_damaged_too(filled, aside, monkeypatch):
    """The chain check stops at event 9 (its hash no longer matches) before the answer about
    event 5's signature comes back: the report must still name event 5, as in-process."""
    world, _ = filled
    flip_sig(world, "audit_events", "sig", "seq=?", (5,))
    con = world.store()
    con.execute("UPDATE audit_events SET ts=? WHERE seq=?", ("2000-01-01T00:00:00+00:00", 9))
    con.commit()
    con.close()
    for on in (True, False):
        rep = checked(world, monkeypatch, on)
        chain = [p for p in rep.problems if p["where"] == "审计链"]
        assert len(chain) == 1 and "第 5 条事件" in chain[0]["problem"], (on, chain)
        monkeypatch.setenv("DOSSIER_VERIFY_ASIDE", "1" if on else "0")
        with world.open("admin") as ar:
            res = audit_check.verify(ar)
        assert res.chain_error.details["seq"] == 5 and res.chain is None


def test_a_child_that_dies_leaves_nothing_unchecked(filled, aside, monkeypatch):
    world, x = filled
    flip_sig(world, "versions", "signature", "dossier=? AND version=?", (x.id, 2))
    flip_sig(world, "audit_events", "sig", "seq=?", (4,))

    def die(r):
        raise SystemExit(3)
    monkeypatch.setattr(verify_aside, "_child_loop", die)
    rep = checked(world, monkeypatch, True)
    assert any(p.get("version") == 2 and p["problem"] == "作者签名无效" for p in rep.problems), rep.problems
    assert any(p["where"] == "审计链" and "第 4 条事件" in p["problem"] for p in rep.problems), rep.problems
