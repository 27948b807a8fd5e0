"""GNormPlus: native BioC fixture (spec) with the known off-by-one repair, and the real AIONER excerpt."""

from __future__ import annotations

from tests.mnlu.public_corpus_kit import FIXTURES, check_items, convert, shared, spans_of


def test_native_bioc_fixture_repairs_off_by_one():
    items, ctx = convert("gnormplus", FIXTURES / "gnormplus")
    assert ctx.bad_records == []
    check_items(items, "gnormplus", 2048)
    by_split = {i.split: i.record for i in items}
    assert spans_of(by_split["train"]) == {  # RING domain's location is one character right in the file
        "Gene": ["BRCA1"], "FamilyName": ["kinase family", "protein kinase C family"],
        "DomainMotif": ["RING domain"]}
    assert spans_of(by_split["test"]) == {"Gene": ["TP53"], "FamilyName": [], "DomainMotif": []}


def test_not_native_pubtator_excerpt():
    items, ctx = convert("gnormplus", shared("gnormplus"))
    assert ctx.bad_records == []
    assert len(items) == 20 and {i.split for i in items} == {"train"}
    check_items(items, "gnormplus", 2048)
    first = spans_of(next(i.record for i in items if "/10064899/" in i.record["prompt_id"]))
    # file lines: lysophospholipase (FamilyName, listed twice: kept once), Lysophospholipases, two genes
    assert first["FamilyName"][:2] == ["lysophospholipase", "Lysophospholipases"]
    assert first["Gene"][:3] == ["lysophospholipid-specific lysophospholipase", "hLysoPLA", "hLysoPLA"]
