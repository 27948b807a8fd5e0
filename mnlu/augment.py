"""Type-name renaming of span-extraction training items: the model must read the prompt's type list.

A corpus keeps the same few type names in every item (`Gene`, `Species`, ...), so a model can learn to write those
names from memory instead of copying the ones the prompt lists, and then fails on a benchmark whose types it never
saw. GoLLIE (Sainz et al., ICLR 2024) regularises this by masking and paraphrasing label names during training.
Here a chosen share of the train split's span items get their types renamed to words drawn from other items' texts
and listed in a shuffled order, in the instruction and in the answer alike (the answer follows the list's order), so
the names and the order can only come from the prompt. Spans, descriptions and the text are untouched; test splits
are never renamed. Everything is keyed by (seed, prompt_id): the same inputs give the same bytes.

Negative types (UniversalNER, Zhou et al. 2023; InstructUIE): each span train item may also list types it does not
hold, drawn from the other corpora's types and answered `Type: None`, so the type list of the prompt, not the
corpus, decides which lines the answer has.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mnlu.prompts import (
    MEDICAL_TEXT,
    NONE_ANSWER,
    SPAN_ANSWER_RULE,
    SpanType,
    is_type_name,
    span_answer,
    span_instruction,
    split_spans,
)

_WORD = re.compile(r"[A-Za-z]{4,14}")


def _keyed_random(seed: int, key: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def read_span_item(record: Mapping[str, Any]) -> tuple[str, list[SpanType], str, list[str]] | None:
    """(header line, types, text, answer value per type) of an item in the standard span format
    (`mnlu.prompts.span_instruction`, any header), or None for any other record (choice tasks, free-form
    instructions, answers whose lines do not follow the type list one to one)."""
    messages = record.get("messages") or []
    if len(messages) != 3 or record.get("task") not in ("events", "PICO"):
        return None
    user, answer = messages[1]["content"], messages[2]["content"]
    instruction, sep, text = user.partition(MEDICAL_TEXT)
    header, newline, rest = instruction.partition("\n")
    listed, rule, tail = rest.rpartition("\n" + SPAN_ANSWER_RULE)
    if not sep or not newline or not rule or tail or not listed:
        return None
    types = []
    for line in listed.split("\n"):
        name, colon, description = line.partition(": ")
        types.append(SpanType(name, description if colon else ""))
    if not all(is_type_name(t.name) for t in types) or span_instruction(types, header=header) != instruction:
        return None  # the parse must give back the very same prompt
    lines = answer.split("\n")
    if len(lines) != len(types) or not all(line.startswith(f"{t.name}: ") for line, t in zip(lines, types, strict=True)):
        return None
    values = [line[len(t.name) + 2:] for line, t in zip(lines, types, strict=True)]
    return header, types, text, values


def rename_span_item(record: Mapping[str, Any], names: Sequence[str], order: Sequence[int]) -> dict[str, Any] | None:
    """The item with type i renamed to names[i] and the types listed (and answered) in `order`; None when the record
    is not a standard span item or a new name would be ambiguous (repeated, or not `is_type_name`)."""
    item = read_span_item(record)
    return None if item is None else _rebuilt(record, item, names, order)


def _rebuilt(record: Mapping[str, Any], item: tuple[str, list[SpanType], str, list[str]], names: Sequence[str],
             order: Sequence[int]) -> dict[str, Any] | None:
    """`rename_span_item` on an item already read by `read_span_item`."""
    header, types, text, values = item
    if len(names) != len(types) or sorted(order) != list(range(len(types))) or len(set(names)) != len(names):
        return None
    if not all(is_type_name(n) for n in names):
        return None
    return _relisted(record, header, [SpanType(names[i], types[i].description) for i in order], text,
                     [values[i] for i in order])


def _relisted(record: Mapping[str, Any], header: str, types: Sequence[SpanType], text: str,
              values: Sequence[str]) -> dict[str, Any]:
    """The record with this type list in its instruction and one `Type: value` answer line per type, in order."""
    user = span_instruction(types, header=header) + MEDICAL_TEXT + text
    answer = "\n".join(f"{t.name}: {v}" for t, v in zip(types, values, strict=True))
    out = dict(record)
    out["messages"] = [dict(record["messages"][0]), {**record["messages"][1], "content": user},
                       {**record["messages"][2], "content": answer}]
    return out


def name_pool(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Candidate type names: the distinct 4–14-letter words of the items' texts, capitalised, sorted (a pool as
    varied as the corpus's vocabulary, so no name is worth memorising)."""
    words: set[str] = set()
    for record in records:
        user = (record.get("messages") or [{}, {}])[1].get("content", "")
        words.update(w[0].upper() + w[1:] for w in _WORD.findall(user.partition(MEDICAL_TEXT)[2]))
    return sorted(words)


