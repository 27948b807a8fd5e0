"""GENIA 3.02: nested inline terms → 5-type NER items, 90/10 split by article order."""

from __future__ import annotations

from mnlu.corpora.genia import genia_type
from tests.mnlu.public_corpus_kit import check_items, convert, shared, spans_of


def test_real_sample():
    items, ctx = convert("genia", shared("genia"))
    assert ctx.bad_records == []
    assert [i.split for i in items] == ["train"] * 45 + ["test"] * 5  # 50 articles, one window each
    check_items(items, "genia", 2048)
    first = items[0].record
    assert first["prompt_id"] == "events/genia/train/95369245/0"
    spans = spans_of(first)
    # title: IL-2 gene (DNA_domain_or_region); NF-kappa B, CD28, 5-lipoxygenase (protein_molecule); the other_name
    # terms around them are dropped; nested "CD28" inside "CD28 surface receptor" is kept (nested NER)
    assert spans["DNA"] == ["IL-2 gene"]
    assert spans["protein"][:5] == ["NF-kappa B", "CD28", "5-lipoxygenase", "CD28", "CD28 surface receptor"]
    assert spans["cell_type"] == ["primary T lymphocytes"]
    assert spans["RNA"] == [] and spans["cell_line"] == []


def test_type_mapping():
    assert genia_type("G#DNA_domain_or_region") == "DNA"
    assert genia_type("G#protein_family_or_group") == "protein"
    assert genia_type("(AND G#cell_type G#cell_type)") == "cell_type"
    assert genia_type("(AND G#protein_molecule G#DNA_molecule)") is None
    assert genia_type("G#other_name") is None and genia_type(None) is None
