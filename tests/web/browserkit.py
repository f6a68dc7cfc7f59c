"""A real ``dossier serve`` in a subprocess and headless Chromium (Debian's, driven
by Playwright): for the tests that must hold in a browser a person would use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``dossier serve`` on a free loopback port, its log and TMPDIR in ``work``."""

    def __init__(self, archive: Path, work: Path, extra_env: dict | None = None, args: list[str] | None = None,
                 env_user: str | None = None, tls: bool = False):
        self.port = free_port()
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.tmp = work / "server-tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.log = work / "server.log"
        env = dict(os.environ, TMPDIR=str(self.tmp), **(extra_env or {}))
        if env_user:
            from tests.conftest import PASSWORDS

            env.update(DOSSIER_USER=env_user, DOSSIER_PASSWORD=PASSWORDS[env_user])
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "dossier", "--archive", str(archive), "serve",
                                      "--port", str(self.port), *(args or [])], stdout=self._logf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text(errors="replace"))
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("dossier serve did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._logf.close()


def login(page, base: str, user: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")
