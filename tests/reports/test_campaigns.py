"""parse_campaign: a campaign definition with a key it does not know is refused,
naming the key and the accepted ones, so a typo never widens the population."""

from __future__ import annotations

import pytest

from dossier.errors import InvalidInput
from dossier.reports.campaigns import parse_campaign

from seedkit import CAMPAIGN


@pytest.mark.parametrize("definition, key, accepted", [
    ({**CAMPAIGN, "population": {"status": "社区康复"}}, "status", "presence"),
    ({**CAMPAIGN, "population": {"lable": "戒断三年未复吸"}}, "lable", "labels"),
    ({k: v for k, v in {**CAMPAIGN, "populaton": {"label": "戒断三年未复吸"}}.items() if k != "population"},
     "populaton", "population"),
    ({**CAMPAIGN, "steps": [{**CAMPAIGN["steps"][0], "ende": "2025-03-09"}, *CAMPAIGN["steps"][1:]]},
     "ende", "end"),
    ({**CAMPAIGN, "actions": [{"action": "interview", "cout": 2}]}, "cout", "count"),
])
def test_unknown_key_is_refused_naming_it_and_the_accepted_ones(definition, key, accepted):
    with pytest.raises(InvalidInput) as ei:
        parse_campaign(definition)
    msg = ei.value.message
    assert f"“{key}”" in msg and "可用的键" in msg and accepted in msg


def test_known_keys_and_chinese_spellings_are_accepted():
    c = parse_campaign({**CAMPAIGN, "population": {"label": "戒断三年未复吸", "presence": "在控",
                                                   "as_of": "2025-03-01"}, "lost_limit": 0.1})
    assert c.population == {"labels": ["戒断三年未复吸"], "presence": ["在控"], "as_of": "2025-03-01"}
    zh = {"名称": "甲", "文号": "x", "辖区": CAMPAIGN["scope"], "步骤": CAMPAIGN["steps"], "要求": CAMPAIGN["actions"]}
    assert parse_campaign(zh).name == "甲"


def test_a_saved_definition_reads_back():
    c = parse_campaign(CAMPAIGN)
    c.created, c.created_by = "2025-03-01T00:00:00", "admin"
    assert parse_campaign(c.to_dict(), stored=True).to_dict() == c.to_dict()
