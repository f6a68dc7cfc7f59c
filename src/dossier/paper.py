"""Paper tokens: a QR code and the same token as text on every generated page,
so an inspector holding a paper file can ask the archive whether it produced
that paper, for whom, at which dossier version, and whether the file has
changed since.

Token (base32, no padding, upper case — the QR alphanumeric set), fields::

    "DP1"  | base32( ver=1 | doc_id[6] | version_hash[:10] | len | signer | len | masked_name | sig[64] )

The signature is Ed25519 by the **user who generated the document**, over the
payload bound to the archive id. Choice: the per-user signing key (already in
every session, public halves in the ``users`` table, each user record signed by
an admin) rather than a new archive-wide key: nothing to distribute when users
are added, any role — inspectors too — can verify with public keys only, and the
token says who issued the paper. A token from another archive fails (its archive
id is in the signed bytes, and its signer's key is not ours); a changed
character fails the signature; a token whose version is not the dossier's head
still verifies and says the file changed since.

Short code (what a person types): every token also gets a 16-character code
printed beside the QR code — 15 characters derived from the token by a keyed
hash (HMAC under a key derived from the archive's blind key, so the same token
always gets the same code and another archive's codes are unknown here) and a
Luhn mod 32 check character, in Crockford base32 (no I, L, O, U; typed I/L read
as 1, O as 0), printed in four groups of four (``K7QM-2XHD-9RTA-WF4C``). The
archive keeps a lookup table ``paper_codes``: the code's keyed hash → the long
token, sealed (AES-GCM) under the same derived key — no code and no personal
data in clear. ``verify`` takes either: a code whose check character does not
match is a typo (:class:`InvalidInput`, exit 1) and is never looked up; a
well-formed code the archive never issued is refused as forged or foreign
(:class:`IntegrityError`, exit 20); a known code is resolved to its token, which
is then verified like a scanned QR code (its signature, the version).
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .crypto import aead, keys
from .errors import IntegrityError, InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from .session import Session

PREFIX = "DP1"
HASH_BYTES = 10
DOC_BYTES = 6
# short codes: Crockford base32, 15 data characters (75 bits) + 1 check character
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_DATA = 15
CODE_GROUP = 4
_CODE_READ = str.maketrans({"O": "0", "I": "1", "L": "1"})
CODES_SCHEMA = ("CREATE TABLE IF NOT EXISTS paper_codes("
                "id TEXT PRIMARY KEY, sealed BLOB NOT NULL, created TEXT NOT NULL)")


@dataclass
class PaperToken:
    token: str
    doc_id: str
    archive_no: str
    version: int
    short: str | None = None        # the printed short code, grouped (K7QM-2XHD-9RTA-WF4C)

    def qr_png(self, scale: int = 4) -> bytes:
        return qr_png(self.token, scale=scale)

    @property
    def text(self) -> str:
        """The token grouped for printing under the QR code (spaces are ignored when verifying)."""
        return group(self.token)


def _b32(b: bytes) -> str:
    return base64.b32encode(b).decode().rstrip("=")


def _unb32(s: str) -> bytes:
    s = s + "=" * (-len(s) % 8)
    return base64.b32decode(s)


def group(token: str, n: int = 8) -> str:
    return " ".join(token[i:i + n] for i in range(0, len(token), n))


# ----------------------------------------------------------------------------- short codes
def check_char(data: str) -> str:
    """Luhn mod 32 check character of ``data`` (Crockford base32 characters): catches every
    single changed character and most swaps of two neighbours."""
    n, total, factor = len(CODE_ALPHABET), 0, 2
    for c in reversed(data):
        addend = factor * CODE_ALPHABET.index(c)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return CODE_ALPHABET[(n - total % n) % n]


def group_code(code: str) -> str:
    return "-".join(code[i:i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def _typo(reason: str) -> InvalidInput:
    return InvalidInput(reason, field="code", reason=reason)


def normalize_code(text: str) -> str:
    """The code as typed → its 16 canonical characters; :class:`InvalidInput` (a typo) when it
    has the wrong length, a character outside the code's alphabet, or a wrong check character."""
    c = re.sub(r"[\s\-_.·]", "", text or "").upper().translate(_CODE_READ)
    if len(c) != CODE_DATA + 1:
        raise _typo(f"核验码有误：应为 {CODE_DATA + 1} 个字符（现为 {len(c)} 个），可能漏抄或多抄了字符，"
                    "请对照纸面重新输入（或输入以 DP1 开头的长码）")
    bad = sorted({ch for ch in c if ch not in CODE_ALPHABET})
    if bad:
        raise _typo(f"核验码有误：其中不会出现字符“{'、'.join(bad)}”，可能抄错了，请对照纸面重新输入")
    if check_char(c[:-1]) != c[-1]:
        raise _typo("核验码有误：校验位不符，应是抄错了某个字符（这不是伪造判定），"
                    "请对照纸面逐字核对后重新输入")
    return c


