"""``check`` finds every alteration: one flipped bit in any column of any
stored version or in any blob file, a version or blob moved to another
dossier (even re-hashed and re-signed by an insider), a missing version, a
forged user record. Each problem names the dossier and version."""

from __future__ import annotations

import random

import pytest

from dossier.versions import version_hash

pytestmark = pytest.mark.usefixtures("core_only")

VERSION_COLUMNS = ("content", "hash", "signature", "parent_hash", "author", "time", "key_version", "audit_head")


@pytest.fixture
def filled(world):
    """Three dossiers (two in 苗圃, one in 东风) with entries, and an attachment in two of them."""
    x, _ = world.add_person(world.scope_a, entries=3)
    y, _ = world.add_person(world.scope_a, entries=2)
    z, _ = world.add_person(world.scope_b, entries=2)
    with world.open("li") as ar:
        bx = ar.blobs.put("扫描件：测试人甲 协议书".encode(), scope=world.scope_a, dossier_id=x.id)
        by = ar.blobs.put("扫描件：测试人乙 协议书".encode(), scope=world.scope_a, dossier_id=y.id)
    return world, {"x": x, "y": y, "z": z}, {"x": bx, "y": by}


def run_check(world):
    with world.open("admin") as ar:
        return ar.check()


def flip(value, bit: int):
    if isinstance(value, int):
        return value ^ (1 << (bit % 8))
    if value is None:
        return b"\x01"
    raw = bytearray(value.encode() if isinstance(value, str) else value)
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    if isinstance(value, str):
        try:
            return raw.decode()
        except UnicodeDecodeError:      # keep it a valid string: flip in the last ASCII char instead
            return value[:-1] + chr(ord(value[-1]) ^ 1)
    return bytes(raw)


def test_clean_archive_passes(filled):
    world, d, _ = filled
    rep = run_check(world)
    assert rep.ok, rep.problems
    assert (rep.dossiers, rep.versions, rep.blobs) == (3, 4 + 3 + 3, 2)
    assert rep.decrypted == rep.versions + rep.blobs
    assert rep.to_dict()["ok"] is True


@pytest.mark.parametrize("column", VERSION_COLUMNS)
@pytest.mark.parametrize("which, version", [("x", 1), ("x", 3), ("x", 4), ("z", 2)])
def test_bit_flip_in_version_detected(filled, column, which, version):
    world, d, _ = filled
    ref = d[which]
    rng = random.Random(f"{column}{which}{version}")
    with world.open("admin") as ar:
        old = ar.con.execute(f"SELECT {column} FROM versions WHERE dossier=? AND version=?",
                             (ref.id, version)).fetchone()[0]
        nbits = 8 * len(old) if isinstance(old, (bytes, str)) else 8
        new = flip(old, rng.randrange(nbits))
        assert new != old
        ar.con.execute(f"UPDATE versions SET {column}=? WHERE dossier=? AND version=?", (new, ref.id, version))
    rep = run_check(world)
    assert not rep.ok
    mine = [p for p in rep.problems if p.get("archive_no") == ref.archive_no and p.get("version") == version]
    assert mine, rep.problems
    assert f"档案 {ref.archive_no} 第 {version} 版" in mine[0]["where"]


@pytest.mark.parametrize("seed", range(12))
def test_random_bit_in_content_detected(filled, seed):
    """Any bit of the sealed content: wrapped data key, nonce, ciphertext or tag."""
    world, d, _ = filled
    rng = random.Random(seed)
    ref = d[rng.choice("xyz")]
    with world.open("admin") as ar:
        version = rng.randint(1, ar.dossiers.resolve(ref.id).head)
        old = ar.con.execute("SELECT content FROM versions WHERE dossier=? AND version=?",
                             (ref.id, version)).fetchone()[0]
        ar.con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=?",
                       (flip(old, rng.randrange(8 * len(old))), ref.id, version))
    rep = run_check(world)
    assert any(p.get("archive_no") == ref.archive_no and p.get("version") == version for p in rep.problems)


