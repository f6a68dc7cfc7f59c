"""Dossiers: resolving references, showing any version, history, diff, entries
(validation with nothing written), roles and scopes, tampered data refused."""

from __future__ import annotations

import pytest

from dossier.dossiers import ref_norm
from dossier.errors import ExitCode, IntegrityError, InvalidInput, NotFound, PermissionDenied

pytestmark = pytest.mark.usefixtures("core_only")

VISIT = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True,
         "content": "本人在家，情况稳定。"}


@pytest.fixture
def person(world):
    return world.add_person(world.scope_a, entries=4)


def test_resolve_by_every_kind_of_ref(world, person):
    ref, p = person
    with world.open("li") as ar:
        for r in (ref.archive_no, ref.id, p["id_number"], p["id_number"].lower(),
                  ref.archive_no.replace("·", "").replace("-", ""), f"  {ref.archive_no} "):
            assert ar.dossiers.resolve(r).id == ref.id
        with pytest.raises(NotFound):
            ar.dossiers.resolve("000000000-JD·1999-Y-001-9999")
        with pytest.raises(InvalidInput) as ei:
            ar.dossiers.resolve(p["id_number"][:6] + p["id_number"][8:17])     # 15 digits
        assert ei.value.field == "ref" and "15" in ei.value.message
        with pytest.raises(InvalidInput):
            ar.dossiers.resolve("  ")
    assert ref_norm("430405004-JD·2025-Y-001-0007") == "430405004JD2025Y0010007"


def test_show_history_versions(world, person):
    ref, p = person
    with world.open("li") as ar:
        view = ar.dossiers.show(ref.archive_no, as_of=world.today)
        d = view.to_dict()
        assert {"archive_no", "scope", "version", "profile", "entries", "labels"} <= set(d)
        assert d["version"] == 5 and d["scope"] == world.scope_a and d["profile"]["name"] == p["name"]
        assert len(d["entries"]) == 4 and all({"type", "date", "id", "author", "recorded_at"} <= set(e)
                                              for e in d["entries"])
        hist = ar.dossiers.history(ref.archive_no)
        assert [h["version"] for h in hist] == [1, 2, 3, 4, 5]
        assert all(h["author"] == "li" and h["time"] and h["message"] for h in hist)
        assert hist[0]["message"] == "建档"
        v1 = ar.dossiers.show(ref.archive_no, version=1)
        assert v1.version == 1 and v1.head == 5 and v1.entries == []
        for bad in (0, 6, -1):
            with pytest.raises(NotFound):
                ar.dossiers.show(ref.archive_no, version=bad)


def test_diff(world, person):
    ref, _ = person
    with world.open("li") as ar:
        ar.persons.update(ref.archive_no, {"phone": "13900001234"}, today=world.today)
        d = ar.dossiers.diff(ref.archive_no, 5, 6)
        assert d["from"] == 5 and d["to"] == 6
        assert [(c["kind"], c["field"], c["label"], c["new"]) for c in d["changes"]] == [
            ("changed", "phone", "联系电话", "13900001234")]
        d = ar.dossiers.diff(ref.archive_no, 1, 3)
        assert [c["kind"] for c in d["changes"]] == ["added", "added"]
        assert all(c["section"] == "entries" for c in d["changes"])
        assert ar.dossiers.diff(ref.archive_no, 2, 2)["changes"] == []


def test_labels_as_of(world):
    # 吸毒未成瘾: 戒断三年 counts from the 查获 that put the person under control
    ref, p = world.add_person(world.scope_a, addiction="未成瘾", first_seized_date="2021-03-01")
    with world.open("li") as ar:
        ar.entries.add(ref.archive_no, "drug_event", {"date": "2021-03-01", "event_type": "查获",
                                                      "handling": "行政拘留"}, today=world.today)
        assert "戒断三年未复吸" in ar.dossiers.show(ref.archive_no, as_of=world.today).labels
        assert "戒断三年未复吸" not in ar.dossiers.show(ref.archive_no, as_of=__import__("datetime").date(2023, 3, 1)).labels


@pytest.mark.parametrize("type_name, data, field", [
    ("bogus", VISIT, "type"),
    ("interview", {**VISIT, "date": "2023-02-30"}, "date"),
    ("interview", {**VISIT, "date": "2025-06-02"}, "date"),          # after today
    ("test", {"date": "2025-05-01", "result": "不知道"}, "result"),
    ("status", {"axis": "measure", "status": "社区戒毒", "start": "2025-05-01", "end": "2025-04-01"}, "end"),
])
def test_invalid_entry_refused_nothing_written(world, person, snap, type_name, data, field):
    ref, _ = person
    before = snap(world.path)
    with world.open("li") as ar:
        with pytest.raises(InvalidInput) as ei:
            ar.entries.add(ref.archive_no, type_name, data, today=world.today)
    assert ei.value.field == field and field in ei.value.message
    assert ei.value.exit_code == ExitCode.INVALID
    assert snap(world.path) == before


