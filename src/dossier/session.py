"""An open archive, unlocked for one user: the session every capability hangs off.

It sits below the features (DESIGN.md "Layers"): the features import it (for
the ``Session`` type, ``User`` and the roles), it imports none of them. Its
capabilities are attached from above — the archive's records (``scopes``,
``users``, ``persons``, ``entries``, ``dossiers``, ``blobs``) by the façade
when it opens the session (:func:`dossier.api.open_unlocked`), the plugins'
(``search``, ``approvals``, the audit log …) by ``_load_plugins``, and the
heavy ones (``forms``, ``meetings``, ``reports``, ``check``, ``gc``) on first
use. The plugins and the heavy ones are looked up by module name, so nothing
here imports a package above it.
"""

from __future__ import annotations

import importlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .crypto.keyring import Keyring
from .crypto.keys import UserKeys
from .errors import PermissionDenied
from .store import meta
from .store.atomic import crash_point

ROLES = ("admin", "clerk", "approver", "inspector")
ROLE_LABELS = {"admin": "管理员", "clerk": "社区专干", "approver": "审批人", "inspector": "督查人员"}


@dataclass
class User:
    name: str
    role: str
    step: str | None = None
    scopes: list[str] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


def granted_scope_paths(con, user: str) -> list[str]:
    """The scope paths granted to ``user`` (each grants its subtree)."""
    rows = con.execute(
        "SELECT s.path FROM grants g JOIN scopes s ON s.id=g.scope WHERE g.user=? ORDER BY s.path", (user,))
    return [r[0] for r in rows]


def _feature(module: str, name: str):
    """``name`` from a feature package above this module, looked up by module
    name on first use (a static import would point up the layers)."""
    return getattr(importlib.import_module(module), name)


class Session:
    """An open archive, unlocked for one user. Use as a context manager.

    Attached by the façade when it opens the session: ``scopes``, ``users``
    (:mod:`dossier.users`), ``persons``, ``entries`` (:mod:`dossier.persons`),
    ``dossiers`` (:mod:`dossier.dossiers`), ``blobs`` (:mod:`dossier.blobs`)."""

    def __init__(self, path: Path, con, cfg: dict, user_row, keys: UserKeys, timeout: float = 30.0):
        """The core of a session; :func:`dossier.api.open_unlocked` builds it and
        attaches the capabilities (see the module docstring)."""
        self.path = path
        self.con = con
        self.config = cfg
        self.archive_id: str = cfg["archive_id"]
        self.name: str = cfg.get("name", "")
        self.timeout = timeout
        self.keys = keys
        self.keyring = Keyring(con, self.archive_id, user_row["name"], keys)
        self.object_store = meta.blob_store(con, path)
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
        self.user = User(user_row["name"], user_row["role"], user_row["step"],
                         granted_scope_paths(con, user_row["name"]))

    def _load_plugins(self) -> None:
        """Capabilities from later packages that hook into commits (search index)."""
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
    def transaction(self, *, late_lock: bool = False):
        """One SQLite write transaction; nested calls join the outer one.

        Commit hooks (index updates) run after the outermost commit. ``late_lock``: see
        :func:`dossier.store.meta.transaction` (PostgreSQL; ignored by a nested call)."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self.con
            finally:
                self._tx_depth -= 1
            return
        self._tx_depth = 1
        try:
            with meta.transaction(self.con, timeout=self.timeout, late_lock=late_lock):
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
        return _feature("dossier.forms.facade", "Forms")(self)

    @property
    def meetings(self):
        return _feature("dossier.forms.facade", "Meetings")(self)

    @property
    def reports(self):
        return _feature("dossier.reports", "Reports")(self)

    def agenda(self, scope: str | None = None, *, within_days: int = 14, as_of=None, kinds=None):
        """The 工作台: what is due in ``scope`` by ``as_of + within_days`` (reports/agenda.py)."""
        return _feature("dossier.reports.agenda", "agenda")(self, scope, within_days=within_days, as_of=as_of,
                                                            kinds=kinds)

    def check(self, progress=None, **options):
        """``options``: ``heads`` (exported head files or directories), ``max_head_age_days``."""
        return _feature("dossier.checker", "check")(self, progress, **options)

    def gc(self, *, dry_run: bool = False, min_age_s: float = 600.0) -> dict:
        return _feature("dossier.gc", "gc")(self, dry_run=dry_run, min_age_s=min_age_s)

    def audit(self, action: str, **details):
        """Record an audit event (the hash-chained log plugs in here); returns what the log
        returns (the event), or None without one."""
        log = getattr(self, "audit_log", None)
        if log is not None:
            return log(action, **details)
        return None
