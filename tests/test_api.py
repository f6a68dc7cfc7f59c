"""The archive façade: init and open, sessions and transactions, and the
properties that must hold for the whole archive — no plaintext at rest,
crash safety at every write step and under real SIGKILL, several writers at
once with nothing lost or duplicated."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import dossier
from dossier.errors import ArchiveExists, ExitCode, InvalidInput, Locked, NoArchive, WrongPassword
from dossier.model.idnumber import make_id_number
from tests.conftest import ON_PG, pg_dump

VISIT = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True,
         "content": "本人在家，情况稳定。"}


# -- init / open --------------------------------------------------------------------------

@pytest.mark.usefixtures("core_only")
class TestInitOpen:
    def test_layout_and_modes(self, world):
        names = sorted(p.name for p in world.path.iterdir())
        # on PostgreSQL the records and blobs are in the database; the directory names it
        assert names == (["archive.toml"] if ON_PG else ["archive.toml", "meta.db", "objects"])
        assert (world.path.stat().st_mode & 0o777) == 0o700
        assert ((world.path / "archive.toml").stat().st_mode & 0o777) == 0o600
        with world.open("admin") as ar:
            assert ar.name == "粤汉街道" and ar.user.role == "admin" and ar.user.role_label == "管理员"
            assert len(ar.archive_id) == 36

    def test_init_refuses_existing_and_bad_input(self, world, tmp_path):
        with pytest.raises(ArchiveExists):
            dossier.init_archive(world.path, name="x", admin="admin", password="admin-pass-0001")
        with pytest.raises(InvalidInput) as ei:
            dossier.init_archive(tmp_path / "n1", name="  ", admin="admin", password="admin-pass-0001")
        assert ei.value.field == "name"
        with pytest.raises(InvalidInput) as ei:
            dossier.init_archive(tmp_path / "n2", name="x", admin="bad admin", password="admin-pass-0001")
        assert ei.value.field == "user"

    def test_no_archive(self, tmp_path):
        with pytest.raises(NoArchive) as ei:
            dossier.open_archive(tmp_path / "none", user="admin", password="x")
        assert ei.value.exit_code == ExitCode.NO_ARCHIVE == 10
        (tmp_path / "half").mkdir()
        (tmp_path / "half" / "archive.toml").write_text("format_version = 1\n")
        with pytest.raises(NoArchive):       # archive.toml without meta.db is not an archive
            dossier.open_archive(tmp_path / "half", user="admin", password="x")

    @pytest.mark.parametrize("user, pw", [("admin", "wrong-password"), ("nobody", "admin-pass-0001"),
                                          ("li", "admin-pass-0001"), ("admin", "")])
    def test_wrong_password_or_unknown_user(self, world, snap, user, pw):
        before = snap(world.path)
        with pytest.raises(WrongPassword) as ei:
            dossier.open_archive(world.path, user=user, password=pw)
        assert ei.value.exit_code == ExitCode.WRONG_PASSWORD == 12
        assert "口令错误" in ei.value.message
        assert snap(world.path) == before

    def test_password_object_accepted(self, world):
        from dossier.config import Password
        with dossier.open_archive(world.path, user="li", password=Password(world.passwords["li"])) as ar:
            assert ar.user.name == "li"
        assert ar.con is None       # closed by the context manager

    def test_unlock_once_then_open_without_the_kdf(self, world, monkeypatch):
        """The web server unseals a user's keys at login and opens a session per
        request from them: no KDF after the first."""
        from dossier import api
        from dossier.crypto import kdf

        ref, _ = world.add_person(world.scope_a)
        unlocked = api.unlock(world.path, "li", world.passwords["li"])
        assert (unlocked.user, unlocked.role) == ("li", "clerk")
        assert "li" in repr(unlocked) and "keys" not in repr(unlocked)   # the keys never show

        def no_kdf(*a, **kw):
            raise AssertionError("the KDF ran again")

        monkeypatch.setattr(kdf, "derive", no_kdf)
        for i in range(2):
            with api.open_unlocked(world.path, unlocked) as ar:
                assert ar.user.name == "li" and ar.user.scopes == [world.scope_a]
                assert ar.dossiers.show(ref.archive_no).version == 1 + i
                ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
        with pytest.raises(AssertionError):       # open_archive does run it
            dossier.open_archive(world.path, user="li", password=world.passwords["li"])

    def test_revoked_user_keys_open_no_session(self, world):
        from dossier import api

        unlocked = api.unlock(world.path, "li", world.passwords["li"])
        with api.open_unlocked(world.path, unlocked):
            pass
        with world.open("admin") as ar:
            ar.users.revoke("li")
        for attempt in (lambda: api.open_unlocked(world.path, unlocked),
                        lambda: api.unlock(world.path, "li", world.passwords["li"])):
            with pytest.raises(WrongPassword) as ei:
                attempt()
            assert ei.value.message == "用户“li”已被停用"
            assert ei.value.exit_code == ExitCode.WRONG_PASSWORD

    def test_unlocked_keys_of_another_archive_refused(self, world, tmp_path):
        from dossier import api

        dossier.init_archive(tmp_path / "other", name="另一库", admin="admin", password=world.passwords["admin"])
        unlocked = api.unlock(tmp_path / "other", "admin", world.passwords["admin"])
        with pytest.raises(WrongPassword):
            api.open_unlocked(world.path, unlocked)

    @pytest.mark.parametrize("user, pw", [("admin", "wrong-password"), ("nobody", "admin-pass-0001")])
    def test_unlock_same_answer_for_unknown_user_and_wrong_password(self, world, snap, user, pw):
        from dossier import api

        before = snap(world.path)
        with pytest.raises(WrongPassword) as ei:
            api.unlock(world.path, user, pw)
        assert ei.value.message == f"用户“{user}”不存在或口令错误"
        assert ei.value.exit_code == ExitCode.WRONG_PASSWORD
        assert snap(world.path) == before

    def test_transactions_nest_and_roll_back(self, world):
        ref, _ = world.add_person(world.scope_a)
        with world.open("li") as ar:
            with pytest.raises(RuntimeError):
                with ar.batch():
                    ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
                    ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
                    raise RuntimeError("abort the batch")
            assert ar.dossiers.resolve(ref.id).head == 1
            with ar.batch():
                for _ in range(3):
                    ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
            assert ar.dossiers.resolve(ref.id).head == 4
            assert ar.check().ok

    def test_commit_hooks_run_after_commit_only(self, world):
        ref, _ = world.add_person(world.scope_a)
        seen = []
        with world.open("li") as ar:
            ar.on_commit.append(lambda s, row, version, state: seen.append((row.id, version, len(state["entries"]))))
            with pytest.raises(RuntimeError):
                with ar.batch():
                    ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
                    raise RuntimeError
            assert seen == []
            ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
        assert seen == [(ref.id, 2, 1)]

    def test_lock_timeout(self, world, snap):
        ref, _ = world.add_person(world.scope_a)
        from dossier.store import meta
        holder = world.store()
        holder.execute("BEGIN IMMEDIATE")
        try:
            with world.open("li", timeout=0.3) as ar:      # opening and reading work under a writer
                assert ar.dossiers.show(ref.archive_no).version == 1
                t = time.monotonic()
                with pytest.raises(Locked) as ei:
                    ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)
                assert time.monotonic() - t < 5
                assert ei.value.exit_code == ExitCode.LOCKED == 11
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with world.open("li", timeout=0.3) as ar:
            assert ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)["version"] == 2


# -- no plaintext at rest ---------------------------------------------------------------------

def _encodings(value: str) -> list[bytes]:
    out = []
    for enc in ("utf-8", "utf-16-le", "utf-16-be", "gb18030"):
        try:
            out.append(value.encode(enc))
        except UnicodeEncodeError:
            pass
    return out


def _find_plaintext(roots: list[Path], secrets: list[str]) -> list[str]:
    found = []
    # under 6 bytes (2 characters in UTF-16/GB18030) a needle occurs in ciphertext by chance
    needles = [(s, b) for s in secrets for b in _encodings(s) if len(b) >= 6]
    for root in roots:
        for p in root.rglob("*"):
            rel = str(p)
            for s in secrets:
                if s in rel:
                    found.append(f"file name {rel} contains {s!r}")
            if p.is_file():
                data = p.read_bytes()
                for s, b in needles:
                    if b in data:
                        found.append(f"{rel} contains {s!r}")
    return found


def test_no_plaintext_at_rest(world, tmp_path, temp_dir, run_dossier):
    """A whole workflow (library and the real CLI, search plugins on) with known
    values; none of them, in any of four encodings, in any file under the
    archive (incl. meta.db-wal/-shm while a session is open) or TMPDIR."""
    from datetime import date
    secrets = {
        "name": "诸葛明远", "alias": "阿远", "id_number": make_id_number("430405", date(1988, 7, 14), 517),
        "phone": "13912345678", "hukou_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区光明巷88号3栋402室",
        "residence_address": "湖南省衡阳市石鼓区人民路166号7栋201室", "employer": "衡阳市恒昌物流有限公司",
        "notes": "合成备注：曾在湘江北路餐馆务工，母亲长期住院",
    }
    family = {"name": "诸葛秀兰", "relation": "母亲", "phone": "13787654321"}
    visit_note = "谈话内容：本人表示近期在建设路汽修厂打工，收入稳定"
    attachment = "扫描件：诸葛明远 社区戒毒协议书 13912345678".encode()
    person = {**secrets, "first_seized_date": "2020-04-02", "drug_types": ["冰毒"], "addiction": "成瘾",
              "family_members": [family]}

    # the CLI: person add, entry add, show/history/diff/list/check
    inp = tmp_path / "input"          # the user's own input files: outside the archive and TMPDIR
    inp.mkdir()
    import json
    (inp / "person.json").write_text(json.dumps(person, ensure_ascii=False), encoding="utf-8")
    (inp / "visit.yaml").write_text(f"date: 2025-05-20\nmethod: 敲门见人\nsubject: 本人\nperson_seen: true\n"
                                    f"content: {visit_note}\n", encoding="utf-8")
    env = world.env("li")
    r = run_dossier(["person", "add", "--scope", world.scope_a, "--file", inp / "person.json", "--json"], env=env)
    assert r.code == 0, r.stderr
    r = run_dossier(["entry", "add", secrets["id_number"], "--type", "interview", "--file", inp / "visit.yaml"],
                    env=env)
    assert r.code == 0, r.stderr
    for args in (["show", secrets["id_number"], "--json"], ["history", secrets["id_number"]],
                 ["diff", secrets["id_number"], "1", "2"], ["person", "list", "--json"]):
        r = run_dossier(args, env=env)
        assert r.code == 0, r.stderr
        assert secrets["name"] in r.stdout or args[0] in ("history", "diff")     # the user does see them
    assert run_dossier(["check"], env=world.env("admin")).code == 0

    # the library, with a session left open so the WAL and shared-memory files exist
    with world.open("li") as ar:
        ref = ar.dossiers.resolve(secrets["id_number"])
        ar.blobs.put(attachment, scope=world.scope_a, dossier_id=ref.id)
        ar.persons.update(ref.id, {"phone": "13900001111", "notes": secrets["notes"] + "（复核）"},
                          today=date.today())
        ar.entries.add(ref.id, "interview", {**VISIT, "content": visit_note + "（二次）", "date": "2025-05-21"},
                       today=date.today())
        assert ar.dossiers.show(ref.id).profile["name"] == secrets["name"]
        assert ON_PG or (world.path / "meta.db-wal").exists()
        values = [*secrets.values(), family["name"], family["phone"], visit_note, "13900001111",
                  "建设路汽修厂", "光明巷88号", "恒昌物流"]
        assert _find_plaintext([world.path, temp_dir], values) == []
    assert _find_plaintext([world.path, temp_dir], values) == []
    if ON_PG:       # what the database administrator sees: a pg_dump of the whole archive
        dump = tmp_path / "dump"
        dump.mkdir()
        (dump / "archive.sql").write_bytes(pg_dump(world.path))
        assert b"COPY public.versions" in (dump / "archive.sql").read_bytes()
        assert _find_plaintext([dump], values) == []


# -- crash safety -------------------------------------------------------------------------------

WRITER = textwrap.dedent('''
    """Test child: open the archive, then add entries (and now and then an attachment) in a loop,
    reporting each commit on stdout. Killed by the parent at a crash point or by SIGKILL."""
    import os, sys, time
    from datetime import date
    import dossier
    from dossier.api import Session
    if os.environ.get("CHILD_NO_PLUGINS"):
        Session._load_plugins = lambda self: None
    path, user, pw, refs, n, tag = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5]), sys.argv[6]
    go = os.environ.get("CHILD_GO_FILE")
    with dossier.open_archive(path, user=user, password=pw) as ar:
        print("ready", flush=True)
        while go and not os.path.exists(go):
            time.sleep(0.005)
        for i in range(n):
            ref = refs[i % len(refs)]
            if os.environ.get("CHILD_BLOBS") and i % 3 == 0:
                ar.blobs.put(f"attachment {tag} {i}".encode() * 50, scope=ar.dossiers.resolve(ref).scope,
                             dossier_id=ar.dossiers.resolve(ref).id)
            e = ar.entries.add(ref, "interview", {"date": "2025-05-20", "method": "敲门见人", "subject": "本人",
                                                  "person_seen": True, "content": f"{tag}-{i}"},
                               today=date(2025, 6, 1))
            print("committed", ref, e["version"], flush=True)
''')


@pytest.fixture
def writer(tmp_path):
    p = tmp_path / "writer.py"
    p.write_text(WRITER)
    return p


def _spawn(writer, world, user, refs, n, tag, **env):
    e = world.env(None, **env)
    return subprocess.Popen([sys.executable, str(writer), str(world.path), user, world.passwords[user],
                             ",".join(refs), str(n), tag], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _versions(world) -> dict:
    con = world.store()
    try:
        return {(r[0], r[1]): (bytes(r[2]), bytes(r[3]), bytes(r[4])) for r in
                con.execute("SELECT dossier, version, hash, content, signature FROM versions")}
    finally:
        con.close()


def _assert_intact(world, before: dict, committed: list[tuple[str, int]] = ()) -> dict:
    """The archive opens, check passes, every earlier version is byte-identical,
    every reported commit is there, versions are contiguous."""
    from dossier.api import Session
    saved = Session._load_plugins
    Session._load_plugins = lambda self: None
    try:
        with world.open("admin", timeout=5) as ar:
            rep = ar.check()
            assert rep.ok, rep.problems
            for ref, version in committed:
                assert ar.dossiers.resolve(ref).head >= version
            heads = {r[0]: r[1] for r in ar.con.execute("SELECT id, head FROM dossiers")}
    finally:
        Session._load_plugins = saved
    after = _versions(world)
    for k, v in before.items():
        assert after.get(k) == v, f"version {k} changed or lost"
    for d, head in heads.items():
        assert sorted(v for (dd, v) in after if dd == d) == list(range(1, head + 1))
    return after


CRASH_POINTS = ["atomic-after-write", "atomic-after-rename", "after-version-insert", "before-commit", "after-commit"]


@pytest.mark.parametrize("point", CRASH_POINTS)
@pytest.mark.parametrize("plugins", [False, True], ids=["core", "with-plugins"])
def test_crash_points(world, writer, point, plugins):
    ref, _ = world.add_person(world.scope_a, entries=2)
    before = _versions(world)
    env = {"DOSSIER_CRASH_AT": point}
    if point.startswith("atomic-"):
        env["CHILD_BLOBS"] = "1"       # only attachments go through atomic_write
    if not plugins:
        env["CHILD_NO_PLUGINS"] = "1"
    p = _spawn(writer, world, "li", [ref.archive_no], 3, "crash", **env)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 137, (point, out, err)       # died at the crash point
    assert "committed" not in out
    after = _assert_intact(world, before)
    new = set(after) - set(before)
    # the write either happened completely (after-commit) or not at all
    assert new == ({(ref.id, 4)} if point == "after-commit" else set())
    if point == "atomic-after-rename":      # the blob file is in place; its row was never committed
        with world.open("admin") as ar:
            assert ar.con.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 0
    with world.open("li") as ar:                         # and the archive takes writes again
        assert ar.entries.add(ref.archive_no, "interview", VISIT, today=world.today)["version"] == (
            5 if point == "after-commit" else 4)
        assert ar.check().ok


COMMITTED = re.compile(r"^committed (\S+) (\d+)$", re.M)


def _kill_trials(world, writer, trials: int, seed: int, plugins: bool):
    rng = random.Random(seed)
    ra, _ = world.add_person(world.scope_a, entries=1)
    rb, _ = world.add_person(world.scope_a, entries=1)
    before = _versions(world)
    env = {"CHILD_BLOBS": "1"}
    if not plugins:
        env["CHILD_NO_PLUGINS"] = "1"
    landed = 0
    for t in range(trials):
        p = _spawn(writer, world, "li", [ra.archive_no, rb.archive_no], 100000, f"kill{t}", **env)
        assert p.stdout.readline().strip() == "ready"
        seen = [p.stdout.readline() for _ in range(rng.randrange(3))]    # 0–2 commits, then a random moment
        time.sleep(rng.uniform(0, 0.02))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        # read what is left through the same buffered reader that gave `seen` (communicate() would
        # read the raw pipe and drop what readline() had already buffered, splitting a line)
        out = p.stdout.read()
        p.stdout.close(), p.stderr.close()
        assert p.returncode == -signal.SIGKILL
        committed = [(m[1], int(m[2])) for m in COMMITTED.finditer("".join(seen) + out)]
        landed += bool(committed)
        before = _assert_intact(world, before, committed)
    assert landed >= trials // 2, "kills should land inside the writing loop"
    with world.open("li") as ar:
        assert ar.entries.add(ra.archive_no, "interview", VISIT, today=world.today)["version"] > 1


def test_sigkill_at_random_moments(world, writer):
    """≥ 30 real SIGKILLs at random moments of a writing loop (plugins off in the
    child, to spend the time on writes rather than on index start-up)."""
    _kill_trials(world, writer, trials=30, seed=1, plugins=False)


@pytest.mark.slow
@pytest.mark.parametrize("plugins", [False, True], ids=["core", "with-plugins"])
def test_sigkill_many(world, writer, plugins):
    _kill_trials(world, writer, trials=150, seed=2, plugins=plugins)


# -- several writers at once ----------------------------------------------------------------------

def _concurrent(world, writer, tmp_path, same: bool, plugins: bool, procs: int = 4, n: int = 25):
    refs = [world.add_person(world.scope_a)[0] for _ in range(1 if same else procs)]
    go = tmp_path / "go"
    env = {"CHILD_GO_FILE": str(go)}
    if not plugins:
        env["CHILD_NO_PLUGINS"] = "1"
    ps = [_spawn(writer, world, "li", [(refs[0] if same else refs[i]).archive_no], n, f"w{i}", **env)
          for i in range(procs)]
    for p in ps:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outs = [p.communicate(timeout=300) for p in ps]
    assert [p.returncode for p in ps] == [0] * procs, [o[1][-2000:] for o in outs]
    reported = [ln for o, _ in outs for ln in o.splitlines() if ln.startswith("committed")]
    assert len(reported) == procs * n
    assert len(set(reported)) == procs * n          # no version number handed out twice
    with world.open("admin") as ar:
        assert ar.check().ok
        contents = []
        for r in refs:
            view = ar.dossiers.show(r.id)
            assert view.head == 1 + (procs * n if same else n)
            contents += [e["content"] for e in view.entries]
            assert [h["version"] for h in ar.dossiers.history(r.id)] == list(range(1, view.head + 1))
    assert sorted(contents) == sorted(f"w{i}-{j}" for i in range(procs) for j in range(n))


@pytest.mark.parametrize("same", [True, False], ids=["same-dossier", "different-dossiers"])
def test_concurrent_writers(world, writer, tmp_path, same):
    _concurrent(world, writer, tmp_path, same, plugins=False)


@pytest.mark.slow
@pytest.mark.parametrize("same", [True, False], ids=["same-dossier", "different-dossiers"])
def test_concurrent_writers_with_plugins(world, writer, tmp_path, same):
    _concurrent(world, writer, tmp_path, same, plugins=True)
