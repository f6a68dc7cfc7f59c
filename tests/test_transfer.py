"""Transfer bundles between two archives (issue 13), through the real executable.

Archive A is the ``world`` (粤汉街道); archive B (蒸湘区禁毒办) is a second archive
with its own keys. Persons are built in A with entries and an attachment, sent
with ``transfer export``, inspected with ``transfer show`` and received with
``transfer import``; every version must read the same on both sides.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import dossier
from tests.conftest import snapshot, store_connection

B_ADMIN, B_PASS = "boss", "boss-pass-0001"
B_SCOPE = "蒸湘区/联合街道/华新社区"
CHECKED_KEYS = ("profile", "entries", "attachments", "documents", "version", "author", "time", "message",
                "labels", "alerts")


def _png(color=(200, 30, 30)) -> bytes:
    from PIL import Image

    b = io.BytesIO()
    Image.new("RGB", (24, 24), color).save(b, "PNG")
    return b.getvalue()


def make_b(path: Path, name: str = "蒸湘区禁毒办") -> dict:
    dossier.init_archive(path, name=name, admin=B_ADMIN, password=B_PASS)
    with dossier.open_archive(path, user=B_ADMIN, password=B_PASS) as ar:
        ar.scopes.add(B_SCOPE)
    return {"path": path}


def env_b(path: Path, world) -> dict:
    env = world.env(None)
    env.update(DOSSIER_ARCHIVE=str(path), DOSSIER_USER=B_ADMIN, DOSSIER_PASSWORD=B_PASS)
    return env


def js(r):
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def two(world, tmp_path, run_dossier):
    """A (world) with two persons (entries, an attachment), B with its transfer key file."""
    from dossier.forms.service import attach

    refs = []
    for _ in range(2):
        ref, p = world.add_person(entries=4)
        refs.append((ref, p))
    with world.open() as ar:
        attach(ar, refs[0][0].archive_no, _png(), "照片.png", title="本人照片", category="身份证明")
    bpath = tmp_path / "B"
    make_b(bpath)
    key_file = tmp_path / "B接收公钥.txt"
    out = js(run_dossier(["transfer", "key", "-o", key_file, "--json"], env=env_b(bpath, world)))
    assert key_file.read_text(encoding="utf-8").count(out["key_fingerprint"]) == 1
    return {"world": world, "refs": refs, "b": bpath, "key": key_file, "tmp": tmp_path}


def _export(run_dossier, two, *extra, refs=None, out="移交包.dtb"):
    w = two["world"]
    bundle = two["tmp"] / out
    refs = refs or [r.archive_no for r, _ in two["refs"]]
    res = run_dossier(["transfer", "export", *refs, "--to", two["key"], "--reason", "执行地变更",
                       "-o", bundle, "--json", *extra], env=w.env("admin"))
    return res, bundle


def test_round_trip_show_history_diff_equal_and_check_passes(two, run_dossier):
    w = two["world"]
    heads = {}
    for ref, _ in two["refs"]:
        heads[ref.archive_no] = js(run_dossier(["history", ref.archive_no, "--json"], env=w.env("admin")))
    res, bundle = _export(run_dossier, two, "--keep-copy")
    exp = js(res)
    assert exp["keep_copy"] is True and len(exp["persons"]) == 2
    eb = env_b(two["b"], w)

    shown = js(run_dossier(["transfer", "show", bundle, "--json"], env=eb))
    assert shown["sender"]["root_fingerprint"] == exp["from"]["root_fingerprint"]
    assert shown["for_this_archive"] is True and shown["sender_trusted"] is False
    assert shown["persons_count"] == 2
    names = {p["name"] for _, p in two["refs"]}
    assert all("*" in p["name"] and p["name"] not in names for p in shown["persons"])

    imp = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--json",
                          "--trust-fingerprint", exp["from"]["root_fingerprint"]], env=eb))
    assert not imp["already_imported"]
    mapping = {p["sender_archive_no"]: p["archive_no"] for p in imp["persons"]}
    for ref, profile in two["refs"]:
        a_no, b_no = ref.archive_no, mapping[ref.archive_no]
        sent_hist = heads[a_no]
        recv_hist = js(run_dossier(["history", b_no, "--json"], env=eb))
        assert recv_hist == sent_hist                       # every version: author, time, message, hash
        n = len(sent_hist)
        for v in range(1, n + 1):
            a = js(run_dossier(["show", a_no, "--version", v, "--json", "--as-of", "2025-06-01"], env=w.env("admin")))
            b = js(run_dossier(["show", b_no, "--version", v, "--json", "--as-of", "2025-06-01"], env=eb))
            assert {k: a.get(k) for k in CHECKED_KEYS} == {k: b.get(k) for k in CHECKED_KEYS}
        assert js(run_dossier(["diff", b_no, 1, n, "--json"], env=eb))["changes"] == \
            js(run_dossier(["diff", a_no, 1, n, "--json"], env=w.env("admin")))["changes"]
        b_head = js(run_dossier(["show", b_no, "--json"], env=eb))
        assert b_head["profile"]["id_number"] == profile["id_number"]
        assert b_head["received_from"][0]["root_fingerprint"] == exp["from"]["root_fingerprint"]
        assert b_head["received_from"][0]["versions"] == [1, n]
        # the sender's file carries the 迁出 entry, and is read-only
        a_head = js(run_dossier(["show", a_no, "--json"], env=w.env("admin")))
        moved = [e for e in a_head["entries"] if e.get("status") == "迁出"]
        assert len(moved) == 1 and moved[0]["place"] == "蒸湘区禁毒办" and "执行地变更" in moved[0]["notes"]
        assert "迁出" in a_head["profile"]["record_flags"]
        assert a_head["profile"]["name"] == profile["name"]          # --keep-copy keeps the full copy
    # the received attachment opens in B
    with dossier.open_archive(two["b"], user=B_ADMIN, password=B_PASS) as ar:
        b_no = mapping[two["refs"][0][0].archive_no]
        item = ar.dossiers.show(b_no).state["attachments"][0]
        assert ar.blobs.get(item["blob"], dossier_id=ar.dossiers.resolve(b_no).id, kind="attachment")[:8] == \
            b"\x89PNG\r\n\x1a\n"
    # new versions in B continue the chain; check passes on both sides
    b_no = mapping[two["refs"][1][0].archive_no]
    entry = two["tmp"] / "visit.json"
    entry.write_text(json.dumps({"date": "2025-06-01", "method": "敲门见人", "content": "接收后首次见面"}),
                     encoding="utf-8")
    added = js(run_dossier(["entry", "add", b_no, "--type", "见面核查", "--file", entry, "--json"], env=eb))
    assert added["version"] == len(heads[two["refs"][1][0].archive_no]) + 1
    for env in (w.env("admin"), eb):
        chk = run_dossier(["check", "--json"], env=env)
        assert chk.code == 0, chk.stdout + chk.stderr
        assert json.loads(chk.stdout)["ok"] is True
    # writes to the sender's copy are refused, naming where the file went
    a_no = two["refs"][1][0].archive_no
    r = run_dossier(["entry", "add", a_no, "--type", "见面核查", "--file", entry], env=w.env("li"))
    assert r.code == 1 and "蒸湘区禁毒办" in r.stderr and "只读副本" in r.stderr


def test_without_keep_copy_the_sender_keeps_a_masked_stub(two, run_dossier):
    w = two["world"]
    ref, profile = two["refs"][0]
    res, bundle = _export(run_dossier, two, refs=[ref.archive_no])
    js(res)
    head = js(run_dossier(["show", ref.archive_no, "--json"], env=w.env("admin")))
    assert head["profile"]["name"] != profile["name"] and "*" in head["profile"]["name"]
    assert profile["id_number"] not in json.dumps(head, ensure_ascii=False)
    assert [e["status"] for e in head["entries"]] == ["迁出"]
    assert head["attachments"] == [] and head["transferred_to"]["peer_name"] == "蒸湘区禁毒办"
    chk = run_dossier(["check", "--json"], env=w.env("admin"))
    assert chk.code == 0, chk.stdout
    lst = js(run_dossier(["person", "list", "--json"], env=w.env("admin")))
    assert any(p["archive_no"] == ref.archive_no for p in lst)
    # the earlier versions keep their signed headers (history, check) but not their content
    hist = js(run_dossier(["history", ref.archive_no, "--json"], env=w.env("admin")))
    assert len(hist) == head["version"] and all("清除" in h["message"] for h in hist[:-1])
    r = run_dossier(["show", ref.archive_no, "--version", "1", "--json"], env=w.env("admin"))
    assert r.code == 1 and "清除" in r.stderr
    with w.open() as ar:
        rid = ar.dossiers.resolve(ref.archive_no).id
        assert ar.con.execute("SELECT COUNT(*) FROM blobs WHERE dossier=?", (rid,)).fetchone()[0] == 0
        assert ar.con.execute("SELECT MAX(LENGTH(content)) FROM versions WHERE dossier=? AND version<?",
                              (rid, head["version"])).fetchone()[0] == 2
    assert w.blob_ids() == []      # the photo's file (or row, on PostgreSQL) is gone
    letter = two["tmp"] / "移交函.docx"
    r = run_dossier(["form", "fill", "双向管控函", ref.archive_no, "-o", letter], env=w.env("admin"))
    assert r.code == 0, r.stderr
    text = _docx_text(letter)
    assert "蒸湘区禁毒办" in text and "执行地变更" in text and "只保留脱敏存根" in text
    assert profile["name"] not in text and profile["id_number"] not in text
    r = run_dossier(["transfer", "export", ref.archive_no, "--to", two["key"], "--reason", "再次", "-o",
                     two["tmp"] / "again.dtb"], env=w.env("admin"))
    assert r.code == 1 and "脱敏存根" in r.stderr and not (two["tmp"] / "again.dtb").exists()


def test_refusals_write_nothing(two, run_dossier, tmp_path):
    w = two["world"]
    res, bundle = _export(run_dossier, two)
    exp = js(res)
    fp = exp["from"]["root_fingerprint"]
    eb = env_b(two["b"], w)
    data = bundle.read_bytes()
    before = snapshot(two["b"])

    # a sender nobody trusts: exit 20, the fingerprint is shown
    r = run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE], env=eb)
    assert r.code == 20 and fp in r.stderr
    assert snapshot(two["b"]) == before
    # a wrong confirmed fingerprint
    r = run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", "AAAA-BBBB-CCCC-DDDD"],
                    env=eb)
    assert r.code == 20 and snapshot(two["b"]) == before
    # one flipped byte anywhere: in the header, the sealed payload, the signature
    for pos in (5, 30, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        p = tmp_path / f"bad{pos}.dtb"
        p.write_bytes(bytes(bad))
        r = run_dossier(["transfer", "import", p, "--scope", B_SCOPE, "--trust-fingerprint", fp], env=eb)
        assert r.code == 20, (pos, r.stdout, r.stderr)
        assert snapshot(two["b"]) == before, pos
    # a bundle for another archive: a third archive C refuses it
    cpath = tmp_path / "C"
    make_b(cpath, name="石鼓区禁毒办")
    ec = env_b(cpath, w)
    js(run_dossier(["transfer", "key", "--json"], env=ec))
    c_before = snapshot(cpath)
    r = run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", fp], env=ec)
    assert r.code == 20 and "另一档案库" in r.stderr
    assert snapshot(cpath) == c_before
    shown = js(run_dossier(["transfer", "show", bundle, "--json"], env=ec))
    assert shown["for_this_archive"] is False and shown["persons"] is None

    # the good import, then the same bundle again changes nothing
    js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", fp, "--json"], env=eb))
    after = snapshot(two["b"])
    again = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--json"], env=eb))
    assert again["already_imported"] is True
    assert snapshot(two["b"]) == after


def test_bundle_signed_by_an_unknown_key_is_refused(two, tmp_path, run_dossier):
    """A forger re-signs an (authentic-looking) bundle with a key of its own and puts its own
    key in the header: the sender's root fingerprint changes, so an importer that trusts the
    real sender refuses it (exit 20), as it refuses a certificate not made by the root key."""
    from dossier.transfer import bundle as B
    from dossier.transfer.keys import PublicKey

    w = two["world"]
    res, path = _export(run_dossier, two)
    fp = js(res)["from"]["root_fingerprint"]
    eb = env_b(two["b"], w)
    assert run_dossier(["transfer", "trust", "add", fp, "--name", "粤汉街道"], env=eb).code == 0
    b = B.read(path.read_bytes())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dossier.crypto.keys import _pub
    from dossier.transfer.keys import cert_bytes

    root, sign = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    s = b.sender
    forged_sender = PublicKey(s.archive_id, s.name, s.root_admin, _pub(root), s.box_pub, _pub(sign),
                              root.sign(cert_bytes(s.archive_id, s.name, s.box_pub, _pub(sign))))
    header = {**b.header, "sender": forged_sender.to_dict()}
    import hashlib
    import struct
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    head = B.MAGIC + struct.pack(">I", len(hb)) + hb
    body = head + b.sealed          # (the payload's AD no longer matches either)
    forged = body + sign.sign(B.SIG_CONTEXT + hashlib.sha256(body).digest())
    p = tmp_path / "forged.dtb"
    p.write_bytes(forged)
    before = snapshot(two["b"])
    r = run_dossier(["transfer", "import", p, "--scope", B_SCOPE], env=eb)
    assert r.code == 20 and forged_sender.root_fingerprint in r.stderr
    # keeping the real root key but a transfer key it never certified
    header = {**b.header, "sender": {**b.header["sender"], "sign_pub": _pub(sign).hex()}}
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    head = B.MAGIC + struct.pack(">I", len(hb)) + hb
    body = head + b.sealed
    p.write_bytes(body + sign.sign(B.SIG_CONTEXT + hashlib.sha256(body).digest()))
    r = run_dossier(["transfer", "import", p, "--scope", B_SCOPE], env=eb)
    assert r.code == 20 and "证书" in r.stderr
    assert snapshot(two["b"]) == before


def test_person_already_here_is_refused_naming_the_existing_file(two, run_dossier):
    w = two["world"]
    ref, profile = two["refs"][0]
    with dossier.open_archive(two["b"], user=B_ADMIN, password=B_PASS) as ar:
        existing = ar.persons.add(B_SCOPE, profile, today=w.today)
    res, bundle = _export(run_dossier, two)
    fp = js(res)["from"]["root_fingerprint"]
    eb = env_b(two["b"], w)
    before = snapshot(two["b"])
    r = run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", fp], env=eb)
    assert r.code == 1 and existing.archive_no in r.stderr
    assert snapshot(two["b"]) == before


def test_no_known_value_in_plaintext_in_the_bundle(two, run_dossier):
    needles = set()
    for ref, p in two["refs"]:
        needles.update(v for k, v in p.items() if isinstance(v, str) and len(v) >= 2)
        needles.update([p["id_number"], p["id_number"][-6:], ref.archive_no, "苗圃社区", "珠晖区"])
    with two["world"].open() as ar:
        for ref, _ in two["refs"]:
            for e in ar.dossiers.show(ref.archive_no).entries:
                needles.update(str(v) for k, v in e.items() if isinstance(v, str) and len(v) >= 4
                               and k not in ("id", "date", "recorded_at", "author", "type"))
    res, bundle = _export(run_dossier, two)
    js(res)
    data = bundle.read_bytes()
    found = []
    for s in needles:
        for enc in ("utf-8", "utf-16-le", "utf-16-be", "gb18030"):
            try:
                b = s.encode(enc)
            except UnicodeEncodeError:
                continue
            # under 6 bytes (a 2-character name in UTF-16/GB18030) a needle occurs in ciphertext by chance
            if len(b) >= 6 and b in data:
                found.append((s, enc))
    assert not found


def test_multi_hop_keeps_the_first_archive_signatures(two, run_dossier, tmp_path):
    """A → B → C: C verifies A's versions against A's user records (carried by B) and B's own."""
    w = two["world"]
    ref, profile = two["refs"][0]
    res, bundle = _export(run_dossier, two, refs=[ref.archive_no])
    fp_a = js(res)["from"]["root_fingerprint"]
    eb = env_b(two["b"], w)
    b_no = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", fp_a,
                           "--json"], env=eb))["persons"][0]["archive_no"]
    entry = tmp_path / "visit.json"
    entry.write_text(json.dumps({"date": "2025-06-01", "method": "敲门见人", "content": "在B见面"}), encoding="utf-8")
    js(run_dossier(["entry", "add", b_no, "--type", "见面核查", "--file", entry, "--json"], env=eb))
    cpath = tmp_path / "C"
    make_b(cpath, name="石鼓区禁毒办")
    ec = env_b(cpath, w)
    ckey = tmp_path / "C.txt"
    js(run_dossier(["transfer", "key", "-o", ckey, "--json"], env=ec))
    hist_b = js(run_dossier(["history", b_no, "--json"], env=eb))
    r = run_dossier(["transfer", "export", b_no, "--to", ckey, "--reason", "出所必接", "-o", tmp_path / "bc.dtb",
                     "--json"], env=eb)
    fp_b = js(r)["from"]["root_fingerprint"]
    c = js(run_dossier(["transfer", "import", tmp_path / "bc.dtb", "--scope", B_SCOPE, "--trust-fingerprint", fp_b,
                        "--json"], env=ec))
    c_no = c["persons"][0]["archive_no"]
    assert js(run_dossier(["history", c_no, "--json"], env=ec)) == hist_b
    origins = js(run_dossier(["show", c_no, "--json"], env=ec))["received_from"][0]["origin_archives"]
    assert len(origins) == 2
    chk = run_dossier(["check", "--json"], env=ec)
    assert chk.code == 0 and json.loads(chk.stdout)["ok"], chk.stdout


