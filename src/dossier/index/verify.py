"""``dossier check``'s part for the search indexes: every sealed index file
(``index/<scope id>/<kind>-k<key version>/*.enc``) whose key this user holds
is read and its AES-GCM tag checked — on PostgreSQL every sealed row of the
blind-token indexes (``search_docs``). A damaged file is reported naming the
scope and the command that repairs it (``dossier index rebuild``): the
indexes are derived data, rebuilt from the dossiers."""

from __future__ import annotations

import re

from ..errors import DossierError
from .service import KEY_KIND, _hkdf, ar_path
from .storage import EncryptedStorage

_KIND_DIR = re.compile(r"(clerk|inspect)-k(\d+)")
LABELS = {"clerk": "专干检索索引", "inspect": "督查检索索引"}


def index_dirs(ar):
    """(scope id, kind, key version, directory) of every index directory on disk."""
    root = ar.search.root
    if not root.is_dir():
        return
    for sdir in sorted(root.iterdir()):
        if not (sdir.is_dir() and sdir.name.isdigit()):
            continue
        for kdir in sorted(sdir.iterdir()):
            m = _KIND_DIR.fullmatch(kdir.name)
            if m and kdir.is_dir():
                yield int(sdir.name), m.group(1), int(m.group(2)), kdir


def verify_files(ar, report, **_options) -> None:
    if ar.search.in_database:
        verify_rows(ar, report)
    for sid, kind, kv, kdir in index_dirs(ar):
        try:
            _, key = ar.keyring.scope_key(sid, KEY_KIND[kind], kv)
        except DossierError:      # not held (or its wrapped copy is damaged: reported by check)
            continue
        storage = EncryptedStorage(kdir, _hkdf(key, f"files|{kind}".encode()), (ar.archive_id, str(sid), f"k{kv}", kind))
        path = ar_path(ar, sid)
        for name in storage.damaged():
            rel = kdir.relative_to(ar.path) / name
            report.add(f"辖区 {path} 的{LABELS[kind]}",
                       f"索引文件 {rel} 认证失败（已损坏或被篡改）；修复：dossier index rebuild"
                       "（由持有该辖区密钥的社区专干或管理员运行）", scope=path, file=str(rel))


def verify_rows(ar, report) -> None:
    """The same for the blind-token indexes in PostgreSQL: every sealed document row."""
    from .blind_backend import BlindIndex

    for sid, kind, kv in BlindIndex.indexes(ar.con):
        try:
            _, key = ar.keyring.scope_key(sid, KEY_KIND[kind], kv)
        except DossierError:
            continue
        path = ar_path(ar, sid)
        bad = ar.search._open_index(sid, kind, kv, key).damaged()
        if bad:
            which = "、".join(f"{d[:8]} v{v}" for d, v in bad[:5]) + ("…" if len(bad) > 5 else "")
            report.add(f"辖区 {path} 的{LABELS[kind]}",
                       f"数据库中 {len(bad)} 条检索索引记录认证失败（已损坏或被篡改：search_docs {which}）；"
                       "修复：dossier index rebuild（由持有该辖区密钥的社区专干或管理员运行）", scope=path,
                       file="search_docs")
