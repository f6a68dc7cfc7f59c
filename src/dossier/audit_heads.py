"""Exported audit-chain heads: written to places outside the archive (another
disk, a USB key, a printout) and read back to prove the chain was not cut.

A whole archive rolled back to an older copy, or a chain whose last events
were deleted, is consistent in itself; only a head kept elsewhere shows it.
``export_head`` writes the current head to every place given (a directory
gets a dated file) and records an ``audit.export-head`` event in the signed
chain: the last export's time is therefore as tamper-evident as the chain
(an attacker can remove recent exports only by cutting the chain, which
makes the warning come sooner, not later). ``head_age_warning`` is what
``check`` says when the last export is older than the configured days.

Settings (``archive.toml``, section ``[audit]``; options override them):
``head_dir`` — a directory of exported heads that ``check`` and ``audit
verify`` read when it is there (the mounted USB key); ``head_max_age_days``
— days without an export before ``check`` warns (default 7, 0 turns it off).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .audit import Head
from .errors import InvalidInput
from .store.atomic import atomic_write

if TYPE_CHECKING:
    from .session import Session

EXPORT_ACTION = "audit.export-head"
DEFAULT_MAX_AGE_DAYS = 7
FILE_PREFIX = "链头-"


def settings(ar: "Session") -> dict:
    return dict((ar.config.get("audit") or {}))


def max_age_days(ar: "Session", override: int | None = None) -> int:
    if override is not None:
        return int(override)
    try:
        return int(settings(ar).get("head_max_age_days", DEFAULT_MAX_AGE_DAYS))
    except (TypeError, ValueError):
        raise InvalidInput(field="audit.head_max_age_days", reason="archive.toml 中应为天数（整数）") from None


def default_head_places(ar: "Session") -> list[Path]:
    d = settings(ar).get("head_dir")
    return [Path(str(d)).expanduser()] if d else []


def file_name(head: Head, when: _dt.datetime) -> str:
    return f"{FILE_PREFIX}{when.strftime('%Y%m%d-%H%M%S')}-{head.seq}.json"


def export_head(ar: "Session", places: Sequence[str | Path] = (), *,
                now: _dt.datetime | None = None) -> tuple[Head, list[Path]]:
    """Anchor the current head, write it to every place (a directory gets a dated
    file, anything else is the file itself), then record the export in the chain.
    Returns the head and the files written."""
    head = ar.audit_chain.anchor("export")
    now = now or _dt.datetime.now().astimezone()
    data = (head.to_json() + "\n").encode()
    written = []
    for place in places:
        p = Path(place).expanduser()
        if p.is_dir():
            p = p / file_name(head, now)
        elif not p.parent.is_dir():
            raise InvalidInput(field="output", reason=f"目录“{p.parent}”不存在（U 盘或另一块磁盘是否已挂载？）")
        atomic_write(p, data, mode=0o600)
        written.append(p)
    ar.audit(EXPORT_ACTION, seq=head.seq, places=len(written))
    return head, written


def load_heads(paths: Iterable[str | Path], archive_id: str = "") -> tuple[list[Head], list[str]]:
    """Heads from files, or from every ``*.json`` in directories; (heads, notes).
    A missing directory or a head of another archive is a note, not an error;
    an unreadable file is invalid input (exit 1)."""
    heads, notes = [], []
    for raw in paths:
        if isinstance(raw, (Head, dict)):           # a head already read (an upload in the browser)
            try:
                h = raw if isinstance(raw, Head) else Head.from_dict(raw)
            except (ValueError, KeyError, TypeError):
                raise InvalidInput(field="head", reason="不是导出的链头") from None
            if archive_id and h.archive_id and h.archive_id != archive_id:
                notes.append("上传的链头属于另一档案库，已跳过")
            else:
                heads.append(h)
            continue
        p = Path(raw).expanduser()
        if p.is_dir():
            files = sorted(p.glob("*.json"))
        elif p.is_file():
            files = [p]
        else:
            notes.append(f"链头位置“{p}”不存在（未挂载？），未核对其中的链头")
            continue
        for f in files:
            try:
                h = Head.from_dict(json.loads(f.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                raise InvalidInput(field="head", reason=f"“{f}”不是导出的链头文件") from None
            if archive_id and h.archive_id and h.archive_id != archive_id:
                notes.append(f"链头文件“{f}”属于另一档案库，已跳过")
                continue
            heads.append(h)
    return heads, notes


def last_export(events: Sequence) -> str | None:
    for ev in reversed(events):
        if ev.action == EXPORT_ACTION:
            return ev.ts
    return None


def head_age_warning(events: Sequence, max_days: int, now: _dt.datetime | None = None) -> str | None:
    """A warning when no head was exported for more than ``max_days`` days (counted
    from the archive's first event when there never was an export)."""
    if max_days <= 0 or not events:
        return None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    last = last_export(events)
    since = _dt.datetime.fromisoformat(last or events[0].ts)
    days = (now - since).total_seconds() / 86400
    if days <= max_days:
        return None
    what = f"上次导出于 {since.astimezone().strftime('%Y-%m-%d %H:%M')}" if last else "从未导出过"
    return (f"已超过 {max_days} 天没有导出审计链头（{what}）：请运行 dossier audit export-head -o <另一块磁盘或 U 盘上的目录>，"
            "档案库被整体回退或审计链尾部被删除时才能发现")
