"""Content-addressed blob files under objects/."""

from __future__ import annotations

import hashlib

import pytest

from dossier.errors import IntegrityError, NotFound
from dossier.store.blobs import BlobStore


def test_put_get_idempotent(tmp_path):
    s = BlobStore(tmp_path / "objects")
    bid = s.put(b"sealed bytes", top_scope=1)
    assert bid == hashlib.sha256(b"sealed bytes").hexdigest()
    assert s.path(bid) == tmp_path / "objects" / bid[:2] / bid[2:]
    assert s.get(bid) == b"sealed bytes"
    assert s.put(b"sealed bytes", top_scope=1) == bid
    assert list(s.ids()) == [bid]


def test_damaged_or_missing(tmp_path):
    s = BlobStore(tmp_path / "objects")
    bid = s.put(b"sealed bytes", top_scope=1)
    p = s.path(bid)
    data = bytearray(p.read_bytes())
    data[3] ^= 0x10
    p.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        s.get(bid)
    p.unlink()
    with pytest.raises(NotFound):
        s.get(bid)


def test_ids_skip_temp_files(tmp_path):
    s = BlobStore(tmp_path / "objects")
    bid = s.put(b"x", top_scope=1)
    (s.path(bid).parent / ".tmpfile.123.tmp").write_bytes(b"partial")
    assert list(s.ids()) == [bid]
    assert list(BlobStore(tmp_path / "none").ids()) == []
