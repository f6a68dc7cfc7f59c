"""The audit chain detects every kind of tampering and names the first bad event."""

from __future__ import annotations

import sqlite3

import pytest

from dossier.audit import GENESIS, AuditEvent, AuditLog, Head, event_hash, verify_chain
from dossier.crypto.aead import new_key
from dossier.crypto.keys import UserKeys
from dossier.errors import AuditChainError, ExitCode, IntegrityError

PERSON = "测试人甲"     # synthetic


@pytest.fixture()
def setup(tmp_path):
    conn = sqlite3.connect(tmp_path / "meta.db")
    log = AuditLog(conn, archive_id="arch-test")
    log.create()
    users = {"admin": UserKeys.generate(), "li": UserKeys.generate(), "wang": UserKeys.generate()}
    pubs = {n: k.sign_public for n, k in users.items()}
    key = new_key()
    actors = ["admin", "li", "wang", "li", "li", "wang", "admin", "li"]
    for i, a in enumerate(actors):
        log.append(a, users[a], "view.unmasked" if i % 2 else "dossier.change", {"n": i},
                   private={"person": PERSON, "dossier": f"d{i}"}, seal_key=key, key_id="scope:s1")
    return conn, log, users, pubs, key


def _err(log, pubs, anchors=()):
    with pytest.raises(AuditChainError) as ei:
        log.verify(pubs, anchors)
    assert ei.value.exit_code == ExitCode.AUDIT_CHAIN == 21
    return ei.value


def test_intact_chain_verifies_and_details_are_sealed(setup, tmp_path):
    conn, log, users, pubs, key = setup
    rep = log.verify(pubs)
    assert rep.events == 8 and rep.head.seq == 8
    ev = log.events()[3]
    assert ev.private(key, "arch-test") == {"person": PERSON, "dossier": "d3"}
    with pytest.raises(IntegrityError):
        ev.private(new_key(), "arch-test")
    conn.commit()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert PERSON.encode() not in raw


def test_edited_event_is_named(setup):
    conn, log, _, pubs, _ = setup
    conn.execute("""UPDATE audit_events SET public='{"n":99}' WHERE seq=4""")
    e = _err(log, pubs)
    assert e.details["seq"] == 4 and "被修改" in e.message


def test_edited_and_rehashed_event_fails_signature(setup):
    conn, log, _, pubs, _ = setup
    ev = log.events()[3]
    h = event_hash(ev.seq, ev.event_id, ev.ts, ev.actor, "search", ev.public, ev.key_id, ev.sealed, ev.prev)
    conn.execute("UPDATE audit_events SET action='search', hash=? WHERE seq=4", (h,))
    e = _err(log, pubs)
    assert e.details["seq"] == 4 and "签名" in e.message


def test_edited_sealed_details_detected(setup):
    conn, log, _, pubs, _ = setup
    sealed = bytearray(log.events()[2].sealed)
    sealed[-1] ^= 1
    conn.execute("UPDATE audit_events SET sealed=? WHERE seq=3", (bytes(sealed),))
    assert _err(log, pubs).details["seq"] == 3


def test_deleted_event_detected(setup):
    conn, log, _, pubs, _ = setup
    conn.execute("DELETE FROM audit_events WHERE seq=5")
    e = _err(log, pubs)
    assert e.details["seq"] == 6 and "删除" in e.message


def test_deleted_and_renumbered_detected(setup):
    conn, log, _, pubs, _ = setup
    conn.execute("DELETE FROM audit_events WHERE seq=5")
    conn.execute("UPDATE audit_events SET seq=seq-1 WHERE seq>5")
    assert _err(log, pubs).details["seq"] == 5


def test_reordered_events_detected(setup):
    conn, log, _, pubs, _ = setup
    # swap the storage positions of events 3 and 4
    conn.execute("UPDATE audit_events SET seq=1003 WHERE seq=3")
    conn.execute("UPDATE audit_events SET seq=3 WHERE seq=4")
    conn.execute("UPDATE audit_events SET seq=4 WHERE seq=1003")
    assert _err(log, pubs).details["seq"] == 3


