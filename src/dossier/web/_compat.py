"""Until dossier.api has unlock/open_unlocked (branch `layers`): the same, here. Removed at that merge."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Unlocked:
    name: str
    role: str
    keys: object


def unlock(path, *, user: str, password) -> Unlocked:
    from ..api import _as_bytes, read_config
    from ..crypto import kdf
    from ..crypto.keys import UserKeys
    from ..store import meta

    path = Path(path)
    read_config(path)
    con = meta.connect(path / "meta.db")
    try:
        row = con.execute("SELECT * FROM users WHERE name=?", (user,)).fetchone()
        if row is None or row["status"] != "active":
            # the same answer for an unknown user, a revoked one and a wrong password
            from ..crypto.keys import UserKeys as _K  # noqa: F401
            raise WrongPasswordSame(user)
        params = kdf.KdfParams.from_dict(tomllib.loads(row["kdf"]))
        try:
            keys = UserKeys.unseal(_as_bytes(password), row["salt"], row["sealed"], params)
        except Exception:
            raise WrongPasswordSame(user) from None
        return Unlocked(row["name"], row["role"], keys)
    finally:
        con.close()


def WrongPasswordSame(user):   # noqa: N802
    from ..errors import WrongPassword

    return WrongPassword(f"用户“{user}”不存在或口令错误")


def open_unlocked(path, unlocked: Unlocked, timeout: float = 30.0):
    from ..api import Session, read_config
    from ..errors import WrongPassword
    from ..store import meta

    path = Path(path)
    cfg = read_config(path)
    con = meta.connect(path / "meta.db", timeout=timeout,
                       synchronous=str(cfg.get("store", {}).get("synchronous", "FULL")).upper())
    row = con.execute("SELECT * FROM users WHERE name=?", (unlocked.name,)).fetchone()
    if row is None or row["status"] != "active":
        con.close()
        raise WrongPassword(f"用户“{unlocked.name}”已被停用")
    return Session(path, con, cfg, row, unlocked.keys, timeout=timeout)
