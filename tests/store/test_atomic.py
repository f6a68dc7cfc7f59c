"""The one write path: temp file → fsync → rename → fsync dir; nothing half
written is ever visible, the temp file is removed on error, and the test-only
crash points really end the process (like kill -9)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from dossier.store import atomic
from dossier.store.atomic import atomic_write


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "sub" / "f.bin"
    atomic_write(p, b"one")
    assert p.read_bytes() == b"one"
    assert (p.stat().st_mode & 0o777) == 0o600
    atomic_write(p, b"two" * 100000)
    assert p.read_bytes() == b"two" * 100000
    assert sorted(x.name for x in p.parent.iterdir()) == ["f.bin"]    # no temp left


def test_error_keeps_old_content_and_removes_temp(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    atomic_write(p, b"old")
    real_write = os.write

    def failing(fd, data):
        real_write(fd, bytes(data[:3]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", failing)
    with pytest.raises(OSError):
        atomic_write(p, b"new content")
    monkeypatch.setattr(atomic.os, "write", real_write)
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def test_crash_point_is_inert_without_env(tmp_path):
    atomic.crash_point("atomic-after-write")   # no DOSSIER_CRASH_AT: nothing happens
    atomic_write(tmp_path / "x", b"x")


@pytest.mark.parametrize("point, visible", [("atomic-after-write", b"old"), ("atomic-after-rename", b"new")])
def test_crash_points_kill_the_process(tmp_path, point, visible):
    p = tmp_path / "f.bin"
    atomic_write(p, b"old")
    code = textwrap.dedent(f"""
        from dossier.store.atomic import atomic_write
        atomic_write({str(p)!r}, b"new")
        print("survived")
    """)
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "DOSSIER_CRASH_AT": point},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 137 and "survived" not in r.stdout
    assert p.read_bytes() == visible     # old or new, never a torn mix
