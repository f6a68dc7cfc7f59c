"""Immutable, signed dossier versions.

A version's content is the whole dossier state as JSON, sealed in an
envelope under the scope's data key with associated data binding it to
(archive, scope, dossier, version). The version hash covers the header and
the sealed body (not the wrapped data key, which key rotation may rewrap);
the author signs that hash with Ed25519.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .crypto import aead, keys
from .errors import IntegrityError

GENESIS = b"\x00" * 32
SIGNATURE_PROBLEM = "作者签名无效"
VERSION_HASH_PROBLEM = "版本哈希不符（内容或元数据被改动）"


def content_ad(archive_id: str, scope: int, dossier: str, version: int) -> bytes:
    return aead.ad_for("dossier-version", archive_id, scope, dossier, version)


def body_of(content: bytes) -> bytes:
    n = int.from_bytes(content[:2], "big")
    return content[2 + n:]


def version_hash(archive_id: str, dossier: str, version: int, parent_hash: bytes, author: str, time: str,
                 key_version: int, content: bytes, audit_head: bytes | None, body_digest: bytes | None = None) -> bytes:
    """``body_digest``: the SHA-256 of the sealed body, given instead of the body for a
    version whose content was removed when its file was handed over (issue 13)."""
    return hashlib.sha256(aead.ad_for(
        "dossier-version-v1", archive_id, dossier, version, parent_hash, author, time, key_version,
        hashlib.sha256(body_of(content)).digest() if body_digest is None else body_digest,
        audit_head or b"")).digest()


def encode_state(state: dict, message: str) -> bytes:
    return json.dumps({"message": message, "state": state}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


@dataclass
class VersionRow:
    dossier: str
    version: int
    parent_hash: bytes
    author: str
    time: str
    key_version: int
    content: bytes
    audit_head: bytes | None
    hash: bytes
    signature: bytes
    body_digest: bytes | None = None     # set for a version whose content was removed (issue 13)

    @classmethod
    def from_row(cls, r) -> "VersionRow":
        return cls(r["dossier"], r["version"], r["parent_hash"], r["author"], r["time"], r["key_version"],
                   r["content"], r["audit_head"], r["hash"], r["signature"])

    def expected_hash(self, archive_id: str) -> bytes:
        return version_hash(archive_id, self.dossier, self.version, self.parent_hash, self.author, self.time,
                            self.key_version, self.content, self.audit_head, self.body_digest)

    def verify(self, archive_id: str, sign_public: bytes | None, parent_hash: bytes,
               verified: set | None = None, *, signatures=None, on_bad=None) -> list[str]:
        """Problems with this version's header, hash, chain link and signature.

        ``verified`` is a session's set of (public key, signature, hash) already
        checked (or made) by it: the hash is always recomputed from the row, only
        the Ed25519 verification of a known-good triple is skipped.

        ``signatures``: a :class:`dossier.crypto.verify_aside.Signatures` that may
        verify the signature later, on another core (``dossier check``); if it does,
        the signature is not among the problems returned: ``on_bad()`` is called
        when it turns out invalid."""
        problems = []
        if self.parent_hash != parent_hash:
            problems.append("与上一版本的哈希链接不符")
        if self.expected_hash(archive_id) != self.hash:
            problems.append(VERSION_HASH_PROBLEM)
        if sign_public is None:
            problems.append(f"作者“{self.author}”不存在")
        else:
            triple = (sign_public, self.signature, self.hash)
            if verified is not None and triple in verified:
                return problems
            if signatures is not None:
                ok = signatures.check(sign_public, self.signature, self.hash, on_bad)
                if ok is None:          # pending: on_bad() reports it if it fails
                    return problems
            else:
                ok = keys.verify(sign_public, self.signature, self.hash)
            if not ok:
                problems.append(SIGNATURE_PROBLEM)
            elif verified is not None and not problems:
                verified.add(triple)
        return problems


def open_content(archive_id: str, scope: int, v: VersionRow, key: bytes) -> dict:
    plain = aead.open_envelope(key, v.content, content_ad(archive_id, scope, v.dossier, v.version),
                               what=f"第 {v.version} 版内容")
    try:
        return json.loads(plain)
    except ValueError:
        raise IntegrityError(f"第 {v.version} 版内容无法解析") from None
