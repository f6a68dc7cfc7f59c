"""An encrypting Whoosh ``Storage``: the index lives in memory, every file is
sealed on disk.

- On open, every ``*.enc`` file of the index directory is read, its AES-GCM
  tag checked (associated data = archive, scope, index kind, file name, so
  files cannot be swapped or renamed), and the plaintext kept in memory.
  Whoosh then reads from memory only.
- Whoosh writes segment files, then a TOC under a temporary name that it
  renames: the rename is the commit point. New files stay in memory until
  then; at the rename the pending segment files are written first, the TOC
  last, each sealed and written through the one atomic write path (temp
  file in the same directory, fsync, ``os.replace``, fsync directory). A
  crash before the TOC leaves orphan segments that the next commit sweeps;
  the previous TOC is still valid.
- Whoosh's scratch space (posting pools, column buffers) is an in-memory
  ``RamStorage`` too: upstream ``RamStorage.temp_storage`` would spill
  plaintext postings into the system temp directory.

Nothing readable reaches the disk: no terms, no stored fields, and file names
are Whoosh's random segment names.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

from whoosh.filedb.filestore import RamStorage
from whoosh.filedb.structfile import StructFile

from ..crypto import aead
from ..errors import IntegrityError
from ..store.atomic import atomic_write

SUFFIX = ".enc"


class _CapturingBytes(BytesIO):
    """A buffer that files itself in its storage when closed — also when
    Whoosh closes the raw file directly (posting-pool runs do)."""

    def __init__(self, storage: RamStorage, name: str):
        super().__init__()
        self._storage, self._name = storage, name

    def close(self):
        if not self.closed:
            self._storage.files[self._name] = self.getvalue()
        super().close()


class ScratchStorage(RamStorage):
    """In-memory scratch storage whose own scratch space is in memory too."""

    def create_file(self, name, **kwargs):
        return StructFile(_CapturingBytes(self, name), name=name)

    def temp_storage(self, name=None):
        return ScratchStorage()


class EncryptedStorage(RamStorage):
    def __init__(self, folder: str | os.PathLike, key: bytes, context: tuple[str, ...],
                 *, durable: bool = True):
        super().__init__()
        self.path = Path(folder)
        self.folder = str(self.path)
        self._key = key
        self._context = tuple(context)
        self._durable = durable
        self._pending: set[str] = set()
        self._stat: dict[str, tuple[int, int]] = {}

    # -- disk side -----------------------------------------------------------------

    def _ad(self, name: str) -> bytes:
        return aead.ad_for("dossier-index-file-v1", *self._context, name)

    def _disk(self, name: str) -> Path:
        return self.path / (name + SUFFIX)

    def _disk_names(self) -> dict[str, tuple[int, int]]:
        out = {}
        try:
            it = os.scandir(self.path)
        except FileNotFoundError:
            return out
        with it:
            for e in it:
                if e.name.startswith(".") or not e.name.endswith(SUFFIX) or not e.is_file():
                    continue
                st = e.stat()
                out[e.name[: -len(SUFFIX)]] = (st.st_mtime_ns, st.st_size)
        return out

    def _read(self, name: str) -> bytes:
        sealed = self._disk(name).read_bytes()
        return aead.open_(self._key, sealed, self._ad(name), "检索索引文件")

    def damaged(self) -> list[str]:
        """Sealed files on disk whose authentication tag does not verify (for ``check``;
        reads and decrypts each, keeps nothing)."""
        bad = []
        for name in sorted(self._disk_names()):
            try:
                self._read(name)
            except FileNotFoundError:   # removed by a concurrent commit
                continue
            except IntegrityError:
                bad.append(name + SUFFIX)
        return bad

    def exists_on_disk(self) -> bool:
        return any(n.endswith(".toc") for n in self._disk_names())

    def load(self) -> "EncryptedStorage":
        """(Re)read the directory: new or changed files are decrypted, vanished
        ones dropped. Cheap when nothing changed (a directory scan)."""
        names = self._disk_names()
        for name in list(self._stat):
            if name not in names:
                self.files.pop(name, None)
                del self._stat[name]
        for name, st in names.items():
            if self._stat.get(name) == st and name in self.files:
                continue
            try:
                self.files[name] = self._read(name)
            except FileNotFoundError:  # deleted by a concurrent commit
                self.files.pop(name, None)
                self._stat.pop(name, None)
                continue
            except IntegrityError:
                raise IntegrityError(f"检索索引文件 {self._disk(name)} 认证失败：已被篡改或损坏，"
                                     "请运行 dossier index rebuild") from None
            self._stat[name] = st
        return self

    def _write(self, name: str) -> None:
        data = aead.seal(self._key, bytes(self.files[name]), self._ad(name))
        atomic_write(self._disk(name), data, durable=self._durable)
        st = self._disk(name).stat()
        self._stat[name] = (st.st_mtime_ns, st.st_size)

    def flush(self) -> None:
        """Write pending files: segments first, TOCs last (the commit point)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending = sorted(self._pending, key=lambda n: (n.endswith(".toc"), n))
        for name in pending:
            if name in self.files:
                self._write(name)
            self._pending.discard(name)

    def wipe(self) -> None:
        """Forget everything, in memory and on disk (used by a full rebuild)."""
        for name in list(self._disk_names()):
            try:
                self._disk(name).unlink()
            except FileNotFoundError:
                pass
        self.files.clear()
        self._stat.clear()
        self._pending.clear()

    # -- Whoosh Storage API --------------------------------------------------------

    def create(self):
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self

    def create_file(self, name, **kwargs):
        def onclose(sfile):
            self.files[name] = sfile.file.getvalue()
            self._pending.add(name)

        return StructFile(BytesIO(), name=name, onclose=onclose)

    def delete_file(self, name):
        self.files.pop(name, None)
        self._pending.discard(name)
        if self._stat.pop(name, None) is not None:
            try:
                self._disk(name).unlink()
            except FileNotFoundError:
                pass

    def rename_file(self, name, newname, safe=False):
        super().rename_file(name, newname, safe=safe)
        self._pending.discard(name)
        self._pending.add(newname)
        if newname.endswith(".toc"):
            self.flush()

    def temp_storage(self, name=None):
        return ScratchStorage()

    def total_size(self):
        return sum(len(v) for v in self.files.values())
