"""The transfer bundle file (.dtb), format 1 — see docs/transfer-format.md.

    MAGIC | u32 header length | header (JSON, UTF-8) | sealed payload | signature (64)

The header names sender and recipient (archive ids, names, public keys) and
nothing about any person. The payload is sealed age-style: an ephemeral
X25519 key agreed with the recipient's transfer key, HKDF-SHA256, then
AES-256-GCM over 1 MiB chunks (STREAM: 11-byte counter + last-chunk flag as
nonce, the header's hash as associated data), so a chunk cannot be dropped,
reordered or truncated. The sending archive's transfer signing key signs
everything before the signature (Ed25519), so one flipped byte anywhere —
header, payload or signature — is refused before anything is opened.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..crypto import keys as ckeys
from ..errors import IntegrityError
from .keys import PublicKey

MAGIC = b"DOSSIER-TRANSFER\x00\x01"
FORMAT = 1
CHUNK = 1 << 20
SIG_CONTEXT = b"dossier-transfer-bundle-v1\x00"
MAX_HEADER = 1 << 20


def _stream_key(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dossier-transfer-v1",
                info=eph_pub + recipient_pub).derive(shared)


def _nonce(i: int, last: bool) -> bytes:
    return i.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def seal_stream(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    g = AESGCM(key)
    n = max(1, -(-len(plaintext) // CHUNK))
    out = bytearray()
    for i in range(n):
        out += g.encrypt(_nonce(i, i == n - 1), plaintext[i * CHUNK:(i + 1) * CHUNK], ad)
    return bytes(out)


def open_stream(key: bytes, sealed: bytes, ad: bytes) -> bytes:
    g = AESGCM(key)
    step = CHUNK + 16
    n = max(1, -(-len(sealed) // step))
    out = bytearray()
    try:
        for i in range(n):
            out += g.decrypt(_nonce(i, i == n - 1), sealed[i * step:(i + 1) * step], ad)
    except InvalidTag:
        raise IntegrityError("移交包内容认证失败（已被改动或损坏）") from None
    return bytes(out)


def write(header: dict, payload: bytes, recipient: PublicKey, sign_key: Ed25519PrivateKey) -> bytes:
    eph = X25519PrivateKey.generate()
    eph_pub = ckeys._pub(eph)
    header = {**header, "format": FORMAT, "eph": eph_pub.hex(), "chunk": CHUNK}
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    head = MAGIC + struct.pack(">I", len(hb)) + hb
    key = _stream_key(eph.exchange(X25519PublicKey.from_public_bytes(recipient.box_pub)), eph_pub,
                      recipient.box_pub)
    body = head + seal_stream(key, payload, hashlib.sha256(head).digest())
    return body + sign_key.sign(SIG_CONTEXT + hashlib.sha256(body).digest())


@dataclass
class Bundle:
    header: dict
    head: bytes          # MAGIC … header: the payload's associated data
    sealed: bytes
    signature: bytes
    digest: str          # SHA-256 of the whole file (hex)

    @property
    def sender(self) -> PublicKey:
        return PublicKey.from_dict(self.header.get("sender") or {})

    @property
    def bundle_id(self) -> str:
        return str(self.header.get("bundle_id"))

    def verify_signature(self) -> PublicKey:
        """The sender's key, after checking its certificate (by its root key) and the
        signature over the whole file. IntegrityError (exit 20) otherwise."""
        sender = self.sender
        sender.verify()
        if not ckeys.verify(sender.sign_pub, self.signature,
                            SIG_CONTEXT + hashlib.sha256(self.head + self.sealed).digest()):
            raise IntegrityError("移交包签名无效：文件已被改动或损坏")
        return sender

    def open(self, box: X25519PrivateKey) -> bytes:
        try:
            eph_pub = bytes.fromhex(self.header["eph"])
            shared = box.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        except (KeyError, ValueError, TypeError):
            raise IntegrityError("移交包头部已损坏") from None
        key = _stream_key(shared, eph_pub, ckeys._pub(box))
        return open_stream(key, self.sealed, hashlib.sha256(self.head).digest())


def read(data: bytes) -> Bundle:
    """Parse (not verify) a bundle; a file that is not one is refused (exit 20)."""
    if not data.startswith(MAGIC[:-1]):
        raise IntegrityError("不是移交包文件（.dtb），或文件头已损坏")
    if data[len(MAGIC) - 1:len(MAGIC)] != MAGIC[-1:]:
        raise IntegrityError(f"移交包格式版本 {data[len(MAGIC) - 1]} 不受支持（本程序支持第 {FORMAT} 版）")
    off = len(MAGIC)
    if len(data) < off + 4 + 64:
        raise IntegrityError("移交包不完整（文件被截断）")
    (n,) = struct.unpack(">I", data[off:off + 4])
    if n > MAX_HEADER or off + 4 + n + 64 > len(data):
        raise IntegrityError("移交包头部已损坏")
    hb = data[off + 4:off + 4 + n]
    try:
        header = json.loads(hb)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
    except ValueError:
        raise IntegrityError("移交包头部已损坏") from None
    head = data[:off + 4 + n]
    return Bundle(header, head, data[off + 4 + n:-64], data[-64:], hashlib.sha256(data).hexdigest())


# ----------------------------------------------------------------------------- payload framing
def pack(manifest: dict, parts: list[bytes]) -> bytes:
    """manifest JSON + the binary parts it points at (``[offset, length]`` into the data section)."""
    mb = json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return struct.pack(">I", len(mb)) + mb + b"".join(parts)


def unpack(payload: bytes) -> tuple[dict, memoryview]:
    try:
        (n,) = struct.unpack(">I", payload[:4])
        manifest = json.loads(payload[4:4 + n])
    except (struct.error, ValueError):
        raise IntegrityError("移交包内容无法解析") from None
    return manifest, memoryview(payload)[4 + n:]
