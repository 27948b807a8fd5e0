"""Converters of the 12 tabular corpora, on the real samples in ../shared/data/mnlu (items checked against the
files by hand) and on fixtures written from FORMATS.md where no sample exists."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

import mnlu.corpora  # noqa: F401  (registers the converters)
from mnlu.corpora.availability import CorpusUnavailable
from mnlu.corpora.item_helpers import options_with_gold
from mnlu.corpora.registry import CORPORA, ConvertContext, TaskItem
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.prompts import (
    LETTERS,
    choice_answer,
    parse_choice,
    parse_multi_choice,
    parse_span_answer,
    render_chat,
)
from mnlu.schema import answer_of, split_options, validate_record
from mnlu.tokenizer import count_tokens

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mnlu"
TABULAR = ("clinical_ie", "semeval2024_task2_nli4ct", "trialstop", "mtsamples", "czi_drsm", "bionli", "snli",
           "multinli", "stsb", "pubmedsum", "cdsr", "aci_bench")


def convert(name: str, root: Path, **kw) -> tuple[list[TaskItem], ConvertContext]:
    ctx = ConvertContext(**kw)
    items = list(CORPORA[name].convert(root, ctx))
    for item in items:
        validate_record(item.record, require_answer=True)
        assert item.split in ("train", "test")
        check_choice(item.record)
    return items, ctx


def check_choice(record: dict) -> None:
    """For choice tasks every gold answer is one of the options, written `(X) option`."""
    if record["task"] in ("events", "summarization", "PICO"):
        return
    options = split_options(record["options"])
    assert 1 <= len(options) <= len(LETTERS)
    answer = answer_of(record)
    if record["task"] == "MultiQA":
        chosen = parse_multi_choice(answer, options)
        assert chosen and answer == "\n".join(choice_answer(options, i) for i in chosen)
    else:
        i = parse_choice(answer, options)
        assert i is not None and answer == choice_answer(options, i)


def by_id(items: list[TaskItem]) -> dict[str, TaskItem]:
    ids = [i.record["prompt_id"] for i in items]
    assert len(ids) == len(set(ids)), "prompt ids are unique within a corpus"
    return {i.record["prompt_id"]: i for i in items}


def user_text(item: TaskItem) -> str:
    return item.record["messages"][1]["content"]


def test_all_twelve_registered_with_families():
    families = {"clinical_ie": ("events",), "snli": ("NLI",), "multinli": ("NLI",), "bionli": ("NLI",),
                "stsb": ("STS",), "pubmedsum": ("summarization",), "cdsr": ("summarization",),
                "aci_bench": ("summarization",), "mtsamples": ("DC",), "trialstop": ("DC",), "czi_drsm": ("DC",),
                "semeval2024_task2_nli4ct": ("DC",)}
    for name in TABULAR:
        assert CORPORA[name].families == families[name]


# ------------------------------------------------------------------------------------------ real samples


def test_snli_sample(shared_data):
    items, ctx = convert("snli", shared_data / "mnlu" / "snli")
    assert len(items) == 99 and not ctx.bad_records  # 100 lines, one gold_label "-"
    assert {i.split for i in items} == {"train"}  # the sample is the dev file: dev goes to train (mnlu.splits)
    labels = collections.Counter(answer_of(i.record) for i in items)
    assert labels == {"(C) contradiction": 36, "(A) entailment": 32, "(B) neutral": 31}
    first = by_id(items)["snli-4705552913.jpg#2r1n"]
    assert "Premise: Two women are embracing while holding to go packages." in user_text(first)
    assert answer_of(first.record) == "(B) neutral" and first.record["task"] == "NLI"
    assert "snli-3184031654.jpg#0r1e" not in by_id(items)  # the no-consensus pair


def test_stsb_sample(shared_data):
    items, ctx = convert("stsb", shared_data / "mnlu" / "stsb")
    assert len(items) == 200 and not ctx.bad_records
    assert {i.split for i in items} == {"train"}  # GLUE test.tsv has no scores
    got = by_id(items)
    assert answer_of(got["stsb-train-0"].record) == "(F) 5"  # 5.000
    assert answer_of(got["stsb-train-1"].record) == "(E) 4"  # 3.800 → 4
    assert "Sentence 1: A plane is taking off." in user_text(got["stsb-train-0"])
    assert split_options(got["stsb-train-0"].record["options"]) == ["0", "1", "2", "3", "4", "5"]


def test_mtsamples_sample(shared_data):
    items, ctx = convert("mtsamples", shared_data / "mnlu" / "mtsamples", count_tokens=count_tokens)
    assert len(items) == 50 and not ctx.bad_records
    gold = collections.Counter(answer_of(i.record).split(") ", 1)[1] for i in items)
    assert gold["Urology"] == 30 and gold["Bariatrics"] == 10 and gold["Cardiovascular / Pulmonary"] == 6
    first = by_id(items)["mtsamples-mtsamples-0"]
    assert answer_of(first.record).endswith("Allergy / Immunology")
    assert len(split_options(first.record["options"])) == 7  # the sample's seven specialties all fit
    assert "SUBJECTIVE:\nThis 23-year-old white female presents with complaint of allergies." in user_text(first)
    assert ".,MEDICATIONS" not in user_text(first)
    assert {i.split for i in items} == {"train", "test"}
    assert all(count_tokens(render_chat(i.record["messages"])) + 1 <= 2048 for i in items)


def test_semeval_nli4ct_sample(shared_data):
    root = shared_data / "mnlu" / "semeval2024_task2_nli4ct"
    items, ctx = convert("semeval2024_task2_nli4ct", root, count_tokens=count_tokens)
    train = [i for i in items if i.split == "train"]
    assert len(train) == 30
    assert collections.Counter(answer_of(i.record) for i in train) == {"(B) contradiction": 18, "(A) entailment": 12}
    # gold_test: 19 of its 20 statements cite trial reports the sample does not include
    assert len(items) - len(train) == 1 and len(ctx.bad_records) == 19
    bad = ctx.bad_records[0]
    assert bad.path.endswith("gold_test.json") and bad.line == 2 and "NCT00248547" in bad.reason
    comparison = by_id(items)["nli4ct-5bc844fc-e852-4270-bfaf-36ea9eface3d"]
    text = user_text(comparison)
    assert "Primary trial (Intervention):" in text and "Secondary trial (Intervention):" in text
    assert "oral capecitabine, oral lapatinib ditosylate or cixutumumab IV" in text
    assert answer_of(comparison.record) == "(B) contradiction" and comparison.family == "DC"
    with pytest.raises(FormatError, match=r"gold_test.json:2: statement 26145056"):
        convert("semeval2024_task2_nli4ct", root, strict=True)


def test_czi_drsm_sample(shared_data):
    items, ctx = convert("czi_drsm", shared_data / "mnlu" / "czi_drsm")
    assert len(items) == 27 and not ctx.bad_records  # 30 gold-standard papers, 3 without a category
    gold = collections.Counter(answer_of(i.record).split(") ", 1)[1] for i in items)
    assert gold == {"disease mechanism": 12, "therapeutics in the clinic": 8,
                    "clinical characteristics or disease pathology": 6, "patient-based therapeutics": 1}
    first = by_id(items)["czi_drsm-base-19403253"]
    assert answer_of(first.record) == "(A) clinical characteristics or disease pathology"
    assert user_text(first).split("Medical text: ", 1)[1].startswith(
        "Hereditary hemorragic telangiectasia and hepatic abcess\nWe report the case of a 27-year-old man")
    assert "czi_drsm-base-19942457" not in by_id(items)  # PRIMARY_CATEGORY empty


def test_pubmedsum_sample(shared_data):
    items, ctx = convert("pubmedsum", shared_data / "mnlu" / "pubmedsum", count_tokens=count_tokens)
    assert len(items) == 5 and not ctx.bad_records and {i.split for i in items} == {"test"}
    first = by_id(items)["pubmedsum-PMC5051308"]
    answer = answer_of(first.record)
    assert answer.startswith("objective : the aim of the study was to determine blood groups and rhesus factor")
    assert "<S>" not in answer and "</S>" not in answer
    assert "forensic odontology has established itself" in user_text(first)
    # the 14k-character article is cut by whole sentences to fit 2048 tokens
    assert all(count_tokens(render_chat(i.record["messages"])) + 1 <= 2048 for i in items)
    assert len(user_text(first)) < 14304


def test_aci_bench_sample(shared_data):
    items, ctx = convert("aci_bench", shared_data / "mnlu" / "aci_bench", count_tokens=count_tokens)
    assert not ctx.bad_records
    # train.csv holds 10 encounters and valid.csv 20; valid goes to train (mnlu.splits)
    assert collections.Counter(i.split for i in items) == {"train": 30}
    first = by_id(items)["aci_bench-train-D2N001"]
    assert answer_of(first.record).startswith("CHIEF COMPLAINT\n\nAnnual exam.")
    assert user_text(first).split("Medical text: ", 1)[1].startswith("[doctor] hi , martha . how are you ?")
    assert all(count_tokens(render_chat(i.record["messages"])) + 1 <= 2048 for i in items)


def test_cdsr_split_files_only_is_unavailable(shared_data):
    with pytest.raises(CorpusUnavailable, match="citation-export.txt"):
        convert("cdsr", shared_data / "mnlu" / "cdsr")


def test_cdsr_with_a_citation_export(shared_data, tmp_path):
    (tmp_path / "CDSR_data").symlink_to(shared_data / "mnlu" / "cdsr" / "CDSR_data")
    (tmp_path / "citation-export.txt").symlink_to(FIXTURES / "cdsr" / "citation-export.txt")
    items, _ = convert("cdsr", tmp_path)
    got = by_id(items)
    assert sorted(got) == ["cdsr-CD007462", "cdsr-CD009895"]  # repeated title and unlisted DOI left out
    assert got["cdsr-CD007462"].split == "train"  # listed as .pub4, exported as .pub5
    assert got["cdsr-CD009895"].split == "test"
    assert answer_of(got["cdsr-CD009895"].record).startswith("Dance therapy for depression: we found too little")
    assert "Background: Depression is common." in user_text(got["cdsr-CD009895"])


# ------------------------------------------------------------------------------------------ fixtures


def test_clinical_ie_fixture():
    items, ctx = convert("clinical_ie", FIXTURES / "clinical_ie")
    assert not ctx.bad_records
    types = collections.Counter(i.record["type"] for i in items)
    assert types == {"medication attributes": 4, "medication attribute arguments": 5, "medication status": 3}
    assert {i.family for i in items} == {"events"}
    got = by_id(items)
    flat = got["clinical_ie-attr-test-3"].record
    assert answer_of(flat) == ("Medication: ondansetron...warfarin\nDosage: 5 mg\nRoute: IV\nFrequency: once\n"
                               "Duration: None\nReason: nausea")
    med2 = got["clinical_ie-attr-validation-3-med2"].record
    assert "'Amoxicillin'" in med2["messages"][1]["content"]
    assert parse_span_answer(answer_of(med2)) == {"Dosage": ["500 mg"], "Route": [], "Frequency": [],
                                                  "Duration": ["7 days"], "Reason": ["otitis"]}
    status = got["clinical_ie-status-test-3"].record
    assert answer_of(status) == "Active: Kadian...Levaquin\nDiscontinued: Prednisone\nNeither: None"
    # validation.csv goes to train (2 snippets: 2 flat items + 3 medication groups), the test.csv files to test
    # (attributes: 2 flat + 2 groups; status: 3 snippets), as distributed (mnlu.splits)
    splits = collections.Counter((i.record["prompt_id"].split("-")[2], i.split) for i in items)
    assert splits == {("validation", "train"): 5, ("test", "test"): 7}


def test_clinical_ie_bad_offset_is_reported_with_file_line_and_offset():
    items, ctx = convert("clinical_ie", FIXTURES / "bad_offset" / "clinical_ie")
    assert len(items) == 2  # the good snippet's flat item and its medication group
    (bad,) = ctx.bad_records
    assert isinstance(bad, OffsetMismatch) and bad.line == 3 and bad.offset == 40
    assert str(bad).startswith(str(FIXTURES / "bad_offset/clinical_ie/medication_attr/test.csv") + ":3: offset 40:")
    with pytest.raises(OffsetMismatch):
        convert("clinical_ie", FIXTURES / "bad_offset" / "clinical_ie", strict=True)


def test_trialstop_fixture():
    items, ctx = convert("trialstop", FIXTURES / "trialstop")
    assert len(items) == 7  # 9 rows: one Unclassified skipped, one unknown class reported
    (bad,) = ctx.bad_records
    assert bad.line == 9 and "Weather" in bad.reason
    three = next(i for i in items if "futility" in user_text(i)).record
    assert three["task"] == "MultiQA"
    options = split_options(three["options"])
    assert len(options) == 13  # 17 classes: the gold ones plus seeded distractors
    chosen = [options[i] for i in parse_multi_choice(answer_of(three), options)]
    assert chosen == ["Insufficient Enrollment", "Negative", "Interim Analysis"]  # in class order


def test_trialstop_class_columns(tmp_path):
    (tmp_path / "stop_reasons.csv").write_text(
        "text,Insufficient_Enrollment,Safety_Sideeffects,Covid19\n"
        "Too few patients enrolled.,1,0,0\nToxicity and the pandemic.,0,1,1\n", encoding="utf-8")
    items, _ = convert("trialstop", tmp_path)
    answers = sorted(answer_of(i.record).count("\n") + 1 for i in items)
    assert answers == [1, 2]


def test_bionli_fixture():
    items, ctx = convert("bionli", FIXTURES / "bionli")
    assert collections.Counter(i.split for i in items) == {"train": 4, "test": 2}  # SET row left out
    (bad,) = ctx.bad_records
    assert bad.path.endswith("test.csv") and bad.line == 4 and "'maybe'" in bad.reason
    got = by_id(items)
    assert answer_of(got["bionli-train-0"].record) == "(A) entailment"
    assert answer_of(got["bionli-train-1"].record) == "(B) contradiction"
    assert split_options(got["bionli-train-0"].record["options"]) == ["entailment", "contradiction"]


def test_multinli_fixture():
    items, ctx = convert("multinli", FIXTURES / "multinli")
    # train: 5 lines, one "-" skipped → 4; dev_matched 1 (+1 bad line), dev_mismatched 1; dev → train
    assert collections.Counter(i.split for i in items) == {"train": 6}
    ids = [i.record["prompt_id"] for i in items]  # the train file first, so a fraction keeps its rows first
    assert ids[:4] == ["multinli-900001e", "multinli-900002n", "multinli-900003c", "multinli-900001e"]
    assert ids[4:] == ["multinli-900101c", "multinli-900201e"]
    (bad,) = ctx.bad_records
    assert bad.path.endswith("multinli_1.0_dev_matched.jsonl") and bad.line == 2
    assert "not JSON" in bad.reason


@pytest.mark.parametrize("name", TABULAR)
def test_absent_files_say_what_is_missing(name, tmp_path):
    with pytest.raises(CorpusUnavailable) as e:
        convert(name, tmp_path)
    assert str(tmp_path) in str(e.value) and e.value.reason


def test_options_with_gold_is_seeded_and_keeps_the_gold():
    labels = [f"label {i:02d}" for i in range(40)]
    a = options_with_gold(labels, ["label 33"], key="doc1", seed=42)
    assert len(a) == 13 and "label 33" in a and a == sorted(a)
    assert a == options_with_gold(labels, ["label 33"], key="doc1", seed=42)
    assert a != options_with_gold(labels, ["label 33"], key="doc2", seed=42)
    with pytest.raises(ValueError):
        options_with_gold(labels, ["unknown"], key="x", seed=0)


def test_no_corpus_text_in_error_messages(tmp_path):
    secret = "Patient John Q Example has HIV"
    (tmp_path / "medication_attr").mkdir()
    (tmp_path / "medication_attr" / "test.csv").write_text(
        f'snippet,annotations\n"{secret}","[[0, 99, \'Medication1\']]"\n', encoding="utf-8")
    _, ctx = convert("clinical_ie", tmp_path)
    assert ctx.bad_records and all(secret not in str(b) and "John" not in str(b) for b in ctx.bad_records)
    assert os.sep in str(ctx.bad_records[0])
