"""Versions received from another archive (issue 13, 异地移交) and dossiers
handed over to another one.

A received version keeps the sending archive's signed header and sealed body
byte for byte (its hash and its author's signature verify as they did
there); only its data key was rewrapped under this archive's scope key
(the version hash covers the sealed body, not the wrapped key — the same
property key rotation relies on). To verify and open it this archive needs
what the header was made with: the origin archive id and scope id (both in
the hash and the AEAD associated data), the author's public signing key,
and which of its own scope-key versions wraps the data key now. That is one
row of ``received_versions`` per version.

``transfers_out`` marks dossiers that left this archive: their files are a
read-only copy (``--keep-copy``) or a masked stub, and writes are refused
with a message naming where the file went.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS received_versions(
    dossier TEXT NOT NULL, version INTEGER NOT NULL,
    origin_archive TEXT NOT NULL, origin_scope INTEGER NOT NULL, author_key BLOB NOT NULL,
    local_key_version INTEGER NOT NULL, transfer TEXT NOT NULL,
    PRIMARY KEY(dossier, version));
CREATE TABLE IF NOT EXISTS transfers(
    id TEXT PRIMARY KEY, direction TEXT NOT NULL, peer_archive TEXT NOT NULL, peer_name TEXT NOT NULL,
    peer_root TEXT NOT NULL, persons INTEGER NOT NULL, time TEXT NOT NULL, actor TEXT NOT NULL,
    bundle_sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transfers_out(
    dossier TEXT PRIMARY KEY, transfer TEXT NOT NULL, keep_copy INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS foreign_users(
    archive TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY(archive, name));
CREATE TABLE IF NOT EXISTS foreign_archives(
    archive TEXT PRIMARY KEY, name TEXT NOT NULL, root_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS received_dossiers(
    dossier TEXT NOT NULL, transfer TEXT NOT NULL, original_archive_no TEXT NOT NULL, sent_date TEXT NOT NULL,
    reason BLOB NOT NULL, PRIMARY KEY(dossier, transfer));
CREATE TABLE IF NOT EXISTS redacted_versions(
    dossier TEXT NOT NULL, version INTEGER NOT NULL, body_sha256 BLOB NOT NULL, transfer TEXT NOT NULL,
    PRIMARY KEY(dossier, version));
CREATE TABLE IF NOT EXISTS merged_versions(
    host TEXT NOT NULL, dossier TEXT NOT NULL, version INTEGER NOT NULL,
    parent_hash BLOB NOT NULL, author TEXT NOT NULL, time TEXT NOT NULL, key_version INTEGER NOT NULL,
    content BLOB NOT NULL, audit_head BLOB, hash BLOB NOT NULL, signature BLOB NOT NULL,
    origin_archive TEXT NOT NULL, origin_scope INTEGER NOT NULL, author_key BLOB NOT NULL,
    local_key_version INTEGER NOT NULL, transfer TEXT NOT NULL, PRIMARY KEY(dossier, version));
CREATE TABLE IF NOT EXISTS received_blobs(alias TEXT PRIMARY KEY, target TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trusted_offices(
    fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, added_by TEXT NOT NULL, added TEXT NOT NULL,
    sig BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Origin:
    """Where a received version was made."""

    archive_id: str
    scope: int
    author_key: bytes
    local_key_version: int
    transfer: str


def has_tables(con: sqlite3.Connection) -> bool:
    """Archives made before issue 13 lack the tables until their first transfer. Once seen,
    remembered on the connection (nothing drops them; a person page asked ~5 times)."""
    if getattr(con, "received_tables", False):
        return True
    found = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='received_versions'"
                        ).fetchone() is not None
    if found:
        try:
            con.received_tables = True
        except AttributeError:      # a connection that takes no attributes: ask each time
            pass
    return found


def ensure_tables(con: sqlite3.Connection) -> None:
    """Inside the caller's transaction (``executescript`` would commit it)."""
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            con.execute(stmt)


def _origin(r) -> Origin:
    return Origin(r["origin_archive"], r["origin_scope"], bytes(r["author_key"]), r["local_key_version"],
                  r["transfer"])


def origin(con: sqlite3.Connection, dossier: str, version: int) -> Origin | None:
    if not has_tables(con):
        return None
    r = con.execute("SELECT * FROM received_versions WHERE dossier=? AND version=?", (dossier, version)).fetchone()
    return _origin(r) if r else None


def head_origins(con: sqlite3.Connection, scope_ids: list[int]) -> dict[tuple[str, int], Origin]:
    """The received head versions of the dossiers in ``scope_ids``, in one query (not two
    per head): keyed by (dossier, version)."""
    if not scope_ids or not has_tables(con):
        return {}
    sql = ("SELECT rv.* FROM dossiers d JOIN received_versions rv ON rv.dossier=d.id AND rv.version=d.head"
           f" WHERE d.scope IN ({','.join('?' * len(scope_ids))})")
    return {(r["dossier"], r["version"]): _origin(r) for r in con.execute(sql, list(scope_ids))}


