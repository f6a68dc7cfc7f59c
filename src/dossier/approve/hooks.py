"""Wire issue 6 into an open archive session.

``attach(session)`` (called by ``Session._load_plugins``, or by
:func:`ensure_attached`) adds:

- ``ar.audit_log(action, **details)`` → one signed event in the hash chain;
  details that name a person (see :data:`PRIVATE_KEYS`) are sealed under the
  dossier's scope key or, without a dossier (searches, requests, lists), to the
  admins' audit key (an X25519 pair: public half in ``meta`` key ``audit_pub``,
  private half wrapped to every admin, ``archive_keys`` kind ``audit``), so a
  query typed by one user (a full name, an ID number) is readable by admins
  only — never by an inspector or another clerk reading the log;
- ``ar.audit_head(event=None)`` → the head anchored in each new dossier version (``event``:
  the one just appended in this transaction, which is the head);
- ``ar.on_user_added`` → a PDF-signing identity issued by the archive CA;
- ``ar.ca`` (lazy), ``ar.audit_chain`` (:class:`~dossier.audit.AuditLog`),
  ``ar.approvals`` and ``ar.disclosures``.

The archive CA is created the first time an admin opens the archive with
this plugin; its private key is wrapped to every admin (``archive_keys``
kind ``ca``), its certificate kept in ``meta`` (key ``ca_cert``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ..audit import SCHEMA as AUDIT_SCHEMA
from ..audit import AuditEvent, AuditLog
from ..crypto.ca import ArchiveCA, generate_signing_identity, load_cert
from ..crypto.keyring import archive_key_context
from ..crypto.keys import RAW, RAW_PRIV, UserKeys, wrap_to
from ..errors import PermissionDenied, RefusedOperation

if TYPE_CHECKING:
    from ..session import Session

# Detail keys that name or point at a person: sealed, never stored in clear.
PRIVATE_KEYS = frozenset({"dossier", "dossiers", "purpose", "archive_no", "ref", "refs", "person", "persons", "name",
                          "id_number", "phone", "query", "q", "profile", "changes", "text",
                          "file",    # a file name can be a person's name (张三名册.xlsx)
                          "vhash",   # a version's hash: would link the event to its dossier
                          "vhashes"})  # the same, of the versions a transfer brought in (issue 13)
CA_KIND = "ca"
AUDIT_KIND = "audit"          # admins' key for private details that name no dossier
AUDIT_KEY_ID = "archive:audit"


def identity_context(archive_id: str, user: str) -> bytes:
    from ..crypto import aead

    return aead.ad_for("pdf-signing-key", archive_id, user)


def attach(ar: "Session") -> None:
    if getattr(ar, "_issue6_attached", False):
        return
    ar._issue6_attached = True
    ar.con.executescript(AUDIT_SCHEMA)
    ar.audit_chain = AuditLog(ar.con, ar.archive_id)
    ar.audit_log = lambda action, **details: record(ar, action, **details)
    # the head anchored in a version: the chain's head, or the event just appended in this
    # transaction (the same thing, read without a round trip to the store); for an event the
    # store links at the commit, its id and the head its actor saw (_anchor_of)
    ar.audit_head = lambda ev=None: _anchor_of(ar, ev)
    ar.on_user_added = lambda name, role, step, keys, pw: issue_identity(ar, name, role, step, keys.box_public)
    # `user edit` (full name, unit, post): a new certificate carrying them, for later signatures
    ar.on_user_edited = lambda name, role, step, box_pub: issue_identity(ar, name, role, step, box_pub,
                                                                          grant_admin_keys=False)
    ar.meeting_approvals = []
    if ar.user.role == "admin":
        _ensure_ca(ar)
        _ensure_audit_key(ar)
        _ensure_own_identity(ar)
    from .chain import Approvals
    ar.approvals = Approvals(ar)
    try:
        from ..disclose.grants import Disclosures
        ar.disclosures = Disclosures(ar)
    except ImportError:  # pragma: no cover - while disclose is being built
        pass


def _anchor_of(ar: "Session", ev=None) -> bytes:
    """The ``audit_head`` of a new version. A format-2 event (linked by the store at the
    commit, so its place is not known yet) is named by its id, with the head its actor saw
    (a point of the chain, as every anchor is): the cross-check finds the event by the id."""
    if isinstance(ev, AuditEvent) and ev.seen is not None:
        return json.dumps({"seq": ev.seen[0], "hash": ev.seen[1], "event": ev.event_id},
                          separators=(",", ":")).encode()
    h = ev if isinstance(ev, AuditEvent) else ar.audit_chain.head()
    return json.dumps({"seq": h.seq, "hash": h.hash}, separators=(",", ":")).encode()


def ensure_attached(ar: "Session") -> "Session":
    attach(ar)
    return ar


# ----------------------------------------------------------------------------- audit
def record(ar: "Session", action: str, **details):
    public = {k: v for k, v in details.items() if k not in PRIVATE_KEYS}
    private = {k: v for k, v in details.items() if k in PRIVATE_KEYS}
    seal_key = key_id = seal_to = None
    if private:
        seal_key, key_id, seal_to = _seal_key_for(ar, details)
    ev = ar.audit_chain.append(ar.user.name, ar.keys, action, public, private=private or None,
                               seal_key=seal_key, key_id=key_id, seal_to=seal_to)
    if action in MEETING_ACTIONS and details.get("meeting"):
        _after_meeting(ar, str(details["meeting"]))
    return ev


# `dossier meeting add` (dossier.forms.service.add_meeting) records this event once the
# meeting is stored; the 会商 blocks of the approvals waiting at 会商 are signed then.
MEETING_ACTIONS = frozenset({"meeting_add", "meeting.add"})


def _after_meeting(ar: "Session", meeting_id: str) -> None:
    from ..errors import DossierError
    from ..forms.service import get_meeting

    try:
        meeting = get_meeting(ar, meeting_id)
    except DossierError as e:   # the meeting is stored; only the approval follow-up failed
        ar.meeting_approvals = [{"archive_no": None, "ok": False, "error": e.message}]
        return
    ar.meeting_approvals = ar.approvals.complete_meeting(meeting)


def _seal_key_for(ar: "Session", details: dict) -> tuple[bytes | None, str, bytes | None]:
    """(symmetric key, key_id, public key to seal to): the dossier's scope key, else the
    admins' audit key (the archive blind key only in an archive no admin has opened since)."""
    dossier = details.get("dossier")
    if isinstance(dossier, str):
        # the scope and which of its keys this user holds, in one query (one round trip on a server)
        row = ar.con.execute(
            "SELECT d.scope, EXISTS(SELECT 1 FROM scope_keys k WHERE k.scope=d.scope AND k.kind='data' AND k.user=?),"
            " EXISTS(SELECT 1 FROM scope_keys k WHERE k.scope=d.scope AND k.kind='inspect' AND k.user=?)"
            " FROM dossiers d WHERE d.id=?", (ar.keyring.user, ar.keyring.user, dossier)).fetchone()
        if row is not None:
            for kind, held in (("data", row[1]), ("inspect", row[2])):
                if held:
                    kv, key = ar.keyring.scope_key(row[0], kind)
                    return key, f"scope:{row[0]}:{kind}:{kv}", None
    pub = _meta_get(ar, "audit_pub")
    if pub is not None:
        return None, AUDIT_KEY_ID, bytes.fromhex(pub)
    return ar.keyring.archive_key("blind"), "archive:blind", None


