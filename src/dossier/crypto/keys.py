"""User key pairs (X25519 for wrapping, Ed25519 for signing) and key wrapping.

Wrapping a key to a user: ephemeral X25519 → HKDF-SHA256 → AES-256-GCM, the
recipient's public key and a context label in the associated data (an
ECIES-style sealed box). Only the holder of the private key can unwrap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import IntegrityError, WrongPassword
from . import aead, kdf

RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
RAW_PRIV = dict(encoding=serialization.Encoding.Raw, format=serialization.PrivateFormat.Raw,
                encryption_algorithm=serialization.NoEncryption())


def _pub(k) -> bytes:
    return k.public_key().public_bytes(**RAW)


@dataclass
class UserKeys:
    """A user's unsealed private keys (held in memory for a session)."""

    box: X25519PrivateKey
    sign: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> "UserKeys":
        return cls(X25519PrivateKey.generate(), Ed25519PrivateKey.generate())

    @property
    def box_public(self) -> bytes:
        return _pub(self.box)

    @property
    def sign_public(self) -> bytes:
        return _pub(self.sign)

    def seal(self, password: bytes, params: kdf.KdfParams) -> tuple[bytes, bytes]:
        """Seal the private halves with a passphrase-derived key → (salt, sealed)."""
        salt = os.urandom(16)
        key = kdf.derive(password, salt, params)
        secret = self.box.private_bytes(**RAW_PRIV) + self.sign.private_bytes(**RAW_PRIV)
        return salt, aead.seal(key, secret, b"dossier-user-keys")

    @classmethod
    def unseal(cls, password: bytes, salt: bytes, sealed: bytes, params: kdf.KdfParams) -> "UserKeys":
        key = kdf.derive(password, salt, params)
        try:
            secret = aead.open_(key, sealed, b"dossier-user-keys")
        except IntegrityError:
            raise WrongPassword() from None
        return cls(X25519PrivateKey.from_private_bytes(secret[:32]),
                   Ed25519PrivateKey.from_private_bytes(secret[32:]))

    def sign_bytes(self, message: bytes) -> bytes:
        return self.sign.sign(message)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        eph, body = wrapped[:32], wrapped[32:]
        shared = self.box.exchange(X25519PublicKey.from_public_bytes(eph))
        k = _hkdf(shared, eph + self.box_public)
        return aead.open_(k, body, context + self.box_public, "密钥")


def _hkdf(shared: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dossier-wrap-v1", info=info).derive(shared)


def wrap_to(recipient_box_public: bytes, key: bytes, context: bytes) -> bytes:
    """Wrap ``key`` so only the owner of ``recipient_box_public`` can unwrap it."""
    eph = X25519PrivateKey.generate()
    eph_pub = _pub(eph)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_box_public))
    k = _hkdf(shared, eph_pub + recipient_box_public)
    return eph_pub + aead.seal(k, key, context + recipient_box_public)


def verify(sign_public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(sign_public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False
