"""The one write path for archive files (CONVENTIONS habit 4).

temp file in the same directory → write → fsync → os.replace → fsync dir;
the temp file is unlinked on any error. No other code writes archive files.
"""

from __future__ import annotations

import os
from pathlib import Path

# Test-only crash points: DOSSIER_CRASH_AT=<name> makes the process die
# (os._exit, like kill -9) when it reaches that point. Never set in production.
_CRASH_AT = os.environ.get("DOSSIER_CRASH_AT")


def crash_point(name: str) -> None:
    if _CRASH_AT and _CRASH_AT == name:
        os._exit(137)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            crash_point("atomic-after-write")
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        crash_point("atomic-after-rename")
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