def test_check_finds_a_received_version_altered_in_place(two, run_dossier):
    w = two["world"]
    res, bundle = _export(run_dossier, two)
    fp = js(res)["from"]["root_fingerprint"]
    eb = env_b(two["b"], w)
    js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint", fp, "--json"], env=eb))
    con = store_connection(two["b"])        # meta.db, or the PostgreSQL database
    con.execute("UPDATE versions SET author='boss' WHERE version=2")
    con.commit()
    con.close()
    chk = run_dossier(["check", "--json"], env=eb)
    assert chk.code == 20
    assert any("第 2 版" in p["where"] for p in json.loads(chk.stdout)["problems"])


def test_only_admins_import_and_the_key_needs_the_root_admin(two, run_dossier, world):
    r = run_dossier(["transfer", "key"], env=world.env("li"))
    assert r.code == 13
    with world.open() as ar:
        ar.users.add("admin2", role="admin", password="admin2-pass-01")
    world.passwords["admin2"] = "admin2-pass-01"
    r = run_dossier(["transfer", "key"], env=world.env("admin2"))
    assert r.code == 1 and "首位管理员" in r.stderr
    assert run_dossier(["transfer", "key"], env=world.env("admin")).code == 0
    with world.open() as ar:
        ar.users.add("admin3", role="admin", password="admin3-pass-01")
    world.passwords["admin3"] = "admin3-pass-01"
    assert run_dossier(["transfer", "key", "--json"], env=world.env("admin3")).code == 0


