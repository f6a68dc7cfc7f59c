"""A throwaway PostgreSQL server for the tests (issue 12).

``PgCluster.start()`` runs Debian's ``initdb`` into a fresh temporary
directory as the ``postgres`` user (PostgreSQL refuses to run as root),
starts ``postgres`` listening only on a private unix socket directory (no
TCP), and hands out one fresh database per test (``new_database()``).
``stop()`` kills the server and removes everything.

Tuned for tests, never for production: ``fsync=off``, no WAL archiving.
One cluster per pytest worker (the session fixture in tests/conftest.py).
Usable by hand too::

    python tests/pgcluster.py     # starts one, prints its URL, waits for Ctrl-C
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("没有找到 PostgreSQL（apt-get install postgresql；./dev setup 会安装）")
    return found[-1]


def available() -> bool:
    try:
        pg_bin("initdb")
        pwd.getpwnam("postgres")
    except (RuntimeError, KeyError):
        return False
    return True


class PgCluster:
    def __init__(self, *, durable: bool = False, extra: str = ""):
        """``durable``: fsync and synchronous commit on, as a production server (benchmarks,
        replication); ``extra``: more ``-c name=value`` server options."""
        self.base: Path | None = None
        self.proc_started = False
        self.durable = durable
        self.extra = extra
        self._n = itertools.count(1)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> "PgCluster":
        pw = pwd.getpwnam("postgres")
        # short path: a unix socket path must stay under ~100 bytes
        self.base = Path(tempfile.mkdtemp(prefix="dpg", dir="/tmp"))
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        data = self.base / "data"
        self._as_postgres([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self.start_server()
        return self

    def start_standby_of(self, primary: "PgCluster") -> "PgCluster":
        """A streaming standby of ``primary`` (``pg_basebackup -R``), started on its own socket."""
        pw = pwd.getpwnam("postgres")
        self.base = Path(tempfile.mkdtemp(prefix="dpg", dir="/tmp"))
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        self._as_postgres([pg_bin("pg_basebackup"), "-D", str(self.base / "data"), "-R", "-X", "stream",
                           "-h", str(primary.base), "-U", "postgres", "--no-sync",
                           "-d", f"host={primary.base} user=postgres application_name=standby"])
        self.start_server()
        return self

    def promote(self) -> None:
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.base / "data"), "-w", "promote"])

    def start_server(self) -> None:
        """Start (or, after :meth:`crash`, restart) the server on the same data directory."""
        fast = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" if not self.durable else ""
        opts = (f"-c listen_addresses='' -c unix_socket_directories='{self.base}' {fast}"
                f" -c max_connections=200 -c shared_buffers=32MB -c log_min_messages=warning {self.extra}")
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.base / "data"), "-l", str(self.base / "log"), "-w",
                           "-t", "60", "-o", opts, "start"])
        self.proc_started = True

    def crash(self) -> None:
        """Stop the server the hard way (``pg_ctl stop -m immediate``: like a power cut for the
        clients); the data directory stays for :meth:`start_server`."""
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"])
        self.proc_started = False

    def stop(self) -> None:
        if self.base is None:
            return
        if self.proc_started:
            try:
                self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w",
                                   "stop"])
            except subprocess.CalledProcessError:
                pass
            self.proc_started = False
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def _as_postgres(self, argv: list[str]) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd="/")

    # -- databases ---------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.base}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._n)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def psql(self, dbname: str, sql: str) -> str:
        """Run ``sql`` with psql (for tampering and inspection in tests)."""
        p = subprocess.run([pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.base),
                            "-U", "postgres", "-d", dbname, "-c", sql], check=True, capture_output=True, text=True)
        return p.stdout


if __name__ == "__main__":
    c = PgCluster().start()
    print(c.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()
