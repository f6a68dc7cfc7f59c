"""Argon2id key derivation (passphrase → key that seals a user's private keys)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class KdfParams:
    memory_kib: int = 65536
    iterations: int = 5
    lanes: int = 4

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "KdfParams":
        return cls(int(d["memory_kib"]), int(d["iterations"]), int(d["lanes"]))


PRODUCTION = KdfParams()
# Tests (and only tests) create archives with this profile: see tests/conftest.py.
WEAK_FOR_TESTS = KdfParams(memory_kib=64, iterations=1, lanes=1)


def default_params() -> KdfParams:
    """Parameters for a new archive; ``DOSSIER_KDF=weak-for-tests`` weakens them
    (recorded in archive.toml, so an archive made that way is visibly weak)."""
    return WEAK_FOR_TESTS if os.environ.get("DOSSIER_KDF") == "weak-for-tests" else PRODUCTION


def derive(password: bytes, salt: bytes, params: KdfParams) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=params.iterations,
                    lanes=params.lanes, memory_cost=params.memory_kib).derive(password)
