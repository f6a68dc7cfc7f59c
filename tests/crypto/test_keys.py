"""User key pairs: sealing under a passphrase, wrapping keys to one user only,
signatures."""

from __future__ import annotations

import pytest

from dossier.crypto import aead, kdf
from dossier.crypto.keys import UserKeys, verify, wrap_to
from dossier.errors import IntegrityError, WrongPassword

P = kdf.WEAK_FOR_TESTS


def test_seal_unseal_round_trip():
    k = UserKeys.generate()
    salt, sealed = k.seal(b"correct horse", P)
    k2 = UserKeys.unseal(b"correct horse", salt, sealed, P)
    assert k2.box_public == k.box_public and k2.sign_public == k.sign_public
    assert b"correct horse" not in sealed


def test_wrong_password_is_wrong_password():
    k = UserKeys.generate()
    salt, sealed = k.seal(b"correct horse", P)
    with pytest.raises(WrongPassword):
        UserKeys.unseal(b"correct horsf", salt, sealed, P)
    with pytest.raises(WrongPassword):
        UserKeys.unseal(b"correct horse", b"\0" * 16, sealed, P)    # salt changed


def test_wrap_only_recipient_unwraps():
    alice, bob = UserKeys.generate(), UserKeys.generate()
    key = aead.new_key()
    ctx = aead.ad_for("scope-key", "arch", 1, "data", 1)
    w = wrap_to(alice.box_public, key, ctx)
    assert alice.unwrap(w, ctx) == key
    with pytest.raises(IntegrityError):
        bob.unwrap(w, ctx)
    with pytest.raises(IntegrityError):
        alice.unwrap(w, aead.ad_for("scope-key", "arch", 2, "data", 1))   # another scope
    assert key not in w


def test_signatures():
    k, other = UserKeys.generate(), UserKeys.generate()
    sig = k.sign_bytes(b"version hash")
    assert verify(k.sign_public, sig, b"version hash")
    assert not verify(k.sign_public, sig, b"version hasH")
    assert not verify(other.sign_public, sig, b"version hash")
    bad = bytearray(sig)
    bad[0] ^= 1
    assert not verify(k.sign_public, bytes(bad), b"version hash")
    assert not verify(b"\0" * 5, sig, b"version hash")     # malformed key: False, not a crash
