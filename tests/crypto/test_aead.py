"""AES-256-GCM sealing and envelopes: round trips, and every kind of damage or
misplacement is refused with IntegrityError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier.crypto import aead
from dossier.errors import ExitCode, IntegrityError

KEY = bytes(range(32))
AD = aead.ad_for("dossier-version", "arch-1", 3, "dossier-x", 1)


def test_seal_round_trip_and_format():
    sealed = aead.seal(KEY, "苗圃社区 测试人甲".encode(), AD)
    assert sealed[:2] == aead.MAGIC
    assert len(sealed) == 2 + aead.NONCE + len("苗圃社区 测试人甲".encode()) + 16
    assert aead.open_(KEY, sealed, AD) == "苗圃社区 测试人甲".encode()


def test_nonces_are_fresh():
    assert aead.seal(KEY, b"same", AD) != aead.seal(KEY, b"same", AD)


def test_wrong_key_or_ad_refused():
    sealed = aead.seal(KEY, b"secret", AD)
    with pytest.raises(IntegrityError) as ei:
        aead.open_(aead.new_key(), sealed, AD)
    assert ei.value.exit_code == ExitCode.INTEGRITY
    with pytest.raises(IntegrityError):
        aead.open_(KEY, sealed, aead.ad_for("dossier-version", "arch-1", 3, "dossier-y", 1))


@pytest.mark.parametrize("sealed", [b"", b"D1", b"XX" + b"\0" * 40, b"D1" + b"\0" * 20])
def test_malformed_refused(sealed):
    with pytest.raises(IntegrityError, match="格式损坏|认证失败"):
        aead.open_(KEY, sealed, AD)


def test_ad_is_unambiguous():
    # length-prefixed parts: moving a boundary changes the bytes
    assert aead.ad_for("ab", "c") != aead.ad_for("a", "bc")
    assert aead.ad_for(1, "2") != aead.ad_for("12")
    assert aead.ad_for(None) == aead.ad_for("") == b"\0\0\0\0"


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(max_size=300), data=st.data())
def test_any_bit_flip_detected(plain, data):
    sealed = aead.seal_envelope(KEY, plain, AD)
    assert aead.open_envelope(KEY, sealed, AD) == plain
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    damaged = bytearray(sealed)
    damaged[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(IntegrityError):
        aead.open_envelope(KEY, bytes(damaged), AD)


@settings(max_examples=30, deadline=None)
@given(plain=st.binary(min_size=1, max_size=100), cut=st.integers(1, 50))
def test_truncation_detected(plain, cut):
    sealed = aead.seal_envelope(KEY, plain, AD)
    with pytest.raises(IntegrityError):
        aead.open_envelope(KEY, sealed[:-cut], AD)


def test_envelope_binds_context():
    sealed = aead.seal_envelope(KEY, b"profile", AD)
    other = aead.ad_for("dossier-version", "arch-1", 3, "dossier-x", 2)     # another version
    with pytest.raises(IntegrityError):
        aead.open_envelope(KEY, sealed, other)
    with pytest.raises(IntegrityError):
        aead.open_envelope(aead.new_key(), sealed, AD)


def test_envelope_swapping_body_between_envelopes_fails():
    a = aead.seal_envelope(KEY, b"person A", AD)
    b = aead.seal_envelope(KEY, b"person B", AD)
    na, nb = (int.from_bytes(x[:2], "big") for x in (a, b))
    franken = a[:2 + na] + b[2 + nb:]      # A's data key, B's body
    with pytest.raises(IntegrityError):
        aead.open_envelope(KEY, franken, AD)


def test_rewrap_keeps_body_and_changes_kek():
    sealed = aead.seal_envelope(KEY, b"payload", AD)
    new = aead.new_key()
    re = aead.rewrap_envelope(KEY, new, sealed, AD)
    assert aead.open_envelope(new, re, AD) == b"payload"
    with pytest.raises(IntegrityError):
        aead.open_envelope(KEY, re, AD)
    # the sealed body is untouched (version hashes cover the body only)
    n_old, n_new = int.from_bytes(sealed[:2], "big"), int.from_bytes(re[:2], "big")
    assert sealed[2 + n_old:] == re[2 + n_new:]
