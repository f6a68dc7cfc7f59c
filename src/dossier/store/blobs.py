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

    def put(self, sealed: bytes, *, top_scope: int) -> str:
        """Store ``sealed`` (``top_scope``: the partition the PostgreSQL store puts it in;
        files are not partitioned)."""
        blob_id = hashlib.sha256(sealed).hexdigest()
        p = self.path(blob_id)
        if not p.exists():
            atomic_write(p, sealed)
        return blob_id

    def delete(self, blob_id: str) -> None:
        """Remove a blob no row references any more (a missing one is no error)."""
        try:
            self.path(blob_id).unlink()
        except FileNotFoundError:
            pass

    def raw(self, blob_id: str) -> bytes | None:
        """The stored bytes unverified (``check`` reports a mismatch itself), None when missing."""
        try:
            return self.path(blob_id).read_bytes()
        except FileNotFoundError:
            return None

    def sweep(self, known: set, *, min_age_s: float, dry_run: bool) -> tuple[list[str], int]:
        """Remove files no row references (and stale temp files) older than ``min_age_s``;
        returns (removed paths relative to the archive, young ones kept)."""
        import os
        import time

        now = time.time()
        removed, kept = [], 0
        root = self.root
        for d in sorted(root.iterdir()) if root.exists() else []:
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                blob_id = d.name + f.name
                if (f.name.startswith(".") and f.name.endswith(".tmp")) or blob_id not in known:
                    if now - f.stat().st_mtime < min_age_s:
                        kept += 1
                        continue
                    removed.append(str(f.relative_to(root.parent)))
                    if not dry_run:
                        os.unlink(f)
        return removed, kept

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