@pytest.mark.parametrize("seed", range(6))
def test_bit_flip_in_blob_file_detected(filled, seed):
    world, _, blobs = filled
    rng = random.Random(seed)
    bid = blobs[rng.choice("xy")]
    data = bytearray(world.read_blob(bid))
    bit = rng.randrange(8 * len(data))
    data[bit // 8] ^= 1 << (bit % 8)
    world.write_blob(bid, bytes(data))
    rep = run_check(world)
    assert [q["blob"] for q in rep.problems] == [bid]
    assert "不符" in rep.problems[0]["problem"]


def test_missing_blob_file_detected(filled):
    world, _, blobs = filled
    world.delete_blob(blobs["x"])
    rep = run_check(world)
    assert [(q["blob"], q["problem"]) for q in rep.problems] == [(blobs["x"], "文件缺失")]


@pytest.mark.parametrize("column, value", [("dossier", "y"), ("kind", "document"), ("scope", "b")])
def test_blob_moved_detected(filled, column, value):
    world, d, blobs = filled
    with world.open("admin") as ar:
        new = {"y": d["y"].id, "document": "document", "b": ar.scopes.id_of(world.scope_b)}[value]
        ar.con.execute(f"UPDATE blobs SET {column}=? WHERE id=?", (new, blobs["x"]))
        with pytest.raises(Exception):        # opening it as y's attachment fails too
            ar.blobs.get(blobs["x"])
    rep = run_check(world)
    assert [q["blob"] for q in rep.problems] == [blobs["x"]]


def test_blob_file_swapped_detected(filled):
    world, _, blobs = filled
    world.write_blob(blobs["x"], world.read_blob(blobs["y"]))
    rep = run_check(world)
    assert [q["blob"] for q in rep.problems] == [blobs["x"]]


def test_version_content_moved_detected(filled):
    world, d, _ = filled
    x, y = d["x"], d["y"]
    with world.open("admin") as ar:
        content = ar.con.execute("SELECT content FROM versions WHERE dossier=? AND version=2", (x.id,)).fetchone()[0]
        ar.con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=2", (content, y.id))
    rep = run_check(world)
    assert {(p["archive_no"], p["version"]) for p in rep.problems} == {(y.archive_no, 2)}


def test_moved_content_rehashed_and_resigned_by_insider_detected(filled):
    """An insider holding the author's keys moves x's v2 content into y's v2 and
    recomputes hash and signature: the associated data still gives it away."""
    world, d, _ = filled
    x, y = d["x"], d["y"]
    with world.open("li") as ar:
        content = ar.con.execute("SELECT content FROM versions WHERE dossier=? AND version=2", (x.id,)).fetchone()[0]
        v = ar.dossiers.version_row(y.id, 2)
        h = version_hash(ar.archive_id, y.id, 2, v.parent_hash, v.author, v.time, v.key_version, content,
                         v.audit_head)
        ar.con.execute("UPDATE versions SET content=?, hash=?, signature=? WHERE dossier=? AND version=2",
                       (content, h, ar.keys.sign_bytes(h), y.id))
        if ar.dossiers.resolve(y.id).head > 2:     # keep the chain consistent too: re-link v3
            v3 = ar.dossiers.version_row(y.id, 3)
            h3 = version_hash(ar.archive_id, y.id, 3, h, v3.author, v3.time, v3.key_version, v3.content,
                              v3.audit_head)
            ar.con.execute("UPDATE versions SET parent_hash=?, hash=?, signature=? WHERE dossier=? AND version=3",
                           (h, h3, ar.keys.sign_bytes(h3), y.id))
    rep = run_check(world)
    assert {(p["archive_no"], p["version"]) for p in rep.problems} == {(y.archive_no, 2)}
    assert "认证失败" in rep.problems[0]["problem"]


def test_missing_version_detected(filled):
    world, d, _ = filled
    with world.open("admin") as ar:
        ar.con.execute("DELETE FROM versions WHERE dossier=? AND version=2", (d["x"].id,))
    rep = run_check(world)
    assert any("版本序列不完整" in p["problem"] and p["archive_no"] == d["x"].archive_no for p in rep.problems)


def test_forged_user_record_detected(filled):
    world, _, _ = filled
    with world.open("admin") as ar:
        ar.con.execute("UPDATE users SET role='admin' WHERE name='li'")
    rep = run_check(world)
    assert [p["user"] for p in rep.problems] == ["li"]


def test_swapped_user_key_detected(filled):
    """Replacing a user's public signing key (to pass off forged versions) breaks its record signature."""
    world, _, _ = filled
    from dossier.crypto.keys import UserKeys
    with world.open("admin") as ar:
        ar.con.execute("UPDATE users SET sign_pub=? WHERE name='li'", (UserKeys.generate().sign_public,))
    rep = run_check(world)
    assert any(p.get("user") == "li" for p in rep.problems)
    assert any(p.get("version") for p in rep.problems)     # li's versions no longer verify either


def test_check_by_clerk_covers_what_it_can_decrypt(filled):
    world, d, _ = filled
    with world.open("li") as ar:
        rep = ar.check()
    assert rep.ok
    assert rep.versions == 10 and rep.decrypted == 4 + 3 + 2      # x, y and both blobs; not z
