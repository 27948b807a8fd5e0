"""Type-name renaming, negative types and sentence items (mnlu.augment), and the build's max_train_rows /
rename_types / negative_types on the real samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnlu.augment import (
    add_negative_types,
    name_pool,
    read_span_item,
    rename_span_item,
    rename_types,
    sentence_bounds,
    split_sentences,
    split_span_item,
    type_pool,
    with_negative_types,
)
from mnlu.cli_data import main
from mnlu.mixture import ConfigError, cap_rows, parse_mixture
from mnlu.prompts import (
    SpanType,
    multiple_choice,
    parse_span_answer,
    span_extraction,
    span_header,
    span_instruction,
)

TYPES = [SpanType("Chemical", "chemicals and drugs"), SpanType("Disease", "")]
TEXT = "Aspirin reduced fever and headache in patients given aspirin daily."
SPANS = {"Chemical": ["Aspirin", "aspirin"], "Disease": ["fever", "headache"]}


def item(pid: str = "x-1", spans=SPANS, types=TYPES) -> dict:
    return span_extraction(pid, TEXT, types, spans, type_="named entities", what="entities")


ABSTRACT = ("Aspirin reduced fever in adults. II. Headache (n = 12) fell with aspirin and ibuprofen. "
            "No change was seen in 3 children given placebo.")


def test_sentence_bounds_keep_short_pieces_with_their_neighbour():
    got = [ABSTRACT[a:b] for a, b in sentence_bounds(ABSTRACT)]
    assert got == ["Aspirin reduced fever in adults.", "II. Headache (n = 12) fell with aspirin and ibuprofen.",
                   "No change was seen in 3 children given placebo."]
    one = "One sentence only, no end"
    assert sentence_bounds(one) == [(0, len(one))]
    assert sentence_bounds("A first sentence here. Ok.") == [(0, 26)]  # a short tail stays with its sentence


def test_split_gives_each_sentence_its_own_spans_in_order():
    spans = {"Chemical": ["Aspirin", "aspirin", "ibuprofen", "placebo"], "Disease": ["fever", "Headache"]}
    whole = span_extraction("a-1", ABSTRACT, TYPES, spans, type_="named entities", what="entities")
    parts = split_span_item(whole)
    assert [p["prompt_id"] for p in parts] == ["a-1#s0", "a-1#s1", "a-1#s2"]
    answers = [p["messages"][2]["content"] for p in parts]
    assert answers == ["Chemical: Aspirin\nDisease: fever", "Chemical: aspirin...ibuprofen\nDisease: Headache",
                       "Chemical: placebo\nDisease: None"]
    for p in parts:  # the same instruction, the sentence as the text: a standard span item again
        header, types, text, _ = read_span_item(p)
        assert (header, types) == (span_header("entities"), TYPES) and text in ABSTRACT
        assert {k: v for k, v in p.items() if k not in ("prompt_id", "messages")} == \
            {k: v for k, v in whole.items() if k not in ("prompt_id", "messages")}


def test_split_leaves_unplaceable_single_sentence_and_other_items_alone():
    across = span_extraction("a-2", ABSTRACT, TYPES, {"Chemical": ["adults. II. Headache"], "Disease": []},
                             type_="named entities")
    missing = span_extraction("a-3", ABSTRACT, TYPES, {"Chemical": ["warfarin"], "Disease": []}, type_="ner")
    choice = multiple_choice("c-1", "Is it negated?", ["affirmed", "negated"], 0, type_="assertion", text=ABSTRACT)
    assert split_span_item(across) is None and split_span_item(missing) is None
    assert split_span_item(item()) is None  # one sentence
    assert split_span_item(choice) is None
    out, n = split_sentences([choice, item(), across])
    assert n == 0 and out == [choice, item(), across]
    whole = span_extraction("a-4", ABSTRACT, TYPES, {"Chemical": [], "Disease": []}, type_="ner")
    out, n = split_sentences([choice, whole])
    assert n == 1 and out[0] == choice and len(out) == 4


def test_read_gives_back_types_text_and_values():
    header, types, text, values = read_span_item(item())
    assert (header, types, text) == (span_header("entities"), TYPES, TEXT)
    assert values == ["Aspirin...aspirin", "fever...headache"]


def test_rename_and_reorder_keep_every_span_under_its_new_name():
    new = rename_span_item(item(), ["Alpha", "Bravo"], [1, 0])
    user, answer = new["messages"][1]["content"], new["messages"][2]["content"]
    assert "\nBravo\n" in user and "\nAlpha: chemicals and drugs\n" in user
    assert user.index("\nBravo") < user.index("\nAlpha") and "Chemical" not in user and "Disease" not in user
    assert answer.splitlines() == ["Bravo: fever...headache", "Alpha: Aspirin...aspirin"]
    assert parse_span_answer(answer) == {"Alpha": SPANS["Chemical"], "Bravo": SPANS["Disease"]}
    assert new["prompt_id"] == "x-1" and new["messages"][0] == item()["messages"][0]
    # the renamed item is itself a standard item: renaming back restores the original bytes
    assert rename_span_item(new, ["Disease", "Chemical"], [1, 0]) == item()


def test_non_standard_and_ambiguous_items_are_left_alone():
    choice = multiple_choice("c-1", "Which?", ["yes", "no"], 0, text=TEXT, type_="relation")
    assert read_span_item(choice) is None
    custom = span_extraction("x-2", TEXT, TYPES, SPANS, type_="t", instruction="Find the drugs and diseases.")
    assert read_span_item(custom) is None
    broken = item()
    broken["messages"][2]["content"] = "Chemical: Aspirin"  # one line for two types
    assert read_span_item(broken) is None
    assert rename_span_item(item(), ["Same", "Same"], [0, 1]) is None
    assert rename_span_item(item(), ["A: b", "C"], [0, 1]) is None
    assert rename_span_item(item(), ["A:b", "C"], [0, 1]) is None  # a colon ends the answer's type
    assert rename_span_item(item(), ["A", "B"], [0, 0]) is None


def test_an_item_with_its_own_header_is_read_and_renamed_under_that_header():
    header = "Extract the attributes of the medication 'aspirin' (the event trigger) from the medical text, in order."
    own = span_extraction("x-3", TEXT, TYPES, SPANS, type_="t", instruction=span_instruction(TYPES, header=header))
    assert read_span_item(own)[:3] == (header, TYPES, TEXT)
    new = rename_span_item(own, ["Alpha", "Bravo"], [0, 1])
    assert new["messages"][1]["content"].startswith(header + "\nAlpha: chemicals and drugs\nBravo\n")
    with pytest.raises(ValueError, match="without a colon"):
        span_instruction([SpanType("A: b", "")])


def test_rename_types_is_seeded_by_prompt_id_and_leaves_other_records():
    records = [item(f"x-{i}") for i in range(200)]
    records.insert(5, multiple_choice("c-1", "Which?", ["yes", "no"], 0, text=TEXT, type_="relation"))
    out, n = rename_types(records, 0.5, seed=42, pool=["Kappa", "Lambda", "Omega", "Sigma", "Chemical"])
    assert 70 < n < 130 and len(out) == len(records)
    assert out[5] is records[5]
    changed = [o for o, r in zip(out, records, strict=True) if o is not r]
    assert len(changed) == n
    for o in changed:  # never an item's own name, always from the pool
        names = list(parse_span_answer(o["messages"][2]["content"]))
        assert set(names) <= {"Kappa", "Lambda", "Omega", "Sigma"}
    again, _ = rename_types(list(reversed(records)), 0.5, seed=42, pool=["Kappa", "Lambda", "Omega", "Sigma", "Chemical"])
    assert list(reversed(again)) == out  # keyed by prompt_id, not by position
    other, _ = rename_types(records, 0.5, seed=7, pool=["Kappa", "Lambda", "Omega", "Sigma", "Chemical"])
    assert other != out
    assert rename_types(records, 0.0, seed=42) == (records, 0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        rename_types(records, 1.5, seed=42)


def test_rename_keeps_an_item_that_would_no_longer_fit():
    records = [item(f"x-{i}") for i in range(40)]
    out, n = rename_types(records, 1.0, seed=3, pool=["Kappa", "Lambda", "Omega"], fits=lambda r: False)
    assert (out, n) == (records, 0)


POOL = [SpanType("Gene", "genes"), SpanType("Species", "species names"), SpanType("chemical", "other chemicals")]


def test_type_pool_is_one_type_per_name_whatever_its_case():
    other = span_extraction("y-1", TEXT, [SpanType("chemical", "lower case"), SpanType("Gene", "genes")],
                            {"chemical": ["Aspirin"]}, type_="ner")
    choice = multiple_choice("c-1", "Which?", ["yes", "no"], 0, text=TEXT, type_="relation")
    assert type_pool([item(), choice, other]) == [SpanType("Chemical", "chemicals and drugs"), TYPES[1], POOL[0]]


def test_negative_types_are_absent_types_answered_none_in_the_listed_order():
    new = with_negative_types(item(), [POOL[0]], [2, 1, 0])
    user, answer = new["messages"][1]["content"], new["messages"][2]["content"]
    assert "\nGene: genes\nDisease\nChemical: chemicals and drugs\n" in user
    assert answer.splitlines() == ["Gene: None", "Disease: fever...headache", "Chemical: Aspirin...aspirin"]
    assert read_span_item(new)[1] == [POOL[0], TYPES[1], TYPES[0]]  # again a standard item
    assert with_negative_types(item(), [SpanType("disease", "")], [0, 1, 2]) is None  # a name twice (any case)
    assert with_negative_types(item(), [POOL[0]], [0, 1]) is None


def test_add_negative_types_is_seeded_keeps_spans_and_never_adds_an_own_type():
    records = [item(f"x-{i}") for i in range(120)]
    records.insert(3, multiple_choice("c-1", "Which?", ["yes", "no"], 0, text=TEXT, type_="relation"))
    out, added = add_negative_types(records, 2, seed=5, pool=POOL)
    assert out[3] is records[3] and len(out) == len(records)
    counts = []
    for o in out[:3] + out[4:]:
        spans = parse_span_answer(o["messages"][2]["content"])
        assert {k: spans[k] for k in ("Chemical", "Disease")} == SPANS  # the item's own spans, unchanged
        extra = set(spans) - {"Chemical", "Disease"}
        assert extra <= {"Gene", "Species"} and all(spans[k] == [] for k in extra)  # never 'chemical' (own type)
        counts.append(len(extra))
    assert sum(counts) == added and set(counts) == {0, 1, 2}
    again, _ = add_negative_types(list(reversed(records)), 2, seed=5, pool=POOL)
    assert list(reversed(again)) == out  # keyed by prompt_id, not by position
    assert add_negative_types(records, 2, seed=6, pool=POOL)[0] != out
    assert add_negative_types(records, 0, seed=5, pool=POOL) == (records, 0)
    short, n = add_negative_types(records, 2, seed=5, pool=POOL, fits=lambda r: r["messages"][2]["content"].count("\n") < 3)
    assert 0 < n < added and all(o["messages"][2]["content"].count("\n") < 3 for o in short)
    with pytest.raises(ValueError, match=">= 0"):
        add_negative_types(records, -1, seed=5, pool=POOL)


def test_name_pool_is_the_texts_words_capitalised():
    assert name_pool([item()]) == sorted({"Aspirin", "Reduced", "Fever", "Headache", "Patients", "Given", "Daily"})


def test_cap_rows_spreads_over_the_whole_split_and_mixture_keys():
    assert cap_rows(list(range(10)), 4) == [0, 2, 5, 7]
    assert cap_rows(list(range(3)), 4) == [0, 1, 2] and cap_rows(list(range(3)), None) == [0, 1, 2]
    cfg = parse_mixture({"max_train_rows": 100, "rename_types": 0.25})
    assert (cfg.max_train_rows, cfg.rename_types) == (100, 0.25)
    with pytest.raises(ConfigError, match="'max_train_rows' must be a positive integer"):
        parse_mixture({"max_train_rows": 0})
    with pytest.raises(ConfigError, match=r"rename_types: a fraction must be a number in \[0, 1\]"):
        parse_mixture({"rename_types": 2})
    assert parse_mixture({"negative_types": 4}).negative_types == 4 and parse_mixture({}).negative_types == 0
    for bad in (-1, True, "3", 1.5):
        with pytest.raises(ConfigError, match="'negative_types' must be an integer >= 0"):
            parse_mixture({"negative_types": bad})


def _records(out: Path, split: str, family: str, corpus: str) -> list[dict]:
    path = out / split / family / f"{corpus}.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_build_caps_and_renames_train_only(shared_data, tmp_path):
    raw = shared_data / "mnlu"
    plain, aug = tmp_path / "plain", tmp_path / "aug"
    base = ["build", "--raw", str(raw), "--corpora", "genia,biored", "--no-progress"]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--out", str(aug), "--max-train-rows", "40", "--rename-types", "0.5"]) == 0
    assert len(_records(aug, "train", "RE", "biored")) == 40 < len(_records(plain, "train", "RE", "biored"))
    assert _records(aug, "test", "events", "genia") == _records(plain, "test", "events", "genia")
    genia_plain, genia_aug = _records(plain, "train", "events", "genia"), _records(aug, "train", "events", "genia")
    kept = cap_rows(genia_plain, 40)
    renamed = [a for a, p in zip(genia_aug, kept, strict=True) if a != p]
    assert 10 < len(renamed) < 30
    for a, p in zip(genia_aug, kept, strict=True):  # the same spans under the renamed types, in the new order
        spans_a = sorted(parse_span_answer(a["messages"][2]["content"]).values())
        spans_p = sorted(parse_span_answer(p["messages"][2]["content"]).values())
        assert spans_a == spans_p and a["prompt_id"] == p["prompt_id"]
    stats = {c["name"]: c for c in json.loads((aug / "stats.json").read_text())["corpora"]}
    assert stats["genia"]["types_renamed"] == len(renamed) and stats["biored"]["dropped_by_cap"] > 0
    assert "span items with renamed types" in (aug / "stats.md").read_text()
    again = tmp_path / "again"
    assert main([*base, "--out", str(again), "--max-train-rows", "40", "--rename-types", "0.5"]) == 0
    assert (again / "train" / "events" / "genia.jsonl").read_bytes() == (aug / "train" / "events" / "genia.jsonl").read_bytes()


def test_build_splits_span_train_items_into_sentences_before_the_cap(shared_data, tmp_path):
    raw = shared_data / "mnlu"
    plain, split = tmp_path / "plain", tmp_path / "split"
    base = ["build", "--raw", str(raw), "--corpora", "genia,biored", "--no-progress"]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--out", str(split), "--split-sentences", "--max-train-rows", "60"]) == 0
    assert _records(split, "test", "events", "genia") == _records(plain, "test", "events", "genia")
    assert _records(split, "train", "RE", "biored") == cap_rows(_records(plain, "train", "RE", "biored"), 60)
    whole = {r["prompt_id"]: r for r in _records(plain, "train", "events", "genia")}
    sentences = _records(split, "train", "events", "genia")
    assert len(sentences) == 60 and sum("#s" in r["prompt_id"] for r in sentences) > 40
    for r in sentences:  # each a sentence of its document, with that document's spans found in it
        if "#s" not in r["prompt_id"]:  # a span across sentences or one sentence: the item as it was
            assert r == whole[r["prompt_id"]]
            continue
        parent = whole[r["prompt_id"].split("#s")[0]]
        text = read_span_item(r)[2]
        assert text in read_span_item(parent)[2] and len(text) < len(read_span_item(parent)[2])
        for spans in parse_span_answer(r["messages"][2]["content"]).values():
            assert all(s in text for s in spans)
    stats = {c["name"]: c for c in json.loads((split / "stats.json").read_text())["corpora"]}
    assert stats["genia"]["span_items_split"] > 0 and "split into sentences" in (split / "stats.md").read_text()


def test_build_draws_negative_types_from_the_other_corpora(shared_data, tmp_path):
    raw = shared_data / "mnlu"
    plain, neg = tmp_path / "plain", tmp_path / "neg"
    base = ["build", "--raw", str(raw), "--corpora", "genia,pico_data_nguyen2017", "--max-seq-length", "1024",
            "--no-progress"]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--out", str(neg), "--negative-types", "3"]) == 0
    assert _records(neg, "test", "events", "genia") == _records(plain, "test", "events", "genia")
    genia = {t.name for t in type_pool(_records(plain, "train", "events", "genia"))}
    added = 0
    for p, n in zip(_records(plain, "train", "events", "pico_data_nguyen2017"),
                    _records(neg, "train", "events", "pico_data_nguyen2017"), strict=True):
        before, after = parse_span_answer(p["messages"][2]["content"]), parse_span_answer(n["messages"][2]["content"])
        extra = set(after) - set(before)
        assert {k: after[k] for k in before} == before and extra <= genia and all(after[k] == [] for k in extra)
        added += len(extra)
    stats = json.loads((neg / "stats.json").read_text())
    by_name = {c["name"]: c for c in stats["corpora"]}
    assert added > 0 and by_name["pico_data_nguyen2017"]["negative_types_added"] == added
    train_groups = [g for g in stats["groups"] if g["split"] == "train"]
    assert train_groups and all(g["over_max_seq_length"] == 0 for g in train_groups)
    assert "negative types added" in (neg / "stats.md").read_text()
    again = tmp_path / "again"
    assert main([*base, "--out", str(again), "--negative-types", "3"]) == 0
    for corpus in ("genia", "pico_data_nguyen2017"):
        assert (again / "train" / "events" / f"{corpus}.jsonl").read_bytes() == \
            (neg / "train" / "events" / f"{corpus}.jsonl").read_bytes()