def _docx_text(path: Path) -> str:
    import docx

    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_transfer_letter_on_both_sides_with_paper_code(two, run_dossier):
    w = two["world"]
    ref, profile = two["refs"][0]
    res, bundle = _export(run_dossier, two, "--keep-copy", refs=[ref.archive_no])
    exp = js(res)
    eb = env_b(two["b"], w)
    imp = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint",
                          exp["from"]["root_fingerprint"], "--json"], env=eb))
    b_no = imp["persons"][0]["archive_no"]
    # sender: the letter from the 迁出 entry; the read-only copy does not keep it
    out_a = two["tmp"] / "移交函A.docx"
    r = run_dossier(["form", "fill", "移交函", ref.archive_no, "-o", out_a], env=w.env("admin"))
    assert r.code == 0, r.stderr
    text = _docx_text(out_a)
    for s in ("蒸湘区禁毒办", "粤汉街道", "执行地变更", profile["name"], profile["id_number"], exp["bundle_id"],
              exp["to"]["root_fingerprint"], exp["from"]["root_fingerprint"], "保留只读副本"):
        assert s in text, s
    assert "{{" not in text
    # receiver: from the transfer that brought the file, as a PDF with the paper verification code
    out_b = two["tmp"] / "移交函B.docx"
    r = run_dossier(["form", "fill", "移交函", b_no, "-o", out_b, "--pdf"], env=eb, timeout=180)
    assert r.code == 0, r.stderr
    text = _docx_text(out_b)
    for s in ("蒸湘区禁毒办", "粤汉街道", "执行地变更", profile["name"], ref.archive_no, exp["bundle_id"]):
        assert s in text, s
    token = _qr_token(out_b.with_suffix(".pdf"), two["tmp"])
    ok = run_dossier(["verify-paper", token, "--json"], env=eb)
    assert ok.code == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["archive_no"] == b_no


