"""Users and the scope tree: who may add what, which keys each role gets,
revocation with key rotation, password change."""

from __future__ import annotations

import pytest

import dossier
from dossier.crypto.keyring import scope_key_context
from dossier.crypto.keys import UserKeys
from dossier.errors import (ExitCode, IntegrityError, InvalidInput, NotFound, PermissionDenied, RefusedOperation,
                            WrongPassword)
from dossier.users import normalize_scope_path

pytestmark = pytest.mark.usefixtures("core_only")


@pytest.mark.parametrize("raw, norm", [("珠晖区/粤汉街道/苗圃社区", "珠晖区/粤汉街道/苗圃社区"),
                                       (" 珠晖区 › 粤汉街道 ／苗圃社区 ", "珠晖区/粤汉街道/苗圃社区"),
                                       ("珠晖区>粤汉街道", "珠晖区/粤汉街道"), ("/珠晖区//", "珠晖区")])
def test_normalize_scope_path(raw, norm):
    assert normalize_scope_path(raw) == norm


@pytest.mark.parametrize("raw", ["", " / ", "珠晖区/" + "长" * 41])
def test_bad_scope_path(raw):
    with pytest.raises(InvalidInput) as ei:
        normalize_scope_path(raw)
    assert ei.value.field == "scope"


def test_scope_tree(world):
    with world.open("admin") as ar:
        paths = [s["path"] for s in ar.scopes.list()]
        assert paths == ["珠晖区", "珠晖区/粤汉街道", world.scope_b, world.scope_a]
        assert ar.scopes.add(world.scope_a) == []            # already there
        assert ar.scopes.add("珠晖区/东风街道/和平社区") == ["珠晖区/东风街道", "珠晖区/东风街道/和平社区"]
        assert ar.scopes.id_of("苗圃社区") == ar.scopes.id_of(world.scope_a)   # unambiguous leaf
        ar.scopes.add("珠晖区/东风街道/苗圃社区")
        with pytest.raises(NotFound):
            ar.scopes.id_of("苗圃社区")                         # now ambiguous
        with pytest.raises(NotFound):
            ar.scopes.id_of("石鼓区")
        street = ar.scopes.id_of("珠晖区/粤汉街道")
        assert {ar.scopes.path_of(s) for s in ar.scopes.subtree(street)} == {
            "珠晖区/粤汉街道", world.scope_a, world.scope_b}
        ar.scopes.add("珠晖区/粤汉街道", code="430405004")
        assert ar.scopes.get(street)["code"] == "430405004"
        with pytest.raises(InvalidInput):
            ar.scopes.add("珠晖区/粤汉街道", code="abc")


def test_only_admin_manages(world):
    with world.open("li") as ar:
        with pytest.raises(PermissionDenied) as ei:
            ar.scopes.add("珠晖区/粤汉街道/新社区")
        assert ei.value.exit_code == ExitCode.PERMISSION
        with pytest.raises(PermissionDenied):
            ar.users.add("x1", role="clerk", scopes=[world.scope_a], password="x1-pass-0001")
        with pytest.raises(PermissionDenied):
            ar.users.revoke("wang")


@pytest.mark.parametrize("kw, field", [
    (dict(name="bad name!", role="clerk", scopes=[None]), "user"),
    (dict(name="x1", role="boss", scopes=[None]), "role"),
    (dict(name="x1", role="approver", scopes=[None]), "step"),
    (dict(name="x1", role="approver", step="签字", scopes=[None]), "step"),
    (dict(name="x1", role="clerk", scopes=[]), "scope"),
    (dict(name="x1", role="clerk", scopes=[None], password="short"), "password"),
])
def test_user_add_validation(world, kw, field):
    kw = dict(kw)
    kw["scopes"] = [world.scope_a if s is None else s for s in kw["scopes"]]
    kw.setdefault("password", "x1-pass-0001")
    with world.open("admin") as ar:
        before = ar.users.list()
        with pytest.raises(InvalidInput) as ei:
            ar.users.add(kw.pop("name"), **kw)
        assert ei.value.field == field
        assert ar.users.list() == before


def test_duplicate_user_refused(world):
    with world.open("admin") as ar:
        with pytest.raises(RefusedOperation):
            ar.users.add("li", role="clerk", scopes=[world.scope_a], password="x1-pass-0001")


