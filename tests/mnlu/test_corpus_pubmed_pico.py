"""PubMed PICO: fixture written from the spec (no public sample: every file is ≥ 4 MiB)."""

from __future__ import annotations

import pytest

from mnlu.formats.errors import FormatError
from tests.mnlu.public_corpus_kit import FIXTURES, check_items, convert, spans_of


def test_split_files_fixture():
    items, ctx = convert("pubmed_pico", FIXTURES / "pubmed_pico")
    assert ctx.bad_records == []
    check_items(items, "pubmed_pico", 2048)
    by_doc = {i.record["prompt_id"].split("/")[3]: i for i in items}
    assert {k: v.split for k, v in by_doc.items()} == {"1000": "train", "1001": "train", "1002": "train",
                                                       "1003": "test"}
    first = by_doc["1000"].record
    assert first["task"] == "PICO"
    spans = spans_of(first)
    assert spans["Participants"] == ["@ adults with asthma were enrolled ."]
    assert spans["Intervention"] == ["Drug X or placebo was given ."]
    assert spans["Outcome"] == ["Lung function at @ weeks ."]
    assert spans["Aim"] == ["To assess drug X in adults ."] and spans["Results"] == []


def test_bad_label_strict(tmp_path):
    (tmp_path / "PICO_train.txt").write_text("###1\nMETHODS|Z|bad label .\n")
    with pytest.raises(FormatError) as info:
        convert("pubmed_pico", tmp_path, strict=True)
    assert info.value.line == 2 and info.value.path.endswith("PICO_train.txt")
