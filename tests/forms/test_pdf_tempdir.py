"""The converter's plaintext lives in a private directory that is wiped, kept
in RAM when /dev/shm is usable, and swept after a converter was killed."""

from __future__ import annotations

import os
import subprocess
import sys

from dossier.forms import pdf


def test_private_base_prefers_dev_shm_and_honours_override(monkeypatch, tmp_path):
    monkeypatch.delenv("DOSSIER_TMPDIR", raising=False)
    base = pdf.private_temp_base()
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        assert base == "/dev/shm"
    monkeypatch.setenv("DOSSIER_TMPDIR", str(tmp_path))
    assert pdf.private_temp_base() == str(tmp_path)


def test_orphan_of_a_dead_process_is_wiped_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphan = tmp_path / (pdf.PRIVATE_PREFIX + "orphan")
    orphan.mkdir(mode=0o700)
    (orphan / "owner.pid").write_text(dead)
    (orphan / "in.docx").write_bytes("张三丰 11010519491231002X".encode())
    live = tmp_path / (pdf.PRIVATE_PREFIX + "live")
    live.mkdir(mode=0o700)
    (live / "owner.pid").write_text(str(os.getpid()))
    wiped = pdf.sweep_orphans(str(tmp_path))
    assert wiped == [orphan] and not orphan.exists()
    assert live.exists()
