"""LINNAEUS: the IOB sample (one item per sentence) and the standoff sample (full texts, windowed)."""

from __future__ import annotations

from tests.mnlu.public_corpus_kit import check_items, convert, medical_text, shared, spans_of


def test_iob_sample():
    items, ctx = convert("linnaeus", shared("linnaeus"))
    assert ctx.bad_records == []
    assert len(items) == 9 and {i.split for i in items} == {"train"}  # 9 sentences of devel.tsv; devel → train
    check_items(items, "linnaeus", 2048)
    first = items[0].record
    assert medical_text(first).startswith("Gene expression studies in isolated mitochondria : Solanum tuberosum")
    assert spans_of(first) == {"Species": ["Solanum tuberosum", "potato", "wheat"]}
    assert sum(len(spans_of(i.record)["Species"]) for i in items) == 9  # 9 B-Species tags in the file


def test_standoff_sample_windows_full_texts():
    root = shared("linnaeus") / "manual-corpus-species-1.1"
    items, ctx = convert("linnaeus", root, max_seq_length=1024)
    assert ctx.bad_records == []
    check_items(items, "linnaeus", 1024)
    docs = {i.record["prompt_id"].split("/")[3] for i in items}
    assert docs == {"pmcA102792", "pmcA1036069", "pmcA1075922", "pmcA1079799", "pmcA1131934"}
    # tags.tsv has 55 + 20 + 26 + 7 + 29 = 137 species mentions; every one lands in exactly one window
    assert sum(len(spans_of(i.record)["Species"]) for i in items) == 137
    yeast = [s for i in items if "pmcA102792" in i.record["prompt_id"] for s in spans_of(i.record)["Species"]]
    assert yeast[:3] == ["yeast", "yeast", "Saccharomyces cerevisiae"]  # offsets 75, 126, 132 of tags.tsv