def origins(con: sqlite3.Connection) -> dict[tuple[str, int], Origin]:
    """Every received version, for ``check`` and the audit cross-check."""
    if not has_tables(con):
        return {}
    return {(r["dossier"], r["version"]): _origin(r) for r in con.execute("SELECT * FROM received_versions")}


def sent(con: sqlite3.Connection, dossier: str) -> dict | None:
    """The transfer that took this dossier away, or None."""
    if not has_tables(con):
        return None
    r = con.execute("SELECT o.keep_copy, t.* FROM transfers_out o JOIN transfers t ON t.id=o.transfer"
                    " WHERE o.dossier=?", (dossier,)).fetchone()
    return dict(r) if r else None


def received_from(con: sqlite3.Connection, dossier: str) -> list[dict]:
    """The transfers that brought versions of this dossier here (oldest first)."""
    if not has_tables(con):
        return []
    rows = con.execute(
        "SELECT t.id, t.peer_archive, t.peer_name, t.peer_root, t.time, MIN(r.version) AS first,"
        " MAX(r.version) AS last FROM received_versions r JOIN transfers t ON t.id=r.transfer"
        " WHERE r.dossier=? GROUP BY t.id ORDER BY MIN(r.version)", (dossier,)).fetchall()
    out = []
    for r in rows:
        origin_names = {o["origin_archive"] for o in con.execute(
            "SELECT DISTINCT origin_archive FROM received_versions WHERE dossier=? AND transfer=?", (dossier, r["id"]))}
        d = con.execute("SELECT * FROM received_dossiers WHERE dossier=? AND transfer=?", (dossier, r["id"])).fetchone()
        out.append({"transfer": r["id"], "archive_id": r["peer_archive"], "archive_name": r["peer_name"],
                    "root_fingerprint": r["peer_root"], "date": r["time"], "versions": [r["first"], r["last"]],
                    "origin_archives": sorted(origin_names),
                    "original_archive_no": d["original_archive_no"] if d else "",
                    "sent_date": d["sent_date"] if d else "", "_reason": bytes(d["reason"]) if d else None})
    return out


def foreign_roles(con: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    """(origin archive, user) → (role, signing key hex) of the authors recorded at import."""
    if not has_tables(con):
        return {}
    out = {}
    for r in con.execute("SELECT archive, name, record FROM foreign_users"):
        rec = json.loads(r["record"])
        out[(r["archive"], r["name"])] = (rec.get("role"), rec.get("sign_pub"))
    return out


def verify_user_records(archive_id: str, root_admin: str, root_key_hex: str, records: dict) -> list[str]:
    """Problems with another archive's user records (``name → record``, hex keys), each
    signed by the admin who added it, up to the root admin, whose key is ``root_key_hex``."""
    from .crypto import keys
    from .users import user_record_bytes

    problems = []
    root = records.get(root_admin)
    if root is None or root.get("sign_pub") != root_key_hex:
        return [f"来源档案库 {archive_id} 的首位管理员记录缺失或公钥不符"]
    for name, rec in records.items():
        chain, cur, ok = set(), rec, True
        while True:          # each record signed by its adder, up to the root (who signs their own)
            signer = records.get(cur.get("added_by") or "")
            try:
                good = signer is not None and keys.verify(
                    bytes.fromhex(signer["sign_pub"]), bytes.fromhex(cur["record_sig"]),
                    user_record_bytes(archive_id, cur["name"], cur["role"], cur.get("step"),
                                      bytes.fromhex(cur["box_pub"]), bytes.fromhex(cur["sign_pub"])))
            except (KeyError, ValueError, TypeError):
                good = False
            if not good or (signer is not None and signer["name"] != root_admin and signer.get("role") != "admin"):
                ok = False
                break
            if cur["name"] == root_admin:
                break
            if cur["name"] in chain:
                ok = False
                break
            chain.add(cur["name"])
            cur = signer
        if not ok:
            problems.append(f"来源档案库 {archive_id} 的用户“{name}”的记录签名无效")
    return problems


def blob_target(con: sqlite3.Connection, blob_id: str) -> str | None:
    """The local blob holding a received attachment or document: the received
    versions name it by the sending archive's blob id."""
    if not has_tables(con):
        return None
    r = con.execute("SELECT target FROM received_blobs WHERE alias=?", (blob_id,)).fetchone()
    return r[0] if r else None


def reason_ad(archive_id: str, scope: int, dossier: str, transfer: str) -> bytes:
    from .crypto import aead

    return aead.ad_for("transfer-reason", archive_id, scope, dossier, transfer)


def redacted(con: sqlite3.Connection, dossier: str | None = None) -> dict[tuple[str, int], bytes]:
    """(dossier, version) → SHA-256 of the sealed body, for versions whose content the
    sender removed when it handed the file over without ``--keep-copy`` (the hash and
    signature stay verifiable; the content is gone)."""
    if not has_tables(con):
        return {}
    q, args = "SELECT dossier, version, body_sha256 FROM redacted_versions", ()
    if dossier is not None:
        q, args = q + " WHERE dossier=?", (dossier,)
    return {(r[0], r[1]): bytes(r[2]) for r in con.execute(q, args)}