def _qr_token(pdf: Path, tmp: Path) -> str:
    """The paper verification code read from the QR in page 1's bottom-right corner."""
    import subprocess

    import zxingcpp
    from PIL import Image
    from pypdf import PdfReader

    page = PdfReader(str(pdf)).pages[0]
    w, h = float(page.cropbox.width) * 300 / 72, float(page.cropbox.height) * 300 / 72
    prefix = tmp / "qr"
    subprocess.run(["pdftoppm", "-r", "300", "-f", "1", "-l", "1", "-singlefile", "-gray", "-x", str(int(w - 1400)),
                    "-y", str(int(h - 420)), "-W", "1400", "-H", "420", "-png", str(pdf), str(prefix)],
                   check=True, capture_output=True)
    hits = [b.text for b in zxingcpp.read_barcodes(Image.open(f"{prefix}.png")) if b.text.startswith("DP1")]
    assert len(hits) == 1
    return hits[0]


def test_trusting_the_senders_key_fingerprint_from_its_key_command(two, run_dossier):
    """What the sender reads out by phone (``transfer key``: its fingerprint) is what the
    receiver puts in its trusted list; then the import needs no confirmation."""
    w = two["world"]
    res, bundle = _export(run_dossier, two)
    js(res)
    mine = js(run_dossier(["transfer", "key", "--json"], env=w.env("admin")))
    assert mine["fingerprint"] == mine["key_fingerprint"] == js(res)["from"]["fingerprint"]
    eb = env_b(two["b"], w)
    assert run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE], env=eb).code == 20
    added = run_dossier(["transfer", "trust", "add", mine["fingerprint"].replace("-", "").lower(), "--name", "粤汉街道"],
                        env=eb)
    assert added.code == 0, added.stderr
    assert js(run_dossier(["transfer", "show", bundle, "--json"], env=eb))["sender_trusted"] is True
    imp = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--json"], env=eb))
    assert len(imp["persons"]) == 2
    listed = js(run_dossier(["transfer", "trust", "list", "--json"], env=eb))
    assert [t["fingerprint"] for t in listed] == [mine["fingerprint"]]


