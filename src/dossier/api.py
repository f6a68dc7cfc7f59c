"""Archive façade: create an archive, open it as a user, hand out a session.

Each capability lives in its own module and hangs off the session
(``ar.persons``, ``ar.entries``, ``ar.dossiers``, ``ar.users`` …), so this
file stays small. The session itself, the user and the roles live below the
features in :mod:`dossier.session`, the timestamp in :mod:`dossier.clock`;
they are re-exported here, so ``from dossier.api import Session`` keeps
working (DESIGN.md "Layers").
"""

from __future__ import annotations

import os
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .clock import now_iso
from .config import password_bytes
from .crypto import aead, kdf
from .crypto.keys import UserKeys, wrap_to
from .errors import ArchiveExists, InvalidInput, NoArchive, WrongPassword
from .session import ROLE_LABELS, ROLES, Session, User
from .store import meta
from .store.atomic import atomic_write

__all__ = ["FORMAT_VERSION", "ROLES", "ROLE_LABELS", "Session", "Unlocked", "User", "init_archive", "now_iso",
           "open_archive", "open_unlocked", "read_config", "unlock"]

FORMAT_VERSION = 1


def read_config(path: Path) -> dict:
    cfg_path = path / "archive.toml"
    missing = NoArchive(f"“{path}”下没有档案库（先运行 dossier init，或用 --archive / DOSSIER_ARCHIVE 指定路径）")
    if not cfg_path.is_file():
        raise missing
    with open(cfg_path, "rb") as f:
        cfg = tomllib.load(f)
    if cfg.get("store", {}).get("metadata") != "postgresql" and not (path / "meta.db").is_file():
        raise missing
    return cfg


def init_archive(path, *, name: str, admin: str, password, kdf_params: kdf.KdfParams | None = None,
                 store: str | None = None) -> str:
    """Create an archive directory with its first admin. Returns the archive id.

    ``store``: a PostgreSQL URL (``postgresql://user@host/db``, libpq conventions;
    no password in it) to keep the records there instead of ``meta.db``; the
    directory then holds ``archive.toml`` naming the store (and the search index).
    Default: ``DOSSIER_STORE`` when set (the test lane on PostgreSQL), else ``meta.db``."""
    import tomli_w

    from .users import validate_user_name

    path = Path(path)
    if (path / "archive.toml").exists() or (path / "meta.db").exists():
        raise ArchiveExists(f"“{path}”下已有档案库")
    if not name.strip():
        raise InvalidInput(field="name", reason="档案库名称不能为空")
    validate_user_name(admin)
    params = kdf_params or kdf.default_params()
    archive_id = str(uuid.uuid4())
    if store is None:
        store = _default_store(path)
    if store and not meta.is_url(store):
        raise InvalidInput(field="store", reason="--store 须为 postgresql://… 形式的数据库地址")
    if store and _has_password(store):
        raise InvalidInput(field="store", reason="数据库地址中不能含口令（请用 PGPASSFILE / ~/.pgpass 提供口令）")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    if store:
        from .store import pg
        if "*" in store:
            store = pg.create_database(store)
        con = pg.create(store, meta.SCHEMA)
    else:
        (path / "objects").mkdir(exist_ok=True, mode=0o700)
        con = meta.create(path / "meta.db")
    keys = UserKeys.generate()
    salt, sealed = keys.seal(password_bytes(password), params)
    with meta.transaction(con):
        con.execute(
            "INSERT INTO users(name, role, status, box_pub, sign_pub, salt, sealed, kdf, created, added_by)"
            " VALUES(?,?,?,?,?,?,?,?,?,?)",
            (admin, "admin", "active", keys.box_public, keys.sign_public, salt, sealed,
             tomli_w.dumps(params.to_dict()), now_iso(), admin))
        from .users import user_record_bytes
        con.execute("UPDATE users SET record_sig=? WHERE name=?",
                    (keys.sign_bytes(user_record_bytes(archive_id, admin, "admin", None, keys.box_public,
                                                       keys.sign_public)), admin))
        from .crypto.keyring import archive_key_context
        for kind in ("blind",):
            con.execute("INSERT INTO archive_keys(kind, user, wrapped) VALUES(?,?,?)",
                        (kind, admin, wrap_to(keys.box_public, aead.new_key(), archive_key_context(archive_id, kind))))
        con.execute("INSERT INTO meta(key, value) VALUES('archive_id', ?), ('name', ?), ('format', ?)",
                    (archive_id, name, str(FORMAT_VERSION)))
    con.close()
    cfg = {"format_version": FORMAT_VERSION, "archive_id": archive_id, "name": name,
           "created_by_version": __version__, "created": now_iso(),
           "root_admin": admin, "root_admin_key": keys.sign_public.hex(),
           "kdf": {"algorithm": "argon2id", **params.to_dict()},
           "store": ({"metadata": "postgresql", "url": store, "blobs": "postgresql"} if store else
                     {"metadata": "sqlite", "url": "meta.db", "blobs": "objects", "synchronous": "FULL"}),
           "index": {"backend": "whoosh", "dir": "index"}}
    atomic_write(path / "archive.toml", tomli_w.dumps(cfg).encode())
    return archive_id