def is_short_code(text: str) -> bool:
    """A typed code without the long token's DP1 prefix and length (≤ 20 characters)."""
    c = re.sub(r"[\s\-_.·]", "", text or "")
    return len(c) <= 20 and not (len(c) > CODE_DATA + 1 and c.upper().startswith(PREFIX))


def _code_key(ar, purpose: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(ar.keyring.archive_key("blind"), f"paper-code-v1:{purpose}".encode(), hashlib.sha256).digest()


def _code_id(ar, code: str) -> str:
    import hashlib
    import hmac

    return hmac.new(_code_key(ar, "lookup"), code.encode(), hashlib.sha256).hexdigest()


def short_code(ar, token: str) -> str:
    """The 16-character code of ``token`` in this archive (ungrouped)."""
    import hashlib
    import hmac

    digest = hmac.new(_code_key(ar, "derive"), token.encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:10], "big") >> (80 - 5 * CODE_DATA)
    data = "".join(CODE_ALPHABET[(n >> (5 * (CODE_DATA - 1 - i))) & 31] for i in range(CODE_DATA))
    return data + check_char(data)


def register_code(ar, token: str) -> str:
    """Record ``token``'s short code in the archive's lookup table; the grouped code."""
    from .clock import now_iso

    code = short_code(ar, token)
    cid = _code_id(ar, code)
    ar.con.execute(CODES_SCHEMA)
    if ar.con.execute("SELECT 1 FROM paper_codes WHERE id=?", (cid,)).fetchone() is None:
        sealed = aead.seal(_code_key(ar, "seal"), token.encode(), aead.ad_for("paper-code", ar.archive_id, cid))
        ar.con.execute("INSERT OR IGNORE INTO paper_codes(id, sealed, created) VALUES(?,?,?)",
                       (cid, sealed, now_iso()))
    return group_code(code)


def resolve_code(ar, text: str) -> str:
    """The long token a typed short code stands for (InvalidInput for a typo, IntegrityError
    for a code this archive never issued)."""
    code = normalize_code(text)
    cid = _code_id(ar, code)
    ar.con.execute(CODES_SCHEMA)
    row = ar.con.execute("SELECT sealed FROM paper_codes WHERE id=?", (cid,)).fetchone()
    if row is None:
        raise IntegrityError("核验失败：本档案库没有签发过该核验码（纸质文件可能是伪造的，或来自其他档案库）")
    return aead.open_(_code_key(ar, "seal"), bytes(row[0]), aead.ad_for("paper-code", ar.archive_id, cid),
                      what="核验码记录").decode()


def _signed(archive_id: str, payload: bytes) -> bytes:
    return aead.ad_for("paper-token-v1", archive_id, payload)


def _payload(doc_id: bytes, vhash: bytes, signer: str, masked: str) -> bytes:
    s, m = signer.encode(), masked.encode()
    if len(s) > 255 or len(m) > 255:
        raise InvalidInput(field="token", reason="签发人或姓名过长")
    return bytes([1]) + doc_id + vhash[:HASH_BYTES] + bytes([len(s)]) + s + bytes([len(m)]) + m


