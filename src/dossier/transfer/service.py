"""Export, inspect and import transfer bundles (issue 13: 异地服务管理, 出所必接, 迁出).

Export carries every version of each dossier as it is stored — signed header
and sealed body, byte for byte — with the version's data key (unwrapped from
this archive's scope key), the blobs its versions name (attachments,
generated documents, approval PDFs) in plaintext, and the user records that
certify every author's key up to the origin archive's root key. All of it
is sealed to the receiving archive's transfer key (bundle.py).

Import verifies before it writes: the bundle's signature and its sender's
certificate, that it is addressed to this archive, that its sender is
trusted, every author record up to its archive's root key, and every
version's hash, chain link, signature and sealed body. Only then, in one
transaction, are the versions stored with their data keys rewrapped under
this archive's scope key (``dossier.received``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from typing import TYPE_CHECKING, Callable

from .. import received
from ..clock import now_iso
from ..crypto import aead
from ..errors import IntegrityError, InvalidInput, PermissionDenied, RefusedOperation
from ..versions import GENESIS, VersionRow, body_of, content_ad
from . import bundle as B
from .keys import PublicKey, ensure, is_trusted, normalize_fingerprint, private_keys, public_key, root_fingerprint

if TYPE_CHECKING:
    from ..session import Session

WRITER_ROLES = ("admin", "clerk", "approver")
STUB_FIELDS = ("name", "id_number", "gender", "record_flags")


def _b64(b: bytes) -> str:
    import base64
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    import base64
    return base64.b64decode(s, validate=True)


def _blob_refs(obj, out: dict) -> None:
    """Blob ids named anywhere in a state (``blob``, ``pdf_blob``, ``base_blob`` …)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and k.endswith("blob") and len(v) == 64:
                out.setdefault(v, None)
            else:
                _blob_refs(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _blob_refs(v, out)


def _user_record(r) -> dict:
    return {"name": r["name"], "role": r["role"], "step": r["step"], "box_pub": bytes(r["box_pub"]).hex(),
            "sign_pub": bytes(r["sign_pub"]).hex(), "added_by": r["added_by"],
            "record_sig": bytes(r["record_sig"]).hex() if r["record_sig"] is not None else ""}


def _archives(ar: "Session", origin_ids: set[str]) -> dict:
    """The user records that certify authors, per archive: this one's, and those of the
    archives earlier versions were received from (as recorded when they came in)."""
    own = {"name": ar.name or ar.archive_id, "root_admin": ar.config.get("root_admin"),
           "root_key": ar.config.get("root_admin_key"),
           "users": {r["name"]: _user_record(r) for r in ar.con.execute("SELECT * FROM users")}}
    ca = ar.con.execute("SELECT value FROM meta WHERE key='ca_cert'").fetchone()
    if ca:
        own["ca_cert"] = ca[0]          # the X.509 CA that issued the approval forms' signing certificates
    out = {ar.archive_id: own}
    for aid in sorted(origin_ids - {ar.archive_id}):
        a = ar.con.execute("SELECT * FROM foreign_archives WHERE archive=?", (aid,)).fetchone()
        users = {r["name"]: json.loads(r["record"])
                 for r in ar.con.execute("SELECT name, record FROM foreign_users WHERE archive=?", (aid,))}
        rk = json.loads(a["root_key"])
        out[aid] = {"name": a["name"], "root_admin": rk["root_admin"], "root_key": rk["root_key"], "users": users}
        if rk.get("ca_cert"):
            out[aid]["ca_cert"] = rk["ca_cert"]
    return out


# ----------------------------------------------------------------------------- export
def export(ar: "Session", refs: list[str], recipient_text: str, *, reason: str, keep_copy: bool = False,
           today: date | None = None, write: Callable[[bytes], None] | None = None) -> dict:
    """Seal the dossiers ``refs`` to the archive whose public key file is
    ``recipient_text``; ``write`` gets the bundle before the sender's records
    change (a failed write changes nothing). Returns a summary with ``bundle``."""
    from ..disclose.masking import mask_id_number, mask_name
    from ..model.entries import normalize_entry

    ar.require_role("admin", what="移交档案")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(field="reason", reason="须写明移交原因（如 执行地变更）")
    if not refs:
        raise InvalidInput(field="ref", reason="请给出至少一个档号")
    recipient = PublicKey.from_text(recipient_text)
    if recipient.archive_id == ar.archive_id:
        raise RefusedOperation("接收方就是本档案库：不能移交给自己")
    own = ensure(ar)
    _, sign_key = private_keys(ar)
    today = today or date.today()
    rows, seen = [], set()
    for ref in refs:
        row = ar.dossiers.resolve(ref)
        if row.id in seen:
            continue
        seen.add(row.id)
        ar.scopes.require(row.scope, "移交档案")
        ar.dossiers.refuse_if_sent(row)
        rows.append(row)
    parts: list[bytes] = []
    offset = 0

    def part(b: bytes) -> list[int]:
        nonlocal offset
        parts.append(b)
        offset += len(b)
        return [offset - len(b), len(b)]

    dossiers, origin_ids, exported = [], {ar.archive_id}, {}
    for row in rows:
        versions, blob_ids = [], {}
        for n in range(1, row.head + 1):
            v, content = ar.dossiers.load(row, n)          # verifies hash, link, signature
            o = received.origin(ar.con, row.id, n)
            if o is None:
                aid, sid, kv, author_key = ar.archive_id, row.scope, v.key_version, None
            else:
                aid, sid, kv, author_key = o.archive_id, o.scope, o.local_key_version, o.author_key
            _, key = ar.keyring.scope_key(row.scope, "data", kv)
            k = int.from_bytes(v.content[:2], "big")
            dek = aead.open_(key, v.content[2:2 + k], content_ad(aid, sid, row.id, n) + b"|dek")
            origin_ids.add(aid)
            versions.append({"version": n, "parent_hash": v.parent_hash.hex(), "author": v.author, "time": v.time,
                             "key_version": v.key_version,
                             "audit_head": _b64(bytes(v.audit_head)) if v.audit_head is not None else None,
                             "hash": v.hash.hex(), "signature": v.signature.hex(), "origin_archive": aid,
                             "origin_scope": sid, "dek": _b64(dek), "body": part(body_of(v.content)),
                             **({"author_key": author_key.hex()} if author_key is not None else {})})
            _blob_refs(content["state"], blob_ids)
        exported[row.id] = len(versions)
        blobs = []
        for bid in blob_ids:
            target = received.blob_target(ar.con, bid) or bid
            b = ar.con.execute("SELECT kind FROM blobs WHERE id=?", (target,)).fetchone()
            if b is None:
                raise IntegrityError(f"档案 {row.archive_no} 引用的数据块 {bid[:12]} 不存在")
            data = ar.blobs.get(bid, dossier_id=row.id, kind=b["kind"])
            blobs.append({"id": bid, "kind": b["kind"], "data": part(data)})
        dossiers.append({"id": row.id, "archive_no": row.archive_no, "scope": row.scope_path, "head": row.head,
                         "versions": versions, "blobs": blobs})
    bundle_id = str(uuid.uuid4())
    created = now_iso()
    archives = _archives(ar, origin_ids)
    manifest = {"format": B.FORMAT, "bundle_id": bundle_id, "created": created, "archives": archives,
                "sender_archive": ar.archive_id, "dossiers": dossiers,
                "transfer": {"reason": reason, "keep_copy": keep_copy, "by": ar.user.name, "date": today.isoformat(),
                             "to": recipient.name, "to_archive": recipient.archive_id}}
    header = {"bundle_id": bundle_id, "created": created, "persons": len(dossiers),
              "sender": own.to_dict(), "recipient": recipient.to_dict()}
    data = B.write(header, B.pack(manifest, parts), recipient, sign_key)
    if write is not None:
        write(data)
    digest = hashlib.sha256(data).hexdigest()
    out, unlink = [], []
    if not keep_copy:      # freed pages are overwritten with zeros (SQLite's secure_delete)
        ar.con.execute("PRAGMA secure_delete=ON")
    with ar.batch(size_hint=len(rows)) as con:
        received.ensure_tables(con)
        con.execute("INSERT INTO transfers(id, direction, peer_archive, peer_name, peer_root, persons, time, actor,"
                    " bundle_sha256) VALUES(?,?,?,?,?,?,?,?,?)",
                    (bundle_id, "out", recipient.archive_id, recipient.name, recipient.root_fingerprint, len(rows),
                     created, ar.user.name, digest))
        for row in rows:
            entry = normalize_entry("status", {
                "date": today.isoformat(), "axis": "presence", "status": "迁出", "sub_status": "双向管控中",
                "place": recipient.name,
                "notes": f"异地服务管理：档案移交至“{recipient.name}”（档案库 {recipient.archive_id}，"
                        f"根密钥指纹 {recipient.root_fingerprint}），原因：{reason}；移交包 {bundle_id}"
                        f"{'；本库保留只读副本' if keep_copy else '；本库只保留脱敏存根'}"}, today=today)
            entry.update({"id": str(uuid.uuid4()), "recorded_at": now_iso(), "author": ar.user.name,
                          "transfer": {"bundle": bundle_id, "to": recipient.name, "to_archive": recipient.archive_id,
                                       "to_root": recipient.root_fingerprint, "reason": reason,
                                       "keep_copy": keep_copy, "versions": exported[row.id]}})

            def mutate(state, entry=entry):
                flags = list(state["profile"].get("record_flags") or [])
                if "迁出" not in flags:
                    flags.append("迁出")
                if keep_copy:
                    state["profile"]["record_flags"] = flags
                    state.setdefault("entries", []).append(entry)
                    return
                p = state["profile"]
                state["profile"] = {"name": mask_name(p.get("name")),
                                    "id_number": mask_id_number(p.get("id_number"), "external"),
                                    "gender": p.get("gender"), "record_flags": flags}
                state["entries"] = [entry]
                state["attachments"], state["documents"] = [], []
                state.pop("approvals", None)
            n = ar.dossiers.commit(row, mutate, f"迁出：移交至{recipient.name}（{reason}）", roles=("admin",),
                                   what="移交档案")
            con.execute("INSERT INTO transfers_out(dossier, transfer, keep_copy) VALUES(?,?,?)",
                        (row.id, bundle_id, int(keep_copy)))
            if not keep_copy:
                unlink += _remove_content(con, row.id, n, bundle_id)
            ar.audit("transfer.export", dossier=row.id, transfer=bundle_id, to_archive=recipient.archive_id,
                     version=n)
            out.append({"archive_no": row.archive_no, "id": row.id, "versions": exported[row.id],
                        "status_version": n})
    for bid in unlink:        # after the commit (a crash before leaves orphans for gc)
        ar.object_store.delete(bid)
    return {"bundle_id": bundle_id, "bundle_sha256": digest, "size": len(data), "persons": out,
            "to": {"name": recipient.name, "archive_id": recipient.archive_id,
                   "root_fingerprint": recipient.root_fingerprint, "key_fingerprint": recipient.key_fingerprint,
                   "fingerprint": recipient.key_fingerprint},
            "from": {"name": own.name, "archive_id": own.archive_id, "root_fingerprint": own.root_fingerprint,
                     "key_fingerprint": own.key_fingerprint, "fingerprint": own.key_fingerprint},
            "keep_copy": keep_copy, "bundle": data}


def _remove_content(con, dossier: str, stub_version: int, bundle_id: str) -> list[str]:
    """The masked stub: every version before ``stub_version`` keeps its header, hash and
    signature (the chain and the audit cross-check still verify, with the body's recorded
    digest), but loses its content — data key and sealed body; the dossier's blobs go too.
    Returns the blob ids whose files are to be removed after the commit."""
    for ver, content in con.execute("SELECT version, content FROM versions WHERE dossier=? AND version<?",
                                    (dossier, stub_version)).fetchall():
        con.execute("INSERT OR REPLACE INTO redacted_versions(dossier, version, body_sha256, transfer) VALUES(?,?,?,?)",
                    (dossier, ver, hashlib.sha256(body_of(bytes(content))).digest(), bundle_id))
        con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=?", (b"\x00\x00", dossier, ver))
    ids = [r[0] for r in con.execute("SELECT id FROM blobs WHERE dossier=?", (dossier,))]
    for bid in ids:
        con.execute("DELETE FROM received_blobs WHERE target=?", (bid,))
    con.execute("DELETE FROM blobs WHERE dossier=?", (dossier,))
    return ids


# ----------------------------------------------------------------------------- reading a bundle
class Opened:
    """A bundle verified and opened: the manifest, the data, and every dossier checked."""

    def __init__(self, bundle: B.Bundle, sender: PublicKey, manifest: dict, data: memoryview):
        self.bundle, self.sender, self.manifest, self.data = bundle, sender, manifest, data
        self.heads: dict[str, dict] = {}     # dossier id → head state
        self.deks: dict[tuple[str, int], bytes] = {}

    def part(self, ref) -> bytes:
        try:
            off, n = int(ref[0]), int(ref[1])
        except (TypeError, ValueError, IndexError):
            raise IntegrityError("移交包内容清单已损坏") from None
        if off < 0 or n < 0 or off + n > len(self.data):
            raise IntegrityError("移交包内容清单已损坏")
        return bytes(self.data[off:off + n])


def _check_addressed(ar: "Session", b: B.Bundle) -> None:
    rec = b.header.get("recipient") or {}
    own = public_key(ar)
    if rec.get("archive_id") != ar.archive_id or own is None or rec.get("box_pub") != own.box_pub.hex():
        raise IntegrityError(f"该移交包是发给另一档案库的（“{rec.get('name', '?')}”，{rec.get('archive_id', '?')}），"
                             f"不是本库（“{ar.name}”，{ar.archive_id}）；未作任何改动")


def _check_trusted(ar: "Session", sender: PublicKey, trust_fingerprint: str | None) -> bool:
    """The sender is known by its root-key fingerprint; its transfer-key fingerprint (which
    commits to the root key too, and is what ``transfer key`` shows first) is accepted alike."""
    fp, kfp = sender.root_fingerprint, sender.key_fingerprint
    if trust_fingerprint:
        given = normalize_fingerprint(trust_fingerprint)
        if given not in (fp, kfp):
            raise IntegrityError(f"发送方“{sender.name}”的根密钥指纹是 {fp}（移交公钥指纹 {kfp}），与确认的指纹 "
                                 f"{given} 不符；未作任何改动", fingerprint=fp)
        return True
    if not (is_trusted(ar, fp) or is_trusted(ar, kfp)):
        raise IntegrityError(
            f"发送方“{sender.name}”（档案库 {sender.archive_id}）的根密钥指纹 {fp} 不在本库的信任列表中；"
            f"请电话向对方核对指纹，确认后用 --trust-fingerprint {fp} 导入"
            f"（或先运行 dossier transfer trust add {fp}）；未作任何改动", fingerprint=fp)
    return False


def open_bundle(ar: "Session", data: bytes, *, trust_fingerprint: str | None = None,
                require_trust: bool = True) -> Opened:
    """Parse, check the address, signature, trust, then open and verify every
    dossier in the bundle. Raises before anything is written."""
    b = B.read(data)
    _check_addressed(ar, b)
    sender = b.verify_signature()
    if require_trust:
        _check_trusted(ar, sender, trust_fingerprint)
    box, _ = private_keys(ar)
    manifest, body = B.unpack(b.open(box))
    if manifest.get("bundle_id") != b.bundle_id or manifest.get("sender_archive") != sender.archive_id:
        raise IntegrityError("移交包内容与头部不符")
    op = Opened(b, sender, manifest, body)
    _verify(op)
    return op


def _verify(op: Opened) -> None:
    """Every author record up to its archive's root key, every version's hash, chain
    link, signature and sealed body, and every attachment against its recorded digest."""
    archives = op.manifest.get("archives") or {}
    sender_arch = archives.get(op.sender.archive_id)
    if sender_arch is None or sender_arch.get("root_key") != op.sender.root_key.hex():
        raise IntegrityError("移交包中发送方的根密钥与其签名密钥证书不符")
    for aid, a in archives.items():
        problems = received.verify_user_records(aid, a.get("root_admin"), a.get("root_key"), a.get("users") or {})
        if problems:
            raise IntegrityError("移交包中的用户证书无效：" + "；".join(problems))
    for d in op.manifest.get("dossiers") or []:
        did, no = d.get("id"), d.get("archive_no")
        parent = GENESIS
        vs = d.get("versions") or []
        if [v.get("version") for v in vs] != list(range(1, len(vs) + 1)) or not vs or d.get("head") != len(vs):
            raise IntegrityError(f"移交包中档案 {no} 的版本序列不完整")
        state = None
        for v in vs:
            n = v["version"]
            where = f"移交包中档案 {no} 第 {n} 版"
            try:
                aid = v["origin_archive"]
                rec = (archives.get(aid) or {}).get("users", {}).get(v["author"])
                if rec is None:
                    raise IntegrityError(f"{where}的作者“{v['author']}”没有来源档案库的用户证书")
                if rec.get("role") not in WRITER_ROLES:
                    raise IntegrityError(f"{where}的作者“{v['author']}”的角色无权写档案")
                author_key = bytes.fromhex(rec["sign_pub"])
                body = op.part(v["body"])
                dek = _unb64(v["dek"])
                row = VersionRow(did, n, bytes.fromhex(v["parent_hash"]), v["author"], v["time"], int(v["key_version"]),
                                 b"\x00\x00" + body,
                                 _unb64(v["audit_head"]) if v.get("audit_head") is not None else None,
                                 bytes.fromhex(v["hash"]), bytes.fromhex(v["signature"]))
            except (KeyError, ValueError, TypeError) as e:
                raise IntegrityError(f"{where}的记录已损坏（{type(e).__name__}）") from None
            problems = row.verify(aid, author_key, parent)
            if problems:
                raise IntegrityError(f"{where}校验失败：{'；'.join(problems)}")
            plain = aead.open_(dek, body, content_ad(aid, int(v["origin_scope"]), did, n), f"{where}内容")
            try:
                state = json.loads(plain)["state"]
            except (ValueError, KeyError):
                raise IntegrityError(f"{where}内容无法解析") from None
            op.deks[(did, n)] = dek
            v["_author_key"] = author_key
            parent = row.hash
        op.heads[did] = state
        digests = {}
        for item in (state or {}).get("attachments") or []:
            if item.get("blob") and item.get("sha256"):
                digests[item["blob"]] = item["sha256"]
        for blob in d.get("blobs") or []:
            data = op.part(blob["data"])
            want = digests.get(blob.get("id"))
            if want and hashlib.sha256(data).hexdigest() != want:
                raise IntegrityError(f"移交包中档案 {no} 的附件与档案记录的校验值不符")


def _masked_persons(op: Opened) -> list[dict]:
    from ..disclose.masking import mask_id_number, mask_name

    out = []
    for d in op.manifest.get("dossiers") or []:
        p = (op.heads.get(d["id"]) or {}).get("profile") or {}
        st = op.heads.get(d["id"]) or {}
        out.append({"name": mask_name(p.get("name")), "id_number": mask_id_number(p.get("id_number"), "external"),
                    "sender_archive_no": d.get("archive_no"), "versions": len(d.get("versions") or []),
                    "attachments": len(st.get("attachments") or []), "documents": len(st.get("documents") or [])})
    return out


def show(ar: "Session", data: bytes) -> dict:
    """What a bundle holds, before importing: sender, recipient, fingerprints and —
    when it is addressed to this archive and verifies — the persons, masked."""
    b = B.read(data)
    h = b.header
    sender = b.verify_signature()
    rec = PublicKey.from_dict(h.get("recipient") or {})
    out = {"bundle_id": b.bundle_id, "created": h.get("created"), "format": h.get("format"),
           "sha256": b.digest, "size": len(data), "signature_valid": True,
           "sender": {"name": sender.name, "archive_id": sender.archive_id,
                      "root_fingerprint": sender.root_fingerprint, "key_fingerprint": sender.key_fingerprint,
                      "fingerprint": sender.key_fingerprint},
           "recipient": {"name": rec.name, "archive_id": rec.archive_id, "root_fingerprint": rec.root_fingerprint,
                         "key_fingerprint": rec.key_fingerprint, "fingerprint": rec.key_fingerprint},
           "persons_count": h.get("persons"), "for_this_archive": False, "sender_trusted": None,
           "already_imported": None, "persons": None}
    try:
        _check_addressed(ar, b)
    except IntegrityError:
        return out
    out["for_this_archive"] = True
    out["sender_trusted"] = is_trusted(ar, sender.root_fingerprint) or is_trusted(ar, sender.key_fingerprint)
    out["already_imported"] = _imported(ar, b.bundle_id) is not None
    if ar.user.role == "admin":
        op = open_bundle(ar, data, require_trust=False)
        out["persons"] = _masked_persons(op)
        out["reason"] = (op.manifest.get("transfer") or {}).get("reason")
        out["origin_archives"] = [{"archive_id": aid, "name": a.get("name"),
                                   "root_fingerprint": root_fingerprint(bytes.fromhex(a.get("root_key")))}
                                  for aid, a in (op.manifest.get("archives") or {}).items()]
    ar.audit("transfer.show", transfer=b.bundle_id)
    return out


def _imported(ar: "Session", bundle_id: str):
    if not received.has_tables(ar.con):
        return None
    return ar.con.execute("SELECT * FROM transfers WHERE id=? AND direction='in'", (bundle_id,)).fetchone()


# ----------------------------------------------------------------------------- import
def import_bundle(ar: "Session", data: bytes, scope: str, *, trust_fingerprint: str | None = None,
                  today: date | None = None, merge: bool = False) -> dict:
    """Verify everything, then store every dossier of the bundle in ``scope`` with its
    full history. The same bundle a second time changes nothing. A person already
    registered here is refused, or with ``merge`` merged into the existing file: the
    incoming history is kept beside it (``merged_versions``, verified by ``check``) and
    the existing file gets a version adding the incoming entries, attachments and
    documents it lacks."""
    from ..persons import make_archive_no

    ar.require_role("admin", what="导入移交包")
    sid = ar.scopes.id_of(scope)
    ar.scopes.require(sid, "导入移交包")
    b = B.read(data)
    _check_addressed(ar, b)
    b.verify_signature()
    prev = _imported(ar, b.bundle_id)
    if prev is not None:
        return {"bundle_id": b.bundle_id, "already_imported": True, "imported_at": prev["time"], "persons": [],
                "sender": {"name": prev["peer_name"], "archive_id": prev["peer_archive"],
                           "root_fingerprint": prev["peer_root"]}}
    op = open_bundle(ar, data, trust_fingerprint=trust_fingerprint)
    confirmed = bool(trust_fingerprint)
    dossiers = op.manifest.get("dossiers") or []
    # refusals before any write: a person already here, a dossier id already here
    tokens, hosts = {}, {}
    for d in dossiers:
        idn = ((op.heads.get(d["id"]) or {}).get("profile") or {}).get("id_number")
        if not idn:
            raise IntegrityError(f"移交包中档案 {d.get('archive_no')} 没有公民身份号码")
        token = ar.keyring.blind_token(idn)
        same = ar.con.execute("SELECT archive_no FROM dossiers WHERE id=?", (d["id"],)).fetchone()
        if same is None and received.has_tables(ar.con):
            same = ar.con.execute("SELECT d.archive_no FROM merged_versions m JOIN dossiers d ON d.id=m.host"
                                  " WHERE m.dossier=? LIMIT 1", (d["id"],)).fetchone()
        if same:
            raise RefusedOperation(f"移交包中的档案（原档号 {d.get('archive_no')}）已在本库（档号 {same[0]}），"
                                   "未导入任何档案")
        dup = ar.con.execute("SELECT d.id, d.archive_no, d.scope FROM dossier_keys k JOIN dossiers d"
                             " ON d.top_scope=k.top_scope AND d.id=k.dossier WHERE k.id_token=?", (token,)).fetchone()
        if dup and not merge:
            raise RefusedOperation(f"移交包中的人员（原档号 {d.get('archive_no')}）已在本库建档（档号 {dup['archive_no']}），"
                                   "未导入任何档案；请核对后处理（同一人不能有两份档案；"
                                   "确认是同一人时可用 --merge 把移交来的历史并入本库档案）")
        if dup:
            host = ar.dossiers.resolve(dup["id"])
            ar.scopes.require(host.scope, "合并档案")
            ar.dossiers.refuse_if_sent(host)
            hosts[d["id"]] = host
        tokens[d["id"]] = token
    today = today or date.today()
    t = now_iso()
    sender = op.sender
    archives = op.manifest.get("archives") or {}
    out = []
    persons = ar.persons
    with ar.batch(size_hint=len(dossiers)) as con:
        received.ensure_tables(con)
        for aid, a in archives.items():
            if aid == ar.archive_id:
                continue
            con.execute("INSERT OR REPLACE INTO foreign_archives(archive, name, root_key) VALUES(?,?,?)",
                        (aid, a.get("name") or "", json.dumps({"root_admin": a.get("root_admin"),
                                                                "root_key": a.get("root_key"),
                                                                "ca_cert": a.get("ca_cert")})))
            for name, rec in (a.get("users") or {}).items():
                con.execute("INSERT OR REPLACE INTO foreign_users(archive, name, record) VALUES(?,?,?)",
                            (aid, name, json.dumps(rec, sort_keys=True)))
        con.execute("INSERT INTO transfers(id, direction, peer_archive, peer_name, peer_root, persons, time, actor,"
                    " bundle_sha256) VALUES(?,?,?,?,?,?,?,?,?)",
                    (b.bundle_id, "in", sender.archive_id, sender.name, sender.root_fingerprint, len(dossiers), t,
                     ar.user.name, b.digest))
        if confirmed and not (is_trusted(ar, sender.root_fingerprint) or is_trusted(ar, sender.key_fingerprint)):
            from .keys import trust_add
            trust_add(ar, sender.root_fingerprint, sender.name)
        kv, key = ar.keyring.scope_key(sid, "data")
        top = ar.scopes.top_of(sid)        # the partition the received dossiers go to
        for d in dossiers:
            did = d["id"]
            if did in hosts:
                out.append(_merge_into(ar, con, op, b, d, hosts[did]))
                continue
            seq = con.execute("UPDATE scopes SET seq=seq+1 WHERE id=? RETURNING seq", (sid,)).fetchone()[0]
            archive_no = make_archive_no(persons._street_code(sid), today.year, persons._community_code(sid), seq)
            from ..dossiers import ref_norm
            con.execute("INSERT INTO dossier_keys(id_token, ref_norm, archive_no, dossier, top_scope)"
                        " VALUES(?,?,?,?,?)", (tokens[did], ref_norm(archive_no), archive_no, did, top))
            con.execute("INSERT INTO dossiers(id, archive_no, ref_norm, scope, id_token, head, created, top_scope)"
                        " VALUES(?,?,?,?,?,?,?,?)", (did, archive_no, ref_norm(archive_no), sid, tokens[did],
                                                     len(d["versions"]), t, top))
            vhashes = {}
            for v in d["versions"]:
                n = v["version"]
                ad = content_ad(v["origin_archive"], int(v["origin_scope"]), did, n)
                wrapped = aead.seal(key, op.deks[(did, n)], ad + b"|dek")
                content = len(wrapped).to_bytes(2, "big") + wrapped + op.part(v["body"])
                con.execute("INSERT INTO versions(dossier, version, parent_hash, author, time, key_version, content,"
                            " audit_head, hash, signature, top_scope) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                            (did, n, bytes.fromhex(v["parent_hash"]), v["author"], v["time"], int(v["key_version"]),
                             content, _unb64(v["audit_head"]) if v.get("audit_head") is not None else None,
                             bytes.fromhex(v["hash"]), bytes.fromhex(v["signature"]), top))
                con.execute("INSERT INTO received_versions(dossier, version, origin_archive, origin_scope, author_key,"
                            " local_key_version, transfer) VALUES(?,?,?,?,?,?,?)",
                            (did, n, v["origin_archive"], int(v["origin_scope"]), v["_author_key"], kv, b.bundle_id))
                vhashes[str(n)] = v["hash"]
            tr = op.manifest.get("transfer") or {}
            con.execute("INSERT INTO received_dossiers(dossier, transfer, original_archive_no, sent_date, reason)"
                        " VALUES(?,?,?,?,?)",
                        (did, b.bundle_id, str(d.get("archive_no") or ""), str(tr.get("date") or ""),
                         kv.to_bytes(4, "big") + aead.seal(key, str(tr.get("reason") or "").encode(),
                                                           received.reason_ad(ar.archive_id, sid, did, b.bundle_id))))
            for blob in d.get("blobs") or []:
                local = ar.blobs.put(op.part(blob["data"]), scope=sid, dossier_id=did, kind=blob["kind"])
                con.execute("INSERT OR REPLACE INTO received_blobs(alias, target) VALUES(?,?)", (blob["id"], local))
            ar.audit("transfer.import", dossier=did, archive_no=archive_no, transfer=b.bundle_id,
                     from_archive=sender.archive_id, from_root=sender.root_fingerprint, vhashes=vhashes)
            from ..dossiers import DossierRow
            row = DossierRow(did, archive_no, sid, ar.scopes.path_of(sid), len(d["versions"]))
            ar.after_commit(row, row.head, op.heads[did])
            out.append({"archive_no": archive_no, "id": did, "sender_archive_no": d.get("archive_no"),
                        "versions": len(d["versions"]), "blobs": len(d.get("blobs") or [])})
    return {"bundle_id": b.bundle_id, "already_imported": False, "imported_at": t, "scope": ar.scopes.path_of(sid),
            "sender": {"name": sender.name, "archive_id": sender.archive_id,
                       "root_fingerprint": sender.root_fingerprint},
            "trusted_now": confirmed, "reason": (op.manifest.get("transfer") or {}).get("reason"),
            "persons": out}


