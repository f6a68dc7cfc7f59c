"""One resolver for paths and secrets (CONVENTIONS habit 5).

Precedence: command-line option, then environment (``DOSSIER_ARCHIVE``,
``DOSSIER_USER``, ``DOSSIER_PASSWORD``, ``DOSSIER_PASSWORD_FILE``,
``DOSSIER_PASSWORD_COMMAND``), then the default (``./archive``) or a prompt.
Two password sources at once is a usage error.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Callable, Mapping

from .errors import DossierError, ExitCode, InvalidInput

DEFAULT_ARCHIVE = "archive"
PASSWORD_VARS = ("DOSSIER_PASSWORD", "DOSSIER_PASSWORD_FILE", "DOSSIER_PASSWORD_COMMAND")


class UsageError(DossierError):
    """用法错误。"""

    exit_code = ExitCode.USAGE


class Password:
    """A secret whose repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes | str):
        self._value = value.encode() if isinstance(value, str) else bytes(value)

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Password(***)"

    __str__ = __repr__

    def __len__(self) -> int:
        return len(self._value)


def password_bytes(password: Password | str | bytes) -> bytes:
    """A password as the bytes the KDF takes (a :class:`Password`, text or bytes)."""
    if hasattr(password, "reveal"):
        password = password.reveal()
    return password.encode() if isinstance(password, str) else bytes(password)


def archive_path(option: str | None, env: Mapping[str, str] = os.environ) -> Path:
    return Path(option or env.get("DOSSIER_ARCHIVE") or DEFAULT_ARCHIVE)


def user_name(option: str | None, env: Mapping[str, str] = os.environ) -> str | None:
    return option or env.get("DOSSIER_USER") or None


def read_password_file(path: str | os.PathLike, what: str = "口令文件") -> Password:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InvalidInput(f"无法读取{what}“{path}”：{e.strerror}") from None
    value = data.rstrip(b"\r\n")
    if not value:
        raise InvalidInput(f"{what}“{path}”为空")
    return Password(value)


def password(env: Mapping[str, str] = os.environ, prompt: Callable[[], str] | None = None,
             file_option: str | None = None) -> Password:
    sources = [v for v in PASSWORD_VARS if env.get(v)]
    if file_option:
        sources.insert(0, "--password-file")
    if len(sources) > 1:
        raise UsageError(f"口令来源只能有一个，现在同时设置了：{'、'.join(sources)}")
    if file_option:
        return read_password_file(file_option)
    if env.get("DOSSIER_PASSWORD"):
        return Password(env["DOSSIER_PASSWORD"])
    if env.get("DOSSIER_PASSWORD_FILE"):
        return read_password_file(env["DOSSIER_PASSWORD_FILE"])
    if env.get("DOSSIER_PASSWORD_COMMAND"):
        cmd = env["DOSSIER_PASSWORD_COMMAND"]
        try:
            out = subprocess.run(shlex.split(cmd), capture_output=True, check=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise InvalidInput(f"口令命令执行失败：{e}") from None
        value = out.rstrip(b"\r\n")
        if not value:
            raise InvalidInput("口令命令没有输出口令")
        return Password(value)
    if prompt is None:
        raise UsageError("需要口令：请设置 DOSSIER_PASSWORD / DOSSIER_PASSWORD_FILE / DOSSIER_PASSWORD_COMMAND，或在终端中输入")
    return Password(prompt())
