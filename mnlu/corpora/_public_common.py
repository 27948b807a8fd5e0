"""Items shared by the public NER/RE converters: windowed span-extraction items and marked-pair RE items.

A document's gold mentions are character spans over its text. Span items: the text is split into windows that
fit `max_seq_length` with the whole rendered item (`mnlu.windows.fit_windows`), and each window's mentions become
the answer. RE items: one multiple-choice item per candidate pair, the pair marked in the text as `<<first>>` and
`[[second]]` (the markers of the clinical converters), options = relation labels + "not related to".
A document with a bad mention is reported (`ctx.bad`) and skipped whole: a partial gold set would teach the model
that the missing mentions are not entities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mnlu.corpora.item_helpers import (
    NER_TYPE,
    RE_NEGATIVE,
    Mention,
    answer_pieces,
    record_tokens,
    token_budget,
    token_counter,
)
from mnlu.corpora.registry import ConvertContext, TaskItem
from mnlu.formats.errors import FormatError
from mnlu.prompts import SpanType, multiple_choice, render_chat, span_extraction
from mnlu.splits import split_of_file
from mnlu.windows import CountTokens, fit_windows

RE_TYPE = "relation extraction"
# PICO corpora (PubMed PICO, PICO-data): span items of task "PICO", as the paper's PICO folder
PICO = {"task": "PICO", "what": "PICO elements", "type_": "PICO element detection"}

SLACK = 8  # tokens allowed for the seams where an item's pieces are counted apart
EXACT_MARGIN = 32  # within this of the budget, an estimate is replaced by the exact count


def item_fits(record: dict, estimate: int, budget: int, count: CountTokens) -> tuple[bool, int]:
    """Whether a record fits `budget`, trusting a seam-padded estimate unless it is close to the budget."""
    if estimate + EXACT_MARGIN <= budget:
        return True, estimate
    exact = record_tokens(record, count)
    return exact <= budget, exact


def span_types(descriptions: dict[str, str]) -> list[SpanType]:
    return [SpanType(name, desc) for name, desc in descriptions.items()]


def span_items(
    ctx: ConvertContext,
    corpus: str,
    split: str,
    doc_id: str,
    text: str,
    mentions: Sequence[Mention],
    types: Sequence[SpanType],
    *,
    path: str | Path,
    task: str = "events",
    what: str = "entities",
    type_: str = NER_TYPE,
) -> Iterator[TaskItem]:
    """Span-extraction items for one document, one per window (`events/<corpus>/<split>/<doc>/<n>`)."""
    names = {t.name for t in types}
    unknown = sorted({m.label for m in mentions} - names)
    if unknown:
        raise ValueError(f"{corpus}: mention types {unknown} not in the type list")
    if not text.strip():
        return
    count = token_counter(ctx)
    ordered = sorted(set(mentions), key=lambda m: (m.start, m.end, m.label))
    budget = token_budget(ctx)

    def build(pid: str, a: int, b: int) -> dict:
        spans: dict[str, list[str]] = {t.name: [] for t in types}
        for m in ordered:
            if a <= m.start and m.end <= b:
                spans[m.label].extend(answer_pieces(text, m.start, m.end))
        return span_extraction(pid, text[a:b], types, spans, type_=type_, task=task, what=what)

    def tokens(a: int, b: int) -> int:
        """Text and the rest of the item counted apart (the text is the long, costly part)."""
        rest = build("x", a, b)
        rest["messages"][1]["content"] = rest["messages"][1]["content"][: -(b - a) or None]
        return count(render_chat(rest["messages"])) + (count(text[a:b]) if b > a else 0) + SLACK

    windows = fit_windows(text, [(m.start, m.end) for m in ordered], budget, tokens, count)
    for n, (a, b) in enumerate(windows):
        record = build(f"events/{corpus}/{split}/{doc_id}/{n}", a, b)
        fits, _ = item_fits(record, tokens(a, b), budget, count)
        if not fits:
            ctx.bad(FormatError(path, f"document {doc_id}: a mention longer than the token budget "
                                f"({budget}) leaves window {a}-{b} too long; skipped", offset=a))
            continue
        yield TaskItem(split, "events", record)


@dataclass(frozen=True)
class Pair:
    first: str  # key of the first argument
    second: str
    label: str | None  # gold relation label; None = not related


def mark(text: str, a: int, b: int, first: Sequence[Mention], second: Sequence[Mention]) -> str:
    """`text[a:b]` with every mention of `first` as <<…>> and of `second` as [[…]] (overlaps: first wins)."""
    chosen: list[tuple[int, int, str, str]] = []
    for group, (lo, hi) in ((first, ("<<", ">>")), (second, ("[[", "]]"))):
        for m in sorted(group, key=lambda m: (m.start, m.end)):
            if a <= m.start and m.end <= b and all(m.end <= s or e <= m.start for s, e, _, _ in chosen):
                chosen.append((m.start, m.end, lo, hi))
    pieces, pos = [], a
    for s, e, lo, hi in sorted(chosen):
        pieces += [text[pos:s], lo, text[s:e], hi]
        pos = e
    pieces.append(text[pos:b])
    return "".join(pieces)


def _markable(first: Sequence[Mention], second: Sequence[Mention], a: int, b: int) -> bool:
    marked = mark("x" * b, a, b, first, second)
    return "<<" in marked and "[[" in marked


def relation_items(
    ctx: ConvertContext,
    corpus: str,
    split: str,
    doc_id: str,
    text: str,
    mentions: Sequence[Mention],
    pairs: Sequence[Pair],
    labels: Sequence[str],
    *,
    path: str | Path,
    describe: Callable[[str], str],
    type_: str = RE_TYPE,
) -> Iterator[TaskItem]:
    """One choice item per candidate pair per window holding both arguments (`RE/<corpus>/<split>/<doc>/<n>`).

    `describe(label)` names a mention type in the question ("chemical", "gene"). Windows protect every mention
    and are sized for the longest question of the document.
    """
    options = [*labels, RE_NEGATIVE]
    by_key: dict[str, list[Mention]] = {}
    for m in mentions:
        by_key.setdefault(m.key, []).append(m)
    pairs = [p for p in pairs if p.first in by_key and p.second in by_key]
    if not pairs or not text.strip():
        return
    count = token_counter(ctx)
    budget = token_budget(ctx)

    def question(p: Pair) -> str:
        m1, m2 = by_key[p.first][0], by_key[p.second][0]
        return (f"What is the relation between the {describe(m1.label)} marked <<{text[m1.start:m1.end]}>> and "
                f"the {describe(m2.label)} marked [[{text[m2.start:m2.end]}]] in the medical text?")

    def build(pid: str, p: Pair, a: int, b: int) -> dict:
        answer = options.index(p.label) if p.label is not None else len(options) - 1
        marked = mark(text, a, b, by_key[p.first], by_key[p.second])
        return multiple_choice(pid, question(p), options, answer, type_=type_, text=marked)

    def overhead(p: Pair) -> int:  # everything but the text, plus the markers (≤ 4 tokens each)
        return (count(render_chat(build("x", p, 0, 0)["messages"])) + SLACK
                + 4 * 2 * (len(by_key[p.first]) + len(by_key[p.second])))

    overheads = {p: overhead(p) for p in pairs}  # counted once per pair: the tokenizer is the costly part
    worst = max(overheads.values())
    windows = fit_windows(text, [(m.start, m.end) for m in mentions], budget,
                          lambda a, b: worst + (count(text[a:b]) if b > a else 0), count)
    n = 0
    for a, b in windows:
        inside = {m.key for m in mentions if a <= m.start and m.end <= b}
        window_tokens = count(text[a:b])
        for p in pairs:
            if p.first not in inside or p.second not in inside:
                continue
            if not _markable(by_key[p.first], by_key[p.second], a, b):
                continue  # every mention of one argument is also a mention of the other: nothing to mark apart
            record = build(f"RE/{corpus}/{split}/{doc_id}/{n}", p, a, b)
            n += 1
            fits, _ = item_fits(record, overheads[p] + window_tokens, budget, count)
            if not fits:
                ctx.bad(FormatError(path, f"document {doc_id}: relation item for {p.first}/{p.second} does not "
                                    f"fit {budget} tokens; skipped", offset=a))
                continue
            yield TaskItem(split, "RE", record)


def checked_document(ctx: ConvertContext, errors: list[FormatError]) -> bool:
    """Report a document's reader errors; True when it has none (so it can be converted)."""
    for e in errors:
        ctx.bad(e)
    return not errors