def issue(ar: "Session", ref, *, version: int | None = None, doc_id: str | None = None) -> PaperToken:
    """Token for a document generated from dossier ``ref`` (档号/身份证号/DossierRow) at
    ``version`` (default: head). ``doc_id``: 12 hex digits, random when omitted.
    Callers (forms, bind, disclose) print ``token.text`` and ``token.qr_png()`` on the page."""
    from .disclose.masking import mask_name
    from .dossiers import DossierRow

    row = ref if isinstance(ref, DossierRow) else ar.dossiers._readable(ref, "生成文书")
    v, content = ar.dossiers.load(row, version)
    masked = mask_name(content["state"].get("profile", {}).get("name"))
    return _issue(ar, row.id, row.archive_no, v.version, bytes(v.hash), masked, doc_id)


def new_doc_id() -> str:
    return os.urandom(DOC_BYTES).hex()


def issue_masked(ar: "Session", dossier_id: str, version: int, masked_name: str, *,
                 doc_id: str | None = None) -> PaperToken:
    """Token without decrypting the dossier — for a caller that holds only an already
    reduced record (a disclosure package: the requester holds no scope key).
    ``masked_name`` must already be masked; the version hash is read from the
    (plaintext) versions table."""
    r = ar.con.execute("SELECT d.archive_no, v.hash FROM versions v JOIN dossiers d ON d.id = v.dossier"
                       " WHERE v.dossier=? AND v.version=?", (dossier_id, version)).fetchone()
    if r is None:
        raise InvalidInput(field="version", reason=f"档案没有第 {version} 版")
    return _issue(ar, dossier_id, r["archive_no"], version, bytes(r["hash"]), masked_name, doc_id)


def _issue(ar, dossier_id: str, archive_no: str, version: int, vhash: bytes, masked: str,
           doc_id: str | None) -> PaperToken:
    did = bytes.fromhex(doc_id) if doc_id else os.urandom(DOC_BYTES)
    if len(did) != DOC_BYTES:
        raise InvalidInput(field="doc_id", reason=f"文书编号应为 {DOC_BYTES * 2} 位十六进制数")
    payload = _payload(did, vhash, ar.user.name, masked)
    sig = ar.keys.sign_bytes(_signed(ar.archive_id, payload))
    ar.audit("paper-token", dossier=dossier_id, version=version, doc=did.hex())
    token = PREFIX + _b32(payload + sig)
    try:
        short = register_code(ar, token)
    except PermissionDenied:        # a user without the archive's blind key: the long token only
        short = None
    return PaperToken(token, did.hex(), archive_no, version, short=short)


def parse(token: str) -> dict:
    t = re.sub(r"[\s\-]", "", token or "").upper()
    if not t.startswith(PREFIX):
        raise InvalidInput(field="token", reason="不是本系统的纸质文件核验码（应以 DP1 开头）")
    try:
        raw = _unb32(t[len(PREFIX):])
    except (ValueError, base64.binascii.Error):
        raise InvalidInput(field="token", reason="核验码含有无效字符") from None
    if _b32(raw) != t[len(PREFIX):]:   # non-canonical spelling (changed padding bits) is an altered token
        raise IntegrityError("核验码格式不正确（可能被改动或抄错）")
    try:
        if raw[0] != 1:
            raise ValueError
        i = 1
        did = raw[i:i + DOC_BYTES]; i += DOC_BYTES
        vh = raw[i:i + HASH_BYTES]; i += HASH_BYTES
        n = raw[i]; signer = raw[i + 1:i + 1 + n].decode(); i += 1 + n
        n = raw[i]; masked = raw[i + 1:i + 1 + n].decode(); i += 1 + n
        payload, sig = raw[:i], raw[i:]
        if len(sig) != 64 or len(did) != DOC_BYTES or len(vh) != HASH_BYTES:
            raise ValueError
    except (ValueError, IndexError, UnicodeDecodeError):
        raise IntegrityError("核验码格式不正确（可能被改动或抄错）") from None
    return {"doc_id": did.hex(), "vhash": vh, "signer": signer, "name": masked, "payload": payload, "sig": sig}


