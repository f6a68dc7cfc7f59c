"""Archive façade: create an archive, open it as a user, hand out a session.

Each capability lives in its own module and hangs off the session
(``ar.persons``, ``ar.entries``, ``ar.dossiers``, ``ar.users`` …), so this
file stays small.
"""

from __future__ import annotations

import logging
import os
import tomllib
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .crypto import aead, kdf
from .crypto.keyring import Keyring
from .crypto.keys import UserKeys, wrap_to
from .errors import ArchiveExists, InvalidInput, NoArchive, PermissionDenied, WrongPassword
from .store import meta
from .store.atomic import atomic_write, crash_point
from .store.blobs import BlobStore

FORMAT_VERSION = 1
ROLES = ("admin", "clerk", "approver", "inspector")
ROLE_LABELS = {"admin": "管理员", "clerk": "社区专干", "approver": "审批人", "inspector": "督查人员"}


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _as_bytes(password) -> bytes:
    if hasattr(password, "reveal"):
        password = password.reveal()
    return password.encode() if isinstance(password, str) else bytes(password)


@dataclass
class User:
    name: str
    role: str
    step: str | None = None
    scopes: list[str] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


def read_config(path: Path) -> dict:
    cfg_path = path / "archive.toml"
    if not cfg_path.is_file() or not (path / "meta.db").is_file():
        raise NoArchive(f"“{path}”下没有档案库（先运行 dossier init，或用 --archive / DOSSIER_ARCHIVE 指定路径）")
    with open(cfg_path, "rb") as f:
        return tomllib.load(f)


def init_archive(path, *, name: str, admin: str, password, kdf_params: kdf.KdfParams | None = None) -> str:
    """Create an archive directory with its first admin. Returns the archive id."""
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
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    (path / "objects").mkdir(exist_ok=True, mode=0o700)
    con = meta.create(path / "meta.db")
    keys = UserKeys.generate()
    salt, sealed = keys.seal(_as_bytes(password), params)
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
           "store": {"metadata": "sqlite", "url": "meta.db", "blobs": "objects", "synchronous": "FULL"},
           "index": {"backend": "whoosh", "dir": "index"}}
    atomic_write(path / "archive.toml", tomli_w.dumps(cfg).encode())
    return archive_id


def open_archive(path, *, user: str, password, timeout: float = 30.0) -> "Session":
    path = Path(path)
    cfg = read_config(path)
    sync = str(cfg.get("store", {}).get("synchronous", "FULL")).upper()
    if sync not in ("FULL", "NORMAL"):
        raise InvalidInput(field="store.synchronous", reason="archive.toml 中只能是 FULL 或 NORMAL")
    con = meta.connect(path / "meta.db", timeout=timeout, synchronous=sync)
    row = con.execute("SELECT * FROM users WHERE name=?", (user,)).fetchone()
    if row is None:
        con.close()
        raise WrongPassword(f"用户“{user}”不存在或口令错误")
    if row["status"] != "active":
        con.close()
        raise WrongPassword(f"用户“{user}”已被停用")
    params = kdf.KdfParams.from_dict(tomllib.loads(row["kdf"]))
    try:
        keys = UserKeys.unseal(_as_bytes(password), row["salt"], row["sealed"], params)
    except WrongPassword:
        con.close()
        raise WrongPassword(f"用户“{user}”不存在或口令错误") from None
    return Session(path, con, cfg, row, keys, timeout=timeout)


