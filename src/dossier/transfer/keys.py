"""The archive's transfer keys, their public file, fingerprints and trusted offices.

One X25519 pair (bundles are sealed to its public half) and one Ed25519 pair
(this archive signs the bundles it sends) per archive, made once by the root
admin — the first admin, whose signing key ``archive.toml`` records — who
certifies both public halves with that key. The private halves are wrapped
to every admin (``archive_keys`` kind ``transfer``), like the CA and audit
keys: only admins export or import. See docs/transfer-format.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .. import received
from ..clock import now_iso
from ..crypto import aead
from ..crypto import keys as ckeys
from ..crypto.keyring import archive_key_context
from ..errors import IntegrityError, InvalidInput, NotFound, RefusedOperation

if TYPE_CHECKING:
    from ..session import Session

KIND = "transfer"
META_KEY = "transfer_key"
KEY_FORMAT = "dossier-transfer-key-1"
BEGIN, END = "-----BEGIN DOSSIER TRANSFER KEY-----", "-----END DOSSIER TRANSFER KEY-----"


def fingerprint(data: bytes, label: str) -> str:
    """16 base32 characters (80 bits) in groups of 4: short enough to read out by phone."""
    d = hashlib.sha256(label.encode() + b"\0" + data).digest()[:10]
    s = base64.b32encode(d).decode()
    return "-".join(s[i:i + 4] for i in range(0, 16, 4))


def root_fingerprint(root_key: bytes) -> str:
    """The fingerprint by which other offices know (and trust) this archive: of its root key."""
    return fingerprint(root_key, "dossier-root-key-v1")


def normalize_fingerprint(text: str) -> str:
    s = re.sub(r"[\s\-_:·]", "", text or "").upper()
    if not re.fullmatch(r"[A-Z2-7]{16}", s):
        raise InvalidInput(field="fingerprint", reason=f"“{text}”不是有效的指纹（16 位字母数字，如 ABCD-EFGH-IJKL-MNOP）")
    return "-".join(s[i:i + 4] for i in range(0, 16, 4))


def cert_bytes(archive_id: str, name: str, box_pub: bytes, sign_pub: bytes) -> bytes:
    return aead.ad_for("transfer-key-cert-v1", archive_id, name, box_pub, sign_pub)


@dataclass(frozen=True)
class PublicKey:
    """An archive's transfer public key, as its file carries it."""

    archive_id: str
    name: str
    root_admin: str
    root_key: bytes
    box_pub: bytes
    sign_pub: bytes
    cert: bytes

    @property
    def root_fingerprint(self) -> str:
        return root_fingerprint(self.root_key)

    @property
    def key_fingerprint(self) -> str:
        return fingerprint(aead.ad_for(self.archive_id, self.root_key, self.box_pub, self.sign_pub),
                           "dossier-transfer-key-v1")

    def verify(self) -> None:
        if not ckeys.verify(self.root_key, self.cert, cert_bytes(self.archive_id, self.name, self.box_pub,
                                                                 self.sign_pub)):
            raise IntegrityError(f"档案库“{self.name}”的移交公钥证书无效（未由其根密钥签发，或已被改动）")

    def to_dict(self) -> dict:
        return {"format": KEY_FORMAT, "archive_id": self.archive_id, "name": self.name,
                "root_admin": self.root_admin, "root_key": self.root_key.hex(), "box_pub": self.box_pub.hex(),
                "sign_pub": self.sign_pub.hex(), "cert": self.cert.hex()}

    @classmethod
    def from_dict(cls, d: dict) -> "PublicKey":
        try:
            if d.get("format") != KEY_FORMAT:
                raise ValueError
            return cls(str(d["archive_id"]), str(d["name"]), str(d["root_admin"]), bytes.fromhex(d["root_key"]),
                       bytes.fromhex(d["box_pub"]), bytes.fromhex(d["sign_pub"]), bytes.fromhex(d["cert"]))
        except (KeyError, ValueError, TypeError, AttributeError):
            raise IntegrityError("移交公钥格式无效") from None

    def to_text(self) -> str:
        body = base64.b64encode(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "\n".join([
            f"档案库：{self.name}", f"档案库编号：{self.archive_id}",
            f"根密钥指纹：{self.root_fingerprint}", f"接收公钥指纹：{self.key_fingerprint}",
            "（请通过电话向对方核对以上指纹后再使用）", "", BEGIN, *lines, END, ""])

    @classmethod
    def from_text(cls, text: str) -> "PublicKey":
        m = re.search(re.escape(BEGIN) + r"(.*?)" + re.escape(END), text, re.S)
        if m is None:
            raise InvalidInput(field="to", reason="不是移交公钥文件（应由对方运行 dossier transfer key -o 生成）")
        try:
            d = json.loads(base64.b64decode("".join(m.group(1).split()), validate=True))
        except ValueError:
            raise IntegrityError("移交公钥文件已损坏") from None
        pk = cls.from_dict(d)
        pk.verify()
        return pk


def public_key(ar: "Session") -> PublicKey | None:
    row = ar.con.execute("SELECT value FROM meta WHERE key=?", (META_KEY,)).fetchone()
    return PublicKey.from_dict(json.loads(row[0])) if row else None


def ensure(ar: "Session") -> PublicKey:
    """This archive's transfer public key, made on first use by the root admin."""
    ar.require_role("admin", what="管理移交密钥")
    pk = public_key(ar)
    if pk is not None:
        return pk
    root, root_key = ar.config.get("root_admin"), ar.config.get("root_admin_key")
    if ar.user.name != root or ar.keys.sign_public.hex() != root_key:
        raise RefusedOperation(f"本库尚未生成移交密钥；须由首位管理员“{root}”运行一次 dossier transfer key"
                               "（移交密钥由根密钥签发）")
    box, sign = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    box_pub, sign_pub = ckeys._pub(box), ckeys._pub(sign)
    name = ar.name or ar.archive_id
    cert = ar.keys.sign_bytes(cert_bytes(ar.archive_id, name, box_pub, sign_pub))
    pk = PublicKey(ar.archive_id, name, root, bytes.fromhex(root_key), box_pub, sign_pub, cert)
    secret = box.private_bytes(**ckeys.RAW_PRIV) + sign.private_bytes(**ckeys.RAW_PRIV)
    with ar.transaction() as con:
        received.ensure_tables(con)
        con.execute("INSERT INTO meta(key, value) VALUES(?,?)", (META_KEY, json.dumps(pk.to_dict())))
        for user, box_user in con.execute("SELECT name, box_pub FROM users WHERE role='admin' AND status='active'"
                                          ).fetchall():
            con.execute("INSERT OR REPLACE INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                        (KIND, user, ckeys.wrap_to(box_user, secret, archive_key_context(ar.archive_id, KIND))))
        ar.audit("transfer.key", fingerprint=pk.key_fingerprint)
    return pk


def private_keys(ar: "Session") -> tuple[X25519PrivateKey, Ed25519PrivateKey]:
    ar.require_role("admin", what="打开移交包")
    if public_key(ar) is None:
        raise RefusedOperation("本库尚未生成移交密钥（首位管理员运行 dossier transfer key）")
    secret = ar.keyring.archive_key(KIND)
    return X25519PrivateKey.from_private_bytes(secret[:32]), Ed25519PrivateKey.from_private_bytes(secret[32:])


# ----------------------------------------------------------------------------- trusted offices
def _trust_bytes(archive_id: str, fp: str, name: str, added: str) -> bytes:
    return aead.ad_for("trusted-office-v1", archive_id, fp, name, added)


def trust_add(ar: "Session", fp: str, name: str = "") -> dict:
    ar.require_role("admin", what="信任其他档案库")
    fp = normalize_fingerprint(fp)
    added = now_iso()
    with ar.transaction() as con:
        received.ensure_tables(con)
        con.execute("INSERT OR REPLACE INTO trusted_offices(fingerprint, name, added_by, added, sig) VALUES(?,?,?,?,?)",
                    (fp, name, ar.user.name, added, ar.keys.sign_bytes(_trust_bytes(ar.archive_id, fp, name, added))))
        ar.audit("transfer.trust", fingerprint=fp)
    return {"fingerprint": fp, "name": name, "added_by": ar.user.name, "added": added}


def trust_remove(ar: "Session", fp: str) -> None:
    ar.require_role("admin", what="取消信任")
    fp = normalize_fingerprint(fp)
    with ar.transaction() as con:
        received.ensure_tables(con)
        if con.execute("DELETE FROM trusted_offices WHERE fingerprint=?", (fp,)).rowcount == 0:
            raise NotFound(f"信任列表中没有指纹 {fp}")
        ar.audit("transfer.untrust", fingerprint=fp)


def trusted(ar: "Session") -> list[dict]:
    """Trusted offices whose entry is signed by a user of this archive (a row slipped into
    SQLite without an admin's key does not count)."""
    if not received.has_tables(ar.con):
        return []
    pubs = {r[0]: r[1] for r in ar.con.execute("SELECT name, sign_pub FROM users WHERE role='admin'")}
    out = []
    for r in ar.con.execute("SELECT * FROM trusted_offices ORDER BY added"):
        pub = pubs.get(r["added_by"])
        if pub is not None and ckeys.verify(pub, r["sig"], _trust_bytes(ar.archive_id, r["fingerprint"], r["name"],
                                                                          r["added"])):
            out.append({"fingerprint": r["fingerprint"], "name": r["name"], "added_by": r["added_by"],
                        "added": r["added"]})
    return out


def is_trusted(ar: "Session", fp: str) -> bool:
    return any(t["fingerprint"] == fp for t in trusted(ar))
