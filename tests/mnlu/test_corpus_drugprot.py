"""DrugProt: native TSV fixture written from the spec (NER + RE), and the real AIONER PubTator excerpt (NER)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from mnlu.formats.errors import OffsetMismatch
from tests.mnlu.public_corpus_kit import (
    FIXTURES,
    check_items,
    choice_of,
    convert,
    medical_text,
    shared,
    spans_of,
)


def test_native_fixture():
    items, ctx = convert("drugprot", FIXTURES / "drugprot")
    assert ctx.bad_records == []
    check_items(items, "drugprot", 2048)
    ner = {i.record["prompt_id"]: i for i in items if i.family == "events"}
    assert set(ner) == {"events/drugprot/train/100/0", "events/drugprot/train/200/0"}  # test_background skipped
    assert spans_of(ner["events/drugprot/train/100/0"].record) == {
        "CHEMICAL": ["Aspirin", "aspirin", "Caffeine"],
        "GENE-Y": ["COX-1", "cyclooxygenase-1", "adenosine A2A receptor"], "GENE-N": []}
    re_items = [i.record for i in items if i.family == "RE"]
    assert all(len(r["options"].split("[SEP]")) == 12 for r in re_items)  # 11 labels + not related to
    gold = {(medical_text(r).split("<<")[1].split(">>")[0], medical_text(r).split("[[")[1].split("]]")[0]):
            choice_of(r) for r in re_items if "/100/" in r["prompt_id"]}
    assert gold[("Aspirin", "COX-1")] == "INHIBITOR"
    assert gold[("aspirin", "cyclooxygenase-1")] == "INHIBITOR"
    assert gold[("Caffeine", "adenosine A2A receptor")] == "ANTAGONIST"
    assert ("Aspirin", "cyclooxygenase-1") not in gold  # title vs abstract sentence: not a candidate
    assert ("Caffeine", "COX-1") not in gold  # different sentences, no relation: not a candidate
    dev = [choice_of(r) for r in re_items if "/200/" in r["prompt_id"]]
    assert Counter(dev)["AGONIST"] == 1  # AGONIST-ACTIVATOR folded into AGONIST


def test_bad_offset_strict_names_file_line_offset(tmp_path):
    root = tmp_path / "drugprot"
    shutil.copytree(FIXTURES / "drugprot", root)
    ents = root / "training" / "drugprot_training_entities.tsv"
    lines = ents.read_text().splitlines()
    lines[1] = lines[1].replace("\t17\t22\t", "\t18\t23\t")
    ents.write_text("\n".join(lines) + "\n")
    with pytest.raises(OffsetMismatch) as info:
        convert("drugprot", root, strict=True)
    assert info.value.path.endswith("drugprot_training_entities.tsv") and info.value.line == 2
    assert info.value.offset == 18
    items, ctx = convert("drugprot", root)  # lenient: the document is reported and skipped
    assert len(ctx.bad_records) == 1 and not any("/100/" in i.record["prompt_id"] for i in items)


def test_not_native_pubtator_excerpt():
    items, ctx = convert("drugprot", shared("drugprot"))
    assert ctx.bad_records == []
    assert len(items) == 20 and {i.split for i in items} == {"test"}  # DrugProt_Test.PubTator: 20 abstracts
    check_items(items, "drugprot", 2048)
    first = spans_of(items[0].record)
    assert first["Chemical"][:2] == ["Apomorphine", "Apomorphine"] and first["Gene"][0] == "TRPA1"
