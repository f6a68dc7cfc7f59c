"""Property: whatever the person (full-width digits, odd spacing, compound or
dotted names), an inspector finds them by exact name / exact ID only, and
the results never carry an unmasked name, ID number, phone or detailed
address."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier import synth
from dossier.crypto.aead import new_key
from dossier.index.documents import inspect_doc
from dossier.index.normalize import nfkc, norm_id, norm_name
from dossier.index.query import parse

from index_corpus import SCOPE, TODAY

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _variant(s: str, how: int) -> str:
    return [s, s.translate(FULLWIDTH), " ".join(s), s.lower()][how]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), id_form=st.integers(0, 3), q_form=st.integers(0, 3),
       dotted=st.booleans())
def test_inspector_sees_masked_values_only(tmp_path_factory, make_index, seed, id_form, q_form, dotted):
    rng = random.Random(seed)
    prof = synth.person(rng, today=TODAY, full=True)
    other = synth.person(rng, today=TODAY, full=True)
    if dotted:
        prof["name"] = prof["name"][:2] + "·" + prof["name"][2:] + "江"
    raw = {k: prof[k] for k in ("name", "id_number", "phone", "residence_address")}
    prof["id_number"] = _variant(prof["id_number"], id_form)
    prof["phone"] = _variant(prof["phone"], id_form)
    bk = new_key()
    ix = make_index(tmp_path_factory.mktemp("p"), "inspect", new_key(), ("t",), bk)
    ix.rebuild([inspect_doc("P", "AN-P", SCOPE, 1, {"profile": prof, "entries": []}, TODAY, bk),
                inspect_doc("O", "AN-O", SCOPE, 1, {"profile": other, "entries": []}, TODAY, bk)])

    found_by_id = ix.search(parse(_variant(raw["id_number"], q_form).replace(" ", "")), 10)
    found_by_name = ix.search(parse(raw["name"]), 10)
    assert [h.id for h in found_by_id] == ["P"]
    assert [h.id for h in found_by_name] == ["P"]

    for h in found_by_id + found_by_name + ix.search(parse("scope:苗圃社区"), 10):
        shown = nfkc(repr(h.data)).replace(" ", "")
        assert norm_id(raw["id_number"]).lower() not in shown.lower()
        assert raw["phone"] not in shown
        if len(norm_name(raw["name"])) >= 2:
            assert norm_name(raw["name"]) not in shown
        assert nfkc(raw["residence_address"]) not in shown
        assert "号" not in h.data["address"]   # no house number

    # prefixes, wildcards, fragments and suffixes of identifiers give nothing
    idn = norm_id(raw["id_number"])
    name = norm_name(raw["name"])
    for q in (idn[:6] + "*", idn[:17], idn[:-1] + "?", idn[-6:], idn[-4:], raw["phone"], raw["phone"][-4:],
              name[0] + "*", name[:2], name[1:], name + "*", "*" + name[-1]):
        if norm_name(q) == name:
            continue   # a two-character name's "fragment" is the full name
        assert ix.search(parse(q), 10) == [], q