def test_merge_keeps_both_histories(two, run_dossier):
    """``--merge``: the person is already registered here; the incoming history is kept beside
    the existing file (verified by check), the file gains the incoming entries and attachment."""
    w = two["world"]
    ref, profile = two["refs"][0]              # the one with the photo
    with dossier.open_archive(two["b"], user=B_ADMIN, password=B_PASS) as ar:
        existing = ar.persons.add(B_SCOPE, profile, today=w.today)
    sent_hist = js(run_dossier(["history", ref.archive_no, "--json"], env=w.env("admin")))
    sender_head = js(run_dossier(["show", ref.archive_no, "--json"], env=w.env("admin")))
    res, bundle = _export(run_dossier, two, "--keep-copy", refs=[ref.archive_no], out="merge.dtb")
    exp = js(res)
    eb = env_b(two["b"], w)
    imp = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--merge", "--json",
                          "--trust-fingerprint", exp["from"]["root_fingerprint"]], env=eb))
    p = imp["persons"][0]
    assert p["merged"] is True and p["archive_no"] == existing.archive_no and p["attachments"] == 1
    hist = js(run_dossier(["history", existing.archive_no, "--json"], env=eb))
    assert len(hist) == 2 and "合并" in hist[-1]["message"]          # the existing history, plus the merge
    merged = js(run_dossier(["transfer", "merged", existing.archive_no, "--json"], env=eb))
    assert merged[0]["versions"] == sent_hist                            # the incoming history, as it was
    head = js(run_dossier(["show", existing.archive_no, "--json"], env=eb))
    assert {e["id"] for e in sender_head["entries"]} <= {e["id"] for e in head["entries"]}
    assert head["merged_from"][0]["original_archive_no"] == ref.archive_no
    with dossier.open_archive(two["b"], user=B_ADMIN, password=B_PASS) as ar:
        item = ar.dossiers.show(existing.archive_no).state["attachments"][0]
        assert ar.blobs.get(item["blob"], dossier_id=existing.id, kind="attachment")[:4] == b"\x89PNG"
    chk = run_dossier(["check", "--json"], env=eb)
    assert chk.code == 0 and json.loads(chk.stdout)["ok"], chk.stdout
    # a merged history altered in place is found by check
    con = store_connection(two["b"])
    con.execute("UPDATE merged_versions SET time='2020-01-01T00:00:00+00:00' WHERE version=2")
    con.commit()
    con.close()
    chk = run_dossier(["check", "--json"], env=eb)
    assert chk.code == 20 and any("并入的历史第 2 版" in p["where"] for p in json.loads(chk.stdout)["problems"])


