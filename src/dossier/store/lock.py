"""Advisory lock on a separate lock file (never the file being replaced)."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import Locked


@contextmanager
def file_lock(path: Path, *, exclusive: bool = True, timeout: float = 30.0):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    flag = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        while True:
            try:
                fcntl.flock(fd, flag | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Locked() from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)