@dataclass(frozen=True, repr=False)
class Unlocked:
    """A user's keys, unsealed once (at login). :func:`open_unlocked` opens
    sessions with them without running the KDF again; the user row is re-read
    each time, so a revoked user's keys stop working at once. Holds secrets:
    its repr shows none, and it is never written anywhere."""

    user: str
    role: str           # at unlock; every session re-reads it
    archive_id: str
    keys: UserKeys

    def __repr__(self) -> str:
        return f"Unlocked(user={self.user!r}, role={self.role!r}, archive_id={self.archive_id!r})"


def _default_store(path: Path) -> str | None:
    """``DOSSIER_STORE``: a PostgreSQL URL for every new archive (the test lane on PostgreSQL;
    a ``*`` in the database name makes a fresh database per archive)."""
    return os.environ.get("DOSSIER_STORE", "").strip() or None


def _has_password(url: str) -> bool:
    from urllib.parse import parse_qs, urlsplit

    u = urlsplit(url)
    return u.password is not None or "password" in parse_qs(u.query)


def _connect(path: Path, timeout: float):
    cfg = read_config(path)
    sync = str(cfg.get("store", {}).get("synchronous", "FULL")).upper()
    if sync not in ("FULL", "NORMAL"):
        raise InvalidInput(field="store.synchronous", reason="archive.toml 中只能是 FULL 或 NORMAL")
    return cfg, meta.open_store(path, cfg, timeout=timeout)


def _active_row(con, user: str, unknown: str):
    row = con.execute("SELECT * FROM users WHERE name=?", (user,)).fetchone()
    if row is None:
        raise WrongPassword(unknown)
    if row["status"] != "active":
        raise WrongPassword(f"用户“{user}”已被停用")
    return row


def unlock(path, user: str, password, *, timeout: float = 30.0) -> Unlocked:
    """Run the KDF once and unseal ``user``'s keys. The same answer for an
    unknown user and a wrong password (:class:`WrongPassword`, exit 12)."""
    path = Path(path)
    cfg, con = _connect(path, timeout)
    try:
        row = _active_row(con, user, f"用户“{user}”不存在或口令错误")
        params = kdf.KdfParams.from_dict(tomllib.loads(row["kdf"]))
        try:
            keys = UserKeys.unseal(password_bytes(password), row["salt"], row["sealed"], params)
        except WrongPassword:
            raise WrongPassword(f"用户“{user}”不存在或口令错误") from None
    finally:
        con.close()
    return Unlocked(user, row["role"], cfg["archive_id"], keys)


def open_unlocked(path, unlocked: Unlocked, *, timeout: float = 30.0) -> Session:
    """A session for keys :func:`unlock` unsealed earlier, without the KDF.
    Refused (:class:`WrongPassword`) once the user is revoked or gone, or when
    the keys are not the user's on this archive any more."""
    path = Path(path)
    user = unlocked.user
    cfg, con = _connect(path, timeout)
    try:
        row = _active_row(con, user, f"用户“{user}”已被停用")
        if (cfg["archive_id"] != unlocked.archive_id or bytes(row["box_pub"]) != unlocked.keys.box_public
                or bytes(row["sign_pub"]) != unlocked.keys.sign_public):
            raise WrongPassword(f"用户“{user}”已被停用")
        return _equip(Session(path, con, cfg, row, unlocked.keys, timeout=timeout))
    except BaseException:
        con.close()
        raise


def _equip(ar: Session) -> Session:
    """Hang the archive's records off a new session, then the plugins (the
    session sits below these modules, so the façade attaches them)."""
    from .blobs import Blobs
    from .dossiers import Dossiers
    from .persons import Entries, Persons
    from .users import Scopes, Users

    ar.scopes = Scopes(ar)
    ar.users = Users(ar)
    ar.persons = Persons(ar)
    ar.entries = Entries(ar)
    ar.dossiers = Dossiers(ar)
    ar.blobs = Blobs(ar)
    ar._load_plugins()
    return ar


def open_archive(path, *, user: str, password, timeout: float = 30.0) -> Session:
    """Open the archive as ``user``: :func:`unlock`, then :func:`open_unlocked`."""
    return open_unlocked(path, unlock(path, user, password, timeout=timeout), timeout=timeout)
