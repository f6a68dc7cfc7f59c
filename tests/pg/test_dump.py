"""What a database administrator holds (issue 12, parts 5 and 6): a ``pg_dump`` of a
populated archive contains none of the known values in UTF-8, GB18030 or UTF-16, and
restored into a new database it passes ``check`` and ``audit verify``."""

from __future__ import annotations

import subprocess
from datetime import date

from tests.conftest import CLERK_A, pg_dump

SECRETS = {"name": "欧阳明珠", "alias": "珠珠", "phone": "13811112222",
           "hukou_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区光华巷66号2栋301室",
           "employer": "衡阳市顺达汽修有限公司", "notes": "合成备注：父亲在雁峰区开小卖部"}
VISIT = "谈话内容：本人近期在湘江东路仓库做搬运工"
ATTACH = "扫描件：欧阳明珠 戒毒协议 13811112222"


def _encodings(s: str) -> list[bytes]:
    return [s.encode("utf-8"), s.encode("gb18030"), s.encode("utf-16-le"), s.encode("utf-16-be")]


def _populated(w):
    from dossier.model.idnumber import make_id_number

    idn = make_id_number("430405", date(1991, 3, 9), 233)
    ref, _ = w.add_person(**SECRETS, id_number=idn)
    with w.open(CLERK_A) as ar:
        ar.entries.add(ref.archive_no, "interview", {"date": "2025-05-20", "method": "敲门见人", "subject": "本人",
                                                     "person_seen": True, "content": VISIT}, today=w.today)
        ar.blobs.put(ATTACH.encode(), scope=w.scope_a, dossier_id=ref.id)
        assert ar.search(SECRETS["name"])      # a search: its query goes into the audit log, sealed
    return ref, [*SECRETS.values(), idn, VISIT, ATTACH]


def test_pg_dump_holds_no_known_value(pg_world):
    ref, values = _populated(pg_world)
    dump = pg_dump(pg_world.path)
    assert b"COPY public.versions" in dump and b"COPY public.objects" in dump and len(dump) > 10_000
    # the search index is in the database too (blind tokens, sealed documents), populated
    assert b"COPY public.search_terms" in dump and b"COPY public.search_docs" in dump
    con = pg_world.store()
    try:
        assert con.execute("SELECT count(*) FROM search_terms").fetchone()[0] > 100
    finally:
        con.close()
    # fragments a search index would hold in the clear: address and text bigrams, words
    values = [*values, "光华巷66号", "顺达汽修", "湘江东路仓库", "雁峰区开小卖部", "欧阳", "明珠"]
    hits = [v for v in values for b in _encodings(v) if len(b) >= 6 and b in dump]
    assert hits == []
    assert ref.archive_no.encode() in dump      # the 档号 is not personal data: it is there (sanity)


def test_pg_dump_restored_passes_check(pg_world, pg_cluster, run_dossier, tmp_path):
    from pgcluster import pg_bin

    _populated(pg_world)
    sql = tmp_path / "dump.sql"
    sql.write_bytes(pg_dump(pg_world.path))
    url = pg_cluster.new_database("restored")
    subprocess.run([pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(sql)], check=True,
                   capture_output=True)
    env = pg_world.env("admin", DOSSIER_STORE_URL=url)       # the same archive directory, the restored database
    r = run_dossier(["check", "--json"], env=env)
    assert r.code == 0, r.stdout + r.stderr
    assert run_dossier(["audit", "verify"], env=env).code == 0
    # the restored database is a working archive: a new entry, then check again
    r = run_dossier(["person", "list", "--json"], env=pg_world.env(CLERK_A, DOSSIER_STORE_URL=url))
    assert r.code == 0 and SECRETS["name"] in r.stdout


def test_tampered_rows_in_postgresql_exit_20_and_21(pg_world, run_dossier):
    ref, _ = _populated(pg_world)
    con = pg_world.store()
    try:
        old = bytes(con.execute("SELECT content FROM versions WHERE dossier=? AND version=2", (ref.id,)).fetchone()[0])
        con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=2", (old[:-1] + bytes([old[-1] ^ 1]), ref.id))
        r = run_dossier(["check"], env=pg_world.env("admin"))
        assert r.code == 20 and ref.archive_no in r.stdout, r.stdout + r.stderr
        con.execute("UPDATE versions SET content=? WHERE dossier=? AND version=2", (old, ref.id))
        assert run_dossier(["check"], env=pg_world.env("admin")).code == 0
        con.execute("UPDATE audit_events SET actor='wang' WHERE seq=3")
        assert run_dossier(["audit", "verify"], env=pg_world.env("admin")).code == 21
    finally:
        con.close()
