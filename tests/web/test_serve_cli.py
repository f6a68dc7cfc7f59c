"""``dossier serve`` through the real executable: refusals and TLS from the archive's CA."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.request

from tests.web.browserkit import free_port


def test_non_loopback_host_without_tls_is_refused(world, run_dossier):
    r = run_dossier(["serve", "--host", "0.0.0.0", "--port", str(free_port())], env=world.env(None))
    assert r.code == 2 and "TLS" in r.stderr and "--insecure-http" in r.stderr


def test_tls_options_go_together(world, run_dossier, tmp_path):
    pem = tmp_path / "x.pem"
    pem.write_text("x")
    r = run_dossier(["serve", "--tls-cert", pem], env=world.env(None))
    assert r.code == 2 and "--tls-key" in r.stderr


def test_no_archive_is_exit_10(run_dossier, tmp_path):
    r = run_dossier(["--archive", tmp_path / "none", "serve"])
    assert r.code == 10


def test_self_signed_tls_from_the_archive_ca(world, run_dossier, tmp_path):
    r = run_dossier(["approve", "ca-cert", "-o", tmp_path / "ca.pem"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    port = free_port()
    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([sys.executable, "-m", "dossier", "serve", "--host", "127.0.0.1", "--port", str(port),
                          "--tls-self-signed"], env=world.env("admin"), stdout=log, stderr=subprocess.STDOUT)
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=ctx, timeout=2) as resp:
                    body = resp.read().decode()
                    hsts = resp.headers.get("strict-transport-security")
                    cookie = resp.headers.get("set-cookie")
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise AssertionError((tmp_path / "log").read_text(errors="replace"))
                time.sleep(0.3)
        assert "登录" in body and hsts and "Secure" in cookie
    finally:
        p.terminate()
        p.wait(10)
        log.close()
    import os
    from pathlib import Path

    assert not list(Path(os.environ["TMPDIR"]).glob("dossier-tls-*"))     # the key file is gone
