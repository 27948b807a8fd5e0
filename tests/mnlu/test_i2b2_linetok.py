"""line:token corpora (2011 coreference, 2009 medication) and 2008 obesity on synthetic fixtures laid out as
distributed: concrete spans, events, relations and judgments."""

from __future__ import annotations

import shutil

import pytest

from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.prompts import parse_span_answer
from tests.mnlu.i2b2_testkit import FIXTURES, answers, build_archives, check_items, convert, medical_text

COREF = {"i2b2_Beth_Train_Release": "i2b2_Beth_Train_Release.tar.gz",
         "i2b2_Partners_Train_Release": "i2b2_Partners_Train_Release.tar.gz",
         "Task_1C": "Task_1C.zip", "Task_1C_Test_groundtruth": "Task_1C_Test_groundtruth.zip"}
MEDS = {"train.test.released.8.17.09": "train.test.released.8.17.09.tar.gz",
        "training.sets.released": "training.sets.released.tar.gz",
        "training.ground.truth.01.06.11.2009": "training.ground.truth.01.06.11.2009.zip",
        "annotations_ground_truth": "annotations_ground_truth.tar.gz"}


def test_2011_coref(tmp_path):
    items, ctx = convert("i2b2_2011_coref", build_archives("i2b2_2011_coref", tmp_path, COREF))
    check_items(items, "i2b2_2011_coref", 2048)
    assert ctx.bad_records == []
    ner = {k: parse_span_answer(v) for k, v in answers(items, "events").items()}
    assert sorted(ner) == ["events/i2b2_2011_coref/test/clinical-33/0", "events/i2b2_2011_coref/train/clinical-11/0",
                           "events/i2b2_2011_coref/train/record-22/0"]  # the ODIE part is left out
    a = ner["events/i2b2_2011_coref/train/clinical-11/0"]
    assert a["person"] == ["Mr. Hale", "Dr. Voss"] and a["pronoun"] == ["He", "his", "him"]
    assert a["problem"] == ["chest pain", "a small effusion", "The effusion", "his chest pain"]
    assert a["test"] == ["a CT scan"] and a["treatment"] == []
    rel = [it.record for it in items if it.family == "RE" and "/clinical-11/" in it.record["prompt_id"]]
    got = [(medical_text(r).count("<<"), r["messages"][-1]["content"]) for r in rel]
    assert [g[1] for g in got] == ["(A) coreferent", "(A) coreferent", "(A) coreferent", "(A) coreferent",
                                   "(B) not related to", "(A) coreferent", "(B) not related to"]
    # the negative of "The effusion": the nearest earlier problem outside its chain
    assert "<<chest pain>>" in medical_text(rel[4]) and "[[The effusion]]" in medical_text(rel[4])
    assert medical_text(rel[2]) == ("The effusion was drained and <<his>> chest pain improved .\n"
                                    "Dr. Voss saw [[him]] on the day of discharge .")
    assert any(r["messages"][-1]["content"] == "(A) coreferent" for r in
               (it.record for it in items if it.family == "RE" and "/test/clinical-33/" in it.record["prompt_id"]))


def test_2011_coref_bad_position_is_an_offset_mismatch(tmp_path):
    def mutate(name, data):
        return data.replace(b'c="dr. voss" 7:0 7:1', b'c="dr. voss" 7:1 7:2') if name.endswith("-11.txt.con") else data

    assert b'c="dr. voss" 7:0 7:1' in (FIXTURES / "i2b2_2011_coref/i2b2_Beth_Train_Release/Beth_Train/concepts/"
                                                  "clinical-11.txt.con").read_bytes()
    root = build_archives("i2b2_2011_coref", tmp_path, COREF, mutate)
    with pytest.raises(OffsetMismatch) as err:
        convert("i2b2_2011_coref", root, strict=True)
    assert err.value.path.endswith("Beth_Train/concepts/clinical-11.txt.con") and err.value.line == 9
    assert err.value.offset is not None and "voss" not in str(err.value).lower()


