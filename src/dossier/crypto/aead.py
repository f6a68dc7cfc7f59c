"""AES-256-GCM sealing with associated data, and envelope encryption.

Sealed format: ``b"D1" + nonce(12) + ciphertext+tag``. The associated data
(AD) binds a ciphertext to its context (archive, scope, dossier, kind), so a
blob moved to another dossier fails to open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import IntegrityError

MAGIC = b"D1"
NONCE = 12
KEY_BYTES = 32


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def ad_for(*parts: str | bytes | int | None) -> bytes:
    """Canonical associated data: length-prefixed parts (no ambiguity)."""
    out = []
    for p in parts:        # (one of the hottest functions of check and of a write: kept lean)
        b = b"" if p is None else (p if isinstance(p, bytes) else str(p).encode())
        out.append(len(b).to_bytes(4, "big"))
        out.append(b)
    return b"".join(out)


def seal(key: bytes, plaintext: bytes, ad: bytes = b"") -> bytes:
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def open_(key: bytes, sealed: bytes, ad: bytes = b"", what: str = "数据") -> bytes:
    if len(sealed) < len(MAGIC) + NONCE + 16 or sealed[:2] != MAGIC:
        raise IntegrityError(f"{what}格式损坏，无法解密")
    nonce = sealed[2:2 + NONCE]
    try:
        return AESGCM(key).decrypt(nonce, sealed[2 + NONCE:], ad)
    except InvalidTag:
        raise IntegrityError(f"{what}认证失败：已被篡改、损坏或不属于此处") from None


def seal_envelope(kek: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """Encrypt with a fresh data key, the data key wrapped by ``kek``.

    Layout: len(wrapped dek) (2) + wrapped dek + sealed body. Rotating the
    key-encryption key rewraps the small header only.
    """
    dek = new_key()
    wrapped = seal(kek, dek, ad + b"|dek")
    return len(wrapped).to_bytes(2, "big") + wrapped + seal(dek, plaintext, ad)


def open_envelope(kek: bytes, sealed: bytes, ad: bytes, what: str = "数据") -> bytes:
    if len(sealed) < 2:
        raise IntegrityError(f"{what}格式损坏，无法解密")
    n = int.from_bytes(sealed[:2], "big")
    dek = open_(kek, sealed[2:2 + n], ad + b"|dek", what)
    return open_(dek, sealed[2 + n:], ad, what)


def rewrap_envelope(old_kek: bytes, new_kek: bytes, sealed: bytes, ad: bytes) -> bytes:
    n = int.from_bytes(sealed[:2], "big")
    dek = open_(old_kek, sealed[2:2 + n], ad + b"|dek")
    wrapped = seal(new_kek, dek, ad + b"|dek")
    return len(wrapped).to_bytes(2, "big") + wrapped + sealed[2 + n:]