def test_the_servers_agenda_cache_never_answers_for_handed_over_or_received_files(two, run_dossier):
    """The 工作台's shared cache (reports/agenda.py): a file handed over leaves it (its
    derived items, names included, leave memory); a received file is read through its own
    verified path every time, never from the cache."""
    from datetime import date

    from dossier.reports.agenda import AgendaCache

    w = two["world"]
    (ref, profile), (other, _) = two["refs"]
    cache = AgendaCache()
    with w.open() as ar:
        ar.agenda_cache = cache
        first = ar.agenda(as_of=date.today(), within_days=366)
    assert len(cache) == 2 and any(i["name"] == profile["name"] for i in first.items)
    res, bundle = _export(run_dossier, two, "--keep-copy", refs=[ref.archive_no])
    exp = js(res)
    with w.open() as ar:
        ar.agenda_cache = cache
        again = ar.agenda(as_of=date.today(), within_days=366)
        del ar.agenda_cache
        plain = ar.agenda(as_of=date.today(), within_days=366)
    assert again.items == plain.items
    assert len(cache) == 1                       # only the file still here; the handed-over one left memory
    eb = env_b(two["b"], w)
    imp = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--json",
                          "--trust-fingerprint", exp["from"]["root_fingerprint"]], env=eb))
    b_cache = AgendaCache()
    with dossier.open_archive(two["b"], user=B_ADMIN, password=B_PASS) as ar:
        ar.agenda_cache = b_cache
        got = ar.agenda(as_of=date.today(), within_days=366)
        del ar.agenda_cache
        want = ar.agenda(as_of=date.today(), within_days=366)
    assert got.items == want.items and got.persons == len(imp["persons"]) == 1
    assert len(b_cache) == 0