def test_2009_medication(tmp_path):
    items, ctx = convert("i2b2_2009_medication", build_archives("i2b2_2009_medication", tmp_path, MEDS))
    check_items(items, "i2b2_2009_medication", 2048)
    assert ctx.bad_records == []
    got = answers(items)
    # train: the note with organiser gold; test: the note with converted.noduplicates.sorted gold; 300303 has none
    assert {k.rsplit("/", 2)[1] for k in got} == {"100101", "200202"}
    trig = parse_span_answer(got["events/i2b2_2009_medication/train/100101/0"])
    assert trig == {"Medication": ["Aspirin", "Lasix", "Insulin", "Lasix", "Aspirin"]}
    recs = {it.record["prompt_id"]: it.record for it in items}
    lasix_iv = recs["events/i2b2_2009_medication/train/100101/4"]
    assert '"Lasix" (occurrence 2 of that phrase in the text)' in lasix_iv["messages"][1]["content"]
    assert parse_span_answer(lasix_iv["messages"][-1]["content"]) == {
        "Dosage": ["80 mg"], "Mode": ["IV"], "Frequency": ["once"], "Duration": [], "Reason": ["fluid overload"]}
    assert parse_span_answer(got["events/i2b2_2009_medication/train/100101/3"])["Dosage"] == ["sliding scale"]
    coumadin = parse_span_answer(got["events/i2b2_2009_medication/test/200202/2"])
    assert coumadin["Dosage"] == ["5 mg", "2.5 mg"] and coumadin["Frequency"] == ["on Mondays"]
    meto = parse_span_answer(got["events/i2b2_2009_medication/test/200202/1"])
    assert meto == {"Dosage": ["25 mg"], "Mode": ["p.o."], "Frequency": ["twice a day"], "Duration": ["for two weeks"],
                    "Reason": ["hypertension"]}
    assert len(items) == 1 + 5 + 1 + 2


def test_2009_medication_small_windows(tmp_path):
    items, _ = convert("i2b2_2009_medication", build_archives("i2b2_2009_medication", tmp_path, MEDS),
                       max_seq_length=300)
    check_items(items, "i2b2_2009_medication", 300)
    trig = [v for k, v in answers(items).items() if "/100101/" in k and v.startswith("Medication:")]
    assert len(trig) > 1  # the note is split, and every medication is still found once
    assert sorted(s for t in trig for s in parse_span_answer(t)["Medication"]) == sorted(
        ["Aspirin", "Lasix", "Insulin", "Lasix", "Aspirin"])


def test_2009_medication_bad_entry_line(tmp_path):
    def mutate(name, data):
        return data.replace(b'||mo="p.o." 3:', b'||mo="p.o. 3:', 1) if name.endswith(".entries") else data

    root = build_archives("i2b2_2009_medication", tmp_path, MEDS, mutate)
    with pytest.raises(FormatError, match=r"100101_gold\.entries:1: "):
        convert("i2b2_2009_medication", root, strict=True)


def test_2008_obesity(tmp_path):
    for p in (FIXTURES / "i2b2_2008_obesity").glob("*.xml"):
        shutil.copy(p, tmp_path / p.name)
    items, ctx = convert("i2b2_2008_obesity", tmp_path)
    check_items(items, "i2b2_2008_obesity", 2048)
    assert ctx.bad_records == []
    got = {it.record["prompt_id"]: (it.record["type"], it.record["messages"][-1]["content"]) for it in items}
    assert got == {
        "DC/i2b2_2008_obesity/train/1/0": ("Obesity - textual", "(A) present"),  # from the addendum
        "DC/i2b2_2008_obesity/train/1/1": ("Asthma - textual", "(A) present"),
        "DC/i2b2_2008_obesity/train/1/2": ("Asthma - intuitive", "(A) present"),
        "DC/i2b2_2008_obesity/train/1/3": ("Hypertension - intuitive", "(C) questionable"),
        "DC/i2b2_2008_obesity/train/2/0": ("Asthma - textual", "(D) not mentioned"),
        "DC/i2b2_2008_obesity/train/2/1": ("Asthma - intuitive", "(B) absent"),
        "DC/i2b2_2008_obesity/train/2/2": ("CAD - textual", "(A) present"),  # the addendum corrects N to Y
        "DC/i2b2_2008_obesity/test/7/0": ("Gout - textual", "(A) present"),
        "DC/i2b2_2008_obesity/test/7/1": ("Gout - intuitive", "(A) present"),
        "DC/i2b2_2008_obesity/test/7/2": ("Venous Insufficiency - intuitive", "(B) absent"),
    }
    assert "three vessel disease & a stent" in medical_text(items[4].record)


def test_2008_obesity_bad_judgment(tmp_path):
    for p in (FIXTURES / "i2b2_2008_obesity").glob("*.xml"):
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / "obesity_standoff_annotations_test.xml"
    path.write_text(path.read_text().replace('<doc id="7" judgment="N"/>', '<doc id="7" judgment="U"/>'))
    with pytest.raises(FormatError, match=r"obesity_standoff_annotations_test\.xml:13: .*intuitive"):
        convert("i2b2_2008_obesity", tmp_path, strict=True)
