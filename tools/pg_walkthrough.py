"""Replay README "区级服务器（PostgreSQL）/ 运行区级服务器" against throwaway servers (issue 12).

    .venv/bin/python tools/pg_walkthrough.py

Everything the README tells an administrator to do, with the real tools, on this machine:
a PostgreSQL server reachable over TCP with TLS only (a CA and a server certificate made here,
``hostssl … scram-sha-256``), a login role whose password sits in a ``~/.pgpass``-style file,
``PGSSLMODE=verify-full`` + ``PGSSLROOTCERT`` on the client; ``dossier init --store``;
``pg_dump -Fc`` / ``pg_restore`` into a new database and ``dossier check`` on it; a streaming
standby (``pg_basebackup -R``, synchronous), the primary killed, the standby promoted, the
archive served from it through ``DOSSIER_STORE_URL`` and through a two-host URL in
``archive.toml`` (libpq ``target_session_attrs=read-write``). Prints each step; exits non-zero
at the first that fails. Needs Debian's ``postgresql`` package and root (servers run as
``postgres``), like the tests. Synthetic data only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pgcluster import PgCluster, pg_bin  # noqa: E402

PASSWORD = "walkthrough-口令-2026"
ADMIN_PW = "walkthrough-admin-01"


def step(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, env=None, check=True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, env=env, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise SystemExit(f"失败：{' '.join(map(str, argv))}\n{p.stdout}\n{p.stderr}")
    return p


def make_certs(d: Path) -> None:
    """A CA and a server certificate for ``localhost`` / 127.0.0.1 (what the district's CA issues)."""
    cnf = d / "san.cnf"
    cnf.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=walkthrough-ca",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt")])
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", str(d / "server.key"), "-out", str(d / "server.csr")])
    run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
         "-CAcreateserial", "-days", "2", "-extfile", str(cnf), "-out", str(d / "server.crt")])