def verify(ar: "Session", token: str) -> dict:
    """Check a paper token against this archive. Raises :class:`IntegrityError` (exit 20)
    for a forged, altered or foreign token; returns what the paper is otherwise.
    Needs no decryption key: any user, inspectors included, can verify.

    ``token`` is the long token (QR code, or typed with its DP1 prefix) or the short code
    printed under the QR code (a typo in it: :class:`InvalidInput`)."""
    code = None
    if is_short_code(token):
        code = group_code(normalize_code(token))
        token = resolve_code(ar, token)
    p = parse(token)
    row = ar.con.execute("SELECT sign_pub, status FROM users WHERE name=?", (p["signer"],)).fetchone()
    if row is None or not keys.verify(row["sign_pub"], p["sig"], _signed(ar.archive_id, p["payload"])):
        raise IntegrityError("核验失败：该纸质文件不是本档案库生成的，或核验码已被改动")
    hits = [r for r in ar.con.execute("SELECT dossier, version, hash FROM versions WHERE author IS NOT NULL")
            if bytes(r["hash"][:HASH_BYTES]) == p["vhash"]]
    if len(hits) != 1:
        raise IntegrityError("核验失败：签名有效，但档案库中找不到对应的档案版本（档案库可能被回滚或损坏）")
    h = hits[0]
    d = ar.con.execute("SELECT archive_no, scope, head FROM dossiers WHERE id=?", (h["dossier"],)).fetchone()
    changed = d["head"] > h["version"]
    result = {"valid": True, "doc_id": p["doc_id"], "archive_no": d["archive_no"], "name": p["name"],
              "scope": ar.scopes.path_of(d["scope"]), "version": h["version"], "head": d["head"],
              "changed_since": changed, "issued_by": p["signer"], "issuer_status": row["status"],
              "code": code or _known_code(ar, token),
              "message": (f"核验通过：档号 {d['archive_no']}（{p['name']}）第 {h['version']} 版生成的文书；"
                          + (f"档案此后已更新至第 {d['head']} 版，纸质内容可能已过时" if changed
                             else "档案此后未变更"))}
    ar.audit("paper-verify", doc=p["doc_id"], ok=True)
    return result


def _known_code(ar, token: str) -> str | None:
    """The short code printed beside ``token`` when this archive issued one."""
    try:
        code = short_code(ar, token)
        ar.con.execute(CODES_SCHEMA)
        if ar.con.execute("SELECT 1 FROM paper_codes WHERE id=?", (_code_id(ar, code),)).fetchone():
            return group_code(code)
    except Exception:  # noqa: BLE001 - only a convenience in the answer
        return None
    return None


def qr_png(token: str, scale: int = 4) -> bytes:
    import io

    import segno

    buf = io.BytesIO()
    segno.make(token, error="m", micro=False).save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def verify_paper(ar: "Session", *, token: str | None = None, image=None) -> dict:
    """``verify-paper`` for both faces: the printed code as typed, or a photo of the QR
    code (a path, or the image's bytes from an upload) — exactly one of the two."""
    if bool(token and token.strip()) == (image is not None):
        raise InvalidInput(field="token", reason="请输入核验码，或上传二维码照片（二者选一）")
    return verify(ar, decode_image(image) if image is not None else token)


def decode_image(src) -> str:
    """Read the token from a photo or scan of the QR code (a path, or the image bytes)."""
    import io

    import zxingcpp
    from PIL import Image, ImageOps

    raw = isinstance(src, (bytes, bytearray, memoryview))
    try:
        img = Image.open(io.BytesIO(bytes(src)) if raw else src)
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        what = "上传的图片" if raw else f"图片“{src}”"
        raise InvalidInput(field="image", reason=f"无法读取{what}（应为 JPG 或 PNG 照片）"
                           + ("" if raw else f"：{e}")) from None
    img = ImageOps.exif_transpose(img).convert("L")
    for candidate in (img, ImageOps.autocontrast(img)):
        for r in zxingcpp.read_barcodes(candidate):
            if r.text.upper().startswith(PREFIX):
                return r.text
    raise InvalidInput(field="image", reason="图片中没有识别到本系统的核验二维码（请对准二维码重新拍照）")