def test_export_with_a_binary_file_as_key_is_a_clear_refusal(two, run_dossier):
    """A user who gives the wrong file (a spreadsheet, a bundle) to --to gets a Chinese message, exit 1, no traceback,
    and the sender's file is unchanged."""
    w = two["world"]
    ref = two["refs"][0][0].archive_no
    before = js(run_dossier(["history", ref, "--json"], env=w.env("admin")))
    wrong = two["tmp"] / "名册.xlsx"
    wrong.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x8d\xff\xfe binary")
    r = run_dossier(["transfer", "export", ref, "--to", wrong, "--reason", "执行地变更", "-o", two["tmp"] / "x.dtb"],
                    env=w.env("admin"))
    assert r.code == 1, (r.code, r.stderr)
    assert "Traceback" not in r.stderr and "移交公钥文件" in r.stderr
    assert not (two["tmp"] / "x.dtb").exists()
    assert js(run_dossier(["history", ref, "--json"], env=w.env("admin"))) == before


def test_received_approval_form_still_verifies_on_the_receiver(two, run_dossier):
    """The bundle carries the approvals: on the receiver `approve verify` accepts the signatures the sending
    archive's users made (certificates from the sender's CA, signers who are the sender's users)."""
    from tests.conftest import CLERK_A

    w = two["world"]
    ref = two["refs"][1][0].archive_no
    r = run_dossier(["approve", "submit", ref, "--level", "中", "--reason", "正在执行社区康复"], env=w.env(CLERK_A))
    assert r.code == 0, r.stderr
    assert run_dossier(["approve", "verify", ref], env=w.env("admin")).code == 0
    res, bundle = _export(run_dossier, two, refs=[ref])
    exp = js(res)
    eb = env_b(two["b"], w)
    got = js(run_dossier(["transfer", "import", bundle, "--scope", B_SCOPE, "--trust-fingerprint",
                          exp["from"]["root_fingerprint"], "--json"], env=eb))
    local = got["persons"][0]["archive_no"]
    r = run_dossier(["approve", "verify", local, "--json"], env=eb)
    assert r.code == 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr          # (pyhanko's path-building log is not the user's business)
    out = json.loads(r.stdout)
    assert out["ok"] is True and [s["signer"] for s in out["signatures"]] == [CLERK_A]
    # the received form is checked against this archive's record of it, not waved through
    assert out["archive_checked"] is True
    assert run_dossier(["check"], env=eb).code == 0


