"""附表1 has one definition: ``form fill 附表1`` (docx and xlsx) prints the numbers
``report stats`` computes, for the same scope and date."""

from __future__ import annotations

import io

from docx import Document
from openpyxl import load_workbook

from dossier.forms import service
from dossier.reports import Reports
from dossier.reports.stats import COLUMNS

from seedkit import AS_OF, STREET

HAND_FILLED = ("households", "households_visited", "out_of_province", "in_province",
               "suspect_trafficking", "suspect_use")


def _pct(v):
    return "" if v is None else f"{v * 100:.1f}%"


def test_form_fill_and_report_stats_give_the_same_numbers(seeded):
    with seeded.open("admin") as ar:
        s = Reports(ar).stats(STREET, as_of=AS_OF)
        docx = service.fill(ar, "附表1", scope=STREET, today=AS_OF, keep=False)
        xlsx = service.fill(ar, "附表1", scope=STREET, today=AS_OF, fmt="xlsx", keep=False)
        spec = service.registry_for(ar).get("附表1")
    stats_rows = s["rows"] + [s["total"]]
    assert len(s["rows"]) == 3 and s["total"]["registered"] > 0
    # the seeded archive exercises the columns that used to disagree
    assert s["total"]["lost"] and s["total"]["dead"] and s["total"]["wrong_or_moved"] is not None

    # xlsx: one row per 社区 plus 合计, in the order of report stats, every computed column equal
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    fields = [c["field"] for c in spec.columns]
    computed = [f for f in fields if f not in ("seq", "community", *HAND_FILLED)]
    assert {"released", "registered", "lost", "dead", "met", "annex05", "annex14"} <= set(computed)
    assert set(computed) <= {k for k, _ in COLUMNS}
    sheet = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_row=4 + len(stats_rows))]
    for want, got in zip(stats_rows, sheet):
        row = dict(zip(fields, got))
        assert row["community"] == want["community"]
        for f in computed:
            if f.endswith("_rate"):          # printed as 92.3%, a number formatted 0.0% in Excel
                expect = None if want[f] is None else round(float(_pct(want[f])[:-1]) / 100, 4)
                assert row[f] == expect, (want["community"], f, row[f], want[f])
            else:
                assert row[f] == want[f] and isinstance(row[f], int), (want["community"], f, row[f], want[f])
        for f in HAND_FILLED:                       # no invented numbers: left for the 社区
            assert row[f] in (None, ""), f
    heads = [c.value for c in ws[4]]
    assert "刑满释放" in heads and "总户数（由社区填写）" in heads

    # docx: the data rows of the table print the same numbers
    table = Document(io.BytesIO(docx.data)).tables[0]
    body = [[c.text for c in r.cells] for r in table.rows[2:]]
    assert len(body) == len(stats_rows)
    for want, got in zip(stats_rows, body):
        row = dict(zip(fields, got))
        assert row["community"] == want["community"]
        for f in computed:
            expect = _pct(want[f]) if f.endswith("_rate") else str(want[f])
            assert row[f] == expect, (want["community"], f, row[f], expect)
        assert all(row[f] == "" for f in HAND_FILLED)


def test_old_template_fields_still_fill(seeded):
    """Templates an office edited before the change use total/unreachable/c05/s_prison …;
    they get the same numbers under the old names."""
    from dossier.forms import contexts

    with seeded.open("admin") as ar:
        s = Reports(ar).stats(STREET, as_of=AS_OF)
        ctx = contexts.statistics_context(service.scope_dossiers(ar, STREET, AS_OF), AS_OF, scope=STREET)
    t = ctx["total"]
    assert t["total"] == str(s["total"]["registered"]) and t["unreachable"] == str(s["total"]["lost"])
    assert t["s_prison"] == t["in_prison"] and t["c13"] == t["annex13"] and t["hidden"] == t["hidden_new"]
    assert t["released"] == str(s["total"]["released"])


def test_since_counts_the_same_period_as_report_stats(seeded):
    """``form fill 附表1 --since D`` and ``report stats --since D`` count 见面/检测 over the same period."""
    from datetime import date, timedelta

    since = AS_OF - timedelta(days=30)
    with seeded.open("admin") as ar:
        narrow = Reports(ar).stats(STREET, as_of=AS_OF, since=since)["total"]
        wide = Reports(ar).stats(STREET, as_of=AS_OF, since=date(AS_OF.year - 5, 1, 1))["total"]
        xlsx = service.fill(ar, "附表1", scope=STREET, today=AS_OF, fmt="xlsx", keep=False, since=since)
        spec = service.registry_for(ar).get("附表1")
    assert narrow["met"] != wide["met"] or narrow["urine_tests"] != wide["urine_tests"]   # the period matters
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    fields = [c["field"] for c in spec.columns]
    total = dict(zip(fields, [c.value for c in list(ws.iter_rows(min_row=5))[3]]))
    assert total["community"] == "合计"
    assert (total["met"], total["urine_tests"]) == (narrow["met"], narrow["urine_tests"])
