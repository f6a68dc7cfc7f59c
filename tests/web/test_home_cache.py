"""The 工作台 through the server's shared agenda cache (reports/agenda.py AgendaCache):
one process, many sessions — a page shows only its user's scopes whoever filled the
cache, a save takes the item off at once, a hostile name stays text."""

from __future__ import annotations

from datetime import date, timedelta


def _seen(world, ref, days_ago: int, user: str = "li") -> None:
    with world.open(user) as ar:
        ar.entries.add(ref.id, "interview", {"date": (date.today() - timedelta(days=days_ago)).isoformat(),
                                             "method": "敲门见人", "person_seen": True}, today=date.today())


def test_sessions_share_the_cache_but_never_another_scopes_items(web, world):
    a, pa = world.add_person()
    b, pb = world.add_person(scope=world.scope_b)
    _seen(world, a, 200)
    _seen(world, b, 200, user="wang")
    admin = web("admin").get("/").text             # fills the cache with both scopes
    assert pa["name"] in admin and pb["name"] in admin
    cache = web.app.state.agenda_cache
    assert len(cache) == 2
    li = web("li").get("/").text
    assert pa["name"] in li and f'href="/persons/{a.id}"' in li
    assert pb["name"] not in li and b.id not in li
    wang = web("wang").get("/").text
    assert pb["name"] in wang and pa["name"] not in wang and a.id not in wang
    assert cache.hits >= 2


def test_a_saved_visit_leaves_the_home_page_at_once(web, world):
    ref, p = world.add_person(name="<script>alert(1)</script>")
    _seen(world, ref, 200)
    b = web("li")
    page = b.get("/").text
    assert f'href="/persons/{ref.id}"' in page and 'data-kind="visit_due"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview",
               data={"date": date.today().isoformat(), "method": "敲门见人", "subject": "本人", "person_seen": "1",
                     "content": "见面"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = b.get("/").text
    assert f'href="/persons/{ref.id}"' not in page


def test_serve_adds_the_pages_index_to_an_older_archive(world):
    from dossier.web.app import create_app

    con = world.store()            # meta.db, or the PostgreSQL database on that lane
    pg = getattr(con, "is_postgres", False)
    con.execute("DROP INDEX dossiers_scope_heads")
    if pg:                         # the store's record of the features' DDL, as an older archive has it
        con.execute("DELETE FROM dossier_schema WHERE name='dossiers_scope_heads'")
    create_app(world.path)
    q = ("SELECT indexname FROM pg_indexes WHERE tablename='dossiers'" if pg
         else "SELECT name FROM sqlite_master WHERE type='index'")
    names = {r[0] for r in con.execute(q)}
    con.close()
    assert "dossiers_scope_heads" in names
    if pg:                         # and no stray meta.db beside archive.toml
        assert not (world.path / "meta.db").exists()


def _only_session(web):
    (ws,) = list(web.app.state.sessions._by_id.values())
    return ws


def test_the_kept_lists_follow_every_change_in_the_users_scopes(web, world):
    """The 工作台's memo and rendered lists (per session): the same page again comes from
    them, and a change made elsewhere (another process's save, a new person) shows on the
    very next 工作台; every view is still audited; logout drops them."""
    ref, p = world.add_person()
    _seen(world, ref, 200)
    b = web("li")
    first = b.get("/").text
    assert f'href="/persons/{ref.id}"' in first and p["name"] in first
    ws = _only_session(web)
    ((key, (token, lists)),) = ws.rendered.items()
    assert p["name"] in lists
    again = b.get("/").text
    assert again == first and ws.rendered[key][0] is token          # kept: neither derived nor rendered
    _seen(world, ref, 0)                 # a save through the library, not through this server
    page = b.get("/").text
    assert f'href="/persons/{ref.id}"' not in page and ws.rendered[key][0] is not token
    new, pn = world.add_person()         # a new dossier in li's scope, due at once
    _seen(world, new, 200)
    page = b.get("/").text
    assert f'href="/persons/{new.id}"' in page and pn["name"] in page
    other, po = world.add_person(scope=world.scope_b)     # not li's scope: never on li's page
    _seen(world, other, 200, user="wang")
    assert po["name"] not in b.get("/").text
    with world.open("admin") as ar:
        n = sum(1 for e in ar.audit_chain.events() if e.action == "agenda" and e.actor == "li")
    assert n >= 6                        # every view audited, kept lists or not
    memo = ws._ar.agenda_memo
    assert memo
    b.post("/logout", data={})
    assert ws.rendered == {} and memo == {} and ws._ar is None


def test_the_kept_lists_are_per_window_and_per_user(web, world):
    ref, p = world.add_person()
    _seen(world, ref, 200)
    li = web("li")
    week = li.get("/?within=7").text
    month = li.get("/?within=60").text
    assert p["name"] in week and p["name"] in month
    ws = _only_session(web)
    assert {k[0] for k in ws.rendered} == {7, 14, 60}      # 14: the login's own 工作台
    wang = web("wang").get("/").text
    assert p["name"] not in wang and ref.id not in wang
