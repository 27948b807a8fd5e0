"""BioRED: NER and RE items from the real PubTator sample; the BioC XML sample gives the same documents."""

from __future__ import annotations

from collections import Counter

from mnlu.corpora import biored
from mnlu.corpora.registry import ConvertContext
from mnlu.tokenizer import count_tokens
from mnlu.windows import estimate_tokens
from tests.mnlu.public_corpus_kit import check_items, choice_of, convert, medical_text, shared, spans_of


def test_pubtator_sample_items():
    items, ctx = convert("biored", shared("biored"))
    assert ctx.bad_records == []
    ner = [i for i in items if i.family == "events"]
    assert Counter(i.split for i in ner) == {"train": 50, "test": 10}  # 50 train + 10 test abstracts, 1 window each
    check_items(items, "biored", 2048)
    first = next(i.record for i in ner if i.record["prompt_id"] == "events/biored/train/10491763/0")
    spans = spans_of(first)
    # Train.PubTator lines of 10491763 (read by hand): title mentions and the first abstract genes
    assert spans["GeneOrGeneProduct"][:3] == ["Hepatocyte nuclear factor-6", "insulin", "hepatocyte nuclear factor (HNF)-6"]
    assert spans["DiseaseOrPhenotypicFeature"][0] == "type II diabetes"
    assert sum(len(v) for v in spans.values()) == 32  # 32 mention lines in the file
    re_items = [i.record for i in items if i.family == "RE" and "/10491763/" in i.record["prompt_id"]]
    gold = Counter(choice_of(r) for r in re_items)
    # its 3 relation lines: Association 3175–D003924, Positive_Correlation D005947–3630, Association D005947–D003924
    assert gold["Association"] == 2 and gold["Positive_Correlation"] == 1
    marked = next(medical_text(r) for r in re_items if choice_of(r) == "Positive_Correlation")
    assert "<<" in marked and "[[" in marked


def test_bioc_xml_matches_pubtator():
    root = shared("biored") / "BioRED"
    ctx = ConvertContext(count_tokens=estimate_tokens)  # both readers are windowed alike with any one counter
    from_xml = {i.record["prompt_id"]: i.record for i in biored.from_bioc(root / "Train.BioC.XML", ctx)}
    from_pt = {i.record["prompt_id"]: i.record for i in biored.from_pubtator(root / "Train.PubTator", ctx)}
    assert len(from_xml) > 5 and ctx.bad_records == []
    assert all(from_pt[pid] == rec for pid, rec in from_xml.items())  # same 5 documents, byte-identical items


def test_small_budget_windows_keep_spans_whole():
    ctx = ConvertContext(max_seq_length=400, count_tokens=count_tokens)
    items = list(biored.from_pubtator(shared("biored") / "BioRED" / "Test.PubTator", ctx))
    assert ctx.bad_records == []
    check_items(items, "biored", 400)
    ner_windows = Counter(i.record["prompt_id"].rsplit("/", 1)[0] for i in items if i.family == "events")
    assert len(ner_windows) == 10 and max(ner_windows.values()) > 1  # abstracts no longer fit in one window
