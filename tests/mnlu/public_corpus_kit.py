"""Helpers for the public NER/RE corpus tests: run a registered converter, check the item invariants."""

from __future__ import annotations

from pathlib import Path

import pytest

import mnlu.corpora  # noqa: F401  (registers every converter)
from mnlu.corpora.registry import ConvertContext, get_corpus
from mnlu.prompts import MEDICAL_TEXT, parse_choice, parse_span_answer, render_chat
from mnlu.schema import answer_of, split_options, validate_record
from mnlu.tokenizer import count_tokens

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mnlu"
SHARED_MNLU = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnlu"


def shared(corpus: str) -> Path:
    path = SHARED_MNLU / corpus
    if not path.is_dir():
        pytest.skip(f"shared sample absent: {path}")
    return path


def convert(corpus: str, root: Path, **ctx_args):
    """Run a converter with the real token counter (unless `count_tokens=` says otherwise)."""
    ctx = ConvertContext(**{"count_tokens": count_tokens, **ctx_args})
    items = list(get_corpus(corpus).convert(root, ctx))
    return items, ctx


def medical_text(record: dict) -> str:
    return record["messages"][1]["content"].split(MEDICAL_TEXT, 1)[1]


def spans_of(record: dict) -> dict[str, list[str]]:
    return parse_span_answer(answer_of(record))


def choice_of(record: dict) -> str:
    options = split_options(record["options"])
    return options[parse_choice(answer_of(record), options)]


def check_items(items, corpus: str, max_seq_length: int) -> None:
    """Schema, unique deterministic ids, spans verbatim in the text, gold choice among the options, length."""
    longest: dict[str, tuple[int, dict]] = {}  # per document and family, the longest item is counted exactly
    for item in items:
        key = item.record["prompt_id"].rsplit("/", 1)[0]
        size = len(render_chat(item.record["messages"]))
        if key not in longest or size > longest[key][0]:
            longest[key] = (size, item.record)
    for _, rec in longest.values():
        assert count_tokens(render_chat(rec["messages"])) <= max_seq_length - 1, rec["prompt_id"]
    ids = [i.record["prompt_id"] for i in items]
    assert len(ids) == len(set(ids)), "prompt ids must be unique"
    for item in items:
        rec = item.record
        validate_record(rec, require_answer=True)
        assert item.split in ("train", "test")
        family, name, split, _doc, n = rec["prompt_id"].split("/")
        assert (family, name, split) == (item.family, corpus, item.split) and n.isdigit()
        if item.family == "events":
            assert rec["task"] in ("events", "PICO")
            text = medical_text(rec)
            for spans in spans_of(rec).values():
                for s in spans:
                    assert s in text, f"{rec['prompt_id']}: span {s!r} not in its text"
        else:
            assert item.family == "RE" and rec["task"] == "classification"
            options = split_options(rec["options"])
            answer = answer_of(rec)
            idx = parse_choice(answer, options)
            assert idx is not None and answer == f"({'ABCDEFGHIJKLM'[idx]}) {options[idx]}"
            text = medical_text(rec)
            assert text.count("<<") >= 1 and text.count("[[") >= 1