def test_reordered_list_detected(setup):
    _, log, _, pubs, _ = setup
    evs = log.events()
    evs[2], evs[3] = evs[3], evs[2]
    with pytest.raises(AuditChainError) as ei:
        verify_chain(evs, pubs)
    assert ei.value.details["seq"] == 4


def test_inserted_event_by_a_real_user_detected(setup):
    conn, log, users, pubs, _ = setup
    # li forges an event between 4 and 5: validly signed by li, chained to event 4
    ev4 = log.events()[3]
    conn.execute("UPDATE audit_events SET seq=seq+100 WHERE seq>4")
    conn.execute("UPDATE audit_events SET seq=seq-99 WHERE seq>100")
    h = event_hash(5, "f" * 32, ev4.ts, "li", "search", {}, None, None, ev4.hash)
    conn.execute("INSERT INTO audit_events VALUES (5,?,?,?,?,?,?,?,?,?,?)",
                 ("f" * 32, ev4.ts, "li", "search", "{}", None, None, ev4.hash, h,
                  users["li"].sign_bytes(b"dossier-audit-event-v1\x00" + bytes.fromhex(h))))
    e = _err(log, pubs)
    assert e.details["seq"] == 6     # the renumbered successor no longer matches its hash


def test_forged_signature_of_another_user_detected(setup):
    conn, log, users, pubs, _ = setup
    mallory = UserKeys.generate()
    ev = log.events()[1]   # by li
    conn.execute("UPDATE audit_events SET sig=? WHERE seq=2",
                 (mallory.sign_bytes(b"dossier-audit-event-v1\x00" + bytes.fromhex(ev.hash)),))
    e = _err(log, pubs)
    assert e.details["seq"] == 2 and "签名" in e.message


def test_unknown_actor_detected(setup):
    _, log, _, pubs, _ = setup
    e = _err(log, {k: v for k, v in pubs.items() if k != "wang"})
    assert e.details["seq"] == 3 and "wang" in e.message


def test_truncated_tail_below_anchor_detected(setup):
    conn, log, users, pubs, _ = setup
    head = log.anchor("dossier:d1@v2")          # seq 8
    exported = Head.from_dict(head.to_dict())
    log.append("li", users["li"], "search", {"q": "x"})
    conn.execute("DELETE FROM audit_events WHERE seq >= 7")
    conn.execute("DELETE FROM audit_anchors")    # the attacker also wipes the table copy
    e = _err(log, pubs, [exported])
    assert e.details["seq"] == 7 and "截断" in e.message
    # without any anchor a clean tail cut cannot be seen: that is what anchors are for
    assert log.verify(pubs).events == 6


def test_truncated_tail_above_anchor_is_not_an_error(setup):
    _, log, users, pubs, _ = setup
    log.anchor("export")
    log.append("li", users["li"], "search", {})
    assert log.verify(pubs).events == 9


def test_rewritten_history_under_anchor_detected(setup):
    conn, log, users, pubs, _ = setup
    head = log.anchor("export")
    # an admin with everyone's keys (worst case) rebuilds the whole chain without event 2
    evs = [e for e in log.events() if e.seq != 2]
    conn.execute("DELETE FROM audit_events")
    conn.execute("DELETE FROM audit_anchors")
    for e in evs:
        log.append(e.actor, users[e.actor], e.action, e.public)
    e = _err(log, pubs, [head])
    assert "锚定" in e.message


def test_empty_chain_and_genesis():
    rep = verify_chain([], {})
    assert rep.head.seq == 0 and rep.head.hash == GENESIS


def test_private_details_require_a_key(setup):
    _, log, users, _, _ = setup
    with pytest.raises(IntegrityError):
        log.append("li", users["li"], "view.unmasked", private={"person": PERSON})


def test_event_roundtrip_through_row(setup):
    _, log, _, _, _ = setup
    ev = log.events()[0]
    assert isinstance(ev, AuditEvent) and ev.computed_hash() == ev.hash and ev.prev == GENESIS
    assert log.events(actor="wang")[0].actor == "wang"
    assert all(e.action == "view.unmasked" for e in log.events(action="view"))
