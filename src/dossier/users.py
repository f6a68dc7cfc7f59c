"""Users and the scope tree (区 › 街道 › 社区). A scope grants its node and
everything below it; granting means wrapping that subtree's keys to the user."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .clock import now_iso
from .config import password_bytes
from .crypto import aead, kdf
from .crypto.keyring import DATA, INSPECT
from .crypto.keys import UserKeys
from .errors import InvalidInput, NotFound, PermissionDenied, RefusedOperation
from .session import ROLES, granted_scope_paths
from .store import partition

if TYPE_CHECKING:
    from .session import Session

STEPS = ("社区初评", "派出所核查", "会商", "街道审批", "区禁毒办备案")
# users.status as shown to people (the stored/JSON values stay active/revoked)
STATUS_LABELS = {"active": "在用", "revoked": "已停用"}
_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,32}$")


# The person behind an account (王五, 粤汉派出所, 副所长): what a 审批表 filed in a 一人一档 shows
# in each signature box. Staff identity, not the data of the persons on file: kept in clear like
# the login name, and carried by the user's signing certificate (dossier.crypto.ca).
PROFILE_SCHEMA = ("CREATE TABLE IF NOT EXISTS user_profiles("
                  "name TEXT PRIMARY KEY, full_name TEXT, unit TEXT, title TEXT, updated TEXT NOT NULL, seal BLOB)")
SEAL_MAX_BYTES = 2 * 1024 * 1024
SEAL_MAX_PIXELS = 600          # the stored image's longer side (a stamp is ~40 pt high)
PROFILE_LIMITS = {"full_name": ("姓名", 40), "unit": ("单位", 60), "title": ("职务", 30)}
_CTRL = re.compile(r"[\x00-\x1f\x7f]")


def ensure_profiles(con) -> None:
    """Create the table in an archive made before it existed (one statement: safe inside a
    transaction, unlike executescript, which commits first)."""
    con.execute(PROFILE_SCHEMA)
    cols = {r[1] for r in con.execute("PRAGMA table_info(user_profiles)")}
    if "seal" not in cols:          # a table made before the seal image existed
        con.execute("ALTER TABLE user_profiles ADD COLUMN seal BLOB")


def user_profile(con, name: str) -> dict:
    """``{"full_name", "unit", "title"}`` of a user (None where not recorded)."""
    try:
        row = con.execute("SELECT full_name, unit, title FROM user_profiles WHERE name=?", (name,)).fetchone()
    except Exception:  # noqa: BLE001 - an archive from before the table existed
        row = None
    return {"full_name": row[0] if row else None, "unit": row[1] if row else None,
            "title": row[2] if row else None}


def seal_context(archive_id: str, name: str) -> bytes:
    from .crypto import aead as _aead

    return _aead.ad_for("user-seal", archive_id, name)


def prepare_seal_image(data: bytes) -> bytes:
    """An uploaded image of a unit's seal or a handwritten signature → a small RGBA PNG
    (white made transparent, so the stamp's text shows through); InvalidInput otherwise."""
    import io

    from PIL import Image

    if not data or len(data) > SEAL_MAX_BYTES:
        raise InvalidInput(field="seal", reason="印章/签名图片应为不超过 2 MB 的 PNG 或 JPG")
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > 40_000_000:
            raise ValueError("too large")
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(field="seal", reason="无法读取印章/签名图片（应为 PNG 或 JPG）") from None
    img = img.convert("RGBA")
    img.thumbnail((SEAL_MAX_PIXELS, SEAL_MAX_PIXELS))
    px = img.load()
    for y in range(img.height):
        for x in range(img.width):
            r, g, b, a = px[x, y]
            if r > 235 and g > 235 and b > 235:
                px[x, y] = (255, 255, 255, 0)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def clean_profile_value(key: str, value) -> str | None:
    """Trimmed value, None for empty; InvalidInput for control characters or over-long text."""
    if value is None:
        return None
    v = str(value).strip()
    if not v:
        return None
    label, limit = PROFILE_LIMITS[key]
    if _CTRL.search(v):
        raise InvalidInput(field=key, reason=f"{label}含有控制字符")
    if len(v) > limit:
        raise InvalidInput(field=key, reason=f"{label}最多 {limit} 个字符")
    if key != "full_name" and ":" in v:
        raise InvalidInput(field=key, reason=f"{label}不能含有半角冒号“:”")
    return v


def validate_user_name(name: str) -> str:
    if not name or not _NAME.match(name):
        raise InvalidInput(field="user", reason="用户名须为 1–32 个字母、数字、汉字或 _ . -")
    return name


def user_record_bytes(archive_id, name, role, step, box_pub: bytes, sign_pub: bytes) -> bytes:
    return aead.ad_for("user-record", archive_id, name, role, step or "", box_pub, sign_pub)


def normalize_scope_path(path: str) -> str:
    parts = [p.strip() for p in re.split(r"[/／›>]", path or "") if p.strip()]
    if not parts:
        raise InvalidInput(field="scope", reason="辖区路径不能为空，例如 珠晖区/粤汉街道/苗圃社区")
    for p in parts:
        if len(p) > 40:
            raise InvalidInput(field="scope", reason=f"辖区名称过长：{p[:10]}…")
    return "/".join(parts)


class Scopes:
    def __init__(self, ar: "Session"):
        self.ar = ar
        self._tree: dict[int, dict] | None = None
        self._tops: dict[int, int] | None = None      # {scope id: its top-level scope id}, from _tree

    # -- tree -------------------------------------------------------------
    def _load(self) -> dict[int, dict]:
        if self._tree is None:
            self._tree = {r["id"]: dict(r) for r in self.ar.con.execute("SELECT * FROM scopes ORDER BY path")}
            self._tops = None
        return self._tree

    def invalidate(self) -> None:
        self._tree = self._tops = None

    def id_of(self, path: str) -> int:
        path = normalize_scope_path(path)
        for sid, s in self._load().items():
            if s["path"] == path:
                return sid
        # a bare leaf name (苗圃社区) is accepted when it is unambiguous
        hits = [sid for sid, s in self._load().items() if s["path"].split("/")[-1] == path]
        if len(hits) == 1:
            return hits[0]
        raise NotFound(f"辖区“{path}”不存在（dossier scope list 查看已有辖区）")

    def path_of(self, sid: int) -> str:
        return self._load()[sid]["path"]

    def get(self, sid: int) -> dict:
        return self._load()[sid]

    def top_of(self, sid: int) -> int:
        """The top-level scope (the 街道; a first- or second-level scope itself) whose
        partition holds the dossiers of ``sid`` (:mod:`dossier.store.partition`)."""
        tree = self._load()
        if self._tops is None:      # on every version written and read: one dict lookup, not a scan
            by_path = {s["path"]: i for i, s in tree.items()}
            self._tops = {i: partition.top_of(s["path"], by_path) for i, s in tree.items()}
        return self._tops[sid]

    def subtree(self, sid: int) -> list[int]:
        prefix = self.path_of(sid)
        return [i for i, s in self._load().items() if s["path"] == prefix or s["path"].startswith(prefix + "/")]

    def granted_paths(self, user: str) -> list[str]:
        return granted_scope_paths(self.ar.con, user)

    def covered(self, user: str | None = None, role: str | None = None) -> set[int]:
        """Scope ids a user may act on: admins everything, others their grants' subtrees."""
        user = user or self.ar.user.name
        role = role or self.ar.user.role
        if role == "admin":
            return set(self._load())
        out: set[int] = set()
        for path in self.granted_paths(user):
            out.update(self.subtree(self.id_of(path)))
        return out

    def require(self, sid: int, what: str = "访问") -> None:
        if sid not in self.covered():
            raise PermissionDenied(f"用户“{self.ar.user.name}”的辖区不包括“{self.path_of(sid)}”，无权{what}")

    def list(self) -> list[dict]:
        con = self.ar.con
        counts = dict(con.execute("SELECT scope, COUNT(*) FROM dossiers GROUP BY scope").fetchall())
        out = []
        for sid, s in sorted(self._load().items(), key=lambda kv: kv[1]["path"]):
            out.append({"path": s["path"], "name": s["path"].split("/")[-1], "level": s["path"].count("/") + 1,
                        "code": s["code"], "persons": counts.get(sid, 0)})
        return out

    # -- changes ----------------------------------------------------------
    def add(self, path: str, code: str | None = None) -> list[str]:
        """Create a scope and any missing parents. Returns the paths created."""
        ar = self.ar
        ar.require_role("admin", what="新增辖区")
        path = normalize_scope_path(path)
        if code is not None and not re.fullmatch(r"\d{3,12}", code):
            raise InvalidInput(field="code", reason="区划代码须为 3–12 位数字")
        parts = path.split("/")
        created = []
        with ar.transaction() as con:
            parent = None
            for i in range(1, len(parts) + 1):
                p = "/".join(parts[:i])
                row = con.execute("SELECT id FROM scopes WHERE path=?", (p,)).fetchone()
                if row:
                    parent = row[0]
                    if i == len(parts) and code:
                        con.execute("UPDATE scopes SET code=? WHERE id=?", (code, parent))
                    continue
                sid = con.execute("INSERT INTO scopes(path, parent, code, created) VALUES(?,?,?,?) RETURNING id",
                                  (p, parent, code if i == len(parts) else None, now_iso())).fetchone()[0]
                self.invalidate()
                holders_data, holders_insp = self._holders_for_new(sid)
                ar.keyring.new_scope_key(sid, DATA, 1, holders_data)
                ar.keyring.new_scope_key(sid, INSPECT, 1, holders_insp)
                if partition.is_top(p):     # its partitions, in this transaction (PostgreSQL)
                    partition.add_partition(con, sid)
                created.append(p)
                parent = sid
        self.invalidate()
        return created

    def _holders_for_new(self, sid: int):
        """Who must get a new scope's keys: admins, and users granted an ancestor."""
        con = self.ar.con
        data, insp = [], []
        for u in con.execute("SELECT name, role, box_pub FROM users WHERE status='active'"):
            covered = u["role"] == "admin" or sid in self.covered(u["name"], u["role"])
            if covered:
                insp.append((u["name"], u["box_pub"]))
                if u["role"] != "inspector":
                    data.append((u["name"], u["box_pub"]))
        return data, insp


class Users:
    def __init__(self, ar: "Session"):
        self.ar = ar

    def list(self) -> list[dict]:
        """Every user; ``complete`` is false for an account whose person (full name and unit)
        is not recorded yet — it works, but its signatures show the login name only."""
        ensure_profiles(self.ar.con)
        profiles = {r[0]: r for r in self.ar.con.execute(
            "SELECT name, full_name, unit, title, seal IS NOT NULL FROM user_profiles")}
        out = []
        for r in self.ar.con.execute("SELECT name, role, step, status, created, revoked FROM users ORDER BY name"):
            pr = profiles.get(r["name"])
            full_name, unit, title, seal = (pr[1], pr[2], pr[3], bool(pr[4])) if pr else (None, None, None, False)
            out.append({"name": r["name"], "role": r["role"], "step": r["step"], "status": r["status"],
                        "scopes": self.ar.scopes.granted_paths(r["name"]) if r["role"] != "admin" else ["*"],
                        "created": r["created"], "revoked": r["revoked"],
                        "full_name": full_name, "unit": unit, "title": title,
                        "complete": bool(full_name and unit), "seal": seal})
        return out

    def profile(self, name: str) -> dict:
        ensure_profiles(self.ar.con)
        return user_profile(self.ar.con, name)

    def _store_profile(self, con, name: str, full_name, unit, title) -> None:
        con.execute("INSERT INTO user_profiles(name, full_name, unit, title, updated) VALUES(?,?,?,?,?)"
                    " ON CONFLICT(name) DO UPDATE SET full_name=excluded.full_name, unit=excluded.unit,"
                    " title=excluded.title, updated=excluded.updated",
                    (name, full_name, unit, title, now_iso()))

    def seal_image(self) -> bytes | None:
        """The current user's seal/signature image (PNG), unsealed with the user's own key."""
        ar = self.ar
        ensure_profiles(ar.con)
        row = ar.con.execute("SELECT seal FROM user_profiles WHERE name=?", (ar.user.name,)).fetchone()
        if row is None or row[0] is None:
            return None
        return ar.keys.unwrap(bytes(row[0]), seal_context(ar.archive_id, ar.user.name))

    def _store_seal(self, con, name: str, box_pub: bytes, seal: bytes | None) -> None:
        from .crypto.keys import wrap_to

        wrapped = wrap_to(box_pub, seal, seal_context(self.ar.archive_id, name)) if seal else None
        con.execute("INSERT INTO user_profiles(name, updated, seal) VALUES(?,?,?) ON CONFLICT(name) DO UPDATE"
                    " SET seal=excluded.seal, updated=excluded.updated", (name, now_iso(), wrapped))

    def edit(self, name: str, *, full_name=None, unit=None, title=None, seal: bytes | None = None,
             clear_seal: bool = False) -> dict:
        """(admin) Record or change the person behind an account: full name, unit, post.
        ``None`` leaves a value as it is, ``""`` clears it. The user's signing certificate is
        re-issued so later signatures carry the new values (earlier ones keep theirs)."""
        ar = self.ar
        ar.require_role("admin", what="修改用户信息")
        row = ar.con.execute("SELECT role, step, status, box_pub FROM users WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"用户“{name}”不存在")
        if row["status"] != "active":
            raise RefusedOperation(f"用户“{name}”已停用")
        if full_name is None and unit is None and title is None and seal is None and not clear_seal:
            raise InvalidInput(field="full_name", reason="请至少给出 --full-name、--unit、--title 或 --seal 之一")
        png = prepare_seal_image(seal) if seal is not None else None
        ensure_profiles(ar.con)
        cur = user_profile(ar.con, name)
        new = dict(cur)
        for key, v in (("full_name", full_name), ("unit", unit), ("title", title)):
            if v is not None:
                new[key] = clean_profile_value(key, v)
        changed = [k for k in ("full_name", "unit", "title") if new[k] != cur[k]]
        with ar.transaction() as con:
            self._store_profile(con, name, new["full_name"], new["unit"], new["title"])
            hook = getattr(ar, "on_user_edited", None)
            if hook and changed:
                hook(name, row["role"], row["step"], bytes(row["box_pub"]))
            if png is not None or clear_seal:
                self._store_seal(con, name, bytes(row["box_pub"]), png)
                changed.append("seal")
            ar.audit("user.edit", user=name, changed=changed)
        has_seal = ar.con.execute("SELECT seal IS NOT NULL FROM user_profiles WHERE name=?", (name,)).fetchone()
        return {"name": name, **new, "complete": bool(new["full_name"] and new["unit"]), "changed": changed,
                "seal": bool(has_seal and has_seal[0])}

    def add(self, name: str, *, role: str, password, scopes: list[str] = (), step: str | None = None,
            full_name: str | None = None, unit: str | None = None, title: str | None = None,
            seal: bytes | None = None) -> dict:
        ar = self.ar
        ar.require_role("admin", what="新增用户")
        validate_user_name(name)
        if role not in ROLES:
            raise InvalidInput(field="role", reason=f"未知角色“{role}”，可选：{'、'.join(ROLES)}")
        if step is not None and step not in STEPS:
            raise InvalidInput(field="step", reason=f"未知审批环节“{step}”，可选：{'、'.join(STEPS)}")
        if role == "approver" and step is None:
            raise InvalidInput(field="step", reason="审批人须指定 --step（审批环节）")
        if role != "admin" and not scopes:
            raise InvalidInput(field="scope", reason="须至少指定一个辖区 --scope")
        pw = password_bytes(password)
        if len(pw) < 8:
            raise InvalidInput(field="password", reason="口令至少 8 个字符")
        if ar.con.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
            raise RefusedOperation(f"用户“{name}”已存在")
        sids = [ar.scopes.id_of(s) for s in scopes]
        full_name = clean_profile_value("full_name", full_name)
        unit = clean_profile_value("unit", unit)
        title = clean_profile_value("title", title)
        png = prepare_seal_image(seal) if seal is not None else None
        ensure_profiles(ar.con)
        params = kdf.KdfParams.from_dict(ar.config["kdf"])
        keys = UserKeys.generate()
        salt, sealed = keys.seal(pw, params)
        import tomli_w
        with ar.transaction() as con:
            con.execute(
                "INSERT INTO users(name, role, step, status, box_pub, sign_pub, salt, sealed, kdf, created, added_by,"
                " record_sig) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, role, step, "active", keys.box_public, keys.sign_public, salt, sealed,
                 tomli_w.dumps(params.to_dict()), now_iso(), ar.user.name,
                 ar.keys.sign_bytes(user_record_bytes(ar.archive_id, name, role, step,
                                                      keys.box_public, keys.sign_public))))
            ar.keyring.grant_archive_key(name, keys.box_public, "blind")
            if full_name or unit or title:
                self._store_profile(con, name, full_name, unit, title)
            if png:
                self._store_seal(con, name, keys.box_public, png)
            if role == "admin" and con.execute("SELECT 1 FROM archive_keys WHERE kind='transfer' AND user=?",
                                               (ar.user.name,)).fetchone():
                ar.keyring.grant_archive_key(name, keys.box_public, "transfer")   # issue 13: admins import
            covered = set(ar.scopes._load()) if role == "admin" else set()
            for sid in sids:
                con.execute("INSERT OR IGNORE INTO grants(user, scope) VALUES(?,?)", (name, sid))
                covered.update(ar.scopes.subtree(sid))
            kinds = (INSPECT,) if role == "inspector" else (DATA, INSPECT)
            for sid in sorted(covered):
                ar.keyring.grant_scope_keys(name, keys.box_public, sid, kinds)
            hook = getattr(ar, "on_user_added", None)
            if hook:
                hook(name, role, step, keys, pw)
            from .crosscheck import user_key_digest
            ar.audit("user.add", user=name, role=role, step=step, key=user_key_digest(keys.sign_public),
                     **({"identity": True} if full_name or unit or title else {}))
        return {"name": name, "role": role, "step": step, "scopes": [ar.scopes.path_of(s) for s in sids],
                "full_name": full_name, "unit": unit, "title": title, "complete": bool(full_name and unit)}

    def revoke(self, name: str) -> dict:
        """Stop a user: no login, its wrapped keys deleted, and every scope key it
        held rotated (new writes use keys the user never had)."""
        ar = self.ar
        ar.require_role("admin", what="停用用户")
        row = ar.con.execute("SELECT role, status FROM users WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"用户“{name}”不存在")
        if name == ar.user.name:
            raise RefusedOperation("不能停用自己")
        if row["status"] != "active":
            raise RefusedOperation(f"用户“{name}”已停用")
        with ar.transaction() as con:
            held = con.execute("SELECT DISTINCT scope, kind FROM scope_keys WHERE user=?", (name,)).fetchall()
            con.execute("DELETE FROM scope_keys WHERE user=?", (name,))
            con.execute("DELETE FROM archive_keys WHERE user=?", (name,))
            con.execute("DELETE FROM grants WHERE user=?", (name,))
            con.execute("UPDATE users SET status='revoked', revoked=? WHERE name=?", (now_iso(), name))
            for scope, kind in held:
                new_v = ar.keyring.current_version(scope, kind) + 1
                holders = con.execute(
                    "SELECT DISTINCT u.name, u.box_pub FROM scope_keys k JOIN users u ON u.name=k.user"
                    " WHERE k.scope=? AND k.kind=? AND u.status='active'", (scope, kind)).fetchall()
                ar.keyring.new_scope_key(scope, kind, new_v, [(h[0], h[1]) for h in holders])
            ar.audit("user.revoke", user=name)
        return {"name": name, "rotated_scopes": len({s for s, _ in held})}

    def passwd(self, new_password) -> None:
        ar = self.ar
        pw = password_bytes(new_password)
        if len(pw) < 8:
            raise InvalidInput(field="password", reason="口令至少 8 个字符")
        params = kdf.KdfParams.from_dict(ar.config["kdf"])
        salt, sealed = ar.keys.seal(pw, params)
        import tomli_w
        with ar.transaction() as con:
            con.execute("UPDATE users SET salt=?, sealed=?, kdf=? WHERE name=?",
                        (salt, sealed, tomli_w.dumps(params.to_dict()), ar.user.name))
