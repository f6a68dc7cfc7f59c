"""Shared fixtures for the whole suite.

- Every test runs with a clean environment: no ``DOSSIER_*`` variable leaks
  in from the developer's shell, HOME and TMPDIR point into the test's own
  temporary directory, and new archives use the weak test KDF
  (``DOSSIER_KDF=weak-for-tests``; ``tests/crypto/test_kdf.py`` asserts the
  production parameters separately).
- ``world``: a fresh archive (library-level, fast) with an admin, the scopes
  珠晖区/粤汉街道/苗圃社区 and 珠晖区/粤汉街道/东风社区, a clerk per 社区, an
  approver and an inspector.
- ``run_dossier``: run the real executable (``python -m dossier``) in a
  subprocess, for exit codes, crashes and concurrency.
- ``pg_cluster``: a throwaway PostgreSQL server for this worker
  (tests/pgcluster.py), started on first use; ``pg_url``: a fresh database in it.
- The PostgreSQL lane: ``DOSSIER_TEST_STORE=postgresql`` runs every test with
  new archives on that server (``DOSSIER_STORE`` set for the library and for
  the subprocesses, a fresh database per archive, dropped after the test).

All personal data here is synthetic (``dossier.synth``).
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

SCOPE_A = "珠晖区/粤汉街道/苗圃社区"
SCOPE_B = "珠晖区/粤汉街道/东风社区"
STREET = "珠晖区/粤汉街道"
TODAY = date(2025, 6, 1)

PASSWORDS = {
    "admin": "admin-pass-0001",
    "li": "li-pass-0001",        # clerk of 苗圃社区 (A)
    "wang": "wang-pass-0001",    # clerk of 东风社区 (B)
    "zhao": "zhao-pass-0001",    # approver, 派出所核查, the whole 街道
    "qian": "qian-pass-0001",    # inspector, the whole 区
}
CLERK_A, CLERK_B, APPROVER, INSPECTOR = "li", "wang", "zhao", "qian"

# "sqlite" (default) or "postgresql": the store new archives are created on (read before
# _clean_env removes every DOSSIER_* variable)
TEST_STORE = os.environ.get("DOSSIER_TEST_STORE", "sqlite").strip().lower() or "sqlite"
ON_PG = TEST_STORE in ("postgresql", "postgres", "pg")


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL server per pytest worker, on a private unix socket (tests/pgcluster.py)."""
    from pgcluster import PgCluster, available

    if not available():
        pytest.fail("需要 PostgreSQL（./dev setup 安装 Debian 的 postgresql 包）")
    c = PgCluster().start()
    yield c
    c.stop()


