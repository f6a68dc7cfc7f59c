"""Argon2id parameters: the production profile is what a new archive gets
without DOSSIER_KDF, and it is expensive; the weak profile is only for tests."""

from __future__ import annotations

import time
import tomllib

import pytest

import dossier
from dossier.crypto import kdf


def test_production_params_in_archive_toml_and_cost(tmp_path, monkeypatch):
    monkeypatch.delenv("DOSSIER_KDF", raising=False)
    assert kdf.default_params() == kdf.PRODUCTION
    dossier.init_archive(tmp_path / "ar", name="测试街道", admin="admin", password="admin-pass-0001")
    cfg = tomllib.loads((tmp_path / "ar" / "archive.toml").read_text())
    assert cfg["kdf"] == {"algorithm": "argon2id", **kdf.PRODUCTION.to_dict()}
    assert kdf.PRODUCTION.memory_kib >= 65536 and kdf.PRODUCTION.iterations >= 3
    t = time.perf_counter()
    kdf.derive(b"admin-pass-0001", b"\1" * 16, kdf.PRODUCTION)
    assert time.perf_counter() - t >= 0.1, "production KDF is too cheap"


def test_weak_params_only_with_env(tmp_path, monkeypatch):
    assert kdf.default_params() == kdf.WEAK_FOR_TESTS     # set by the autouse fixture
    dossier.init_archive(tmp_path / "ar", name="测试街道", admin="admin", password="admin-pass-0001")
    cfg = tomllib.loads((tmp_path / "ar" / "archive.toml").read_text())
    assert cfg["kdf"]["memory_kib"] == kdf.WEAK_FOR_TESTS.memory_kib     # visibly weak
    monkeypatch.setenv("DOSSIER_KDF", "something-else")
    assert kdf.default_params() == kdf.PRODUCTION


def test_derive_deterministic_and_salted():
    p = kdf.WEAK_FOR_TESTS
    a = kdf.derive(b"pw", b"s" * 16, p)
    assert a == kdf.derive(b"pw", b"s" * 16, p) and len(a) == 32
    assert a != kdf.derive(b"pw", b"t" * 16, p)
    assert a != kdf.derive(b"pX", b"s" * 16, p)


@pytest.mark.parametrize("d", [{"memory_kib": "64", "iterations": 1, "lanes": 1}])
def test_params_round_trip(d):
    assert kdf.KdfParams.from_dict(kdf.KdfParams.from_dict(d).to_dict()) == kdf.WEAK_FOR_TESTS
