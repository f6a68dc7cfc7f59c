"""A session's key holdings: the user's private keys and the scope keys wrapped
to that user. A key the user was never granted is simply not in the
database for them — roles are enforced by keys, not by ``if`` statements."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

from ..errors import PermissionDenied
from . import aead
from .keys import UserKeys, wrap_to

DATA, INSPECT = "data", "inspect"


def scope_key_context(archive_id: str, scope: int, kind: str, key_version: int) -> bytes:
    return aead.ad_for("scope-key", archive_id, scope, kind, key_version)


def archive_key_context(archive_id: str, kind: str) -> bytes:
    return aead.ad_for("archive-key", archive_id, kind)


class Keyring:
    def __init__(self, con: sqlite3.Connection, archive_id: str, user: str, keys: UserKeys):
        self.con, self.archive_id, self.user, self.keys = con, archive_id, user, keys
        self._cache: dict[tuple, bytes] = {}

    # -- scope keys ---------------------------------------------------------
    def current_version(self, scope: int, kind: str) -> int:
        row = self.con.execute("SELECT MAX(key_version) FROM scope_keys WHERE scope=? AND kind=?",
                               (scope, kind)).fetchone()
        if row[0] is None:
            raise PermissionDenied(f"辖区 {scope} 没有{kind}密钥")
        return int(row[0])

    def scope_key(self, scope: int, kind: str = DATA, key_version: int | None = None) -> tuple[int, bytes]:
        if key_version is None:
            key_version = self.current_version(scope, kind)
        ck = (scope, kind, key_version)
        if ck not in self._cache:
            row = self.con.execute(
                "SELECT wrapped FROM scope_keys WHERE scope=? AND kind=? AND key_version=? AND user=?",
                (scope, kind, key_version, self.user)).fetchone()
            if row is None:
                raise PermissionDenied(f"当前用户没有该辖区的{'数据' if kind == DATA else '督查'}密钥，无法解密")
            self._cache[ck] = self.keys.unwrap(row[0], scope_key_context(self.archive_id, scope, kind, key_version))
        return key_version, self._cache[ck]

    def holdings(self, scope: int) -> dict[str, int]:
        """{kind: its current key version} of every kind of this scope's keys the user holds
        (some version of): :meth:`holds` and :meth:`current_version` of every kind in one query."""
        return {k: int(kv) for k, kv, mine in self.con.execute(
            "SELECT kind, MAX(key_version), MAX(CASE WHEN user=? THEN 1 ELSE 0 END) FROM scope_keys"
            " WHERE scope=? GROUP BY kind", (self.user, scope)).fetchall() if mine}

    def holds(self, scope: int, kind: str = DATA) -> bool:
        return self.con.execute("SELECT 1 FROM scope_keys WHERE scope=? AND kind=? AND user=? LIMIT 1",
                                (scope, kind, self.user)).fetchone() is not None

    def held_scopes(self, kind: str = DATA) -> set[int]:
        """Every scope of which this user holds a key of ``kind`` (one query; ``holds`` for many scopes)."""
        return {int(r[0]) for r in self.con.execute("SELECT DISTINCT scope FROM scope_keys WHERE kind=? AND user=?",
                                                     (kind, self.user))}

    # -- archive-wide keys --------------------------------------------------
    def archive_key(self, kind: str) -> bytes:
        ck = ("archive", kind)
        if ck not in self._cache:
            row = self.con.execute("SELECT wrapped FROM archive_keys WHERE kind=? AND user=?",
                                   (kind, self.user)).fetchone()
            if row is None:
                raise PermissionDenied(f"当前用户没有{kind}密钥")
            self._cache[ck] = self.keys.unwrap(row[0], archive_key_context(self.archive_id, kind))
        return self._cache[ck]

    def blind_token(self, value: str, purpose: str = "id_number") -> bytes:
        """Blind index token: HMAC of a normalised identifier (no plaintext stored)."""
        return hmac.new(self.archive_key("blind"), f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    # -- granting -----------------------------------------------------------
    def grant_scope_keys(self, recipient: str, box_public: bytes, scope: int, kinds: tuple[str, ...]) -> None:
        """Wrap every version of this scope's keys (of ``kinds``) to a recipient."""
        for kind in kinds:
            versions = [r[0] for r in self.con.execute(
                "SELECT DISTINCT key_version FROM scope_keys WHERE scope=? AND kind=?", (scope, kind))]
            for kv in versions:
                _, key = self.scope_key(scope, kind, kv)
                self.con.execute(
                    "INSERT OR REPLACE INTO scope_keys(scope, kind, key_version, user, wrapped) VALUES(?,?,?,?,?)",
                    (scope, kind, kv, recipient, wrap_to(box_public, key,
                                                         scope_key_context(self.archive_id, scope, kind, kv))))

    def grant_archive_key(self, recipient: str, box_public: bytes, kind: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                         (kind, recipient, wrap_to(box_public, self.archive_key(kind),
                                                   archive_key_context(self.archive_id, kind))))

    def new_scope_key(self, scope: int, kind: str, key_version: int, recipients: list[tuple[str, bytes]]) -> bytes:
        key = aead.new_key()
        ctx = scope_key_context(self.archive_id, scope, kind, key_version)
        for name, box_pub in recipients:
            self.con.execute(
                "INSERT INTO scope_keys(scope, kind, key_version, user, wrapped) VALUES(?,?,?,?,?)",
                (scope, kind, key_version, name, wrap_to(box_pub, key, ctx)))
        self._cache[(scope, kind, key_version)] = key
        return key
