"""Fixtures for roster import/export tests: the committed synthetic rosters
(tests/fixtures/rosters, made by make_rosters.py) and an archive with the
社区 scopes those rosters name."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "rosters"
STREET = "珠晖区/粤汉街道"
COMMUNITIES = ("苗圃社区", "粤汉社区", "东阳渡社区")
MESSY_TODAY = date(2024, 6, 1)
PAIR_TODAY = date(2024, 6, 15)

sys.path.insert(0, str(HERE))


@pytest.fixture
def rosters(tmp_path) -> Path:
    """A private copy of the fixture directory (imports write reports beside the file)."""
    dst = tmp_path / "rosters"
    shutil.copytree(FIXTURES, dst)
    return dst


@pytest.fixture(scope="session")
def messy_expected() -> dict:
    return json.loads((FIXTURES / "messy_roster.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def pair_expected() -> dict:
    return json.loads((FIXTURES / "pair.expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def rworld(world):
    """The suite's ``world`` plus the 社区 of the fixture rosters under 粤汉街道."""
    with world.open("admin") as ar:
        for c in COMMUNITIES:
            ar.scopes.add(f"{STREET}/{c}")
    return world