def _merge_into(ar: "Session", con, op: Opened, b: B.Bundle, d: dict, host) -> dict:
    """``--merge``: keep the incoming history beside the existing file and add to the file
    what the incoming head has that it lacks (entries by id; attachments and documents,
    their blobs sealed again for the existing file)."""
    did, sender = d["id"], op.sender
    kv, key = ar.keyring.scope_key(host.scope, "data")
    vhashes = {}
    for v in d["versions"]:
        n = v["version"]
        ad = content_ad(v["origin_archive"], int(v["origin_scope"]), did, n)
        wrapped = aead.seal(key, op.deks[(did, n)], ad + b"|dek")
        con.execute("INSERT INTO merged_versions(host, dossier, version, parent_hash, author, time, key_version,"
                    " content, audit_head, hash, signature, origin_archive, origin_scope, author_key, local_key_version,"
                    " transfer) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (host.id, did, n, bytes.fromhex(v["parent_hash"]), v["author"], v["time"], int(v["key_version"]),
                     len(wrapped).to_bytes(2, "big") + wrapped + op.part(v["body"]),
                     _unb64(v["audit_head"]) if v.get("audit_head") is not None else None,
                     bytes.fromhex(v["hash"]), bytes.fromhex(v["signature"]), v["origin_archive"],
                     int(v["origin_scope"]), v["_author_key"], kv, b.bundle_id))
        vhashes[str(n)] = v["hash"]
    plain = {blob["id"]: (blob["kind"], op.part(blob["data"])) for blob in d.get("blobs") or []}
    head = op.heads[did]
    remap: dict[str, str] = {}

    def local(bid):
        if bid not in remap and bid in plain:
            kind, data = plain[bid]
            remap[bid] = ar.blobs.put(data, scope=host.scope, dossier_id=host.id, kind=kind)
        return remap.get(bid, bid)

    def copy(item: dict) -> dict:
        return {k: (local(x) if k.endswith("blob") and isinstance(x, str) else x) for k, x in item.items()}

    tr = op.manifest.get("transfer") or {}
    info = {"transfer": b.bundle_id, "dossier": did, "archive_name": sender.name, "archive_id": sender.archive_id,
            "root_fingerprint": sender.root_fingerprint, "original_archive_no": d.get("archive_no"),
            "versions": len(d["versions"]), "head_hash": d["versions"][-1]["hash"], "reason": tr.get("reason"),
            "date": now_iso()}
    added = {"entries": 0, "attachments": 0, "documents": 0}

    def mutate(state):
        for key_ in ("entries", "attachments", "documents"):
            have = {x.get("id") for x in state.get(key_) or []}
            for item in head.get(key_) or []:
                if item.get("id") not in have:
                    state.setdefault(key_, []).append(copy(item) if key_ != "entries" else dict(item))
                    added[key_] += 1
        state.setdefault("merged_from", []).append(info)
    n = ar.dossiers.commit(host, mutate, f"合并移交档案：来自{sender.name}（原档号 {d.get('archive_no')}）",
                           roles=("admin",), what="合并档案")
    ar.audit("transfer.import", dossier=host.id, merged=did, transfer=b.bundle_id, from_archive=sender.archive_id,
             from_root=sender.root_fingerprint, vhashes=vhashes)
    return {"archive_no": host.archive_no, "id": host.id, "sender_archive_no": d.get("archive_no"),
            "versions": len(d["versions"]), "blobs": len(remap), "merged": True, "merged_version": n, **added}


