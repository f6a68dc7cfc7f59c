"""The core commands through Click's CliRunner (in process, with the same
error-to-exit-code mapping as the real program) and through the real
executable in a subprocess (the scripting contract: exit codes, messages,
password sources)."""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dossier.model.idnumber import make_id_number

VISIT_YAML = "date: 2025-05-20\nmethod: 敲门见人\nsubject: 本人\nperson_seen: true\ncontent: 本人在家。\n"


class _Main:
    """Lets CliRunner drive ``dossier.cli.main.main`` (which maps errors to exit codes)."""

    name = "dossier"

    def main(self, args=None, prog_name=None, **extra):
        from dossier.cli.main import main

        main(list(args or ()))


@pytest.fixture
def cli(world, monkeypatch, core_only):
    runner = CliRunner(mix_stderr=False)

    def invoke(args, user="li", input=None, **env):
        e = {"DOSSIER_ARCHIVE": str(world.path)}
        if user:
            e.update(DOSSIER_USER=user, DOSSIER_PASSWORD=world.passwords[user])
        e.update(env)
        return runner.invoke(_Main(), [str(a) for a in args], env=e, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def files(tmp_path, world):
    d = tmp_path / "input"
    d.mkdir()

    def write(name: str, content) -> Path:
        p = d / name
        if isinstance(content, dict):
            content = json.dumps(content, ensure_ascii=False)
        p.write_text(content, encoding="utf-8")
        return p

    return write


@pytest.fixture
def registered(world, cli, files):
    p = world.person()
    r = cli(["person", "add", "--scope", world.scope_a, "--file", files("p.json", p), "--json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout), p


# -- CliRunner lane ------------------------------------------------------------------------------

def test_full_flow_from_init(tmp_path, monkeypatch, core_only):
    runner = CliRunner(mix_stderr=False)
    ar = tmp_path / "ar"
    (tmp_path / "li.pw").write_text("li-pass-0001\n")
    env = {"DOSSIER_ARCHIVE": str(ar), "DOSSIER_USER": "admin", "DOSSIER_PASSWORD": "admin-pass-0001"}

    def run(*args, **kw):
        r = runner.invoke(_Main(), [str(a) for a in args], env={**env, **kw}, catch_exceptions=False)
        assert r.exit_code == 0, (args, r.stdout, r.stderr)
        return r

    assert "已创建档案库" in run("init", "--name", "粤汉街道", "--admin", "admin").stdout
    assert "珠晖区/粤汉街道/苗圃社区" in run("scope", "add", "珠晖区/粤汉街道/苗圃社区").stdout
    run("scope", "add", "珠晖区/粤汉街道", "--code", "430405004")
    scopes = json.loads(run("scope", "list", "--json").stdout)
    assert [s["path"] for s in scopes] == ["珠晖区", "珠晖区/粤汉街道", "珠晖区/粤汉街道/苗圃社区"]
    run("user", "add", "li", "--role", "clerk", "--scope", "苗圃社区", "--password-file", tmp_path / "li.pw")
    users = {u["name"]: u for u in json.loads(run("user", "list", "--json").stdout)}
    assert users["li"]["role"] == "clerk" and users["li"]["scopes"] == ["珠晖区/粤汉街道/苗圃社区"]
    assert "li" in run("user", "list").stdout


def test_person_entry_show_history_diff(world, cli, files, registered):
    ref, p = registered
    assert {"archive_no", "id"} <= set(ref)
    r = cli(["entry", "add", p["id_number"], "--type", "interview", "--file", files("v.yaml", VISIT_YAML)])
    assert r.exit_code == 0 and "第 2 版" in r.stdout
    r = cli(["entry", "add", ref["archive_no"], "--type", "检测", "--json", "--file",
             files("t.yaml", "date: 2025-05-21\nsample: 尿液\nresult: 阴性\n")])
    assert r.exit_code == 0 and json.loads(r.stdout)["type"] == "test"
    show = json.loads(cli(["show", ref["archive_no"], "--json"]).stdout)
    assert {"archive_no", "scope", "version", "profile", "entries", "labels"} <= set(show)
    assert show["version"] == 3 and show["scope"] == world.scope_a and show["profile"]["name"] == p["name"]
    assert [(e["type"], e["date"]) for e in show["entries"]] == [("interview", "2025-05-20"), ("test", "2025-05-21")]
    assert isinstance(show["labels"], list)
    assert json.loads(cli(["show", ref["archive_no"], "--json", "--version", "1"]).stdout)["entries"] == []
    text = cli(["show", ref["archive_no"], "--as-of", "2025-06-01"]).stdout
    assert p["name"] in text and "派生标签（2025-06-01）" in text and "检测" in text
    hist = json.loads(cli(["history", ref["archive_no"], "--json"]).stdout)
    assert [h["version"] for h in hist] == [1, 2, 3]
    assert all({"version", "author", "time", "message"} <= set(h) for h in hist)
    r = cli(["diff", ref["archive_no"], "1", "3"])
    assert r.exit_code == 0 and "2 处变化" in r.stdout
    assert len(json.loads(cli(["diff", ref["archive_no"], "1", "3", "--json"]).stdout)["changes"]) == 2
    lst = json.loads(cli(["person", "list", "--scope", "珠晖区/粤汉街道", "--json"]).stdout)
    assert [{k: x[k] for k in ("archive_no", "name", "id_number", "scope")} for x in lst] == [
        {"archive_no": ref["archive_no"], "name": p["name"], "id_number": p["id_number"], "scope": world.scope_a}]
    r = cli(["person", "edit", ref["archive_no"], "--file", files("c.yaml", "phone: '13900001234'\n"), "-m", "改电话"])
    assert r.exit_code == 0 and "第 4 版" in r.stdout
    r = cli(["check"], user="admin")
    assert r.exit_code == 0 and "校验通过" in r.stdout
    assert json.loads(cli(["check", "--json"], user="admin").stdout)["ok"] is True


def test_show_formats_lists_and_booleans_for_people(world, cli, files, registered):
    ref, p = registered
    assert cli(["entry", "add", ref["archive_no"], "--type", "interview",
                "--file", files("v.yaml", VISIT_YAML)]).exit_code == 0
    plan = "date: 2025-05-22\nlevel: 中\nfiled_with: 街道\nmeasures: [每周见面一次, 每月尿检一次]\n"
    assert cli(["entry", "add", ref["archive_no"], "--type", "measure", "--file", files("m.yaml", plan)]).exit_code == 0
    text = cli(["show", ref["archive_no"]]).stdout
    assert "person_seen=是" in text and "measures=每周见面一次、每月尿检一次" in text, text
    assert "True" not in text and "False" not in text and "['" not in text and "{'" not in text
    # JSON keeps the stored values
    entries = json.loads(cli(["show", ref["archive_no"], "--json"]).stdout)["entries"]
    assert {"person_seen": True, "measures": ["每周见面一次", "每月尿检一次"]}.items() <= \
        {k: v for e in entries for k, v in e.items()}.items()


def test_user_list_status_in_chinese_json_unchanged(world, cli):
    assert cli(["user", "revoke", "wang"], user="admin").exit_code == 0
    text = cli(["user", "list"], user="admin").stdout
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert "已停用" in rows["wang"] and "在用" in rows["admin"], text
    assert "active" not in text and "revoked" not in text
    users = {u["name"]: u for u in json.loads(cli(["user", "list", "--json"], user="admin").stdout)}
    assert users["wang"]["status"] == "revoked" and users["admin"]["status"] == "active"
    assert "status_text" not in users["admin"]


def _bad_id() -> str:
    from datetime import date
    good = make_id_number("430405", date(1990, 1, 1), 123)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


@pytest.mark.parametrize("name, content, field", [
    ("bad-checksum.json", {"name": "测试人丙", "id_number": _bad_id()}, "id_number"),
    ("old-id.json", {"name": "测试人丙", "id_number": "430405900101123"}, "id_number"),
    ("bad-date.yaml", "name: 测试人丙\nid_number: '{id}'\nfirst_seized_date: 2023-02-30\n", "first_seized_date"),
    ("future.yaml", "name: 测试人丙\nid_number: '{id}'\nfirst_seized_date: 2099-01-01\n", "first_seized_date"),
    ("broken.json", '{"name": "测试人丙", "id_number": ', "file"),
    ("broken.yaml", "name: 测试人丙\n  id_number: [unclosed\n", "file"),
    ("list.yaml", "- a\n- b\n", "file"),
])
def test_person_add_invalid_input(world, cli, files, snap, name, content, field):
    if isinstance(content, str):
        content = content.replace("{id}", make_id_number("430405", __import__("datetime").date(1990, 1, 1), 7))
    before = snap(world.path)
    r = cli(["person", "add", "--scope", world.scope_a, "--file", files(name, content)])
    assert r.exit_code == 1, r.stdout
    assert field in r.stderr and "错误" in r.stderr
    if field == "file":
        assert name in r.stderr
    assert "Traceback" not in r.stderr
    assert snap(world.path) == before


@pytest.mark.parametrize("type_name, content, field", [
    ("bogus", VISIT_YAML, "type"),
    ("interview", VISIT_YAML.replace("2025-05-20", "2023-02-30"), "date"),
    ("interview", VISIT_YAML.replace("2025-05-20", "2099-05-20"), "date"),
    ("interview", "date: 2025-05-20\nmethod: [敲门\n", "file"),
])
def test_entry_add_invalid_input(world, cli, files, snap, registered, type_name, content, field):
    ref, _ = registered
    before = snap(world.path)
    r = cli(["entry", "add", ref["archive_no"], "--type", type_name, "--file", files("e.yaml", content)])
    assert r.exit_code == 1 and field in r.stderr
    assert snap(world.path) == before


def test_permission_denied_other_scope(world, cli, files, registered, snap):
    ref, p = registered
    before = snap(world.path)
    for args in (["show", ref["archive_no"]], ["history", p["id_number"]],
                 ["entry", "add", ref["archive_no"], "--type", "interview", "--file", files("v.yaml", VISIT_YAML)],
                 ["person", "add", "--scope", world.scope_a, "--file", files("q.json", world.person())]):
        r = cli(args, user="wang")
        assert r.exit_code == 13, (args, r.stderr)
        assert "无权" in r.stderr
    assert cli(["scope", "add", "珠晖区/新街道"], user="li").exit_code == 13
    assert cli(["show", ref["archive_no"]], user="qian").exit_code == 13
    assert snap(world.path) == before


def test_check_exit_20_names_damage(world, cli, registered):
    ref, _ = registered
    with world.open("admin") as ar:
        c = bytearray(ar.con.execute("SELECT content FROM versions WHERE dossier=?", (ref["id"],)).fetchone()[0])
        c[40] ^= 4
        ar.con.execute("UPDATE versions SET content=? WHERE dossier=?", (bytes(c), ref["id"]))
    r = cli(["check"], user="admin")
    assert r.exit_code == 20
    assert f"档案 {ref['archive_no']} 第 1 版" in r.stdout + r.stderr
    r = cli(["check", "--json"], user="admin")
    assert r.exit_code == 20
    rep = json.loads(r.stdout)
    assert rep["ok"] is False and rep["problems"][0]["archive_no"] == ref["archive_no"]
    assert rep["problems"][0]["version"] == 1
    r = cli(["show", ref["archive_no"]])
    assert r.exit_code == 20 and r.stdout == ""          # show refuses to print altered data


def test_lock_timeout_exit_11(world, cli, files, registered, monkeypatch):
    import functools

    import dossier.api
    from dossier.store import meta
    monkeypatch.setattr(dossier.api, "open_archive", functools.partial(dossier.api.open_archive, timeout=0.3))
    ref, _ = registered
    holder = world.store()
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = cli(["entry", "add", ref["archive_no"], "--type", "interview", "--file", files("v.yaml", VISIT_YAML)])
        assert r.exit_code == 11 and "占用" in r.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_usage_errors(world, cli, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("li-pass-0001")
    r = cli(["scope", "list"], DOSSIER_PASSWORD_FILE=str(pw))
    assert r.exit_code == 2 and "口令来源只能有一个" in r.stderr
    r = cli(["scope", "list"], user=None, DOSSIER_PASSWORD="x")
    assert r.exit_code == 2 and "--user" in r.stderr
    r = cli(["show"])
    assert r.exit_code == 2
    r = cli(["no-such-command"])
    assert r.exit_code == 2


def test_revoke_and_passwd(world, cli, tmp_path):
    r = cli(["user", "revoke", "wang"], user="admin")
    assert r.exit_code == 0 and "轮换" in r.stdout
    r = cli(["scope", "list"], user="wang")
    assert r.exit_code == 12 and "停用" in r.stderr
    new = tmp_path / "new.pw"
    new.write_text("li-new-pass-0002\n")
    assert cli(["passwd", "--new-password-file", new]).exit_code == 0
    assert cli(["scope", "list"]).exit_code == 12
    assert cli(["scope", "list"], DOSSIER_PASSWORD="li-new-pass-0002").exit_code == 0


def test_user_add_validation(world, cli, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    r = cli(["user", "add", "x1", "--role", "clerk", "--scope", world.scope_a, "--password-file", pw], user="admin")
    assert r.exit_code == 1 and "password" in r.stderr
    r = cli(["user", "add", "x1", "--role", "boss", "--scope", world.scope_a, "--password-file", pw], user="admin")
    assert r.exit_code == 2


# -- the real executable -----------------------------------------------------------------------

def test_no_archive_exit_10(run_dossier, tmp_path):
    r = run_dossier(["--archive", tmp_path / "none", "--user", "admin", "scope", "list"],
                    env={**_base_env(), "DOSSIER_PASSWORD": "whatever-1"})
    assert r.code == 10 and "没有档案库" in r.stderr
    assert not (tmp_path / "none").exists()


def _base_env():
    import os
    return dict(os.environ)


def test_wrong_password_exit_12_byte_identical(world, run_dossier, snap):
    world.add_person(world.scope_a, entries=2)
    before = snap(world.path)
    for user, pw in (("li", "not-the-password"), ("ghost", "whatever-123")):
        env = world.env("li", DOSSIER_USER=user, DOSSIER_PASSWORD=pw)
        r = run_dossier(["person", "list"], env=env)
        assert r.code == 12, r.stderr
        assert "不存在或口令错误" in r.stderr and "Traceback" not in r.stderr
        assert snap(world.path) == before


def test_two_password_sources_exit_2(world, run_dossier, tmp_path, snap):
    pw = tmp_path / "pw"
    pw.write_text(world.passwords["li"])
    before = snap(world.path)
    r = run_dossier(["scope", "list"], env=world.env("li", DOSSIER_PASSWORD_FILE=pw))
    assert r.code == 2 and "DOSSIER_PASSWORD、DOSSIER_PASSWORD_FILE" in r.stderr
    assert snap(world.path) == before


def test_password_command_and_file(world, run_dossier, tmp_path):
    script = tmp_path / "askpass.py"
    script.write_text(f"print({world.passwords['li']!r})\n")
    env = world.env("li")
    del env["DOSSIER_PASSWORD"]
    env["DOSSIER_PASSWORD_COMMAND"] = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    r = run_dossier(["scope", "list", "--json"], env=env)
    assert r.code == 0, r.stderr
    assert world.scope_a in [s["path"] for s in json.loads(r.stdout)]
    del env["DOSSIER_PASSWORD_COMMAND"]
    (tmp_path / "pw").write_text(world.passwords["li"] + "\n")
    env["DOSSIER_PASSWORD_FILE"] = str(tmp_path / "pw")
    assert run_dossier(["scope", "list"], env=env).code == 0


def test_scope_and_invalid_exit_codes(world, run_dossier, tmp_path, snap):
    ref, p = world.add_person(world.scope_b)
    before = snap(world.path)
    r = run_dossier(["show", p["id_number"]], env=world.env("li"))
    assert r.code == 13 and "无权" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: 测试人丁\nid_number: '{_bad_id()}'\n", encoding="utf-8")
    r = run_dossier(["person", "add", "--scope", world.scope_a, "--file", bad], env=world.env("li"))
    assert r.code == 1 and "id_number" in r.stderr and "校验码" in r.stderr
    r = run_dossier(["entry", "add", ref.archive_no, "--type", "nonsense", "--file", bad], env=world.env("wang"))
    assert r.code == 1 and "type" in r.stderr
    assert snap(world.path) == before


def test_check_exit_20_subprocess(world, run_dossier):
    ref, _ = world.add_person(world.scope_a, entries=1)
    assert run_dossier(["check"], env=world.env("admin")).code == 0
    with world.open("admin") as ar:
        sig = bytearray(ar.con.execute("SELECT signature FROM versions WHERE dossier=? AND version=2",
                                       (ref.id,)).fetchone()[0])
        sig[0] ^= 0x80
        ar.con.execute("UPDATE versions SET signature=? WHERE dossier=? AND version=2", (bytes(sig), ref.id))
    r = run_dossier(["check"], env=world.env("admin"))
    assert r.code == 20 and f"档案 {ref.archive_no} 第 2 版" in r.stdout + r.stderr


def test_revoked_user_exit_12_subprocess(world, run_dossier):
    assert run_dossier(["user", "revoke", "li"], env=world.env("admin")).code == 0
    r = run_dossier(["person", "list"], env=world.env("li"))
    assert r.code == 12


def test_help_and_version(run_dossier):
    r = run_dossier(["--help"])
    assert r.code == 0 and "退出码" in r.stdout
    for cmd in ("init", "scope", "user", "person", "entry", "show", "history", "diff", "check", "passwd"):
        assert cmd in r.stdout
    r = run_dossier(["--version"])
    assert r.code == 0 and "0.1.0" in r.stdout


def test_console_script_installed(world):
    import subprocess
    exe = Path(sys.executable).parent / "dossier"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "dossier" in r.stdout


def test_init_uses_production_kdf_without_env(tmp_path, run_dossier):
    env = _base_env()
    env.pop("DOSSIER_KDF", None)
    env.update(DOSSIER_ARCHIVE=str(tmp_path / "ar"), DOSSIER_PASSWORD="admin-pass-0001")
    r = run_dossier(["init", "--name", "测试街道", "--admin", "admin"], env=env)
    assert r.code == 0, r.stderr
    from dossier.crypto.kdf import PRODUCTION
    cfg = tomllib.loads((tmp_path / "ar" / "archive.toml").read_text())
    assert cfg["kdf"]["memory_kib"] == PRODUCTION.memory_kib and cfg["kdf"]["iterations"] == PRODUCTION.iterations


# issue 2 and 3 commands: every one a user runs shows an example in its --help
EXAMPLE_COMMANDS = ["init", "scope add", "scope list", "user add", "user list", "user revoke", "passwd",
                    "person add", "person list", "person edit", "entry add", "show", "history", "diff", "check",
                    "import", "sheet template", "export", "compare"]


@pytest.mark.parametrize("command", EXAMPLE_COMMANDS)
def test_help_has_examples(command):
    from dossier.cli.main import cli as root

    r = CliRunner().invoke(root, [*command.split(), "--help"])
    assert r.exit_code == 0, r.output
    examples = r.output.split("示例", 1)[-1]
    assert "示例" in r.output and f" {command.split()[-1]}" in examples and "dossier " in examples, r.output
