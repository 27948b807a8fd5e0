"""BioC reader (XML via the `bioc` package, and JSON): document text from passage offsets, checked mentions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.formats.bioc_reader import iter_bioc_xml, read_bioc, read_bioc_json
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.pubtator import read_pubtator
from tests.mnlu.public_corpus_kit import FIXTURES, SHARED_MNLU, shared
from tests.mnlu.reader_fuzz import mutated


def test_biored_xml_equals_pubtator():
    root = shared("biored") / "BioRED"
    xml = list(iter_bioc_xml(root / "Train.BioC.XML"))
    pt = {d.doc_id: d for d in read_pubtator(root / "Train.PubTator")}
    assert [d.doc_id for d in xml] == ["10491763", "10661407", "10788334", "11009181", "11054569"]
    for d in xml:
        assert d.text == pt[d.doc_id].text
        assert [(m.start, m.end, m.type) for m in d.mentions] == [(m.start, m.end, m.type)
                                                                  for m in pt[d.doc_id].mentions]
        assert len(d.relations) == len(pt[d.doc_id].relations)
    assert xml[0].relations[0].infons == {"entity1": "3175", "entity2": "D003924", "type": "Association",
                                          "novel": "No"}


def test_off_by_one_repair_is_opt_in():
    path = FIXTURES / "gnormplus" / "GNormPlusCorpus" / "BC2GNtrain.BioC.xml"
    with pytest.raises(OffsetMismatch) as info:
        list(iter_bioc_xml(path))
    assert "annotation 3 (DomainMotif)" in str(info.value) and info.value.path == str(path)
    (doc,) = iter_bioc_xml(path, repair_off_by_one=True)
    ring = next(m for m in doc.mentions if m.type == "DomainMotif")
    assert ring.repaired and doc.text[ring.start:ring.end] == "RING domain"


def test_json_collection(tmp_path):
    coll = {"source": "x", "date": "", "key": "", "infons": {}, "documents": [{
        "id": "7", "infons": {}, "relations": [], "annotations": [],
        "passages": [{"offset": 0, "infons": {"type": "title"}, "text": "TP53 works.", "sentences": [],
                      "relations": [], "annotations": [{"id": "1", "infons": {"type": "Gene"}, "text": "TP53",
                                                        "locations": [{"offset": 0, "length": 4}]}]},
                     {"offset": 12, "infons": {"type": "abstract"}, "text": "It does.", "sentences": [],
                      "relations": [], "annotations": []}]}]}
    path = tmp_path / "c.BioC.JSON"
    path.write_text(json.dumps(coll))
    (doc,) = read_bioc(path)
    assert doc.text == "TP53 works. It does." and doc.mentions[0].spans == ((0, 4),)
    coll["documents"][0]["passages"][0]["annotations"][0]["locations"][0]["offset"] = 1
    path.write_text(json.dumps(coll))
    with pytest.raises(OffsetMismatch, match="annotation 1 \\(Gene\\)"):
        read_bioc_json(path)


def _read_all(data: bytes, tmp_path_factory, suffix: str) -> None:
    path = tmp_path_factory.mktemp("bioc") / f"f{suffix}"
    path.write_bytes(data)
    try:
        for doc in read_bioc(path, report=lambda e: None):
            for m in doc.mentions:
                assert all(0 <= s < e <= len(doc.text) for s, e in m.spans)
    except FormatError as e:
        assert e.path == str(path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([".xml", ".json"]))
def test_arbitrary_bytes(tmp_path_factory, data, suffix):
    _read_all(data, tmp_path_factory, suffix)


REAL = (SHARED_MNLU / "biored" / "BioRED" / "Train.BioC.XML").read_bytes()[:6000] if SHARED_MNLU.is_dir() else b""


@pytest.mark.skipif(not REAL, reason="shared sample absent")
@settings(max_examples=100, deadline=None)  # a few byte edits of one file: 100 suffice
@given(st.data())
def test_mutated_real_file(tmp_path_factory, data):
    _read_all(data.draw(mutated(REAL + b"</document></collection>")), tmp_path_factory, ".xml")
