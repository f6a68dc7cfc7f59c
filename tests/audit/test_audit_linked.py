"""Format-2 audit events (linked by the store, docs/decisions.md "Writers on PostgreSQL: …
events linked by the store"): the actor signs the event's body and a head of the chain it
saw; the store gives the event its place. The chain check finds every kind of tampering
with them, in a chain that mixes both formats. Pure: the store's link is computed here
with :func:`link_hash`, which the PostgreSQL statement matches byte for byte
(tests/pg/test_linked_events.py)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from dossier.audit import (GENESIS, SEEN, SIG_CONTEXT, SIG_CONTEXT2, AuditEvent, body_hash, event_hash,
                           link_hash, verify_chain)
from dossier.crypto.keys import UserKeys
from dossier.errors import AuditChainError

USERS = {"admin": UserKeys.generate(), "li": UserKeys.generate(), "wang": UserKeys.generate()}
PUBS = {n: k.sign_public for n, k in USERS.items()}


def _v1(seq: int, prev: str, actor: str, n: int) -> AuditEvent:
    eid, ts, public = os.urandom(16).hex(), f"2026-12-08T00:00:{seq:02d}+00:00", {"n": n}
    h = event_hash(seq, eid, ts, actor, "view.unmasked", public, None, None, prev)
    return AuditEvent(seq, eid, ts, actor, "view.unmasked", public, None, None, prev, h,
                      USERS[actor].sign_bytes(SIG_CONTEXT + bytes.fromhex(h)))


def _signed2(actor: str, n: int, seen: tuple[int, str], sealed: bytes | None = b"sealed-details") -> dict:
    """What a writer sends: a body signed with the head it saw, no place yet."""
    eid, ts = os.urandom(16).hex(), f"2026-12-08T00:01:{n:02d}+00:00"
    public = {"version": n, SEEN: [seen[0], seen[1]]}
    key_id = "scope:1:data:1" if sealed is not None else None
    body = body_hash(eid, ts, actor, "dossier.change", public, key_id, sealed)
    return {"eid": eid, "ts": ts, "actor": actor, "public": public, "key_id": key_id, "sealed": sealed,
            "body": body, "sig": USERS[actor].sign_bytes(SIG_CONTEXT2 + bytes.fromhex(body))}


def _link(seq: int, prev: str, s: dict) -> AuditEvent:
    """What the store does under the archive lock."""
    return AuditEvent(seq, s["eid"], s["ts"], s["actor"], "dossier.change", s["public"], s["key_id"], s["sealed"],
                      prev, link_hash(seq, prev, s["body"]), s["sig"])


def _relink(events: list[AuditEvent]) -> list[AuditEvent]:
    """An attacker without any key renumbers and re-hashes every event the way the store links
    format-2 events (format-1 hashes are recomputed too: their signatures cannot be)."""
    out, prev = [], GENESIS
    for i, ev in enumerate(events, 1):
        if ev.seen is not None:
            h = link_hash(i, prev, ev.body_hash())
        else:
            h = event_hash(i, ev.event_id, ev.ts, ev.actor, ev.action, ev.public, ev.key_id, ev.sealed, prev)
        ev = dataclasses.replace(ev, seq=i, prev=prev, hash=h)
        out.append(ev)
        prev = h
    return out


@pytest.fixture()
def chain() -> list[AuditEvent]:
    """1–2 format 1; 3–7 format 2, written by overlapping writers (each saw a head a few
    events old); 8 format 1 again."""
    evs = [_v1(1, GENESIS, "admin", 0)]
    evs.append(_v1(2, evs[-1].hash, "li", 1))
    sent = [_signed2("li", 3, (2, evs[1].hash)), _signed2("wang", 4, (2, evs[1].hash)),
            _signed2("li", 5, (1, evs[0].hash))]
    for s in sent:                                   # three writers that overlapped, linked in turn
        evs.append(_link(len(evs) + 1, evs[-1].hash, s))
    evs.append(_link(6, evs[-1].hash, _signed2("wang", 6, (5, evs[4].hash))))
    evs.append(_link(7, evs[-1].hash, _signed2("li", 7, (6, evs[5].hash))))
    evs.append(_v1(8, evs[-1].hash, "admin", 8))
    return evs


def _err(events, anchors=()) -> AuditChainError:
    with pytest.raises(AuditChainError) as ei:
        verify_chain(events, PUBS, anchors)
    return ei.value


def test_mixed_chain_verifies(chain):
    rep = verify_chain(chain, PUBS, [(6, chain[5].hash), (2, chain[1].hash)])
    assert rep.events == 8 and rep.head.seq == 8
    assert [e.seen is not None for e in chain] == [False, False, True, True, True, True, True, False]
    d = chain[3].to_dict()
    assert SEEN not in d["details"] and d["seen"] == [2, chain[1].hash]


def test_first_event_may_be_linked(chain):
    s = _signed2("li", 1, (0, GENESIS))
    assert verify_chain([_link(1, GENESIS, s)], PUBS).events == 1


def test_edited_linked_event_is_named(chain):
    chain[3] = dataclasses.replace(chain[3], public={**chain[3].public, "version": 99})
    e = _err(chain)
    assert e.details["seq"] == 4 and "被修改" in e.message


def test_edited_and_relinked_event_fails_its_signature(chain):
    chain[3] = dataclasses.replace(chain[3], public={**chain[3].public, "version": 99})
    e = _err(_relink(chain))
    assert e.details["seq"] == 4 and "签名" in e.message


def test_sealed_details_swapped_fail_the_signature(chain):
    chain[4] = dataclasses.replace(chain[4], sealed=b"other-ciphertext")
    e = _err(_relink(chain))
    assert e.details["seq"] == 5 and "签名" in e.message


def test_deleted_event_and_relinked_chain_detected(chain):
    # event 5 deleted, the rest renumbered and re-hashed without any key: event 6 (format 2)
    # saw head 5, which is no longer a point of the chain
    e = _err(_relink(chain[:4] + chain[5:]))
    assert e.details["seq"] == 5 and "所见的链头" in e.message


def test_deleted_event_before_a_format1_event_detected(chain):
    e = _err(_relink(chain[:6] + chain[7:]))          # event 7 gone: event 8's signature covers its prev
    assert e.details["seq"] == 7 and "签名" in e.message


def test_deleted_in_the_middle_without_relink_detected(chain):
    e = _err(chain[:2] + chain[3:])
    assert e.details["seq"] == 4 and "缺少" in e.message


def test_reordered_linked_events_detected_by_the_links(chain):
    chain[3], chain[4] = chain[4], chain[3]
    e = _err(chain)
    assert e.details["seq"] == 5


def test_seen_head_must_be_an_earlier_point_of_this_chain(chain):
    # a real user signs an event claiming to have seen a head that is not in the chain
    fake = _signed2("li", 9, (7, "ab" * 32))
    e = _err(chain + [_link(9, chain[-1].hash, fake)])
    assert e.details["seq"] == 9 and "所见的链头" in e.message
    # … or its own place, or a later one
    own = _signed2("li", 9, (9, chain[-1].hash))
    assert _err(chain + [_link(9, chain[-1].hash, own)]).details["seq"] == 9
    # an unreadable seen head
    bad = _signed2("li", 9, (8, chain[-1].hash))
    bad["public"][SEEN] = "nonsense"
    bad["body"] = body_hash(bad["eid"], bad["ts"], "li", "dossier.change", bad["public"], bad["key_id"], bad["sealed"])
    bad["sig"] = USERS["li"].sign_bytes(SIG_CONTEXT2 + bytes.fromhex(bad["body"]))
    assert "所见的链头" in _err(chain + [_link(9, chain[-1].hash, bad)]).message


def test_format_cannot_be_switched(chain):
    # a format-2 event presented as format 1 (the seen head removed, hash recomputed): its
    # signature was made over the body, under the other context
    ev = chain[4]
    public = {k: v for k, v in ev.public.items() if k != SEEN}
    h = event_hash(ev.seq, ev.event_id, ev.ts, ev.actor, ev.action, public, ev.key_id, ev.sealed, ev.prev)
    chain[4] = dataclasses.replace(ev, public=public, hash=h)
    e = _err(_relink(chain))
    assert e.details["seq"] == 5 and "签名" in e.message
    # a format-1 signature does not sign a body either
    s = _signed2("li", 9, (8, chain[-1].hash))
    s["sig"] = USERS["li"].sign_bytes(SIG_CONTEXT + bytes.fromhex(s["body"]))
    assert "签名" in _err(chain[:8] + [_link(9, chain[7].hash, s)]).message


def test_forged_actor_of_a_linked_event_detected(chain):
    s = _signed2("li", 9, (8, chain[-1].hash))
    s["actor"] = "wang"                              # signed by li, claims wang
    s["body"] = body_hash(s["eid"], s["ts"], "wang", "dossier.change", s["public"], s["key_id"], s["sealed"])
    e = _err(chain + [_link(9, chain[-1].hash, s)])
    assert e.details["seq"] == 9 and "签名" in e.message


def test_signatures_aside_get_the_body_message(chain):
    seen: list[bytes] = []

    class Aside:
        def check(self, key, ev, msg):
            seen.append(msg)
            return True

    verify_chain(chain, PUBS, signatures=Aside())
    assert seen[3] == SIG_CONTEXT2 + bytes.fromhex(chain[3].body_hash())
    assert seen[0] == SIG_CONTEXT + bytes.fromhex(chain[0].hash)