def test_cross_entry_rules_refused(world, snap):
    ref, _ = world.add_person(world.scope_a)
    with world.open("li") as ar:
        ar.entries.add(ref.archive_no, "status", {"axis": "presence", "status": "死亡", "start": "2025-01-10"},
                       today=world.today)
    before = snap(world.path)
    with world.open("li") as ar:
        with pytest.raises(InvalidInput):      # death is terminal
            ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
        assert ar.dossiers.show(ref.archive_no).head == 2
    assert snap(world.path) == before


def test_entry_aliases(world, person):
    ref, _ = person
    with world.open("li") as ar:
        e = ar.entries.add(ref.archive_no, "见面核查", VISIT, today=world.today)
        assert e["type"] == "interview" and e["version"] == 6 and e["author"] == "li"


@pytest.mark.parametrize("user, action", [("wang", "show"), ("wang", "add"), ("wang", "history"),
                                          ("qian", "show"), ("zhao", "add")])
def test_refused_by_scope_or_role(world, person, snap, user, action):
    ref, _ = person
    before = snap(world.path)
    with world.open(user) as ar:
        with pytest.raises(PermissionDenied) as ei:
            if action == "show":
                ar.dossiers.show(ref.archive_no)
            elif action == "history":
                ar.dossiers.history(ref.archive_no)
            else:
                ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
    assert ei.value.exit_code == ExitCode.PERMISSION
    assert snap(world.path) == before


def test_approver_reads_whole_street(world, person):
    ref, _ = person
    rb, _ = world.add_person(world.scope_b)
    with world.open("zhao") as ar:
        assert ar.dossiers.show(ref.archive_no).version == 5
        assert ar.dossiers.show(rb.archive_no).version == 1


def test_show_refuses_tampered_version(world, person):
    ref, _ = person
    with world.open("admin") as ar:
        row = ar.con.execute("SELECT content FROM versions WHERE dossier=? AND version=3", (ref.id,)).fetchone()
        c = bytearray(row[0])
        c[-5] ^= 0x01
        ar.con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=3", (bytes(c), ref.id))
    with world.open("li") as ar:
        with pytest.raises(IntegrityError) as ei:
            ar.dossiers.show(ref.archive_no, version=3)
        assert ref.archive_no in ei.value.message and "第 3 版" in ei.value.message
        assert ei.value.exit_code == ExitCode.INTEGRITY
        assert ar.dossiers.show(ref.archive_no, version=2).version == 2      # others still readable
        with pytest.raises(IntegrityError):
            ar.dossiers.history(ref.archive_no)


def test_no_new_version_on_top_of_a_damaged_head(world, person):
    ref, _ = person
    with world.open("admin") as ar:
        ar.con.execute("UPDATE versions SET signature=? WHERE dossier=? AND version=5", (b"\0" * 64, ref.id))
    with world.open("li") as ar:
        with pytest.raises(IntegrityError, match="签名"):
            ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
        assert ar.con.execute("SELECT head FROM dossiers WHERE id=?", (ref.id,)).fetchone()[0] == 5


def test_versions_contiguous_and_chained(world, person):
    ref, _ = person
    with world.open("admin") as ar:
        rows = ar.con.execute("SELECT version, parent_hash, hash FROM versions WHERE dossier=? ORDER BY version",
                              (ref.id,)).fetchall()
        assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0][1] == b"\0" * 32
        assert all(rows[i][1] == rows[i - 1][2] for i in range(1, 5))


def test_clerk_holds_no_key_that_decrypts_another_scope(world):
    """Exit 13 is not just an ``if``: every wrapped key row in the archive is tried
    with clerk A's private key, and whatever it unwraps fails on B's versions."""
    from dossier.crypto import aead
    from dossier.crypto.keyring import archive_key_context, scope_key_context
    from dossier.versions import VersionRow, content_ad
    rb, _ = world.add_person(world.scope_b, entries=2)
    world.add_person(world.scope_a)
    with world.open("li") as ar:
        with pytest.raises(PermissionDenied):
            ar.dossiers.show(rb.archive_no)
        mine = ar.keys
        a, b = ar.scopes.id_of(world.scope_a), ar.scopes.id_of(world.scope_b)
        got = []
        rows = ar.con.execute("SELECT scope, kind, key_version, user, wrapped FROM scope_keys").fetchall()
        assert len(rows) > 10
        for scope, kind, kv, user, wrapped in rows:
            for ctx_scope in {scope, b}:          # also pretend any row belongs to B
                try:
                    got.append((scope, mine.unwrap(wrapped, scope_key_context(ar.archive_id, ctx_scope, kind, kv))))
                except IntegrityError:
                    pass
        for kind, user, wrapped in ar.con.execute("SELECT kind, user, wrapped FROM archive_keys"):
            try:
                got.append(("archive", mine.unwrap(wrapped, archive_key_context(ar.archive_id, kind))))
            except IntegrityError:
                pass
        assert got and {s for s, _ in got} <= {a, "archive"}
        versions = [VersionRow.from_row(r) for r in ar.con.execute("SELECT * FROM versions WHERE dossier=?",
                                                                   (rb.id,))]
        assert len(versions) == 3
        for v in versions:
            for _, key in got:
                with pytest.raises(IntegrityError):
                    aead.open_envelope(key, v.content, content_ad(ar.archive_id, b, rb.id, v.version))
