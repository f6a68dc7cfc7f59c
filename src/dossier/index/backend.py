"""The search interface every backend implements (Whoosh today; a PostgreSQL
blind-token backend can come later).

Two index kinds exist per scope:

- ``clerk``: full fields, sealed with a key derived from the scope key;
- ``inspect``: masked values and blind tokens (HMAC of the normalised exact
  name / ID number under a key derived from the inspection key) only.

Documents are plain dicts built by :mod:`dossier.index.documents`; queries
are :class:`dossier.index.query.ParsedQuery`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from .query import ParsedQuery

CLERK = "clerk"
INSPECT = "inspect"

# Ranking tiers (lower first): an exact ID number / name / phone / 档号, then
# name fragments, then everything else (addresses, entry texts, filters only).
TIER_EXACT, TIER_NAME, TIER_TEXT = 0, 1, 2


@dataclass
class Hit:
    id: str
    archive_no: str
    scope: str
    score: float
    tier: int
    version: int
    data: dict = field(default_factory=dict)   # stored values (masked in an inspection index)
    snippet: str | None = None


class Backend(Protocol):
    kind: str

    def upsert(self, docs: Iterable[dict]) -> None:
        """Add or replace documents (by ``id``) in one commit."""

    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by dossier id in one commit."""

    def search(self, query: ParsedQuery, limit: int) -> list[Hit]:
        """Best hits first (tier, then score)."""

    def rebuild(self, docs: Iterable[dict]) -> None:
        """Replace the whole index with exactly ``docs`` (atomic swap)."""

    def indexed_versions(self) -> dict[str, int]:
        """dossier id → the dossier version last indexed."""

    def exists(self) -> bool:
        """Whether an index has been built at all."""

    def close(self) -> None: ...
