"""Sweep orphan blobs: files under ``objects/`` that no committed row
references (left by a crash between the file write and the commit), and
stale temp files from interrupted atomic writes."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session


def gc(ar: "Session", *, dry_run: bool = False, min_age_s: float = 600.0) -> dict:
    """Remove unreferenced files older than ``min_age_s`` (younger ones may belong
    to a transaction still in progress in another process)."""
    ar.require_role("admin", what="清理数据块")
    known = {r[0] for r in ar.con.execute("SELECT id FROM blobs")}
    now = time.time()
    removed, kept = [], 0
    root = ar.object_store.root
    for d in sorted(root.iterdir()) if root.exists() else []:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            blob_id = d.name + f.name
            if (f.name.startswith(".") and f.name.endswith(".tmp")) or blob_id not in known:
                if now - f.stat().st_mtime < min_age_s:
                    kept += 1
                    continue
                removed.append(str(f.relative_to(ar.path)))
                if not dry_run:
                    os.unlink(f)
    return {"removed": removed, "young_kept": kept, "dry_run": dry_run}
