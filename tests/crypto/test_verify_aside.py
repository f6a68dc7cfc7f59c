"""Signatures verified by a forked child (crypto/verify_aside.py): the streaming form
``dossier check`` uses finds exactly the bad signatures — whether the child answers, the
parent shares the tail with it, or the child dies and the parent verifies everything."""

from __future__ import annotations

import os
import signal

import pytest

from dossier.crypto import verify_aside
from dossier.crypto.keys import UserKeys


@pytest.fixture
def forced(monkeypatch):
    """The child runs whatever the count and the host (the suite runs under xdist workers)."""
    monkeypatch.setattr(verify_aside, "MIN_TRIPLES", 1)
    monkeypatch.setattr(verify_aside, "_single_threaded", lambda: True)
    monkeypatch.setattr(verify_aside, "_cores", lambda: 2)


def triples(n: int, bad: set[int]) -> list[tuple[bytes, bytes, bytes]]:
    keys = [UserKeys.generate() for _ in range(3)]
    out = []
    for i in range(n):
        k = keys[i % 3]
        msg = i.to_bytes(4, "big") * 8
        sig = bytearray(k.sign_bytes(msg))
        if i in bad:
            sig[i % 64] ^= 0x10
        out.append((k.sign_public, bytes(sig), msg))
    return out


BAD = {0, 7, 1234, 2999}


def test_the_stream_names_exactly_the_bad_signatures(forced):
    s = verify_aside.stream(3000)
    assert s is not None
    try:
        for t in triples(3000, BAD):      # ~400 KB of records: more than a pipe holds
            s.add(*t)
        assert s.failures() == sorted(BAD)
        assert s.failures() == sorted(BAD)       # asked twice: the same answer
    finally:
        s.close()


def test_a_child_that_dies_leaves_the_parent_to_verify_them_all(forced):
    s = verify_aside.stream(3000)
    ts = triples(3000, BAD)
    try:
        for t in ts[:100]:
            s.add(*t)
        os.kill(s.pid, signal.SIGKILL)
        for t in ts[100:]:
            s.add(*t)
        assert s.failures() == sorted(BAD)
    finally:
        s.close()


def test_a_child_that_stops_reading_is_not_believed(forced, monkeypatch):
    monkeypatch.setattr(verify_aside, "_child_loop", lambda r: {"n": 3000, "bad": []})
    s = verify_aside.stream(3000)
    try:
        for t in triples(3000, BAD):
            s.add(*t)
        assert s.failures() == sorted(BAD)      # the pipe broke: its answer cannot cover the records
    finally:
        s.close()


def test_signatures_pending_call_back_the_bad_ones_in_order(forced):
    sigs = verify_aside.Signatures(verify_aside.stream(50))
    found = []
    for i, t in enumerate(triples(50, {3, 40})):
        assert sigs.check(*t, lambda i=i: found.append(i)) is None      # pending
    assert sigs.settle() == 2
    assert found == [3, 40]


def test_signatures_without_a_child_verify_at_once():
    sigs = verify_aside.Signatures(None)
    good, bad = triples(2, {1})
    assert sigs.check(*good, lambda: pytest.fail("not pending")) is True
    assert sigs.check(*bad, lambda: pytest.fail("not pending")) is False
    assert sigs.check(None, good[1], good[2], lambda: None) is False
    assert sigs.settle() == 0


def test_no_child_below_the_threshold_or_when_turned_off(monkeypatch):
    assert verify_aside.stream(verify_aside.MIN_TRIPLES - 1) is None
    monkeypatch.setenv("DOSSIER_VERIFY_ASIDE", "0")
    monkeypatch.setattr(verify_aside, "_single_threaded", lambda: True)
    assert verify_aside.stream(10 ** 6) is None
