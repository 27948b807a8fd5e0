"""i2b2 2006 de-id (inline PHI) and smoking (record-level status) on synthetic fixtures in the distributed zips."""

from __future__ import annotations

import pytest

from mnlu.formats.errors import FormatError
from mnlu.prompts import parse_span_answer
from tests.mnlu.i2b2_testkit import answers, build_zip, check_items, convert, fixture, medical_text


def _deid_root(tmp_path):
    for stem in ("deid_surrogate_train_all_version2", "deid_surrogate_test_all_groundtruth_version2"):
        build_zip(tmp_path / f"{stem}.zip", {f"{stem}.xml": fixture("i2b2_2006_deid", f"{stem}.xml")})
    return tmp_path


def test_deid_items(tmp_path, caplog):
    items, ctx = convert("i2b2_2006_deid", _deid_root(tmp_path))
    check_items(items, "i2b2_2006_deid", 2048)
    assert ctx.bad_records == []
    by_id = answers(items)
    assert sorted(by_id) == ["events/i2b2_2006_deid/test/201/0", "events/i2b2_2006_deid/train/101/0",
                             "events/i2b2_2006_deid/train/102/0"]
    spans = parse_span_answer(by_id["events/i2b2_2006_deid/train/101/0"])
    assert spans["DATE"] == ["03/14/2001", "25th of July"]  # the malformed tag read as the closing tag
    assert spans["DOCTOR"] == ["Bram Ostley"]
    assert spans["PATIENT"] == ["Quill"]
    assert spans["PHONE"] == ["555-0142"]
    assert spans["AGE"] == []
    rec = next(it.record for it in items if it.record["prompt_id"].endswith("101/0"))
    text = medical_text(rec)
    assert "chest pain > 2 hours" in text and '"questions"' in text  # entities unescaped
    assert "report_end" not in text and "<PHI" not in text
    assert "known defect" in caplog.text and "25th" not in caplog.text  # logged by line, never the text
    assert parse_span_answer(by_id["events/i2b2_2006_deid/train/102/0"])["AGE"] == ["91"]


def test_deid_windows_never_cut_a_span(tmp_path):
    items, _ = convert("i2b2_2006_deid", _deid_root(tmp_path), max_seq_length=330)
    check_items(items, "i2b2_2006_deid", 330)
    doc101 = [it for it in items if "/101/" in it.record["prompt_id"]]
    assert len(doc101) > 1
    found = [s for it in doc101 for v in parse_span_answer(it.record["messages"][-1]["content"]).values() for s in v]
    assert sorted(found) == sorted(["123456789", "LAKESIDE GENERAL", "03/14/2001", "Quill", "Bram Ostley",
                                    "25th of July", "555-0142"])


def test_deid_bad_record_is_reported_and_the_rest_kept(tmp_path):
    bad = fixture("i2b2_2006_deid", "deid_surrogate_train_all_version2.xml").replace(
        b'<PHI TYPE="AGE">91</PHI>', b'<PHI TYPE="AGE">91')
    build_zip(tmp_path / "deid_surrogate_train_all_version2.zip", {"deid_surrogate_train_all_version2.xml": bad})
    items, ctx = convert("i2b2_2006_deid", tmp_path)
    assert [it.record["prompt_id"] for it in items] == ["events/i2b2_2006_deid/train/101/0"]
    (err,) = ctx.bad_records
    assert err.line == 19 and "never closed" in str(err) and "91" not in str(err)
    with pytest.raises(FormatError, match=r"version2\.xml:19: .*AGE"):
        convert("i2b2_2006_deid", tmp_path, strict=True)


def test_smoking_items(tmp_path):
    for stem in ("smokers_surrogate_train_all_version2", "smokers_surrogate_test_all_groundtruth_version2"):
        build_zip(tmp_path / f"{stem}.zip", {f"{stem}.xml": fixture("i2b2_2006_smoking", f"{stem}.xml")})
    items, ctx = convert("i2b2_2006_smoking", tmp_path)
    check_items(items, "i2b2_2006_smoking", 2048)
    assert ctx.bad_records == []
    assert answers(items) == {
        "DC/i2b2_2006_smoking/train/301/0": "(A) current smoker",
        "DC/i2b2_2006_smoking/train/302/0": "(D) non-smoker",
        "DC/i2b2_2006_smoking/train/303/0": "(E) unknown (not mentioned)",
        "DC/i2b2_2006_smoking/test/401/0": "(B) past smoker",
    }
    assert "never smoked & no alcohol" in medical_text(items[1].record)
