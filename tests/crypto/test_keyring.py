"""A session's keyring: holds exactly the scope keys wrapped to its user."""

from __future__ import annotations

import pytest

from dossier.errors import PermissionDenied


def test_clerk_holds_own_scope_only(world):
    with world.open("li") as ar:
        a, b = ar.scopes.id_of(world.scope_a), ar.scopes.id_of(world.scope_b)
        assert ar.keyring.holds(a, "data") and ar.keyring.holds(a, "inspect")
        assert not ar.keyring.holds(b, "data")
        with pytest.raises(PermissionDenied):
            ar.keyring.scope_key(b, "data")
        v, key = ar.keyring.scope_key(a, "data")
        assert v == 1 and len(key) == 32


def test_inspector_has_inspection_keys_only(world):
    with world.open("qian") as ar:
        a = ar.scopes.id_of(world.scope_a)
        assert ar.keyring.holds(a, "inspect")
        assert not ar.keyring.holds(a, "data")
        with pytest.raises(PermissionDenied):
            ar.scope_key(world.scope_a)
        assert len(ar.inspect_key(world.scope_a)) == 32


def test_held_scopes_is_holds_for_every_scope_at_once(world):
    for user in ("li", "qian", "admin"):
        with world.open(user) as ar:
            ids = [r[0] for r in ar.con.execute("SELECT id FROM scopes")]
            for kind in ("data", "inspect"):
                assert ar.keyring.held_scopes(kind) == {s for s in ids if ar.keyring.holds(s, kind)}
    with world.open("li") as ar:
        assert ar.keyring.held_scopes("inspect") >= {ar.scopes.id_of(world.scope_a)}
        assert ar.scopes.id_of(world.scope_b) not in ar.keyring.held_scopes("data")
    with world.open("qian") as ar:
        assert ar.keyring.held_scopes("data") == set()


def test_same_scope_key_for_every_holder(world):
    keys = set()
    for u in ("admin", "li", "zhao"):
        with world.open(u) as ar:
            keys.add(ar.scope_key(world.scope_a))
    assert len(keys) == 1


def test_blind_token_deterministic_keyed(world):
    with world.open("li") as a1, world.open("wang") as a2:
        t = a1.keyring.blind_token("430405199001011234")
        assert t == a2.keyring.blind_token("430405199001011234")
        assert t != a1.keyring.blind_token("430405199001011242")
        assert t != a1.keyring.blind_token("430405199001011234", purpose="phone")
    import hashlib
    assert t != hashlib.sha256(b"id_number:430405199001011234").digest()