class Session:
    """An open archive, unlocked for one user. Use as a context manager."""

    def __init__(self, path: Path, con, cfg: dict, user_row, keys: UserKeys, timeout: float = 30.0):
        from .dossiers import Dossiers
        from .persons import Entries, Persons
        from .users import Scopes, Users

        self.path = path
        self.con = con
        self.config = cfg
        self.archive_id: str = cfg["archive_id"]
        self.name: str = cfg.get("name", "")
        self.timeout = timeout
        self.keys = keys
        self.keyring = Keyring(con, self.archive_id, user_row["name"], keys)
        self.object_store = BlobStore(path / "objects")
        self.on_commit: list = []        # fn(session, row, version, state), once per changed dossier
        self.on_commit_batch: list = []  # fn(session, [(row, version, state), ...]), once per transaction
        # fn(session, size_hint) -> watcher or None, when a large batch begins; a watcher gets
        # .change(row, version, state) for every write and .close() when the batch ends
        self.on_batch_begin: list = []
        # fn(session, size_hint) -> handle with .close() or None, before the work that leads to a
        # large batch (an import's validation): hooks may start preparing meanwhile
        self.on_batch_prepare: list = []
        self._watchers: list = []
        self._tx_depth = 0
        self._pending: dict = {}
        self.scopes = Scopes(self)
        self.user = User(user_row["name"], user_row["role"], user_row["step"],
                         self.scopes.granted_paths(user_row["name"]))
        self.users = Users(self)
        self.persons = Persons(self)
        self.entries = Entries(self)
        self.dossiers = Dossiers(self)
        from .blobs import Blobs
        self.blobs = Blobs(self)
        self._load_plugins()

    def _load_plugins(self) -> None:
        """Capabilities from later packages that hook into commits (search index)."""
        import importlib

        for mod in ("dossier.approve.hooks", "dossier.index.hooks"):
            try:
                m = importlib.import_module(mod)
            except ModuleNotFoundError as e:
                if e.name != mod:
                    raise
                continue
            m.attach(self)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions ----------------------------------------------------
    @contextmanager
    def transaction(self):
        """One SQLite write transaction; nested calls join the outer one.

        Commit hooks (index updates) run after the outermost commit."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self.con
            finally:
                self._tx_depth -= 1
            return
        self._tx_depth = 1
        try:
            with meta.transaction(self.con, timeout=self.timeout):
                yield self.con
                crash_point("before-commit")
        except BaseException:
            self._pending.clear()
            raise
        finally:
            self._tx_depth = 0
        crash_point("after-commit")
        items, self._pending = list(self._pending.values()), {}
        if items:
            for fn in self.on_commit_batch:
                fn(self, items)
            for fn in self.on_commit:
                for item in items:
                    fn(self, *item)

    @contextmanager
    def batch(self, size_hint: int = 0):
        """A transaction expected to change about ``size_hint`` dossiers (an
        import): hooks may prepare beside the writes (the search index of a
        new scope is built while its rows are written). Nested: joins the
        outer transaction."""
        if self._tx_depth or size_hint <= 0 or not self.on_batch_begin:
            with self.transaction() as con:
                yield con
            return
        watchers = [w for fn in self.on_batch_begin if (w := fn(self, size_hint)) is not None]
        self._watchers = watchers
        try:
            with self.transaction() as con:
                yield con
        finally:
            self._watchers = []
            for w in watchers:      # after the commit hooks; on a rollback, throws away what was prepared
                try:
                    w.close()
                except Exception:   # noqa: BLE001 - cleanup must not hide the batch's own outcome
                    logging.getLogger("dossier").warning("批量操作的附属处理未能正常结束", exc_info=True)

    @contextmanager
    def preparing_batch(self, size_hint: int):
        """Around the work that leads up to a batch of about ``size_hint``
        changes (an import reads and checks its file): hooks may prepare on the
        side meanwhile (index workers start and load their dictionaries on an
        otherwise idle core). What the batch did not take up is released."""
        handles = [h for fn in self.on_batch_prepare if (h := fn(self, size_hint)) is not None] \
            if size_hint > 0 else []
        try:
            yield
        finally:
            for h in handles:
                h.close()

    def after_commit(self, row, version: int, state: dict) -> None:
        """Queue the commit hooks; a batch coalesces several changes of one
        dossier into its last state."""
        self._pending.pop(row.id, None)
        self._pending[row.id] = (row, version, state)
        for w in self._watchers:
            w.change(row, version, state)

    # -- permissions -----------------------------------------------------
    def require_role(self, *roles: str, what: str = "此操作") -> None:
        if self.user.role not in roles:
            allowed = "、".join(ROLE_LABELS[r] for r in roles)
            raise PermissionDenied(f"{self.user.role_label}“{self.user.name}”无权{what}（仅限{allowed}）")

    def scope_key(self, scope_path: str) -> bytes:
        return self.keyring.scope_key(self.scopes.id_of(scope_path))[1]

    def inspect_key(self, scope_path: str) -> bytes:
        return self.keyring.scope_key(self.scopes.id_of(scope_path), "inspect")[1]

    # -- capabilities of the feature packages (lazy: nothing heavy is imported on open)
    @property
    def forms(self):
        from .forms.facade import Forms

        return Forms(self)

    @property
    def meetings(self):
        from .forms.facade import Meetings

        return Meetings(self)

    @property
    def reports(self):
        from .reports import Reports

        return Reports(self)

    def agenda(self, scope: str | None = None, *, within_days: int = 14, as_of=None, kinds=None):
        """The 工作台: what is due in ``scope`` by ``as_of + within_days`` (reports/agenda.py)."""
        from .reports.agenda import agenda

        return agenda(self, scope, within_days=within_days, as_of=as_of, kinds=kinds)

    def check(self, progress=None, **options):
        """``options``: ``heads`` (exported head files or directories), ``max_head_age_days``."""
        from .checker import check

        return check(self, progress, **options)

    def gc(self, *, dry_run: bool = False, min_age_s: float = 600.0) -> dict:
        from .gc import gc

        return gc(self, dry_run=dry_run, min_age_s=min_age_s)

    def audit(self, action: str, **details) -> None:
        """Record an audit event (the hash-chained log plugs in here)."""
        log = getattr(self, "audit_log", None)
        if log is not None:
            log(action, **details)
