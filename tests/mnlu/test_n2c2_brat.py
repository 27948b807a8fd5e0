"""n2c2 2018 ADE and 2022 SDoH (BRAT) on synthetic fixtures laid out as distributed: events with their
arguments, SDoH attribute labels, and the label set checked against the corpus's own annotation.conf."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mnlu.corpora import n2c2_2022_sdoh
from mnlu.formats.errors import OffsetMismatch
from mnlu.prompts import parse_span_answer
from mnlu.schema import split_options
from tests.mnlu.i2b2_testkit import FIXTURES, answers, build_archives, build_zip, check_items, convert

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
ADE = {"training_20180910": "training_20180910.zip", "gold-standard-test-data": "gold-standard-test-data.zip"}


def test_2018_ade(tmp_path):
    items, ctx = convert("n2c2_2018_ade", build_archives("n2c2_2018_ade", tmp_path, ADE))
    check_items(items, "n2c2_2018_ade", 2048)
    assert ctx.bad_records == []
    got = answers(items)
    assert parse_span_answer(got["events/n2c2_2018_ade/train/100035/0"]) == {
        "Drug": ["Lisinopril", "Vancomycin", "penicillin", "Lisinopril"]}
    assert parse_span_answer(got["events/n2c2_2018_ade/train/100035/1"]) == {
        "Strength": ["10 mg"], "Form": ["Tablet"], "Dosage": ["One (1)"], "Frequency": ["DAILY (Daily)"],
        "Route": ["PO"], "Duration": [], "Reason": [], "ADE": []}
    vanco = parse_span_answer(got["events/n2c2_2018_ade/train/100035/2"])
    assert vanco["Duration"] == ["for 10 days"] and vanco["Reason"] == ["MRSA bacteremia"]
    assert parse_span_answer(got["events/n2c2_2018_ade/train/100035/3"])["ADE"] == ["rash"]
    assert parse_span_answer(got["events/n2c2_2018_ade/test/100590/2"])["Strength"] == ["81 mg"]  # across a newline
    recs = {it.record["prompt_id"]: it.record for it in items}
    assert '"Lisinopril" (occurrence 2 of that phrase' in recs["events/n2c2_2018_ade/train/100035/4"]["messages"][1][
        "content"]
    assert len(items) == (1 + 4) + (1 + 2)


def test_2018_ade_bad_offset(tmp_path):
    def mutate(name, data):
        return data.replace(b"Strength 37 42", b"Strength 38 43") if name.endswith("100035.ann") else data

    assert b"Strength 37 42" in (FIXTURES / "n2c2_2018_ade/training_20180910/training_20180910/100035.ann").read_bytes()
    root = build_archives("n2c2_2018_ade", tmp_path, ADE, mutate)
    with pytest.raises(OffsetMismatch) as err:
        convert("n2c2_2018_ade", root, strict=True)
    assert err.value.path.endswith("training_20180910.zip!/training_20180910/100035.ann")
    assert err.value.offset == 38 and err.value.line == 2
    items, ctx = convert("n2c2_2018_ade", root)
    assert len(ctx.bad_records) >= 1  # the entity, and the relation that needed it, are dropped and reported
    assert parse_span_answer(answers(items)["events/n2c2_2018_ade/train/100035/1"])["Strength"] == []


def _sdoh_check(items):
    check_items(items, "n2c2_2022_sdoh", 2048)
    got = {it.record["prompt_id"]: it.record for it in items}
    ans = {k: r["messages"][-1]["content"] for k, r in got.items()}
    base = "events/n2c2_2022_sdoh/train/train-mimic-0001/"
    assert parse_span_answer(ans[base + "0"]) == {"Alcohol": ["Drinks"], "Drug": ["illicit drug use"],
                                                  "Tobacco": ["smoking"], "Employment": ["Retired"],
                                                  "LivingStatus": ["Lives"]}
    living = parse_span_answer(ans[base + "1"])
    assert living == {"Status": ["Lives"], "Type": ["with his wife"], "Duration": [], "History": []}
    assert ans[base + "2"] == "(B) current" and got[base + "2"]["type"] == "LivingStatus - Status"
    assert ans[base + "3"] == "(B) with_family"
    assert ans[base + "5"] == "(C) retired" and "employment status" in got[base + "5"]["messages"][1]["content"]
    tobacco = [k for k, r in got.items() if k.startswith(base) and r["type"] == "Tobacco - arguments"]
    assert parse_span_answer(ans[tobacco[0]]) == {"Status": ["Quit"], "Amount": ["1 ppd"], "Duration": ["for 30 years"],
                                                  "Frequency": [], "History": ["10 years ago"], "Method": [], "Type": []}
    assert [ans[k] for k, r in got.items() if r["type"] == "Drug - Status"] == ["(A) none"]
    # dev goes to train (mnlu.splits); the Country event (SHAC, not n2c2) is left out
    dev = {k: v for k, v in ans.items() if "/dev-uw-0002/" in k}
    assert dev and all("/train/dev-uw-0002/" in k for k in dev)
    assert parse_span_answer(dev["events/n2c2_2022_sdoh/train/dev-uw-0002/0"])["Tobacco"] == ["Smokes"]
    assert "(D) homeless" in dev.values() and not any("Peru" in v for v in dev.values())
    assert {it.split for it in items} == {"train", "test"}
    assert "events/n2c2_2022_sdoh/test/test-uw-0003/0" in ans


def test_2022_sdoh_folders(tmp_path):
    shutil.copytree(FIXTURES / "n2c2_2022_sdoh", tmp_path / "n2c2_2022_sdoh")
    items, ctx = convert("n2c2_2022_sdoh", tmp_path / "n2c2_2022_sdoh")
    assert ctx.bad_records == []
    _sdoh_check(items)


def test_2022_sdoh_archive(tmp_path):
    base = FIXTURES / "n2c2_2022_sdoh"
    build_zip(tmp_path / "SDOH_n2c2_release.zip",
              {f"Annotations/{p.relative_to(base).as_posix()}": p.read_bytes() for p in base.rglob("*") if p.is_file()})
    items, ctx = convert("n2c2_2022_sdoh", tmp_path)
    assert ctx.bad_records == []
    _sdoh_check(items)


def test_2022_sdoh_labels_match_annotation_conf():
    conf = SHARED / "mnlu" / "n2c2_2022_sdoh" / "SCHEMA_ONLY" / "annotation.conf"
    if not conf.exists():
        pytest.skip(f"shared data folder not present ({conf})")
    text = conf.read_text()
    attrs = dict(re.findall(r"^(\w+)\s+Arg:\w+,\s*Value:([\w|]+)", text, re.M))
    for name, values in n2c2_2022_sdoh.ATTRIBUTES.items():
        assert tuple(attrs[name].split("|")) == values
    events = {m[0]: m[1] for m in re.findall(r"^(\w+)\s+(Status:.*)$", text, re.M)}
    for event, roles in n2c2_2022_sdoh.ROLES.items():
        declared = {r.split(":")[0].rstrip("?") for r in re.split(r",\s*", events[event].strip()) if r}
        assert set(roles) <= declared, event
    for entity, attr in n2c2_2022_sdoh.ATTRIBUTE_OF.items():
        assert re.search(rf"^{attr}\s+Arg:{entity},", text, re.M)


def test_sdoh_attribute_options_are_the_schema_values(tmp_path):
    shutil.copytree(FIXTURES / "n2c2_2022_sdoh", tmp_path / "c")
    items, _ = convert("n2c2_2022_sdoh", tmp_path / "c")
    for it in items:
        if it.record["task"] == "classification":
            assert tuple(split_options(it.record["options"])) in n2c2_2022_sdoh.ATTRIBUTES.values()
