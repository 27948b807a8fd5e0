"""PubTator reader: real samples (LF and CRLF), offset checks, relations, and robustness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.pubtator import parse_pubtator, read_pubtator
from tests.mnlu.public_corpus_kit import SHARED_MNLU, shared
from tests.mnlu.reader_fuzz import mutated


def test_biored_crlf_sample():
    docs = list(read_pubtator(shared("biored") / "BioRED" / "Train.PubTator"))
    assert len(docs) == 50
    d = docs[0]
    assert d.doc_id == "10491763" and d.text.startswith("Hepatocyte nuclear factor-6: associations")
    assert not d.title.endswith("\r")
    assert (d.mentions[0].start, d.mentions[0].end, d.mentions[0].type, d.mentions[0].identifier) == (
        0, 27, "GeneOrGeneProduct", "3175")
    assert [(r.type, r.args) for r in d.relations] == [
        ("Association", ("3175", "D003924", "No")), ("Positive_Correlation", ("D005947", "3630", "No")),
        ("Association", ("D005947", "D003924", "No"))]


def test_tmvar_v2_seven_columns_and_translation_line():
    docs = {d.doc_id: d for d in read_pubtator(shared("tmvar") / "v2" / "tmVar.Normalization.txt")}
    m = docs["22051099"].mentions[1]
    assert (m.text, m.type, m.identifier, m.extra) == ("Ex2+860G>C", "DNAMutation", "c|SUB|G|Ex2+860|C",
                                                       ("RSID:2234671",))
    assert [r.type for r in docs["21615796"].relations] == ["Translation 7488T/C"]  # the 3-column line


def test_bad_offset_strict_and_lenient():
    content = "1|t|Aspirin works.\n1|a|It does.\n1\t0\t7\tAspirin\tChemical\tD1\n1\t3\t7\tAspirin\tChemical\tD1\n"
    with pytest.raises(OffsetMismatch) as info:
        list(parse_pubtator(content, path="x.PubTator"))
    assert (info.value.path, info.value.line, info.value.offset) == ("x.PubTator", 4, 3)
    errors = []
    (doc,) = parse_pubtator(content, path="x.PubTator", report=errors.append)
    assert len(doc.mentions) == 1 and doc.errors == errors and len(errors) == 1


def test_structure_errors():
    with pytest.raises(FormatError, match="PMID\\|t\\|title"):
        list(parse_pubtator("1\t0\t1\tx\tT\n", path="p"))
    with pytest.raises(FormatError, match="inside document 1"):
        list(parse_pubtator("1|t|ab\n2\t0\t1\ta\tT\n", path="p"))


def _read_all(data: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("pt") / "f.PubTator"
    path.write_bytes(data)
    try:
        for doc in read_pubtator(path, report=lambda e: None):
            for m in doc.mentions:
                assert doc.text[m.start:m.end] == m.text
    except FormatError as e:
        assert e.path == str(path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path_factory, data):
    _read_all(data, tmp_path_factory)


REAL = (SHARED_MNLU / "biored" / "BioRED" / "Test.PubTator").read_bytes()[:4000] if SHARED_MNLU.is_dir() else b""


@pytest.mark.skipif(not REAL, reason="shared sample absent")
@settings(max_examples=100, deadline=None)  # a few byte edits of one file: 100 suffice
@given(st.data())
def test_mutated_real_file(tmp_path_factory, data):
    _read_all(data.draw(mutated(REAL)), tmp_path_factory)
