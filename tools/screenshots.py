"""Screenshots of the main pages for the README, from the demo archive.

    .venv/bin/python tools/screenshots.py [--demo demo-out] [--out docs/screenshots]

Builds nothing itself: run ``./dev demo`` first. Starts ``dossier serve`` on a
free loopback port, logs in as the demo users in headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright) and saves desktop and phone views.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(archive: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "dossier", "--archive", str(archive), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env or os.environ.copy())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode(errors="replace"))
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("dossier serve did not start")


def login(page, base: str, user: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def signed_person(demo: Path, li_password: str) -> str | None:
    """The opaque id of a demo person whose 审批表 went through every step (stamps with names in every row)."""
    import dossier
    from dossier.errors import DossierError

    with dossier.open_archive(str(demo / "archive"), user="li", password=li_password) as ar:
        for (rid,) in ar.con.execute("SELECT id FROM dossiers ORDER BY archive_no"):
            try:
                st = ar.approvals.status(rid)
            except DossierError:
                continue
            if st.get("approval") and st.get("next") is None and len(st.get("steps") or []) >= 4:
                return rid
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", default="demo-out")
    ap.add_argument("--out", default="docs/screenshots")
    args = ap.parse_args(argv)
    demo, out = Path(args.demo), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pw = {u: (demo / f"{u}.pw").read_text().strip() for u in ("li", "wang", "du", "admin")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(demo / "archive", port)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            desk = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page = desk.new_page()
            page.goto(base + "/login")
            page.screenshot(path=str(out / "login.png"))
            login(page, base, "li", pw["li"])
            page.screenshot(path=str(out / "workbench.png"), full_page=False)
            page.goto(base + "/persons")
            page.screenshot(path=str(out / "persons.png"))
            first = page.locator("table.list tbody a").first.get_attribute("href")
            name = page.locator("table.list tbody td a").first.inner_text()
            page.goto(base + first)
            page.screenshot(path=str(out / "person.png"), full_page=True)
            page.goto(base + first + "/entries/new?type=interview")
            page.screenshot(path=str(out / "entry-form.png"), full_page=True)
            page.goto(base + "/search")
            page.fill("#q", "社区")
            page.click(".search-box button")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / "search.png"))
            page.goto(base + "/import")
            page.screenshot(path=str(out / "import.png"))
            page.goto(base + "/stats")
            page.screenshot(path=str(out / "stats.png"))
            appr = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
            login(appr, base, "wang", pw["wang"])
            appr.screenshot(path=str(out / "approver-home.png"))
            # the demo's 审批表 signed by all four steps: the stamps carry the signers' names and units
            appr.goto(base + "/approvals/" + (signed_person(demo, pw["li"]) or first.rsplit("/", 1)[-1]))
            appr.wait_for_load_state("networkidle")
            appr.screenshot(path=str(out / "approval.png"))
            pages = appr.locator(".pdf-pages img")
            if pages.count() >= 2:      # the signature rows of page 2: each stamp names the signer and unit
                pages.nth(1).scroll_into_view_if_needed()
                x, y, w = pages.nth(1).evaluate(
                    "e => { const r = e.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width] }")
                appr.screenshot(path=str(out / "approval-stamps.png"), full_page=True,
                                clip={"x": x, "y": y + 60, "width": w, "height": 580})
            adm = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
            login(adm, base, "admin", pw["admin"])
            adm.goto(base + "/admin/users")
            adm.screenshot(path=str(out / "admin-users.png"))
            adm.goto(base + "/transfers")
            if adm.locator("button[name=action][value=key]").count():    # the demo has no transfer key yet
                adm.click("button[name=action][value=key]")
                adm.wait_for_load_state("networkidle")
            adm.screenshot(path=str(out / "transfers.png"))
            phone = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, locale="zh-CN")
            m = phone.new_page()
            login(m, base, "li", pw["li"])
            m.screenshot(path=str(out / "phone-workbench.png"))
            m.goto(base + first + "/entries/new?type=interview")
            m.screenshot(path=str(out / "phone-entry.png"), full_page=True)
            insp = browser.new_context(viewport={"width": 1280, "height": 700}, locale="zh-CN").new_page()
            login(insp, base, "du", pw["du"])
            insp.goto(base + "/search")
            insp.fill("#q", name)
            insp.click(".search-box button")
            insp.wait_for_load_state("networkidle")
            insp.screenshot(path=str(out / "inspector-search.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(f"截图已保存到 {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
