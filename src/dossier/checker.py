"""``dossier check``: verify every version's hash, chain link and signature,
every blob's checksum, every ciphertext the user can open (its AEAD tag),
the keys wrapped to the user, and the user records. Names the damaged
dossier and version. Plugins add their checks (``ar.extra_checks``): the
audit chain and its cross-check with the versions (:mod:`dossier.audit_check`),
the search-index files (:mod:`dossier.index.verify`).

Reads the store through :class:`dossier.store.queries.MetaQueries` only."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .crosscheck import VersionLink, link_of
from . import received
from .crypto import aead, keys
from .errors import DossierError
from .store.queries import MetaQueries
from .users import user_record_bytes
from .versions import GENESIS, SIGNATURE_PROBLEM, VersionRow, content_ad

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
    # what a plugin completes once the signatures checked on the other core are answered
    after_signatures: list = field(default_factory=list, repr=False)

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
    ``max_head_age_days``).

    The Ed25519 signatures of the versions and of the audit chain (about half of the
    work) are verified by a forked child on the other core while this process reads,
    hashes and decrypts (:mod:`dossier.crypto.verify_aside`, when there are enough of
    them and the process is single-threaded); the report is complete only after the
    child's answer, which adds a problem for each signature that failed."""
    from .crypto import verify_aside

    rep = CheckReport()
    sigs = verify_aside.Signatures()
    try:
        _check(ar, rep, progress, sigs, options)
        sigs.settle()
        for settle in rep.after_signatures:
            settle()
    finally:
        sigs.close()
    return rep


def _check(ar: "Session", rep: CheckReport, progress, sigs, options: dict) -> None:
    from .crypto import verify_aside

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
    received_origins = received.origins(ar.con)
    removed = received.redacted(ar.con)
    foreign_roles = received.foreign_roles(ar.con)
    rows = q.dossiers()
    total = sum(r["head"] for r in rows)
    sigs.aside = verify_aside.stream(total)     # a version's signature and its change event's
    if progress:
        progress(0, total)
    _check_partition_keys(ar, q, rows, rep)
    for d, stored in q.versions_by_dossier(rows):
        rep.dossiers += 1
        where = f"档案 {d['archive_no']}"
        if any(r["top_scope"] != d["top_scope"] for r in stored):
            rep.add(where, "版本的分区键（top_scope）与档案不符", archive_no=d["archive_no"])
        vrows = [VersionRow.from_row(r) for r in stored]
        if [v.version for v in vrows] != list(range(1, len(vrows) + 1)) or len(vrows) != d["head"]:
            rep.add(where, f"版本序列不完整（记录 {d['head']} 版，实有 {len(vrows)} 版）", archive_no=d["archive_no"])
        parent = GENESIS
        for v in vrows:
            rep.versions += 1
            o = received_origins.get((d["id"], v.version))
            if o is not None:      # received from another archive (issue 13): its own archive and author key
                archive_id, scope, key_version, author_key = o.archive_id, o.scope, o.local_key_version, o.author_key
                role = foreign_roles.get((o.archive_id, v.author))
                if role is None:
                    rep.add(f"{where} 第 {v.version} 版", f"接收的版本作者“{v.author}”没有来源档案库的用户记录",
                            archive_no=d["archive_no"], version=v.version)
                elif role[1] != author_key.hex():
                    rep.add(f"{where} 第 {v.version} 版", f"接收的版本作者“{v.author}”的公钥与来源档案库的用户记录不符",
                            archive_no=d["archive_no"], version=v.version)
                elif role[0] not in ("admin", "clerk", "approver"):
                    rep.add(f"{where} 第 {v.version} 版", f"作者“{v.author}”的角色无权写档案",
                            archive_no=d["archive_no"], version=v.version)
            else:
                archive_id, scope, key_version, author_key = ar.archive_id, d["scope"], v.key_version, sign_pub.get(v.author)
                if v.author in users and users[v.author]["role"] not in ("admin", "clerk", "approver"):
                    rep.add(f"{where} 第 {v.version} 版", f"作者“{v.author}”的角色无权写档案",
                            archive_no=d["archive_no"], version=v.version)
            v.body_digest = removed.get((d["id"], v.version))   # content removed at a hand-over (issue 13)
            on_bad = functools.partial(rep.add, f"{where} 第 {v.version} 版", SIGNATURE_PROBLEM,
                                       archive_no=d["archive_no"], version=v.version)
            for p in v.verify(archive_id, author_key, parent, signatures=sigs, on_bad=on_bad):
                rep.add(f"{where} 第 {v.version} 版", p, archive_no=d["archive_no"], version=v.version)
            parent = v.hash
            if o is None:          # received versions have no change event here: the import event names them
                rep.links.append(link_of(ar.archive_id, v))
            if v.body_digest is not None:
                continue
            try:
                _, key = ar.keyring.scope_key(d["scope"], "data", key_version)
            except DossierError:      # not held (or damaged: reported with the wrapped keys)
                continue
            try:
                aead.open_envelope(key, v.content, content_ad(archive_id, scope, d["id"], v.version))
                rep.decrypted += 1
            except DossierError as e:
                rep.add(f"{where} 第 {v.version} 版", e.message, archive_no=d["archive_no"], version=v.version)
        if progress:
            progress(len(vrows), total)
    _check_merged(ar, rep, foreign_roles)
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

        # the audit chain and its cross-check with the records (issue 16)
        check_hook(ar, rep, signatures=sigs, **options)


