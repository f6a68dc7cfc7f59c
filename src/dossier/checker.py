"""``dossier check``: verify every version's hash, chain link and signature,
every blob's checksum, every ciphertext the user can open (its AEAD tag),
the keys wrapped to the user, and the user records. Names the damaged
dossier and version. Plugins add their checks (``ar.extra_checks``): the
audit chain and its cross-check with the versions (:mod:`dossier.audit_check`),
the search-index files (:mod:`dossier.index.verify`).

Reads the store through :class:`dossier.store.queries.MetaQueries` only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .crosscheck import VersionLink, link_of
from .crypto import aead, keys
from .errors import DossierError
from .store.queries import MetaQueries
from .users import user_record_bytes
from .versions import GENESIS, VersionRow, content_ad

if TYPE_CHECKING:
    from .session import Session


@dataclass
class CheckReport:
    dossiers: int = 0
    versions: int = 0
    blobs: int = 0
    decrypted: int = 0
    problems: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    links: list[VersionLink] = field(default_factory=list, repr=False)   # for the audit cross-check

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, what: str, **ids) -> None:
        self.problems.append({"where": where, "problem": what, **ids})

    def to_dict(self) -> dict:
        return {"ok": self.ok, "dossiers": self.dossiers, "versions": self.versions, "blobs": self.blobs,
                "decrypted": self.decrypted, "problems": self.problems, "warnings": self.warnings}


def check(ar: "Session", progress=None, **options) -> CheckReport:
    """``options`` go to the plugins' checks (``heads``: exported chain heads,
    ``max_head_age_days``)."""
    rep = CheckReport()
    q = MetaQueries(ar.con)
    users = {r["name"]: r for r in q.users()}
    root = ar.config.get("root_admin")
    for name, u in users.items():
        signer = users.get(u["added_by"] or "")
        ok = signer is not None and u["record_sig"] is not None and keys.verify(
            signer["sign_pub"], u["record_sig"],
            user_record_bytes(ar.archive_id, name, u["role"], u["step"], u["box_pub"], u["sign_pub"]))
        if name == root and u["sign_pub"].hex() != ar.config.get("root_admin_key"):
            ok = False
        if not ok:
            rep.add(f"用户 {name}", "用户记录签名无效（角色或公钥被改动）", user=name)
    sign_pub = {n: u["sign_pub"] for n, u in users.items()}
    _check_wrapped_keys(ar, q, rep)
    rows = q.dossiers()
    total = sum(r["head"] for r in rows)
    if progress:
        progress(0, total)
    for d, stored in q.versions_by_dossier(rows):
        rep.dossiers += 1
        where = f"档案 {d['archive_no']}"
        vrows = [VersionRow.from_row(r) for r in stored]
        if [v.version for v in vrows] != list(range(1, len(vrows) + 1)) or len(vrows) != d["head"]:
            rep.add(where, f"版本序列不完整（记录 {d['head']} 版，实有 {len(vrows)} 版）", archive_no=d["archive_no"])
        parent = GENESIS
        for v in vrows:
            rep.versions += 1
            for p in v.verify(ar.archive_id, sign_pub.get(v.author), parent):
                rep.add(f"{where} 第 {v.version} 版", p, archive_no=d["archive_no"], version=v.version)
            if v.author in users and users[v.author]["role"] not in ("admin", "clerk", "approver"):
                rep.add(f"{where} 第 {v.version} 版", f"作者“{v.author}”的角色无权写档案",
                        archive_no=d["archive_no"], version=v.version)
            parent = v.hash
            rep.links.append(link_of(ar.archive_id, v))
            try:
                _, key = ar.keyring.scope_key(d["scope"], "data", v.key_version)
            except DossierError:      # not held (or damaged: reported with the wrapped keys)
                continue
            try:
                aead.open_envelope(key, v.content, content_ad(ar.archive_id, d["scope"], d["id"], v.version))
                rep.decrypted += 1
            except DossierError as e:
                rep.add(f"{where} 第 {v.version} 版", e.message, archive_no=d["archive_no"], version=v.version)
        if progress:
            progress(len(vrows), total)
    known = {r["id"]: r for r in q.blobs()}
    from .blobs import blob_ad
    for blob_id, b in known.items():
        rep.blobs += 1
        data = ar.object_store.raw(blob_id)
        if data is None:
            rep.add(f"数据块 {blob_id[:12]}", "文件缺失", blob=blob_id)
            continue
        if hashlib.sha256(data).hexdigest() != blob_id:
            rep.add(f"数据块 {blob_id[:12]}", "内容与校验值不符（已损坏或被篡改）", blob=blob_id)
            continue
        try:
            _, key = ar.keyring.scope_key(b["scope"], b["key"], b["key_version"])
        except DossierError:          # not held (or damaged: reported with the wrapped keys)
            continue
        try:
            aead.open_envelope(key, data, blob_ad(ar.archive_id, b["scope"], b["dossier"], b["kind"]))
            rep.decrypted += 1
        except DossierError as e:
            rep.add(f"数据块 {blob_id[:12]}", e.message, blob=blob_id)
    for extra in getattr(ar, "extra_checks", []):
        extra(ar, rep, **options)
    if getattr(ar, "_issue6_attached", False):      # sessions with the audit plugin (all but core tests)
        from .audit_check import check_hook

        check_hook(ar, rep, **options)  # the audit chain and its cross-check with the records (issue 16)
    return rep


def _check_wrapped_keys(ar: "Session", q: MetaQueries, rep: CheckReport) -> None:
    """Every key wrapped to this user opens (a flipped bit in ``scope_keys`` or
    ``archive_keys`` is found here; keys wrapped to others only their holders can open)."""
    from .crypto.keyring import archive_key_context, scope_key_context

    for r in q.wrapped_keys(ar.user.name):
        if r["tbl"] == "scope":
            ctx = scope_key_context(ar.archive_id, r["scope"], r["kind"], r["key_version"])
            where = f"辖区 {ar.scopes.path_of(r['scope'])} 的{r['kind']}密钥（第 {r['key_version']} 版）"
        else:
            ctx, where = archive_key_context(ar.archive_id, r["kind"]), f"档案库{r['kind']}密钥"
        try:
            ar.keys.unwrap(bytes(r["wrapped"]), ctx)
        except (DossierError, ValueError):
            rep.add(where, f"发给用户 {ar.user.name} 的密钥无法打开（已损坏或被篡改）", user=ar.user.name)
