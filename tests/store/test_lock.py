"""Advisory lock on a separate lock file."""

from __future__ import annotations

import pytest

from dossier.errors import Locked
from dossier.store.lock import file_lock


def test_exclusive_lock_times_out(tmp_path):
    lock = tmp_path / "lock"
    with file_lock(lock, timeout=1):
        with pytest.raises(Locked):
            with file_lock(lock, timeout=0.1):
                pass
    with file_lock(lock, timeout=0.1):      # released
        pass


def test_shared_locks_coexist(tmp_path):
    lock = tmp_path / "lock"
    with file_lock(lock, exclusive=False, timeout=0.1):
        with file_lock(lock, exclusive=False, timeout=0.1):
            with pytest.raises(Locked):
                with file_lock(lock, exclusive=True, timeout=0.1):
                    pass