def doc_ner_items(ctx: ConvertContext, corpus: str, split: str, path: str | Path, doc_id: str, text: str,
                  mentions: Sequence[tuple[int, int, str]], types: dict[str, str], errors: Sequence[FormatError],
                  *, task: str = "events", what: str = "entities", type_: str = NER_TYPE) -> Iterator[TaskItem]:
    """NER items of one read document: skipped when the reader reported any of its lines (already counted) or
    when a mention has a type outside the corpus's type set (reported here)."""
    if errors:
        return
    unknown = sorted({t for _, _, t in mentions if t not in types})
    if unknown:
        ctx.bad(FormatError(path, f"document {doc_id}: mention type(s) {unknown}; expected {list(types)}"))
        return
    yield from span_items(ctx, corpus, split, doc_id, text, [Mention(s, e, t) for s, e, t in mentions],
                          span_types(types), path=path, task=task, what=what, type_=type_)


def pubtator_ner_items(ctx: ConvertContext, corpus: str, path: Path, types: dict[str, str], *, doc_prefix: str = "",
                       split: str | None = None) -> Iterator[TaskItem]:
    """NER items of every document of a PubTator file (NCBI-AIONER's conversions: mentions only), in the split
    its name says unless `split` is given."""
    from mnlu.formats.pubtator import read_pubtator

    split = split or split_of_file(path, ctx.bad)
    if split is None:
        return
    for doc in read_pubtator(path, report=ctx.bad):
        yield from doc_ner_items(ctx, corpus, split, path, f"{doc_prefix}{doc.doc_id}", doc.text,
                                 [(m.start, m.end, m.type) for m in doc.mentions], types, doc.errors)


def iob_items(ctx: ConvertContext, corpus: str, split: str, path: Path, types: dict[str, str],
              tag_types: dict[str, str] | None = None) -> Iterator[TaskItem]:
    """One span item per IOB sentence (`<file stem>-L<line>` as document id); tag types are mapped by
    `tag_types` (e.g. "Species" → "Species") or taken as they are."""
    from mnlu.formats.iob import read_iob

    for sentence in read_iob(path, report=ctx.bad):
        mentions = [(s, e, (tag_types or {}).get(t, t)) for s, e, t in sentence.spans()]
        yield from doc_ner_items(ctx, corpus, split, path, f"{path.stem}-L{sentence.line}", sentence.text,
                                 mentions, types, ())
