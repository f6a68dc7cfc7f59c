"""One resolver for paths and secrets: precedence, one password source only,
password files and commands, a Password whose repr hides it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from dossier.config import Password, UsageError, archive_path, password, read_password_file, user_name
from dossier.errors import ExitCode, InvalidInput


def test_password_repr_hides():
    p = Password("s3cret-天王盖地虎")
    for text in (repr(p), str(p), f"{p}", repr([p]), repr({"pw": p})):
        assert "s3cret" not in text and "天王" not in text
    assert p.reveal() == "s3cret-天王盖地虎".encode()
    assert len(p) == len("s3cret-天王盖地虎".encode())
    assert not hasattr(p, "__dict__")


def test_archive_and_user_precedence():
    assert archive_path("opt", {"DOSSIER_ARCHIVE": "env"}) == Path("opt")
    assert archive_path(None, {"DOSSIER_ARCHIVE": "env"}) == Path("env")
    assert archive_path(None, {}) == Path("archive")
    assert user_name("opt", {"DOSSIER_USER": "env"}) == "opt"
    assert user_name(None, {"DOSSIER_USER": "env"}) == "env"
    assert user_name(None, {}) is None


def test_password_from_env():
    assert password({"DOSSIER_PASSWORD": "pw-123456"}).reveal() == b"pw-123456"


def test_password_file_strips_newline(tmp_path):
    f = tmp_path / "pw"
    f.write_bytes("口令-123456\r\n".encode())
    assert password({"DOSSIER_PASSWORD_FILE": str(f)}).reveal() == "口令-123456".encode()
    assert password({}, file_option=str(f)).reveal() == "口令-123456".encode()
    f.write_text("\n")
    with pytest.raises(InvalidInput, match="为空"):
        read_password_file(f)
    with pytest.raises(InvalidInput, match="无法读取"):
        read_password_file(tmp_path / "missing")


def test_password_command(tmp_path):
    script = tmp_path / "pw.py"
    script.write_text("print('from-command-1')\n")
    cmd = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    assert password({"DOSSIER_PASSWORD_COMMAND": cmd}).reveal() == b"from-command-1"
    with pytest.raises(InvalidInput, match="口令命令"):
        password({"DOSSIER_PASSWORD_COMMAND": f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'"})
    with pytest.raises(InvalidInput, match="没有输出"):
        password({"DOSSIER_PASSWORD_COMMAND": f"{shlex.quote(sys.executable)} -c pass"})
    with pytest.raises(InvalidInput):
        password({"DOSSIER_PASSWORD_COMMAND": "/nonexistent/command"})


@pytest.mark.parametrize("env, file_option", [
    ({"DOSSIER_PASSWORD": "a", "DOSSIER_PASSWORD_FILE": "f"}, None),
    ({"DOSSIER_PASSWORD": "a", "DOSSIER_PASSWORD_COMMAND": "echo a"}, None),
    ({"DOSSIER_PASSWORD_FILE": "f", "DOSSIER_PASSWORD_COMMAND": "echo a"}, None),
    ({"DOSSIER_PASSWORD": "a"}, "pw.txt"),
])
def test_two_sources_is_usage_error(env, file_option):
    with pytest.raises(UsageError) as ei:
        password(env, file_option=file_option)
    assert ei.value.exit_code == ExitCode.USAGE == 2
    assert "口令来源只能有一个" in ei.value.message


def test_no_source_without_prompt_is_usage_error():
    with pytest.raises(UsageError):
        password({})
    assert password({}, prompt=lambda: "typed-123456").reveal() == b"typed-123456"


def test_empty_env_value_is_not_a_source():
    assert password({"DOSSIER_PASSWORD": "", "DOSSIER_PASSWORD_COMMAND": "echo abc-12345"}).reveal() == b"abc-12345"