def test_editing_the_senders_stub_names_where_the_file_went(two, run_dossier):
    """`person edit` on the masked stub: the refusal says the file was handed over (and to whom),
    not that the masked ID number is invalid."""
    w = two["world"]
    ref = two["refs"][0][0].archive_no
    js(_export(run_dossier, two, refs=[ref])[0])
    changes = two["tmp"] / "changes.yaml"
    changes.write_text("phone: '13800000000'\n", encoding="utf-8")
    before = js(run_dossier(["history", ref, "--json"], env=w.env("admin")))
    r = run_dossier(["person", "edit", ref, "--file", changes], env=w.env("admin"))
    assert r.code == 1 and "蒸湘区禁毒办" in r.stderr and "脱敏存根" in r.stderr, r.stderr
    assert "id_number" not in r.stderr
    assert js(run_dossier(["history", ref, "--json"], env=w.env("admin"))) == before


def test_transfer_list_says_the_direction_in_chinese(two, run_dossier):
    w = two["world"]
    js(_export(run_dossier, two, refs=[two["refs"][0][0].archive_no])[0])
    r = run_dossier(["transfer", "list"], env=w.env("admin"))
    assert r.code == 0 and "移出" in r.stdout and " out " not in r.stdout
    assert js(run_dossier(["transfer", "list", "--json"], env=w.env("admin")))[0]["direction"] == "out"


def test_export_to_an_unwritable_path_changes_nothing_and_says_why(two, run_dossier):
    w = two["world"]
    ref = two["refs"][0][0].archive_no
    before = js(run_dossier(["history", ref, "--json"], env=w.env("admin")))
    blocker = two["tmp"] / "一个文件"
    blocker.write_text("x", encoding="utf-8")
    r = run_dossier(["transfer", "export", ref, "--to", two["key"], "--reason", "执行地变更",
                     "-o", blocker / "移交包.dtb"], env=w.env("admin"))
    assert r.code == 1 and "Traceback" not in r.stderr and "无法写入" in r.stderr, r.stderr
    assert js(run_dossier(["history", ref, "--json"], env=w.env("admin"))) == before
    assert js(run_dossier(["transfer", "list", "--json"], env=w.env("admin"))) == []