def rename_types(records: Sequence[dict[str, Any]], fraction: float, seed: int,
                 pool: Sequence[str] | None = None,
                 fits: Callable[[dict[str, Any]], bool] | None = None) -> tuple[list[dict[str, Any]], int]:
    """(records, how many were renamed): each standard span item is renamed with probability `fraction` (drawn
    from its prompt_id and the seed), names from `pool` (default: `name_pool(records)`) that are not already a
    type of that item, unless the renamed item fails `fits` (longer names can pass max_seq_length); every other
    record is returned as it is, in the same order."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"rename_types: a fraction in [0, 1] was expected, got {fraction!r}")
    if fraction == 0.0:
        return list(records), 0
    pool = list(pool) if pool is not None else name_pool(records)
    out, renamed = [], 0
    for record in records:
        rng = _keyed_random(seed, str(record.get("prompt_id")))
        item = read_span_item(record) if rng.random() < fraction else None
        if item is None:
            out.append(record)
            continue
        own = {t.name.lower() for t in item[1]}
        choices = [w for w in pool if w.lower() not in own]
        if len(choices) < len(item[1]):
            out.append(record)
            continue
        names = rng.sample(choices, len(item[1]))
        order = list(range(len(item[1])))
        rng.shuffle(order)
        new = _rebuilt(record, item, names, order)
        if new is not None and fits is not None and not fits(new):
            new = None
        out.append(new if new is not None else record)
        renamed += new is not None
    return out, renamed


def type_pool(records: Iterable[Mapping[str, Any]]) -> list[SpanType]:
    """The distinct types of the standard span items, one per name regardless of case (the first description met),
    sorted by name: the candidates for negative types."""
    pool: dict[str, SpanType] = {}
    for record in records:
        item = read_span_item(record)
        for t in item[1] if item else ():
            pool.setdefault(t.name.lower(), t)
    return [pool[k] for k in sorted(pool)]


def with_negative_types(record: Mapping[str, Any], negatives: Sequence[SpanType], order: Sequence[int]) \
        -> dict[str, Any] | None:
    """The item with `negatives` added to its type list (answered `None`) and the whole list in `order` (indexes
    into its own types, then the negatives); None when it is not a standard span item or a name would repeat."""
    item = read_span_item(record)
    return None if item is None else _negated(record, item, negatives, order)


def _negated(record: Mapping[str, Any], item: tuple[str, list[SpanType], str, list[str]],
             negatives: Sequence[SpanType], order: Sequence[int]) -> dict[str, Any] | None:
    """`with_negative_types` on an item already read by `read_span_item`."""
    header, types, text, values = item
    listed = [*types, *negatives]
    answers = [*values, *[NONE_ANSWER] * len(negatives)]
    if sorted(order) != list(range(len(listed))) or len({t.name.lower() for t in listed}) != len(listed):
        return None
    return _relisted(record, header, [listed[i] for i in order], text, [answers[i] for i in order])


def add_negative_types(records: Sequence[dict[str, Any]], most: int, seed: int, pool: Sequence[SpanType],
                       fits: Callable[[dict[str, Any]], bool] | None = None) -> tuple[list[dict[str, Any]], int]:
    """(records, how many negative types were added): each standard span item gets k ~ U{0..most} types of `pool`
    that it does not hold (names compared case-insensitively), answered `None`, and its list shuffled (the answer
    follows the list); k shrinks until `fits(item)` holds (e.g. the item still fits max_seq_length). Drawn from the
    seed and the prompt_id; every other record is returned as it is, in the same order."""
    if most < 0:
        raise ValueError(f"add_negative_types: a count >= 0 was expected, got {most!r}")
    out, added = [], 0
    for record in records:
        item = read_span_item(record) if most else None
        if item is None:
            out.append(record)
            continue
        rng = _keyed_random(seed, f"negative types\0{record.get('prompt_id')}")
        own = {t.name.lower() for t in item[1]}
        choices = [t for t in pool if t.name.lower() not in own]
        negatives = rng.sample(choices, min(rng.randint(0, most), len(choices)))
        order = list(range(len(item[1]) + len(negatives)))
        rng.shuffle(order)
        for k in range(len(negatives), 0, -1):  # drop the last-drawn negatives until the item fits
            new = _negated(record, item, negatives[:k], [i for i in order if i < len(item[1]) + k])
            if new is not None and (fits is None or fits(new)):
                out.append(new)
                added += k
                break
        else:
            out.append(record)
    return out, added


# a sentence ends at . ! or ? followed by white space and an upper-case letter, digit or opening bracket
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


MIN_SENTENCE_CHARS = 20


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """[start, end) character ranges of the text's sentences (a simple end-of-sentence rule, see _SENTENCE_END);
    a piece shorter than MIN_SENTENCE_CHARS (`II.`, `Fig. 2.`) stays with the sentence after it."""
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() - start >= MIN_SENTENCE_CHARS:
            bounds.append((start, m.start()))
            start = m.end()
    if bounds and len(text) - start < MIN_SENTENCE_CHARS:
        bounds[-1] = (bounds[-1][0], len(text))  # a short tail joins the sentence before it
    else:
        bounds.append((start, len(text)))
    return bounds


def split_span_item(record: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The item as one item per sentence of its text (same instruction and types; each sentence's spans, or None),
    or None when it is not a standard span item, has one sentence, or a span cannot be placed in one sentence.

    Why: BLURB's NER test items are single sentences with short answers, while abstract-level training items put
    ~80 answer tokens after a 300-token prompt; the sentence items teach the same format with many more, shorter
    examples. Spans are placed in text order (each type's list is in the order its spans appear)."""
    item = read_span_item(record)
    if item is None:
        return None
    _, types, text, values = item
    bounds = sentence_bounds(text)
    if len(bounds) < 2:
        return None
    per_sentence: list[dict[str, list[str]]] = [{t.name: [] for t in types} for _ in bounds]
    for t, value in zip(types, values, strict=True):
        cursor = 0
        for span in split_spans(value):
            at = text.find(span, cursor)
            if at < 0:
                return None
            k = next((k for k, (a, b) in enumerate(bounds) if a <= at and at + len(span) <= b), None)
            if k is None:  # across a sentence boundary
                return None
            per_sentence[k][t.name].append(span)
            cursor = at + 1
    user = record["messages"][1]["content"]
    instruction = user.partition(MEDICAL_TEXT)[0]
    out = []
    for k, ((a, b), spans) in enumerate(zip(bounds, per_sentence, strict=True)):
        new = dict(record)
        new["prompt_id"] = f"{record.get('prompt_id')}#s{k}"
        new["messages"] = [dict(record["messages"][0]),
                           {**record["messages"][1], "content": instruction + MEDICAL_TEXT + text[a:b]},
                           {**record["messages"][2], "content": span_answer(types, spans)}]
        out.append(new)
    return out


def split_sentences(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """(records, how many were split): every standard span item replaced by its sentence items
    (`split_span_item`), in place; every other record returned as it is, in the same order."""
    out, split = [], 0
    for record in records:
        parts = split_span_item(record)
        if parts is None:
            out.append(record)
        else:
            out.extend(parts)
            split += 1
    return out, split


__all__ = ["read_span_item", "rename_span_item", "name_pool", "rename_types", "type_pool", "with_negative_types",
           "add_negative_types", "sentence_bounds", "split_span_item",
           "split_sentences"]
