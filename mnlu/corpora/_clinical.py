"""Item builders shared by the i2b2/n2c2 converters: NER, events (triggers, arguments, attributes), relations
and document classification over long clinical notes.

Why one module: the ten clinical converters differ only in how they read their files. Windows, prompt ids,
the token budget and the reporting of dropped material are the same for all of them, and must stay so.
Logs name corpora, documents, offsets and labels, never the note text.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnlu.corpora.availability import CorpusUnavailable
from mnlu.corpora.item_helpers import (
    NER_TYPE,
    Mention,
    answer_pieces,
    longest_fitting_prefix,
    record_tokens,
    token_budget,
    token_counter,
)
from mnlu.corpora.registry import ConvertContext, TaskItem
from mnlu.formats.errors import FormatError
from mnlu.prompts import SpanType, multiple_choice, span_extraction, span_instruction
from mnlu.windows import fit_windows

log = logging.getLogger(__name__)


@dataclass
class Doc:
    """Where items of one document go: ids are `{family}/{corpus}/{split}/{doc_id}/{n}`, n counted per family."""

    corpus: str
    split: str
    doc_id: str
    where: str  # file (or archive member) named in logs and errors
    _next: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped_windows: int = 0

    def pid(self, family: str) -> str:
        n = self._next[family]
        self._next[family] = n + 1
        return f"{family}/{self.corpus}/{self.split}/{self.doc_id}/{n}"

    def item(self, family: str, build: Callable[[str], dict[str, Any]]) -> TaskItem:
        return TaskItem(self.split, family, build(self.pid(family)))


def _windows(text: str, spans: Sequence[tuple[int, int]], ctx: ConvertContext, doc: Doc,
             longest_item: Callable[[int, int], int]) -> list[tuple[int, int]]:
    """Windows of `text` whose longest item fits the token budget; a window that cannot fit (a span alone
    longer than the budget) is logged by offsets and skipped."""
    count, budget = token_counter(ctx), token_budget(ctx)
    out = []
    for a, b in fit_windows(text, spans, budget, longest_item, count):
        if longest_item(a, b) > budget:
            doc.skipped_windows += 1
            log.warning("%s: %s document %s: window %d-%d does not fit %d tokens (an annotation longer than the "
                        "budget); skipped", doc.where, doc.corpus, doc.doc_id, a, b, budget)
            continue
        out.append((a, b))
    return out


def _inside(m: Mention, a: int, b: int) -> bool:
    return a <= m.start and m.end <= b


# --------------------------------------------------------------------------------------------------- NER


def ner_record(pid: str, text: str, a: int, b: int, mentions: Sequence[Mention], types: Sequence[SpanType]
               ) -> dict[str, Any]:
    spans: dict[str, list[str]] = {}
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        if _inside(m, a, b):
            spans.setdefault(m.label, []).extend(answer_pieces(text, m.start, m.end))
    return span_extraction(pid, text[a:b], types, spans, type_=NER_TYPE, task="events", what="entities")


def ner_items(doc: Doc, text: str, mentions: Sequence[Mention], types: Sequence[SpanType], ctx: ConvertContext
              ) -> Iterator[TaskItem]:
    """One span-extraction item per window, family "events" (the paper's NER folder)."""
    count = token_counter(ctx)
    spans = [(m.start, m.end) for m in mentions]

    def size(a: int, b: int) -> int:
        return record_tokens(ner_record("x", text, a, b, mentions, types), count)

    for a, b in _windows(text, spans, ctx, doc, size):
        yield doc.item("events", lambda pid, a=a, b=b: ner_record(pid, text, a, b, mentions, types))


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Argument:
    mention: Mention  # label = the argument's role
    attribute: tuple[str, str] | None = None  # (attribute name, value) of a labelled argument


@dataclass(frozen=True)
class EventAnn:
    trigger: Mention  # label = the event type
    arguments: tuple[Argument, ...]


@dataclass(frozen=True)
class EventSchema:
    """Trigger types, argument types per event type, and the values of each labelled argument's attribute."""

    triggers: tuple[SpanType, ...]
    arguments: dict[str, tuple[SpanType, ...]]
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute name → values
    attribute_names: dict[str, str] = field(default_factory=dict)  # attribute name → words for the question


def _occurrence(window: str, start: int, surface: str) -> str:
    """`"aspirin"`, or `"aspirin" (occurrence 2 of that phrase)` when the phrase repeats in the window."""
    if window.count(surface) <= 1:
        return f'"{surface}"'
    return f'"{surface}" (occurrence {window[:start].count(surface) + 1} of that phrase in the text)'


def _argument_record(pid: str, text: str, a: int, b: int, ev: EventAnn, schema: EventSchema) -> dict[str, Any]:
    t = ev.trigger
    window = text[a:b]
    types = schema.arguments[t.label]
    names = {st.name for st in types}
    spans: dict[str, list[str]] = {}
    for arg in sorted(ev.arguments, key=lambda x: (x.mention.start, x.mention.end)):
        if arg.mention.label in names and _inside(arg.mention, a, b):
            spans.setdefault(arg.mention.label, []).extend(answer_pieces(text, arg.mention.start, arg.mention.end))
    what = f"arguments of the {t.label} event {_occurrence(window, t.start - a, text[t.start:t.end])}"
    return span_extraction(pid, window, types, spans, type_=f"{t.label} - arguments", task="events",
                           instruction=span_instruction(types, what))


def _attribute_record(pid: str, text: str, a: int, b: int, ev: EventAnn, arg: Argument, schema: EventSchema
                      ) -> dict[str, Any]:
    assert arg.attribute is not None
    name, value = arg.attribute
    options = schema.attributes[name]
    t, m = ev.trigger, arg.mention
    window = text[a:b]
    question = (
        f"In the medical text, the {t.label} event {_occurrence(window, t.start - a, text[t.start:t.end])} has the "
        f"{m.label} argument {_occurrence(window, m.start - a, text[m.start:m.end])}. "
        f"What is its {schema.attribute_names.get(name, name)}?"
    )
    return multiple_choice(pid, question, options, options.index(value), type_=f"{t.label} - {m.label}",
                           text=window, task="classification")


def _trigger_record(pid: str, text: str, a: int, b: int, events: Sequence[EventAnn], schema: EventSchema
                    ) -> dict[str, Any]:
    triggers = {(e.trigger.start, e.trigger.end, e.trigger.label) for e in events if _inside(e.trigger, a, b)}
    spans: dict[str, list[str]] = {}
    for s, e, label in sorted(triggers):
        spans.setdefault(label, []).extend(answer_pieces(text, s, e))
    return span_extraction(pid, text[a:b], schema.triggers, spans, type_="trigger", task="events",
                           what="event triggers")


def event_items(doc: Doc, text: str, events: Sequence[EventAnn], schema: EventSchema, ctx: ConvertContext
                ) -> Iterator[TaskItem]:
    """Per window: one trigger item, one argument item per event, one choice item per labelled argument.

    Windows keep each event whole where the event's extent is at most half the budget; a far argument of a
    longer event is left out of its argument item (counted in the log).
    """
    count = token_counter(ctx)
    half = ctx.max_seq_length // 2
    keep: list[tuple[int, int]] = []
    for ev in events:
        ms = [ev.trigger, *(x.mention for x in ev.arguments)]
        lo, hi = min(m.start for m in ms), max(m.end for m in ms)
        if count(text[lo:hi]) <= half:
            keep.append((lo, hi))
        else:
            keep.extend((m.start, m.end) for m in ms)

    def records(a: int, b: int) -> Iterator[dict[str, Any]]:
        yield _trigger_record("x", text, a, b, events, schema)
        for ev in events:
            if _inside(ev.trigger, a, b):
                yield _argument_record("x", text, a, b, ev, schema)
                for arg in ev.arguments:
                    if arg.attribute is not None and _inside(arg.mention, a, b):
                        yield _attribute_record("x", text, a, b, ev, arg, schema)

    def size(a: int, b: int) -> int:
        return max(record_tokens(r, count) for r in records(a, b))

    dropped = 0
    for a, b in _windows(text, keep, ctx, doc, size):
        yield doc.item("events", lambda pid, a=a, b=b: _trigger_record(pid, text, a, b, events, schema))
        for ev in sorted(events, key=lambda e: (e.trigger.start, e.trigger.end, e.trigger.label)):
            if not _inside(ev.trigger, a, b):
                continue
            dropped += sum(not _inside(x.mention, a, b) for x in ev.arguments)
            yield doc.item("events", lambda pid, a=a, b=b, ev=ev: _argument_record(pid, text, a, b, ev, schema))
            for arg in ev.arguments:
                if arg.attribute is not None and _inside(arg.mention, a, b):
                    yield doc.item("events", lambda pid, a=a, b=b, ev=ev, arg=arg:
                                   _attribute_record(pid, text, a, b, ev, arg, schema))
    if dropped:
        log.info("%s: %s document %s: %d argument(s) outside their trigger's window left out", doc.where,
                 doc.corpus, doc.doc_id, dropped)


# ------------------------------------------------------------------------------------------------ relations


def _line_context(text: str, lo: int, hi: int) -> tuple[int, int]:
    """The whole lines around [lo, hi)."""
    a = text.rfind("\n", 0, lo) + 1
    b = text.find("\n", hi)
    return a, (len(text) if b < 0 else b)


def relation_record(pid: str, text: str, first: Mention, second: Mention, options: Sequence[str], answer: int,
                    *, type_: str) -> dict[str, Any]:
    """A choice item about two marked mentions, shown in the lines that hold them (<<first>>, [[second]])."""
    x, y = sorted((first, second), key=lambda m: (m.start, m.end))
    a, b = _line_context(text, x.start, y.end)
    marks = sorted([(first.start, "<<"), (first.end, ">>"), (second.start, "[["), (second.end, "]]")],
                   key=lambda p: (p[0], 0 if p[1] in (">>", "]]") else 1))
    pieces, pos = [], a
    for at, mark in marks:
        pieces.append(text[pos:at])
        pieces.append(mark)
        pos = at
    pieces.append(text[pos:b])
    question = (
        f"What is the relation between the {first.label} marked <<{text[first.start:first.end]}>> and the "
        f"{second.label} marked [[{text[second.start:second.end]}]] in the medical text?"
    )
    return multiple_choice(pid, question, options, answer, type_=type_, text="".join(pieces), task="classification")


def relation_items(doc: Doc, text: str, pairs: Sequence[tuple[Mention, Mention, int]], options: Sequence[str],
                   ctx: ConvertContext, *, type_: str) -> Iterator[TaskItem]:
    """One item per (first, second, answer index); a pair whose lines do not fit the budget is skipped."""
    count, budget = token_counter(ctx), token_budget(ctx)
    too_long = 0
    for first, second, answer in pairs:
        record = relation_record("x", text, first, second, options, answer, type_=type_)
        if record_tokens(record, count) > budget:
            too_long += 1
            continue
        yield doc.item("RE", lambda pid, f=first, s=second, ans=answer:
                       relation_record(pid, text, f, s, options, ans, type_=type_))
    if too_long:
        log.info("%s: %s document %s: %d relation(s) whose lines exceed %d tokens skipped", doc.where,
                 doc.corpus, doc.doc_id, too_long, budget)


# ----------------------------------------------------------------------------------- document classification


def fitted_text(text: str, build: Callable[[str], dict[str, Any]], ctx: ConvertContext, doc: Doc) -> str:
    """The note, or its longest run of leading lines whose item fits the budget (logged by document)."""
    count, budget = token_counter(ctx), token_budget(ctx)
    ends = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"] + [len(text)]  # ends[k]: after k lines
    k = longest_fitting_prefix(len(ends) - 1, lambda k: record_tokens(build(text[: ends[k]]), count) <= budget)
    if ends[k] == len(text):
        return text
    log.info("%s: %s document %s: note cut to its first %d of %d characters to fit %d tokens", doc.where,
             doc.corpus, doc.doc_id, ends[k], len(text), budget)
    return text[: ends[k]]


def choice_items(doc: Doc, text: str, questions: Sequence[tuple[str, Sequence[str], int, str]],
                 ctx: ConvertContext) -> Iterator[TaskItem]:
    """DC items (question, options, answer index, type) over one note, cut once to fit the longest question."""
    if not questions:
        return
    longest = max(questions, key=lambda q: len(q[0]) + sum(len(o) for o in q[1]))
    shown = fitted_text(text, lambda t: multiple_choice("x", longest[0], longest[1], longest[2], type_=longest[3],
                                                        text=t), ctx, doc)
    for question, options, answer, type_ in questions:
        yield doc.item("DC", lambda pid, q=question, o=options, a=answer, t=type_:
                       multiple_choice(pid, q, o, a, type_=t, text=shown))


def report_unknown_label(ctx: ConvertContext, where: str, line: int | None, label: str, known: Sequence[str]
                         ) -> None:
    ctx.bad(FormatError(where, f"unknown label {label!r}; expected one of {list(known)}", line=line))


def present_archives(root: str | Path, splits: Sequence[tuple[str, Sequence[str]]], corpus: str) -> list[tuple[str, Path]]:
    """(split, path) for each distributed archive found under `root` (first matching name per entry); logs the
    missing ones and raises CorpusUnavailable when none is there."""
    root = Path(root)
    found, missing = [], []
    for split, names in splits:
        path = next((root / n for n in names if (root / n).is_file()), None)
        if path is None:
            missing.append(names[0])
        else:
            found.append((split, path))
    if not found:
        raise CorpusUnavailable(root, f"{corpus}: none of the distributed files {missing} is here; download them "
                                      "from the n2c2 portal (DBMI Data Portal, data use agreement)")
    for name in missing:
        log.warning("%s: %s: %s is missing; converting the other split(s) only", root, corpus, name)
    return found


def progress(items, corpus: str, split: str):
    """A progress bar per corpus split (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(items, desc=f"{corpus}/{split}", unit="doc", leave=False, disable=None)


def brat_pairs(members, ctx: ConvertContext) -> list[tuple[str, Any, Any]]:
    """(path stem, .txt member, .ann member) for every BRAT pair among archive members or files, in path order;
    a lone .txt or .ann is reported."""
    by_stem: dict[str, dict[str, Any]] = {}
    for m in members:
        name = m.name
        for ext in (".txt", ".ann"):
            if name.endswith(ext):
                by_stem.setdefault(name[: -len(ext)], {})[ext] = m
    out = []
    for stem in sorted(by_stem):
        pair = by_stem[stem]
        if len(pair) == 2:
            out.append((stem, pair[".txt"], pair[".ann"]))
        else:
            (ext, m), = pair.items()
            ctx.bad(FormatError(m.where, f"a {ext} file without its {'.ann' if ext == '.txt' else '.txt'}"))
    return out