def open_private(ar: "Session", event) -> dict | None:
    """Decrypt an event's private details when this user holds the key, else None."""
    if event.sealed is None:
        return None
    try:
        kid = event.key_id or ""
        if kid == AUDIT_KEY_ID:
            return event.private_boxed(_audit_box(ar), ar.archive_id)
        if kid == "archive:blind":
            key = ar.keyring.archive_key("blind")
        elif kid.startswith("scope:"):
            _, sid, kind, kv = kid.split(":")
            key = ar.keyring.scope_key(int(sid), kind, int(kv))[1]
        else:
            return None
        return event.private(key, ar.archive_id)
    except (PermissionDenied, ValueError):
        return None


def audit_events(ar: "Session", *, actor: str | None = None, since: str | None = None,
                 action: str | None = None) -> list[dict]:
    """``audit log`` for both faces: the events a user may read, with the private details
    this user's keys open (``private``; None otherwise). Admins and inspectors read
    everyone's events; any other role only its own (asking for another's is refused)."""
    from ..errors import PermissionDenied as _Refused

    attach(ar)
    if ar.user.role not in ("admin", "inspector"):
        if actor not in (None, "", ar.user.name):
            raise _Refused("只有管理员和督查人员可以查看他人的审计事件")
        actor = ar.user.name
    return [e.to_dict(open_private(ar, e))
            for e in ar.audit_chain.events(actor=actor or None, since=since or None, action=action or None)]


