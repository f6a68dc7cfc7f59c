"""The encrypting storage: nothing readable on disk, tampering detected,
no plaintext scratch files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dossier.crypto.aead import new_key
from dossier.errors import IntegrityError
from dossier.index.documents import clerk_doc
from dossier.index.query import parse
from dossier.index.storage import EncryptedStorage
from dossier.index.whoosh_backend import WhooshIndex, _codec, schema_for, to_fields

from index_corpus import SCOPE, TODAY, make_states

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "gb18030")


def _needles(persons):
    out = set()
    for p in persons:
        prof = p["profile"]
        out.update([prof["name"], prof["id_number"], prof["id_number"][-6:], prof["phone"],
                    prof["residence_address"], prof["hukou_address"]])
        for e in p["entries"]:
            for k in ("content", "findings", "rationale"):
                if e.get(k):
                    out.add(e[k])
    out.update(["社区", "苗圃", "冰毒", "阴性", "戒断"])
    return {n for n in out if len(n) >= 2}


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() + p.name.encode() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_plaintext_in_index_files(whoosh_corpus):
    blob = _all_bytes(whoosh_corpus.root)
    assert blob
    # an encoding shorter than 6 bytes (a 2-character name in UTF-16 or GB18030: 4 bytes) turns up
    # in megabytes of ciphertext by chance (≈ size / 2^32 per needle); those names are still
    # searched for in UTF-8 (6 bytes)
    found = [(n, enc) for n in _needles(whoosh_corpus.persons[:200]) for enc in ENCODINGS
             if len(n.encode(enc)) >= 6 and n.encode(enc) in blob]
    assert not found, found[:5]
    # and Whoosh's own markers are not visible either (every file is sealed)
    for marker in (b"MAIN_", b"whoosh", b"dossier.index"):
        assert marker not in b"".join(p.read_bytes() for p in whoosh_corpus.root.rglob("*.enc"))


def test_no_scratch_files_outside_the_index(tmp_path, monkeypatch):
    """Whoosh's posting pools would spill plaintext into TMPDIR; ours stay in memory."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    persons = make_states(300, seed=9)
    docs = [clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons]
    ix = WhooshIndex(tmp_path / "ix" / "clerk", "clerk", new_key(), ("t",), durable=False)
    ix.rebuild(docs[:100])
    ix.upsert(docs[100:])               # Whoosh's own writer, with its posting pool
    # limitmb=1: the posting pool spills sorted runs to its scratch storage many times
    st = EncryptedStorage(tmp_path / "raw", new_key(), ("t",), durable=False).create()
    w = st.create_index(schema_for("clerk")).writer(limitmb=1, codec=_codec())
    for d in docs:
        w.add_document(**to_fields("clerk", d))
    w.commit()
    assert list(scratch.rglob("*")) == []
    assert len(ix.search(parse("社区"), 1000)) == 300
    assert {p.suffix for p in (tmp_path / "ix" / "clerk").iterdir()} == {".enc"}


@pytest.fixture
def one(tmp_path):
    persons = make_states(20, seed=11)
    key = new_key()
    ix = WhooshIndex(tmp_path / "ix" / "clerk", "clerk", key, ("archive", "1", "k1"), durable=False)
    ix.rebuild([clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons])
    return ix, key, persons


def test_wrong_key_or_context_cannot_open(one):
    ix, key, persons = one
    other = WhooshIndex(ix.path, "clerk", new_key(), ("archive", "1", "k1"))
    with pytest.raises(IntegrityError):
        other.search(parse("社区"), 5)
    moved = WhooshIndex(ix.path, "clerk", key, ("archive", "2", "k1"))   # another scope's directory
    with pytest.raises(IntegrityError):
        moved.search(parse("社区"), 5)


def test_flipped_bit_is_detected(one):
    ix, key, persons = one
    seg = next(p for p in ix.path.iterdir() if p.name.endswith(".seg.enc"))
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x01
    seg.write_bytes(bytes(data))
    fresh = WhooshIndex(ix.path, "clerk", key, ("archive", "1", "k1"))
    with pytest.raises(IntegrityError, match="rebuild"):
        fresh.search(parse(persons[0]["profile"]["name"]), 5)


def test_renamed_file_is_detected(one):
    ix, key, persons = one
    toc = next(p for p in ix.path.iterdir() if p.name.endswith(".toc.enc"))
    os.replace(toc, toc.with_name("_MAIN_7.toc.enc"))
    with pytest.raises(IntegrityError):
        WhooshIndex(ix.path, "clerk", key, ("archive", "1", "k1")).search(parse("社区"), 5)


def test_incremental_update_and_reopen(one):
    ix, key, persons = one
    p = dict(persons[0])
    p["profile"] = {**p["profile"], "name": "司马新名"}
    ix.upsert([clerk_doc(p["id"], p["archive_no"], SCOPE, 2, p, TODAY)])
    ix.delete([persons[1]["id"]])
    reopened = WhooshIndex(ix.path, "clerk", key, ("archive", "1", "k1"))
    assert [h.id for h in reopened.search(parse("司马新名"), 5)] == [p["id"]]
    assert persons[1]["id"] not in reopened.indexed_versions()
    assert reopened.indexed_versions()[p["id"]] == 2
    assert reopened.fingerprint() == (19, 20)
    # a second process's commit is seen by an index object opened before it
    ix.upsert([clerk_doc(persons[2]["id"], persons[2]["archive_no"], SCOPE, 3, persons[2], TODAY)])
    assert reopened.indexed_versions()[persons[2]["id"]] == 3


def test_rebuild_equals_fresh_build(one, tmp_path):
    ix, key, persons = one
    docs = [clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons]
    ix.upsert(docs[:5])                     # incremental history: several segments, deletions
    ix.rebuild(docs)
    fresh = WhooshIndex(tmp_path / "fresh" / "clerk", "clerk", new_key(), ("x",), durable=False)
    fresh.rebuild(docs)
    for q in ["社区", "冰毒", persons[3]["profile"]["name"][:2], persons[4]["profile"]["phone"][-4:], "status:社区戒毒"]:
        a = [(h.id, round(h.score, 6)) for h in ix.search(parse(q), 50)]
        b = [(h.id, round(h.score, 6)) for h in fresh.search(parse(q), 50)]
        assert a == b, q
    assert not any(p.name.startswith(".clerk.") and p.is_dir() for p in ix.path.parent.iterdir())