class TlsCluster(PgCluster):
    """A server listening on 127.0.0.1:port with TLS, password logins over TCP only with TLS."""

    def __init__(self, port: int, certs: Path):
        self.port, self.certs = port, certs
        extra = (f"-c listen_addresses=127.0.0.1 -c port={port} -c ssl=on -c ssl_cert_file=server.crt"
                 f" -c ssl_key_file=server.key -c password_encryption=scram-sha-256")
        super().__init__(durable=True, extra=extra)

    def _configure(self) -> None:
        pw = pwd.getpwnam("postgres")
        data = self.base / "data"
        for name in ("server.crt", "server.key"):
            shutil.copy(self.certs / name, data / name)
            os.chown(data / name, pw.pw_uid, pw.pw_gid)
            os.chmod(data / name, 0o600)
        # local socket: trust (the server's own administrator); TCP: TLS and a password, nothing else
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl replication all 127.0.0.1/32 scram-sha-256\n"
            "host all all 0.0.0.0/0 reject\n")

    def start(self) -> "TlsCluster":
        pw = pwd.getpwnam("postgres")
        self.base = Path(tempfile.mkdtemp(prefix="dpg", dir="/tmp"))
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        self._as_postgres([pg_bin("initdb"), "-D", str(self.base / "data"), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self._configure()
        self.start_server()
        return self

    def start_standby_of(self, primary: "TlsCluster", env: dict) -> "TlsCluster":
        pw = pwd.getpwnam("postgres")
        self.base = Path(tempfile.mkdtemp(prefix="dpg", dir="/tmp"))
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        # as the README: pg_basebackup over TLS with the replication role, -R writes primary_conninfo
        conninfo = (f"host=localhost port={primary.port} user=replicator application_name=standby"
                    f" sslmode=verify-full sslrootcert={env['PGSSLROOTCERT']} passfile={env['PGPASSFILE_POSTGRES']}")
        argv = [pg_bin("pg_basebackup"), "-D", str(self.base / "data"), "-R", "-X", "stream", "--no-sync",
                "-d", conninfo]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        p = subprocess.run(argv, capture_output=True, text=True, cwd="/")
        if p.returncode:
            raise SystemExit(f"pg_basebackup 失败：{p.stderr}")
        self.start_server()
        return self

    def admin(self, sql: str, db: str = "postgres") -> str:
        """psql as the server's administrator, on its local socket (as ``sudo -u postgres psql``)."""
        return run([pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.base),
                    "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql]).stdout


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="pgwalk"))
    os.chmod(work, 0o755)
    certs = work / "certs"
    certs.mkdir()
    primary = standby = None
    try:
        step("证书：区 CA 与数据库服务器证书（CN/SAN = localhost）")
        make_certs(certs)
        os.chmod(certs, 0o755)
        os.chmod(certs / "ca.crt", 0o644)

        p_port, s_port = free_port(), free_port()
        step(f"主库：只接受 TLS 的 TCP 连接（127.0.0.1:{p_port}，hostssl + scram-sha-256）")
        primary = TlsCluster(p_port, certs).start()
        primary.admin(f"CREATE ROLE dossier LOGIN PASSWORD '{PASSWORD}'")
        primary.admin("CREATE DATABASE dossier OWNER dossier")
        primary.admin(f"CREATE ROLE replicator REPLICATION LOGIN PASSWORD '{PASSWORD}'")

        step("应用服务器：~/.pgpass（0600）、PGSSLMODE=verify-full、PGSSLROOTCERT")
        pgpass = work / "pgpass"
        pgpass.write_text(f"localhost:*:*:dossier:{PASSWORD}\n")
        os.chmod(pgpass, 0o600)
        pgpass_pg = work / "pgpass-replicator"     # the standby host's own file, read by postgres
        pgpass_pg.write_text(f"localhost:*:replication:replicator:{PASSWORD}\n")
        pw = pwd.getpwnam("postgres")
        os.chown(pgpass_pg, pw.pw_uid, pw.pw_gid)
        os.chmod(pgpass_pg, 0o600)
        env = dict(os.environ, PGPASSFILE=str(pgpass), PGSSLMODE="verify-full", PGSSLROOTCERT=str(certs / "ca.crt"),
                   PGPASSFILE_POSTGRES=str(pgpass_pg), DOSSIER_KDF=os.environ.get("DOSSIER_KDF", "weak-for-tests"),
                   DOSSIER_PASSWORD=ADMIN_PW)
        env.pop("DOSSIER_STORE_URL", None)
        dossier = [sys.executable, "-m", "dossier"]
        url = f"postgresql://dossier@localhost:{p_port}/dossier"
        arch = work / "archive"

        step("没有 TLS 的连接被拒绝（sslmode=disable）")
        r = run(dossier + ["--archive", str(work / "plain"), "init", "--name", "珠晖区", "--admin", "admin",
                           "--store", url], env=dict(env, PGSSLMODE="disable"), check=False)
        assert r.returncode == 14, (r.returncode, r.stderr)

        step("dossier init --store postgresql://dossier@localhost/dossier（口令来自 PGPASSFILE，archive.toml 中没有口令）")
        run(dossier + ["--archive", str(arch), "init", "--name", "珠晖区", "--admin", "admin", "--store", url], env=env)
        toml = (arch / "archive.toml").read_text("utf-8")
        assert PASSWORD not in toml and url in toml, toml
        run(dossier + ["--archive", str(arch), "--user", "admin", "scope", "add", "珠晖区/粤汉街道/苗圃社区"], env=env)
        import dossier as lib
        from dossier import synth
        import random
        from datetime import date

        os.environ.update({k: env[k] for k in ("PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT", "DOSSIER_KDF")})
        with lib.open_archive(arch, user="admin", password=ADMIN_PW.encode()) as ar:
            refs = [ar.persons.add("珠晖区/粤汉街道/苗圃社区", synth.person(random.Random(i), today=date(2025, 6, 1)),
                                   today=date(2025, 6, 1)).archive_no for i in range(5)]
            ar.entries.add(refs[0], "interview", {"date": "2025-05-20", "method": "敲门见人", "subject": "本人",
                                                  "person_seen": True, "content": "合成记录"}, today=date(2025, 6, 1))
        run(dossier + ["--archive", str(arch), "--user", "admin", "check"], env=env)

        step("备份：pg_dump -Fc（经 TLS，以 dossier 身份）")
        dump = work / "档案.dump"
        run([pg_bin("pg_dump"), "-Fc", "-h", "localhost", "-p", str(p_port), "-U", "dossier", "-d", "dossier",
             "-f", str(dump)], env=env)
        step("恢复：新建空库 dossier_restored，pg_restore --no-owner，再对恢复的库 dossier check / audit verify")
        primary.admin("CREATE DATABASE dossier_restored OWNER dossier")
        run([pg_bin("pg_restore"), "-h", "localhost", "-p", str(p_port), "-U", "dossier", "-d", "dossier_restored",
             "--no-owner", "--exit-on-error", str(dump)], env=env)
        restored = dict(env, DOSSIER_STORE_URL=f"postgresql://dossier@localhost:{p_port}/dossier_restored")
        run(dossier + ["--archive", str(arch), "--user", "admin", "check"], env=restored)
        run(dossier + ["--archive", str(arch), "--user", "admin", "audit", "verify"], env=restored)

        step(f"流复制备用库：pg_basebackup -R（127.0.0.1:{s_port}，同步）")
        standby = TlsCluster(s_port, certs).start_standby_of(primary, env)
        primary.admin("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        primary.admin("SELECT pg_reload_conf()")
        import time
        for _ in range(100):
            if primary.admin("SELECT sync_state FROM pg_stat_replication WHERE application_name='standby'").strip() \
                    == "sync":
                break
            time.sleep(0.1)
        state = primary.admin("SELECT sync_state FROM pg_stat_replication WHERE application_name='standby'").strip()
        assert state == "sync", state
        with lib.open_archive(arch, user="admin", password=ADMIN_PW.encode()) as ar:
            last = ar.entries.add(refs[1], "interview", {"date": "2025-05-21", "method": "电话", "subject": "本人",
                                                         "person_seen": False, "content": "提升前最后一条"},
                                  today=date(2025, 6, 1))
        step("主库被杀（pg_ctl stop -m immediate），提升备用库（pg_ctl promote）")
        primary.crash()
        standby.promote()
        step("应用服务器改用备用库：DOSSIER_STORE_URL=…:备用库端口 dossier check")
        moved = dict(env, DOSSIER_STORE_URL=f"postgresql://dossier@localhost:{s_port}/dossier")
        run(dossier + ["--archive", str(arch), "--user", "admin", "check"], env=moved)
        r = run(dossier + ["--archive", str(arch), "--user", "admin", "show", refs[1], "--json"], env=moved)
        assert "提升前最后一条" in r.stdout, r.stdout[:500]       # committed just before the kill: not lost
        assert last["version"] == 2
        step("或在 archive.toml 中写两台主机：target_session_attrs=read-write 自动连到可写的那台")
        two = (f"postgresql://dossier@localhost:{p_port},localhost:{s_port}/dossier"
               "?target_session_attrs=read-write")
        toml2 = toml.replace(url, two)
        (arch / "archive.toml").write_text(toml2, "utf-8")
        run(dossier + ["--archive", str(arch), "--user", "admin", "check"], env=env)
        print("全部步骤通过。", flush=True)
        return 0
    finally:
        for c in (standby, primary):
            if c is not None:
                c.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
