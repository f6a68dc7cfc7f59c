"""docx → PDF through LibreOffice headless, kept warm across a batch.

One ``soffice`` process converts a whole batch (``soffice --convert-to pdf
a.docx b.docx …``): start-up is paid once per batch instead of once per
document. Plaintext documents exist on disk only inside a private directory
(mode 0700, created by :func:`tempfile.mkdtemp`) holding the inputs, the
outputs and a throw-away LibreOffice profile; it is wiped in a ``finally``
(files overwritten, then removed). File names inside are opaque numbers.

The Chinese official fonts (宋体, 仿宋, 黑体, 楷体, 方正小标宋简体) are mapped to the
installed Noto CJK fonts through a private fontconfig file, so PDFs print with
serif 宋/仿宋 faces even where Windows fonts are absent.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from dossier.errors import DossierError, MissingDependency

INSTALL_HINT = ("未找到 LibreOffice（soffice），无法生成 PDF；docx 输出不受影响。\n"
                "安装：sudo apt-get install -y libreoffice-writer-nogui fonts-noto-cjk poppler-utils"
                "（或设置 DOSSIER_SOFFICE 指向 soffice 可执行文件）")

_FONT_MAP = {
    "Noto Serif CJK SC": ("宋体", "SimSun", "仿宋", "FangSong", "仿宋_GB2312", "FangSong_GB2312",
                          "方正小标宋简体", "FZXiaoBiaoSong-B05S", "楷体", "KaiTi", "楷体_GB2312", "STSong"),
    "Noto Sans CJK SC": ("黑体", "SimHei", "微软雅黑", "Microsoft YaHei"),
}
# ExportBookmarksToPDFDestination: Word bookmarks (the 审批表 signature places) become named destinations.
_FILTER = 'pdf:writer_pdf_Export:{"ExportBookmarksToPDFDestination":{"type":"boolean","value":"true"}}'


_LIVE: set = set()     # converters with a warm office, stopped at interpreter exit


@atexit.register
def _stop_all() -> None:
    for conv in list(_LIVE):
        conv.__exit__(None, None, None)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux),
    so a killed dossier leaves no office running (oosplash stops soffice.bin on SIGTERM)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _read_token(sock) -> bytes:
    buf = b""
    while not buf.endswith(b"\0"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.rstrip(b"\0")


def find_soffice() -> str | None:
    env = os.environ.get("DOSSIER_SOFFICE")
    if env:
        return env if (os.path.isfile(env) and os.access(env, os.X_OK)) else None
    for name in ("soffice", "libreoffice"):
        p = shutil.which(name)
        if p:
            return p
    return None


def require_soffice() -> str:
    exe = find_soffice()
    if not exe:
        raise MissingDependency(INSTALL_HINT, dependency="soffice")
    return exe


def _wipe(path: Path) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for f in files:
            p = os.path.join(root, f)
            try:
                if not os.path.islink(p):
                    size = os.path.getsize(p)
                    with open(p, "r+b") as fh:
                        fh.write(b"\0" * size)
                        fh.flush()
                os.unlink(p)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)


PRIVATE_PREFIX = "dossier-pdf-"


def private_temp_base() -> str | None:
    """Where converters keep their plaintext: RAM-backed /dev/shm when it is usable
    (the plaintext then never reaches a disk), else the usual temp directory.
    ``DOSSIER_TMPDIR`` overrides both."""
    forced = os.environ.get("DOSSIER_TMPDIR")
    if forced:
        return forced
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None   # tempfile's default (TMPDIR …)


def sweep_orphans(base: str | None = None) -> list[Path]:
    """Wipe private directories left by a converter whose process died (kill -9,
    power loss): each holds an ``owner.pid``; a directory whose owner is gone is
    wiped. Returns the directories wiped."""
    root = Path(base or tempfile.gettempdir())
    wiped = []
    for d in root.glob(PRIVATE_PREFIX + "*"):
        try:
            if not d.is_dir() or d.stat().st_uid != os.getuid():
                continue
            pid = int((d / "owner.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
            continue                      # the owner is alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        _wipe(d)
        wiped.append(d)
    return wiped


class PdfConverter:
    """``with PdfConverter() as conv: pdfs = conv.convert([docx_bytes, …])``."""

    def __init__(self, soffice: str | None = None, *, timeout: float = 600, warm: bool = False):
        self.soffice = soffice or require_soffice()
        self.timeout = timeout
        self.warm = warm
        self.dir: Path | None = None
        self.calls = 0
        self.warm_calls = 0
        self._server: subprocess.Popen | None = None
        self._pipes: list[Path] = []

    def _profile_template(self) -> Path | None:
        """An initialised, document-free LibreOffice profile, made once and copied per converter
        (saves the first-start initialisation on every batch)."""
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dossier"
        tpl = base / "lo-profile"
        if tpl.is_dir():
            return tpl
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = Path(tempfile.mkdtemp(prefix="lo-profile-", dir=base))
            subprocess.run([self.soffice, f"-env:UserInstallation=file://{tmp}", "--headless",
                            "--terminate_after_init"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120, env=dict(os.environ, HOME=str(tmp)))
            os.replace(tmp, tpl)
            return tpl
        except (OSError, subprocess.SubprocessError):
            return None

    def __enter__(self):
        base = private_temp_base()
        sweep_orphans(base)
        self.dir = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=base))
        os.chmod(self.dir, 0o700)
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        tpl = self._profile_template()
        if tpl is not None:
            shutil.copytree(tpl, self.dir / "profile", symlinks=True, dirs_exist_ok=True)
        conf = self.dir / "fonts.conf"
        aliases = "".join(
            f"<alias binding=\"same\"><family>{src}</family><prefer><family>{dst}</family></prefer></alias>"
            for dst, srcs in _FONT_MAP.items() for src in srcs)
        conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                        f'<cachedir>{self.dir / "fccache"}</cachedir>{aliases}</fontconfig>', encoding="utf-8")
        if self.warm:
            self._start_server()
        return self

    def _env(self) -> dict:
        return dict(os.environ, FONTCONFIG_FILE=str(self.dir / "fonts.conf"), HOME=str(self.dir))

    def _start_server(self) -> None:
        """Keep one LibreOffice running on this converter's private profile; each
        :meth:`convert` then hands it the files through LibreOffice's own
        single-instance pipe (no new process: ~0.4 s instead of ~2 s per call).

        The office is kept alive by an open, empty text document (with no window
        left, a headless office quits after a conversion). It runs in its own
        session and is stopped in :meth:`__exit__` (and at interpreter exit).
        """
        keep = self.dir / "keep.txt"
        keep.write_bytes(b"")
        url = f"file://{self.dir / 'profile'}"
        # LibreOffice names it by the MD5 of the profile URL in UTF-16, each byte in hex without padding
        ident = "".join(format(b, "x") for b in hashlib.md5(url.encode("utf-16-le")).digest())
        name = f"OSL_PIPE_{os.getuid()}_SingleOfficeIPC_{ident}"
        self._pipes = [Path(d) / name for d in ("/tmp", "/var/tmp")]
        try:
            self._server = subprocess.Popen(
                [self.soffice, f"-env:UserInstallation={url}", "--headless", "--norestore", "--nolockcheck",
                 "--nodefault", str(keep)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                env=self._env(), cwd=self.dir, start_new_session=True, preexec_fn=_die_with_parent)
        except OSError:
            self._server = None
            return
        _LIVE.add(self)

    def _ipc_path(self, timeout: float = 30) -> Path | None:
        """The office's request pipe once it exists (None: no warm office, use a process per call)."""
        if self._server is None:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                self._server = None
                return None
            for p in self._pipes:
                if p.exists():
                    return p
            time.sleep(0.02)
        self._stop_server()
        return None

    def _ipc_convert(self, pipe: Path, args: list[str]) -> bool:
        """One request to the warm office; True when it says the work is done."""
        def esc(s: str) -> str:
            return s.replace("\\", "\\\\").replace("\0", "\\0").replace(",", "\\,")

        msg = "InternalIPC::Arguments1" + esc(f"file://{self.dir}") + "".join("," + esc(a) for a in args)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(str(pipe))
                if _read_token(s) != b"InternalIPC::SendArguments":
                    return False
                s.sendall(msg.encode("utf-8") + b"\0")
                return _read_token(s) == b"InternalIPC::ProcessingDone"
        except OSError:
            return False

    def _stop_server(self) -> None:
        srv, self._server = self._server, None
        _LIVE.discard(self)
        try:
            self._stop(srv)
        finally:
            for p in self._pipes:              # the office leaves its socket file behind when stopped
                try:
                    if p.is_socket() and p.stat().st_uid == os.getuid():
                        p.unlink()
                except OSError:
                    pass

    @staticmethod
    def _stop(srv) -> None:
        if srv is None:
            return
        try:
            os.killpg(srv.pid, signal.SIGTERM)       # its own session: the office and its oosplash
            srv.wait(timeout=10)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(srv.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            srv.wait(timeout=5)

    def __exit__(self, *exc):
        self._stop_server()
        if self.dir is not None:
            _wipe(self.dir)
            self.dir = None
        return False

    def convert(self, docs: list[bytes]) -> list[bytes]:
        """Convert docx documents (bytes) to PDF bytes, in one soffice run."""
        if not docs:
            return []
        if self.dir is None:
            with self:
                return self.convert(docs)
        batch = self.dir / f"b{self.calls}"
        inp, out = batch / "in", batch / "out"
        inp.mkdir(parents=True)
        out.mkdir()
        try:
            names = []
            for i, data in enumerate(docs):
                p = inp / f"{i:05d}.docx"
                p.write_bytes(data)
                names.append(p)
            env = self._env()
            cmd = [self.soffice, f"-env:UserInstallation=file://{self.dir / 'profile'}", "--headless",
                   "--norestore", "--nolockcheck", "--convert-to", _FILTER, "--outdir", str(out),
                   *map(str, names)]
            pipe = self._ipc_path()
            if pipe is not None and self._ipc_convert(pipe, cmd[2:]):
                self.calls += 1
                self.warm_calls += 1
                try:
                    return self._collect(names, out, None)
                except DossierError:
                    for f in out.iterdir():     # the warm office failed on a file: retry them all cold
                        f.unlink()
                    self._stop_server()
            try:
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                      timeout=self.timeout, cwd=self.dir)
            except subprocess.TimeoutExpired as exc:
                raise DossierError(f"LibreOffice 转换超时（{self.timeout:.0f} 秒）") from exc
            except OSError as exc:
                raise MissingDependency(f"{INSTALL_HINT}\n（{exc}）", dependency="soffice") from exc
            self.calls += 1
            return self._collect(names, out, proc)
        finally:
            _wipe(batch)

    @staticmethod
    def _collect(names: list[Path], out: Path, proc) -> list[bytes]:
        result = []
        for p in names:
            pdf = out / (p.stem + ".pdf")
            if not pdf.exists():
                err = proc.stderr.decode("utf-8", "replace").strip()[-300:] if proc is not None else "（常驻进程）"
                code = proc.returncode if proc is not None else "-"
                raise DossierError(f"LibreOffice 未能把文书转换为 PDF（退出码 {code}）：{err}")
            result.append(pdf.read_bytes())
        return result

    def convert_one(self, doc: bytes) -> bytes:
        return self.convert([doc])[0]


def docx_to_pdf(docs: list[bytes]) -> list[bytes]:
    with PdfConverter() as conv:
        return conv.convert(docs)


def signature_places(pdf: bytes) -> dict[str, dict]:
    """Named destinations ``sig_*`` (the 审批表's five signature blocks) → page index and position."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    out = {}
    for name, dest in reader.named_destinations.items():
        m = re.match(r"^/?sig(?:_|5F)(\w+)$", str(name))   # LibreOffice writes "_" as "5F"
        if m:
            out[m.group(1)] = {"page": reader.get_destination_page_number(dest),
                          "left": float(dest.left or 0), "top": float(dest.top or 0)}
    return out
