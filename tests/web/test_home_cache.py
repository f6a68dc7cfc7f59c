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
