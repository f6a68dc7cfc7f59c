"""A segment written by ``SegmentBuilder`` is the segment Whoosh's own writer
writes from the same documents: every term, posting, length, stored field and
column compared through Whoosh's reader."""

from __future__ import annotations

import pytest

from dossier.crypto.aead import new_key
from dossier.index.documents import clerk_doc, inspect_doc
from dossier.index.segments import SegmentBuilder
from dossier.index.storage import EncryptedStorage
from dossier.index.whoosh_backend import WhooshIndex, _codec, schema_for, to_fields

from index_corpus import SCOPE, TODAY, make_states


def _docs(kind: str, n: int = 120) -> list[dict]:
    persons = make_states(n, seed=21)
    bk = b"b" * 32
    if kind == "clerk":
        docs = [clerk_doc(p["id"], p["archive_no"], SCOPE, 1 + i % 3, p, TODAY) for i, p in enumerate(persons)]
        # awkward values: spaced and full-width text, a middle dot, repeats, ASCII runs, empty lines
        odd = dict(docs[0], id="odd-1", name=["买买提·艾力 ", " 张 三"], labels=[" 戒断三年未复吸 ", "重点"],
                   status=["社区戒毒", "社区戒毒"], addr=["幸福路１２号 幸福路12号", "", "A栋B座 3-2-101"],
                   text=["冷链仓库冷链仓库。冷链", "ABC def 123", "\n"], scope_terms=[" 苗圃社区", "苗圃社区"])
        return docs + [odd]
    return [inspect_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY, bk) for p in persons]


def _whoosh_reader(tmp_path, kind, docs, key):
    st = EncryptedStorage(tmp_path / "whoosh", key, ("t", kind), durable=False).create()
    ix = st.create_index(schema_for(kind))
    w = ix.writer(codec=_codec())
    for d in docs:
        w.add_document(**to_fields(kind, d))
    w.commit(merge=False)
    return ix.reader()


def _ours_reader(tmp_path, kind, docs, key):
    ix = WhooshIndex(tmp_path / "ours", kind, key, ("t",), blind_key=b"b" * 32, durable=False)
    b = SegmentBuilder(tmp_path / "part", kind, key, ix._context)
    for d in docs:
        b.add(d)
    assert ix.adopt([(str(b.dir), b.finish())])
    return ix.searcher().reader()


def _dump(reader, schema) -> dict:
    out = {"doc_count": reader.doc_count_all(), "terms": [], "stored": [], "lengths": {}, "columns": {}}
    for fieldname, tbytes in reader.all_terms():
        ti = reader.term_info(fieldname, tbytes)
        m = reader.postings(fieldname, tbytes)
        postings = []
        while m.is_active():
            postings.append((m.id(), m.weight(), m.value()))
            m.next()
        out["terms"].append((fieldname, tbytes, ti.weight(), ti.doc_frequency(), ti.min_length(),
                             ti.max_length(), ti.max_weight(), ti.min_id(), ti.max_id(), postings))
    for docnum in range(reader.doc_count_all()):
        out["stored"].append(reader.stored_fields(docnum))
    for name in schema.names():
        if schema[name].scorable:
            out["lengths"][name] = ([reader.doc_field_length(d, name) for d in range(reader.doc_count_all())],
                                    reader.field_length(name), reader.min_field_length(name),
                                    reader.max_field_length(name))
        if schema[name].column_type and reader.has_column(name):
            out["columns"][name] = list(reader.column_reader(name, translate=False))
    return out


@pytest.mark.parametrize("kind", ["clerk", "inspect"])
def test_same_segment_as_whooshs_writer(tmp_path, kind):
    docs = _docs(kind)
    key = new_key()
    schema = schema_for(kind)
    want = _dump(_whoosh_reader(tmp_path, kind, docs, key), schema)
    got = _dump(_ours_reader(tmp_path, kind, docs, key), schema)
    assert len(want["terms"]) > 1000 and want["doc_count"] == len(docs)
    assert kind != "clerk" or any(t[0] == "name" and t[1] == "艾".encode() for t in want["terms"])
    assert got["doc_count"] == want["doc_count"]
    assert got["lengths"] == want["lengths"]
    assert got["columns"] == want["columns"]
    assert got["stored"] == want["stored"]
    assert got["terms"] == want["terms"]


def test_after_a_failed_document_the_segment_can_only_be_cancelled(tmp_path):
    docs = _docs("clerk", 5)
    b = SegmentBuilder(tmp_path / "part", "clerk", new_key(), ("t", "clerk"))
    b.add(docs[0])
    with pytest.raises(Exception):
        b.add({**docs[1], "version": "不是数字"})
    with pytest.raises(RuntimeError):
        b.finish()
    b.cancel()
    assert not (tmp_path / "part").exists()


def test_cancel_removes_the_share(tmp_path):
    b = SegmentBuilder(tmp_path / "part", "clerk", new_key(), ("t",))
    b.add(_docs("clerk", 2)[0])
    b.cancel()
    assert not (tmp_path / "part").exists()


def test_segments_of_the_plain_w3_codec_and_ours_read_side_by_side(tmp_path):
    """Indexes written before ``DossierCodec`` (plain W3) keep working and take new segments."""
    from whoosh.codec.whoosh3 import W3Codec

    from dossier.index.query import parse

    docs = _docs("clerk", 40)
    ix = WhooshIndex(tmp_path / "ix", "clerk", new_key(), ("t",), durable=False)
    ix.storage.create()
    w = ix.storage.create_index(schema_for("clerk")).writer(codec=W3Codec())
    for d in docs[:20]:
        w.add_document(**to_fields("clerk", d))
    w.commit()
    ix.upsert(docs[20:])                                   # a second segment, our codec
    ix.close()
    again = WhooshIndex(tmp_path / "ix", "clerk", ix._key, ("t",), durable=False)
    found = {h.id for h in again.search(parse("scope:苗圃社区"), 100)}
    assert found == {d["id"] for d in docs}
    for d in (docs[0], docs[30]):
        assert d["id"] in {h.id for h in again.search(parse(d["id_full"][0]), 5)}
    codecs = sorted(type(seg.codec()).__name__ for seg in again._ix._read_toc().segments)
    assert codecs == ["DossierCodec", "W3Codec"]


def test_a_document_added_again_replaces_the_earlier_without_a_hole(tmp_path):
    """A dossier changed twice in one batch: the segment holds its last document only,
    exactly as if the earlier one had never been added."""
    docs = _docs("clerk", 60)
    again = [dict(d, version=d["version"] + 1, addr=[*d["addr"], "梧桐巷77号"]) for d in docs[:10]]
    key = new_key()
    schema = schema_for("clerk")
    want = _dump(_whoosh_reader(tmp_path, "clerk", docs[10:] + again, key), schema)
    got = _dump(_ours_reader(tmp_path, "clerk", docs + again, key), schema)
    assert got["doc_count"] == want["doc_count"] == len(docs)
    assert got == want
