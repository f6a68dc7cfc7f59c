"""Encrypted immutable blobs under ``objects/``, named by the SHA-256 of the
sealed bytes (see docs/decisions.md: a keyless check can verify every file;
nothing about the plaintext leaks through the name)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import IntegrityError, NotFound
from .atomic import atomic_write


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id[2:]

    def put(self, sealed: bytes) -> str:
        blob_id = hashlib.sha256(sealed).hexdigest()
        p = self.path(blob_id)
        if not p.exists():
            atomic_write(p, sealed)
        return blob_id

    def get(self, blob_id: str) -> bytes:
        p = self.path(blob_id)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"数据块 {blob_id[:12]}… 缺失") from None
        if hashlib.sha256(data).hexdigest() != blob_id:
            raise IntegrityError(f"数据块 {blob_id[:12]}… 内容与校验值不符（已损坏或被篡改）")
        return data

    def ids(self):
        if not self.root.exists():
            return
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and len(d.name) == 2:
                for f in sorted(d.iterdir()):
                    if not f.name.startswith("."):
                        yield d.name + f.name