def test_user_list_and_session_user(world):
    with world.open("admin") as ar:
        rows = {r["name"]: r for r in ar.users.list()}
    assert rows["admin"]["scopes"] == ["*"] and rows["admin"]["role"] == "admin"
    assert rows["li"]["scopes"] == [world.scope_a]
    assert rows["zhao"]["step"] == "派出所核查" and rows["zhao"]["scopes"] == ["珠晖区/粤汉街道"]
    assert rows["qian"]["role"] == "inspector"
    assert all(r["status"] == "active" for r in rows.values())
    with world.open("zhao") as ar:
        assert ar.user.role == "approver" and ar.user.scopes == ["珠晖区/粤汉街道"]
        covered = {ar.scopes.path_of(s) for s in ar.scopes.covered()}
        assert covered == {"珠晖区/粤汉街道", world.scope_a, world.scope_b}


def test_new_scope_under_granted_parent_reaches_holders(world):
    with world.open("admin") as ar:
        ar.scopes.add("珠晖区/粤汉街道/新建社区")
    with world.open("zhao") as ar:       # approver of the whole 街道
        assert ar.keyring.holds(ar.scopes.id_of("珠晖区/粤汉街道/新建社区"), "data")
    with world.open("qian") as ar:       # inspector of the 区: inspection key only
        sid = ar.scopes.id_of("珠晖区/粤汉街道/新建社区")
        assert ar.keyring.holds(sid, "inspect") and not ar.keyring.holds(sid, "data")
    with world.open("li") as ar:         # clerk of a sibling: nothing
        assert not ar.keyring.holds(ar.scopes.id_of("珠晖区/粤汉街道/新建社区"), "inspect")


def test_passwd(world):
    with world.open("li") as ar:
        with pytest.raises(InvalidInput):
            ar.users.passwd("short")
        ar.users.passwd("li-new-pass-0002")
    with pytest.raises(WrongPassword):
        dossier.open_archive(world.path, user="li", password=world.passwords["li"])
    with dossier.open_archive(world.path, user="li", password="li-new-pass-0002") as ar:
        assert ar.keyring.holds(ar.scopes.id_of(world.scope_a))


def test_revoke_blocks_login_and_rotates_keys(world):
    ref, _ = world.add_person(world.scope_a, entries=1)
    # li keeps a copy of its private keys (as if it had copied them before being stopped)
    with world.open("li") as ar:
        stolen = ar.keys
        a = ar.scopes.id_of(world.scope_a)
        old_key = ar.scope_key(world.scope_a)
    with world.open("admin") as ar:
        with pytest.raises(RefusedOperation):
            ar.users.revoke("admin")
        with pytest.raises(NotFound):
            ar.users.revoke("nobody")
        info = ar.users.revoke("li")
        assert info["rotated_scopes"] == 1
        with pytest.raises(RefusedOperation):
            ar.users.revoke("li")
        assert {r["name"]: r["status"] for r in ar.users.list()}["li"] == "revoked"
        # no key row left for li
        assert ar.con.execute("SELECT COUNT(*) FROM scope_keys WHERE user='li'").fetchone()[0] == 0
        assert ar.con.execute("SELECT COUNT(*) FROM archive_keys WHERE user='li'").fetchone()[0] == 0
        e = ar.entries.add(ref.archive_no, "interview", {
            "date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True,
            "content": "停用后新增"}, today=world.today)
        v = ar.dossiers.version_row(ref.id, e["version"])
        assert v.key_version == 2
        wrapped_v2 = ar.con.execute("SELECT user, wrapped FROM scope_keys WHERE scope=? AND kind='data' AND "
                                    "key_version=2", (a,)).fetchall()
        assert {r[0] for r in wrapped_v2} == {"admin", "zhao"}
        new_key = ar.scope_key(world.scope_a)
        assert new_key != old_key
        assert ar.check().ok
    with pytest.raises(WrongPassword) as ei:
        world.open("li")
    assert ei.value.exit_code == ExitCode.WRONG_PASSWORD and "停用" in ei.value.message
    # li's stolen private key opens none of the rotated key rows …
    ctx = scope_key_context
    for user, wrapped in wrapped_v2:
        with pytest.raises(IntegrityError):
            stolen.unwrap(wrapped, ctx(world_archive_id(world), a, "data", 2))
    # … and its old scope key does not open the new version
    from dossier.versions import open_content
    with pytest.raises(IntegrityError):
        open_content(world_archive_id(world), a, v, old_key)


def world_archive_id(world) -> str:
    import tomllib
    return tomllib.loads((world.path / "archive.toml").read_text())["archive_id"]


def test_stolen_keys_are_useless_for_other_users(world):
    with world.open("li") as ar:
        li = ar.keys
    with world.open("admin") as ar:
        rows = ar.con.execute("SELECT scope, kind, key_version, user, wrapped FROM scope_keys WHERE user!='li'")
        for scope, kind, kv, user, wrapped in rows:
            with pytest.raises(IntegrityError):
                li.unwrap(wrapped, scope_key_context(ar.archive_id, scope, kind, kv))
    assert isinstance(li, UserKeys)