def merged_history(ar: "Session", ref: str) -> list[dict]:
    """The incoming histories merged into a file (``--merge``), verified: per merged
    dossier its versions (author, time, message, hash), as ``history`` shows them."""
    row = ar.dossiers._readable(ref, "查看档案历史")
    if not received.has_tables(ar.con):
        return []
    out: dict[str, list] = {}
    parent: dict[str, bytes] = {}
    for r in ar.con.execute("SELECT * FROM merged_versions WHERE host=? ORDER BY dossier, version", (row.id,)):
        v, o = _merged_row(r)
        problems = v.verify(o.archive_id, o.author_key, parent.get(v.dossier, GENESIS))
        if problems:
            raise IntegrityError(f"档案 {row.archive_no} 并入的历史第 {v.version} 版校验失败：{'；'.join(problems)}")
        parent[v.dossier] = v.hash
        _, key = ar.keyring.scope_key(row.scope, "data", o.local_key_version)
        from ..versions import open_content
        content = open_content(o.archive_id, o.scope, v, key)
        out.setdefault(v.dossier, []).append({"version": v.version, "author": v.author, "time": v.time,
                                              "message": content.get("message", ""), "hash": v.hash.hex()})
    return [{"dossier": k, "versions": vs} for k, vs in out.items()]


def _merged_row(r) -> tuple[VersionRow, "received.Origin"]:
    v = VersionRow(r["dossier"], r["version"], bytes(r["parent_hash"]), r["author"], r["time"], r["key_version"],
                   bytes(r["content"]), bytes(r["audit_head"]) if r["audit_head"] is not None else None,
                   bytes(r["hash"]), bytes(r["signature"]))
    return v, received.Origin(r["origin_archive"], r["origin_scope"], bytes(r["author_key"]), r["local_key_version"],
                              r["transfer"])


def transfers(ar: "Session") -> list[dict]:
    """Bundles sent and received (no personal data)."""
    if ar.user.role != "admin":
        raise PermissionDenied("仅管理员可查看移交记录")
    if not received.has_tables(ar.con):
        return []
    return [dict(r) for r in ar.con.execute("SELECT * FROM transfers ORDER BY time")]
