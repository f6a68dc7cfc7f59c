"""What every response carries, and the CSRF check of every state-changing request.

- Content-Security-Policy without inline script or style (the pages load
  /static/app.js and app.css only), frame-ancestors 'none', nosniff,
  Referrer-Policy no-referrer, and ``Cache-Control: no-store`` on everything
  but the vendored static files: a page or a download holding personal data
  is never kept by the browser (the back button after logout shows nothing).
- CSRF: a per-session token in a hidden field ``csrf`` (or the header
  ``X-CSRF-Token`` that htmx sends, see app.js); the login form, before any
  session, uses a double-submit cookie. A POST without a valid token: 403,
  nothing changed. SameSite=Strict cookies are a second line.
"""

from __future__ import annotations

import hmac

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")

HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), microphone=(), camera=(self)"),
]
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache"), (b"expires", b"0")]
STATIC_CACHE = [(b"cache-control", b"public, max-age=86400")]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response."""

    def __init__(self, app, *, tls: bool = False):
        self.app = app
        self.tls = tls

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope.get("path", "").startswith("/static/")

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                drop = {b"cache-control", b"pragma", b"expires", b"server"}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in drop]
                headers += HEADERS + (STATIC_CACHE if static else NO_STORE)
                if self.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_wrapped)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
