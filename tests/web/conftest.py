"""Fixtures of the web tests: the application in-process (Starlette's TestClient)
and, for the browser tests, a real ``dossier serve`` with headless Chromium."""

from __future__ import annotations

import re
import sys

import pytest

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "page without a CSRF field"
    return m.group(1)


class Browser:
    """A TestClient logged in as one user; ``post`` adds the page's CSRF token."""

    def __init__(self, client, world):
        self.c = client
        self.world = world
        self.token = ""

    def login(self, user: str, password: str | None = None):
        page = self.c.get("/login")
        r = self.c.post("/login", data={"csrf": csrf_of(page.text), "user": user,
                                        "password": password or self.world.passwords[user]},
                        follow_redirects=False)
        if r.status_code == 303:
            home = self.c.get("/")
            self.token = csrf_of(home.text) if "csrf" in home.text else ""
        return r

    def get(self, url, **kw):
        return self.c.get(url, **kw)

    def post(self, url, data=None, files=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf", self.token)
        return self.c.post(url, data=data, files=files, **kw)


@pytest.fixture
def web(world):
    """``web(user=None)`` → a :class:`Browser` on a fresh app over the ``world`` archive."""
    from starlette.testclient import TestClient

    from dossier.web.app import create_app

    app = create_app(world.path)
    clients = []

    def make(user: str | None = None, client: str = "192.0.2.10") -> Browser:
        c = TestClient(app, base_url="http://127.0.0.1", client=(client, 50000))
        c.__enter__()
        clients.append(c)
        b = Browser(c, world)
        b.app = app
        if user:
            r = b.login(user)
            assert r.status_code == 303, r.text
        return b

    make.app = app
    yield make
    for c in clients:
        c.__exit__(*sys.exc_info())


@pytest.fixture
def soffice():
    """LibreOffice is part of ./dev setup: a test that needs it fails without it, never skips."""
    import shutil

    if shutil.which("soffice") is None:
        pytest.fail("LibreOffice (soffice) is missing: run ./dev setup")
