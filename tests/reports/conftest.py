"""Fixtures for the reports tests: one seeded archive per session (built once,
read by many tests; tests that write use their own copy)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import seedkit  # noqa: E402


@pytest.fixture(scope="session")
def seeded_master(tmp_path_factory) -> "seedkit.Seeded":
    return seedkit.build(tmp_path_factory.mktemp("seeded") / "archive")


@pytest.fixture
def seeded(seeded_master, tmp_path) -> "seedkit.Seeded":
    """A private copy of the seeded archive (tests may write to it)."""
    dst = tmp_path / "archive"
    shutil.copytree(seeded_master.path, dst)
    return seedkit.Seeded(dst, seeded_master.control, seeded_master.anomalies)


@pytest.fixture(autouse=True)
def _weak_kdf(monkeypatch):
    monkeypatch.setenv("DOSSIER_KDF", "weak-for-tests")