_db_prefix = iter(range(1, 10**9))


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty database; dropped after the test."""
    url = pg_cluster.new_database("u")
    yield url
    _drop_databases(pg_cluster, url.rsplit("/", 1)[1].split("?")[0])


@pytest.fixture
def pg_world(tmp_path, pg_cluster, monkeypatch) -> "World":
    """The ``world`` archive on PostgreSQL, whichever lane runs (its databases dropped after)."""
    prefix = f"w{os.getpid()}x{next(_db_prefix)}x"
    monkeypatch.setenv("DOSSIER_STORE", pg_cluster.url(prefix + "*"))
    yield make_world(tmp_path / "pgarchive")
    _drop_databases(pg_cluster, prefix + "%")


def _drop_databases(cluster, like: str) -> None:
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as con:
        names = [r[0] for r in con.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))]
        for n in names:
            con.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path_factory, request):
    """No DOSSIER_* from outside, a private HOME and TMPDIR, the weak test KDF."""
    for k in list(os.environ):
        if k.startswith("DOSSIER_"):
            monkeypatch.delenv(k, raising=False)
    home = tmp_path_factory.mktemp("home")
    tmp = tmp_path_factory.mktemp("tmpdir")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)   # tempfile caches gettempdir()
    monkeypatch.setenv("DOSSIER_KDF", "weak-for-tests")
    if ON_PG:
        cluster = request.getfixturevalue("pg_cluster")
        prefix = f"a{os.getpid()}x{next(_db_prefix)}x"
        monkeypatch.setenv("DOSSIER_STORE", cluster.url(prefix + "*"))
        yield
        _drop_databases(cluster, prefix + "%")
        return
    yield


@pytest.fixture
def core_only(monkeypatch):
    """Sessions without plugins (the search index hooks of issue 5), for tests of
    the archive core itself: faster, and a plugin's cost or failure does not
    blur what is being tested. Subprocess tests run the real, full program."""
    from dossier.api import Session

    monkeypatch.setattr(Session, "_load_plugins", lambda self: None)


@pytest.fixture
def temp_dir() -> Path:
    """The TMPDIR this test (and its subprocesses) use."""
    return Path(os.environ["TMPDIR"])


@dataclass
class World:
    """A fresh archive with users of every role (see module docstring)."""

    path: Path
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    scope_a: str = SCOPE_A
    scope_b: str = SCOPE_B
    today: date = TODAY
    rng: random.Random = field(default_factory=lambda: random.Random(20250601))

    def open(self, user: str = "admin", **kw):
        import dossier

        return dossier.open_archive(self.path, user=user, password=self.passwords[user], **kw)

    def env(self, user: str | None = "admin", **extra) -> dict[str, str]:
        """Environment for running the real ``dossier`` as ``user``."""
        env = dict(os.environ)
        env["DOSSIER_ARCHIVE"] = str(self.path)
        if user:
            env["DOSSIER_USER"] = user
            env["DOSSIER_PASSWORD"] = self.passwords[user]
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def person(self, **overrides) -> dict:
        from dossier import synth

        p = synth.person(self.rng, today=self.today)
        p.update(overrides)
        return p

    def add_person(self, scope: str | None = None, user: str | None = None, entries: int = 0, **overrides):
        """Register a synthetic person (and ``entries`` synthetic entries); returns (PersonRef, profile)."""
        from dossier import synth

        scope = scope or self.scope_a
        user = user or (CLERK_A if scope == self.scope_a else CLERK_B)
        p = self.person(**overrides)
        with self.open(user) as ar:
            ref = ar.persons.add(scope, p, today=self.today)
            if entries:
                for e in synth.entries(self.rng, p, today=self.today, n=entries):
                    e = dict(e)
                    ar.entries.add(ref.archive_no, e.pop("type"), e, today=self.today)
        return ref, p

    def snapshot(self) -> dict[str, str]:
        return snapshot(self.path)

    # -- the store underneath, for tests that tamper with it (either store) ---------------
    def store(self):
        """A raw connection to the archive's store, outside any session: ``meta.db`` or the
        PostgreSQL database (autocommit; rows by name and index on both)."""
        return store_connection(self.path)

    def blob_ids(self) -> list[str]:
        from dossier.store import meta

        con = self.store()
        try:
            return list(meta.blob_store(con, self.path).ids())
        finally:
            con.close()

    def read_blob(self, blob_id: str) -> bytes | None:
        from dossier.store import meta

        con = self.store()
        try:
            return meta.blob_store(con, self.path).raw(blob_id)
        finally:
            con.close()

    def write_blob(self, blob_id: str, data: bytes) -> None:
        """Overwrite the stored bytes of a blob (a file under objects/ or a row of objects)."""
        con = self.store()
        try:
            if getattr(con, "is_postgres", False):
                con.execute("UPDATE objects SET data=? WHERE id=?", (data, blob_id))
            else:
                (self.path / "objects" / blob_id[:2] / blob_id[2:]).write_bytes(data)
        finally:
            con.close()

    def delete_blob(self, blob_id: str) -> None:
        con = self.store()
        try:
            if getattr(con, "is_postgres", False):
                con.execute("DELETE FROM objects WHERE id=?", (blob_id,))
            else:
                (self.path / "objects" / blob_id[:2] / blob_id[2:]).unlink()
        finally:
            con.close()


def store_connection(path: Path):
    """See :meth:`World.store`."""
    import tomllib

    from dossier.store import meta

    cfg = tomllib.loads((Path(path) / "archive.toml").read_text("utf-8"))
    if cfg.get("store", {}).get("metadata") == "postgresql":
        from dossier.store import pg
        return pg.connect(cfg["store"]["url"])
    return meta.connect(Path(path) / "meta.db")


def pg_dump(path: Path) -> bytes:
    """``pg_dump`` of a PostgreSQL archive's database (plain SQL, what an administrator sees)."""
    import tomllib

    from pgcluster import pg_bin

    cfg = tomllib.loads((Path(path) / "archive.toml").read_text("utf-8"))
    return subprocess.run([pg_bin("pg_dump"), "--no-owner", "-d", cfg["store"]["url"]], check=True,
                          capture_output=True).stdout


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root`` (incl. -wal/-shm)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def make_world(path: Path) -> World:
    import dossier

    w = World(path)
    dossier.init_archive(path, name="粤汉街道", admin="admin", password=w.passwords["admin"])
    with w.open("admin") as ar:
        ar.scopes.add(SCOPE_A)
        ar.scopes.add(SCOPE_B)
        ar.users.add(CLERK_A, role="clerk", scopes=[SCOPE_A], password=w.passwords[CLERK_A])
        ar.users.add(CLERK_B, role="clerk", scopes=[SCOPE_B], password=w.passwords[CLERK_B])
        ar.users.add(APPROVER, role="approver", step="派出所核查", scopes=[STREET], password=w.passwords[APPROVER])
        ar.users.add(INSPECTOR, role="inspector", scopes=["珠晖区"], password=w.passwords[INSPECTOR])
    return w


@pytest.fixture
def world(tmp_path) -> World:
    return make_world(tmp_path / "archive")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def code(self) -> int:
        return self.returncode


@pytest.fixture
def run_dossier():
    """Run ``python -m dossier ARGS`` with ``env`` (default: the test's clean os.environ);
    ``memory_mb`` caps the child's address space (RLIMIT_AS), for hostile-file tests."""

    def run(args, *, env: dict | None = None, input: str | None = None, timeout: float = 60,
            cwd: str | os.PathLike | None = None, memory_mb: int | None = None) -> Run:
        def limit():
            import resource

            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        p = subprocess.run([sys.executable, "-m", "dossier", *map(str, args)], env=env or dict(os.environ),
                           input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           preexec_fn=limit if memory_mb else None)
        return Run(p.returncode, p.stdout, p.stderr)

    return run


@pytest.fixture
def snap():
    """``snap(root)`` → {relative path: SHA-256} of every file under root (incl. -wal/-shm)."""
    return snapshot


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (long crash trials, large corpora)")


def pytest_collection_modifyitems(config, items):
    """``slow`` tests run with --run-slow or when selected explicitly (-m slow).

    On the PostgreSQL lane, tests/pg/ is not run again (deselected, and counted so): those
    tests start their own PostgreSQL archives whatever the lane, and the SQLite lane ran them."""
    if ON_PG:
        here = Path(__file__).parent / "pg"
        again = [i for i in items if Path(str(i.fspath)).is_relative_to(here)]
        if again:
            config.hook.pytest_deselected(items=again)
            items[:] = [i for i in items if i not in again]
    if config.getoption("--run-slow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
