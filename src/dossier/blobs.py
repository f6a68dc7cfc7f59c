"""Encrypted attachments and generated documents kept with a dossier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import received
from .clock import now_iso
from .crypto import aead

if TYPE_CHECKING:
    from .session import Session


def blob_ad(archive_id: str, scope: int, dossier: str | None, kind: str) -> bytes:
    return aead.ad_for("blob", archive_id, scope, dossier or "", kind)


class Blobs:
    def __init__(self, ar: "Session"):
        self.ar = ar

    def put(self, data: bytes, *, scope: str | int, dossier_id: str | None = None, kind: str = "attachment",
            key: str = "data") -> str:
        """Seal ``data`` under the scope's key and store it; returns the blob id.
        The file is fsynced before the row that references it is committed."""
        ar = self.ar
        sid = scope if isinstance(scope, int) else ar.scopes.id_of(scope)
        kv, k = ar.keyring.scope_key(sid, key)
        sealed = aead.seal_envelope(k, data, blob_ad(ar.archive_id, sid, dossier_id, kind))
        top = ar.scopes.top_of(sid)
        blob_id = ar.object_store.put(sealed, top_scope=top)
        with ar.transaction() as con:
            con.execute("INSERT OR IGNORE INTO blobs(id, scope, dossier, kind, key, key_version, size, created,"
                        " top_scope) VALUES(?,?,?,?,?,?,?,?,?)",
                        (blob_id, sid, dossier_id, kind, key, kv, len(data), now_iso(), top))
        return blob_id

    def get(self, blob_id: str, *, scope: str | int | None = None, dossier_id: str | None = None,
            kind: str | None = None, key: str = "data") -> bytes:
        ar = self.ar
        row = ar.con.execute("SELECT * FROM blobs WHERE id=?", (blob_id,)).fetchone()
        if row is None and (target := received.blob_target(ar.con, blob_id)) is not None:
            blob_id = target      # received from another archive under its id there (issue 13)
            row = ar.con.execute("SELECT * FROM blobs WHERE id=?", (blob_id,)).fetchone()
        sealed = ar.object_store.get(blob_id)
        sid = row["scope"] if row else (scope if isinstance(scope, int) else ar.scopes.id_of(scope))
        kv = row["key_version"] if row else None
        if row is not None and row["key"] != key:
            from .errors import IntegrityError
            raise IntegrityError("数据块的密钥类别与请求不符（可能被挪用）")
        _, k = ar.keyring.scope_key(sid, key, kv)
        # the caller's expectations (dossier, kind) go into the AD: a blob moved
        # to another dossier or reused as another kind fails to open
        d = dossier_id if dossier_id is not None else (row["dossier"] if row else None)
        kd = kind if kind is not None else (row["kind"] if row else "attachment")
        return aead.open_envelope(k, sealed, blob_ad(ar.archive_id, sid, d, kd), what="附件/文书")