def public_keys(ar: "Session") -> dict[str, bytes]:
    return {r[0]: r[1] for r in ar.con.execute("SELECT name, sign_pub FROM users")}


def version_anchors(ar: "Session") -> list[tuple[int, str]]:
    out = []
    from ..received import has_tables

    # versions received from another archive carry the sending archive's chain head (issue 13)
    q = ("SELECT audit_head FROM versions v WHERE audit_head IS NOT NULL AND NOT EXISTS"
         " (SELECT 1 FROM received_versions r WHERE r.dossier=v.dossier AND r.version=v.version)"
         if has_tables(ar.con) else "SELECT audit_head FROM versions WHERE audit_head IS NOT NULL")
    for (blob,) in ar.con.execute(q):
        try:
            d = json.loads(bytes(blob))
            out.append((int(d["seq"]), str(d["hash"])))
        except (ValueError, KeyError, TypeError):
            continue
    return out


# ----------------------------------------------------------------------------- CA and identities
def _meta_get(ar, key):
    row = ar.con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def ca_cert_pem(ar: "Session") -> bytes:
    pem = _meta_get(ar, "ca_cert")
    if pem is None:
        raise RefusedOperation("档案库尚未建立签名 CA（请管理员登录一次）")
    return pem.encode()


def _ensure_ca(ar: "Session") -> None:
    if _meta_get(ar, "ca_cert") is not None:
        return
    ca = ArchiveCA.generate(ar.name or "dossier", ar.archive_id)
    with ar.transaction() as con:
        if _meta_get(ar, "ca_cert") is not None:
            return
        con.execute("INSERT INTO meta(key, value) VALUES('ca_cert', ?)", (ca.cert_pem.decode(),))
        for name, box_pub in con.execute("SELECT name, box_pub FROM users WHERE role='admin' AND status='active'"
                                         ).fetchall():
            con.execute("INSERT OR REPLACE INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                        (CA_KIND, name, wrap_to(box_pub, ca.key_pem, archive_key_context(ar.archive_id, CA_KIND))))
    ar._ca = ca


def _ensure_audit_key(ar: "Session") -> None:
    """Create the admins' audit key pair once (public half in ``meta``, private half
    wrapped to every active admin)."""
    if _meta_get(ar, "audit_pub") is not None:
        return
    priv = X25519PrivateKey.generate()
    raw = priv.private_bytes(**RAW_PRIV)
    with ar.transaction() as con:
        if _meta_get(ar, "audit_pub") is not None:
            return
        con.execute("INSERT INTO meta(key, value) VALUES('audit_pub', ?)",
                    (priv.public_key().public_bytes(**RAW).hex(),))
        for name, box_pub in con.execute("SELECT name, box_pub FROM users WHERE role='admin' AND status='active'"
                                         ).fetchall():
            con.execute("INSERT OR REPLACE INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                        (AUDIT_KIND, name, wrap_to(box_pub, raw, archive_key_context(ar.archive_id, AUDIT_KIND))))


def _audit_box(ar: "Session") -> UserKeys:
    """The audit key's private half as an unwrapping key (admins only; else PermissionDenied)."""
    raw = ar.keyring.archive_key(AUDIT_KIND)
    return UserKeys(X25519PrivateKey.from_private_bytes(raw), None)


def load_ca(ar: "Session") -> ArchiveCA:
    ca = getattr(ar, "_ca", None)
    if ca is None:
        try:
            key_pem = ar.keyring.archive_key(CA_KIND)
        except PermissionDenied:
            raise PermissionDenied("只有管理员持有档案库 CA 私钥，可以签发签名证书") from None
        ca = ArchiveCA.from_pem(key_pem, ca_cert_pem(ar))
        ar._ca = ca
    return ca


def issue_identity(ar: "Session", name: str, role: str, step: str | None, box_public: bytes, *,
                   grant_admin_keys: bool = True) -> None:
    """Issue ``name`` a PDF-signing key + certificate; the key is wrapped to the user's X25519 key.
    The certificate carries the person behind the account (full name, unit, post) when recorded."""
    from ..users import ensure_profiles, user_profile

    ca = load_ca(ar)
    ensure_profiles(ar.con)
    prof = user_profile(ar.con, name)
    key_pem, cert_pem = generate_signing_identity(ca, name, role, step, full_name=prof["full_name"],
                                                  unit=prof["unit"], title=prof["title"])
    ar.con.execute("UPDATE users SET pdf_identity=?, cert=? WHERE name=?",
                   (wrap_to(box_public, key_pem, identity_context(ar.archive_id, name)), cert_pem, name))
    if role == "admin" and grant_admin_keys:  # a new admin holds the CA key (and the audit key) too
        ar.con.execute("INSERT OR REPLACE INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                       (CA_KIND, name, wrap_to(box_public, ca.key_pem, archive_key_context(ar.archive_id, CA_KIND))))
        if _meta_get(ar, "audit_pub") is not None:
            ar.keyring.grant_archive_key(name, box_public, AUDIT_KIND)


def reissue_identity(ar: "Session", name: str) -> None:
    """(admin) issue a certificate for a user created before this feature existed."""
    ar.require_role("admin", what="签发签名证书")
    row = ar.con.execute("SELECT role, step, box_pub FROM users WHERE name=? AND status='active'", (name,)).fetchone()
    if row is None:
        raise RefusedOperation(f"用户“{name}”不存在或已停用")
    with ar.transaction():
        issue_identity(ar, name, row[0], row[1], row[2])
        record(ar, "user.cert", user=name)


def _ensure_own_identity(ar: "Session") -> None:
    row = ar.con.execute("SELECT cert FROM users WHERE name=?", (ar.user.name,)).fetchone()
    if row is not None and row[0] is None:
        with ar.transaction():
            issue_identity(ar, ar.user.name, ar.user.role, ar.user.step, ar.keys.box_public)


def signing_identity(ar: "Session") -> tuple[bytes, bytes]:
    """This user's (key_pem, cert_pem) for signing PDFs."""
    row = ar.con.execute("SELECT pdf_identity, cert FROM users WHERE name=?", (ar.user.name,)).fetchone()
    if row is None or row[0] is None:
        raise RefusedOperation(f"用户“{ar.user.name}”还没有签名证书（请管理员运行 dossier approve issue-cert "
                               f"{ar.user.name}）")
    key_pem = ar.keys.unwrap(bytes(row[0]), identity_context(ar.archive_id, ar.user.name))
    cert = bytes(row[1])
    load_cert(cert)
    return key_pem, cert