def _check_partition_keys(ar: "Session", q: MetaQueries, rows: list, rep: CheckReport) -> None:
    """Every dossier's ``top_scope`` is its scope's top-level scope (a dossier never moves
    across it), and ``dossier_keys`` holds exactly its 档号, ID token and partition
    (docs/decisions.md "Partitioning by scope")."""
    keys = {r["dossier"]: r for r in q.dossier_keys()}
    for d in rows:
        where = f"档案 {d['archive_no']}"
        try:
            top = ar.scopes.top_of(d["scope"])
        except (KeyError, DossierError):
            rep.add(where, "档案所属辖区不存在", archive_no=d["archive_no"])
            continue
        if d["top_scope"] != top:
            rep.add(where, "分区键（top_scope）与档案所属辖区不符（档案被移出了所属街道）", archive_no=d["archive_no"])
        k = keys.pop(d["id"], None)
        if k is None or k["archive_no"] != d["archive_no"] or k["top_scope"] != d["top_scope"] \
                or bytes(k["id_token"]) != bytes(d["id_token"]):
            rep.add(where, "全库唯一键表（dossier_keys）中缺少该档案或记录不符", archive_no=d["archive_no"])
    for did, k in keys.items():
        rep.add(f"档号 {k['archive_no']}", "全库唯一键表（dossier_keys）中有不存在的档案", archive_no=k["archive_no"])


def _check_merged(ar: "Session", rep: CheckReport, foreign_roles: dict) -> None:
    """Histories merged into a file from a transfer (``transfer import --merge``): each
    version's hash, chain link, author signature and sealed body, like received versions."""
    if not received.has_tables(ar.con):
        return
    try:
        rows = ar.con.execute("SELECT m.*, d.archive_no, d.scope FROM merged_versions m JOIN dossiers d"
                              " ON d.id=m.host ORDER BY m.dossier, m.version").fetchall()
    except Exception:          # noqa: BLE001 - an archive whose transfer tables predate merges
        return
    parent: dict[str, bytes] = {}
    for r in rows:
        v = VersionRow(r["dossier"], r["version"], bytes(r["parent_hash"]), r["author"], r["time"], r["key_version"],
                       bytes(r["content"]), bytes(r["audit_head"]) if r["audit_head"] is not None else None,
                       bytes(r["hash"]), bytes(r["signature"]))
        where = f"档案 {r['archive_no']} 并入的历史第 {v.version} 版"
        rep.versions += 1
        expected = parent.get(v.dossier, GENESIS)
        if v.dossier not in parent and v.version != 1:
            rep.add(where, "并入的历史不完整（缺少前面的版本）", archive_no=r["archive_no"], version=v.version)
        role = foreign_roles.get((r["origin_archive"], v.author))
        if role is None or role[1] != bytes(r["author_key"]).hex():
            rep.add(where, f"作者“{v.author}”没有来源档案库的用户记录，或公钥不符", archive_no=r["archive_no"])
        for p in v.verify(r["origin_archive"], bytes(r["author_key"]), expected):
            rep.add(where, p, archive_no=r["archive_no"], version=v.version)
        parent[v.dossier] = v.hash
        try:
            _, key = ar.keyring.scope_key(r["scope"], "data", r["local_key_version"])
        except DossierError:
            continue
        try:
            aead.open_envelope(key, v.content, content_ad(r["origin_archive"], r["origin_scope"], v.dossier, v.version))
            rep.decrypted += 1
        except DossierError as e:
            rep.add(where, e.message, archive_no=r["archive_no"], version=v.version)


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
