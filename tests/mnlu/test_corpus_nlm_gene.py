"""NLM-Gene: native layout fixture (PMID lists + per-article BioC) and the real AIONER excerpt."""

from __future__ import annotations

from tests.mnlu.public_corpus_kit import FIXTURES, check_items, convert, shared, spans_of


def test_native_layout_fixture():
    items, ctx = convert("nlm_gene", FIXTURES / "nlm_gene")
    assert ctx.bad_records == []
    check_items(items, "nlm_gene", 2048)
    by_split = {i.split: i.record for i in items}
    assert by_split["train"]["prompt_id"] == "events/nlm_gene/train/31000001/0"
    spans = spans_of(by_split["train"])
    assert spans["Gene"] == ["IL6"]  # the fixture annotates the title mention only
    assert spans["Cell"] == ["CD4+ T cells"] and spans["ChromosomeLocation"] == ["7p15"]
    assert spans_of(by_split["test"])["Gene"] == ["Insulin"]


def test_not_native_pubtator_excerpt():
    items, ctx = convert("nlm_gene", shared("nlm_gene"))
    assert ctx.bad_records == []
    assert len(items) == 20 and {i.split for i in items} == {"train"}
    check_items(items, "nlm_gene", 2048)
    first = spans_of(next(i.record for i in items if "/20059956/" in i.record["prompt_id"]))
    assert first["Gene"][:2] == ["insulin-like peptide", "insulin"]
    assert first["FamilyName"][:3] == ["IGF", "insulin-like peptides", "Dilps"]
