"""The wall clock, as the archive records it: one timestamp format for rows,
versions and signatures (local time with its UTC offset, to the second).

Below every feature (DESIGN.md "Layers"), so a feature that stamps a record
needs nothing from the façade."""

from __future__ import annotations

from datetime import datetime, timezone


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
