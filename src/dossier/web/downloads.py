"""A download: ``Content-Disposition: attachment`` with the file name in RFC 5987 form
(``filename*=UTF-8''…``, plus a plain ASCII fallback), never shown inline. The
security middleware adds ``Cache-Control: no-store`` to every response."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
MIME = {"xlsx": XLSX, "docx": DOCX, "pdf": PDF}


def safe_name(name: str, default: str = "文件") -> str:
    """No path separators, quotes or control characters; at most 100 characters."""
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|;]+", "_", str(name or "")).strip(" .")
    return (name or default)[:100]


def attachment(data: bytes, name: str, mime: str) -> Response:
    name = safe_name(name)
    ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
    fallback = f"download.{re.sub(r'[^A-Za-z0-9]', '', ext) or 'bin'}"
    return Response(data, media_type=mime, headers={
        "content-disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "x-content-type-options": "nosniff"})
