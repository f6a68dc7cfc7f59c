"""Sweep orphan blobs: files under ``objects/`` that no committed row
references (left by a crash between the file write and the commit), and
stale temp files from interrupted atomic writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session


def gc(ar: "Session", *, dry_run: bool = False, min_age_s: float = 600.0) -> dict:
    """Remove unreferenced files older than ``min_age_s`` (younger ones may belong
    to a transaction still in progress in another process)."""
    ar.require_role("admin", what="清理数据块")
    known = {r[0] for r in ar.con.execute("SELECT id FROM blobs")}
    removed, kept = ar.object_store.sweep(known, min_age_s=min_age_s, dry_run=dry_run)
    return {"removed": removed, "young_kept": kept, "dry_run": dry_run}
