"""Span-extraction benchmarks: NER (one record per sentence) and EBM PICO (one record per abstract).

Records keep their tokens (in `EvalItem.gold`) so the official scorer can align the answer's spans back to
IOB tags. Entity types and their descriptions are data; the instruction comes from `mnlu.prompts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.benchmarks.base import EvalItem, OfficialScore, prompt_id
from eval.scoring.align import align_spans
from eval.scoring.metrics import entity_f1, iob_entities, token_macro_f1
from mnlu.formats.errors import FormatError
from mnlu.formats.iob import IOBSentence, read_iob
from mnlu.prompts import SpanType, parse_span_answer, span_extraction


@dataclass(frozen=True)
class EntityType:
    tag: str  # suffix in the data's tags (`Chemical` in `B-Chemical`)
    name: str  # the type name in the prompt and answer
    description: str

    @property
    def span_type(self) -> SpanType:
        return SpanType(self.name, self.description)


@dataclass(frozen=True)
class TokenGold:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def _typed(tags: Sequence[str], default: str) -> tuple[str, ...]:
    """Untyped `B`/`I` (BLUE's files, BLURB's copies) become `B-<default>`/`I-<default>`."""
    return tuple(f"{t}-{default}" if t in ("B", "I") else t for t in tags)


def gold_spans(tokens: Sequence[str], tags: Sequence[str], types: Sequence[EntityType]) -> dict[str, list[str]]:
    """{type name: [span text, ...]} in text order, repeats kept."""
    by_tag = {t.tag: t.name for t in types}
    spans: dict[str, list[str]] = {t.name: [] for t in types}
    for typ, s, e in iob_entities(tags):
        if typ not in by_tag:
            raise ValueError(f"entity type {typ!r} is not among the dataset's types {sorted(by_tag)}")
        spans[by_tag[typ]].append(" ".join(tokens[s:e]))
    return spans


def _sentences(path: Path, *, columns: str, scheme: str) -> list[IOBSentence]:
    """A benchmark's IOB file, read with mnlu's reader (a bad line is an error); an empty file is an error too."""
    sentences = list(read_iob(path, columns=columns, scheme=scheme))
    if not sentences:
        raise FormatError(path, "no sentences found; expected token<TAB>tag lines")
    return sentences


# --------------------------------------------------------------------------------------------------- NER


def ner_loader(dataset: str, types: Sequence[EntityType], *, blue_columns: bool = False):
    def load(path: Path, split: str) -> list[EvalItem]:
        sentences = _sentences(path, columns="blue" if blue_columns else "pair", scheme="iob")
        default = types[0].tag
        items = []
        for i, sent in enumerate(sentences):
            tags = _typed(sent.tags, default)
            for typ, _, _ in iob_entities(tags):
                if typ not in {t.tag for t in types}:
                    raise FormatError(path, f"entity type {typ!r}; expected one of {[t.tag for t in types]}",
                                      line=sent.line)
            spans = gold_spans(sent.tokens, tags, types)
            record = span_extraction(
                prompt_id(dataset, split, i), " ".join(sent.tokens), [t.span_type for t in types], spans,
                type_="named entities", task="events", what="entities",
            )
            items.append(EvalItem(record, TokenGold(sent.tokens, tags), f"line {sent.line}"))
        return items

    return load


def _normalise_answer(output: str, types: Sequence[EntityType]) -> tuple[dict[str, list[str]], bool]:
    """Answer types matched case-insensitively to the dataset's; returns the spans and whether any known type
    line was found (an output without one is unparsed)."""
    known = {t.name.lower(): t.name for t in types}
    spans: dict[str, list[str]] = {}
    found = False
    for name, listed in parse_span_answer(output).items():
        canon = known.get(name.strip().lower())
        found |= canon is not None
        spans.setdefault(canon or name, []).extend(listed)
    return spans, found


def _entity_texts(tokens, tags) -> set[tuple[str, int, int, str]]:
    return {(t, s, e, " ".join(tokens[s:e])) for t, s, e in iob_entities(tags)}


def ner_official(types: Sequence[EntityType]):
    tag_of = {t.name: t.tag for t in types}

    def score(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
        gold_tags, pred_tags, ceiling_tags = [], [], []
        unaligned = ceiling_unaligned = unparsed = 0
        errors = []
        for item in items:
            gold: TokenGold = item.gold
            output = predictions.get(item.prompt_id, "")
            spans, found = _normalise_answer(output, types)
            unparsed += not found
            al = align_spans(gold.tokens, spans, tag_of, scheme="IOB2")
            gold_answer = item.record["messages"][-1]["content"]
            ceil = align_spans(gold.tokens, _normalise_answer(gold_answer, types)[0], tag_of, scheme="IOB2")
            gold_tags.append(gold.tags)
            pred_tags.append(al.tags)
            ceiling_tags.append(ceil.tags)
            unaligned += len(al.unaligned)
            ceiling_unaligned += len(ceil.unaligned)
            ge, pe = _entity_texts(gold.tokens, gold.tags), _entity_texts(gold.tokens, al.tags)
            fp = sorted(pe - ge, key=lambda x: x[1])
            fn = sorted(ge - pe, key=lambda x: x[1])
            if fp or fn or al.unaligned:
                errors.append({
                    "prompt_id": item.prompt_id, "source": item.source_id,
                    "FP": [[t, s] for t, _, _, s in fp] + [[t, s, "unaligned"] for t, s in al.unaligned],
                    "FN": [[t, s] for t, _, _, s in fn],
                })
        result, tp, n_pred, n_true = entity_f1(gold_tags, pred_tags, unaligned)
        ceiling = entity_f1(gold_tags, ceiling_tags, ceiling_unaligned)[0].f1
        return OfficialScore(
            result.f1, "entity-level micro F1", len(items), unparsed,
            {"precision": result.precision, "recall": result.recall, "tp": tp, "n_pred": n_pred,
             "n_true": n_true, "unaligned": unaligned, "ceiling": ceiling},
            errors,
        )

    return score


# -------------------------------------------------------------------------------------------------- PICO

PICO_TYPES = (
    EntityType("PAR", "Participants", "the patients or population studied, with their condition"),
    EntityType("INT", "Interventions", "the treatments, drugs or procedures compared, including controls"),
    EntityType("OUT", "Outcomes", "the outcomes measured"),
)


@dataclass(frozen=True)
class Abstract:
    doc: str
    sentences: tuple[IOBSentence, ...]


def _abstracts(sentences: Sequence[IOBSentence]) -> list[Abstract]:
    out: list[Abstract] = []
    for s in sentences:
        if out and out[-1].doc == s.doc:
            out[-1] = Abstract(s.doc or "", out[-1].sentences + (s,))
        else:
            out.append(Abstract(s.doc or "", (s,)))
    return out


def pico_loader(dataset: str):
    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        for i, ab in enumerate(_abstracts(_sentences(path, columns="pair", scheme="io"))):
            spans: dict[str, list[str]] = {t.name: [] for t in PICO_TYPES}
            tokens: list[str] = []
            tags: list[str] = []
            for s in ab.sentences:  # runs are cut at sentence ends, so a span never crosses a sentence
                for name, listed in gold_spans(s.tokens, s.tags, PICO_TYPES).items():
                    spans[name].extend(listed)
                tokens.extend(s.tokens)
                tags.extend(s.tags)
            record = span_extraction(
                prompt_id(dataset, split, i), " ".join(tokens), [t.span_type for t in PICO_TYPES], spans,
                type_="PICO elements", task="PICO", what="PICO elements",
            )
            items.append(EvalItem(record, TokenGold(tuple(tokens), tuple(tags)), f"PMID {ab.doc}"))
        return items

    return load


def pico_official(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
    tag_of = {t.name: t.tag for t in PICO_TYPES}
    labels = [f"I-{t.tag}" for t in PICO_TYPES]
    gold_all: list[str] = []
    pred_all: list[str] = []
    ceil_all: list[str] = []
    unparsed = unaligned = 0
    errors = []
    for item in items:
        gold: TokenGold = item.gold
        spans, found = _normalise_answer(predictions.get(item.prompt_id, ""), PICO_TYPES)
        unparsed += not found
        al = align_spans(gold.tokens, spans, tag_of, scheme="IO")
        ceil = align_spans(gold.tokens, _normalise_answer(item.record["messages"][-1]["content"], PICO_TYPES)[0],
                           tag_of, scheme="IO")
        unaligned += len(al.unaligned)
        gold_all.extend(gold.tags)
        pred_all.extend(al.tags)
        ceil_all.extend(ceil.tags)
        wrong = sum(g != p for g, p in zip(gold.tags, al.tags, strict=True))
        if wrong or al.unaligned:
            errors.append({
                "prompt_id": item.prompt_id, "source": item.source_id,
                "FP": [[p[2:], gold.tokens[i]]
                       for i, (g, p) in enumerate(zip(gold.tags, al.tags, strict=True)) if p != "O" and p != g]
                + [[t, s, "unaligned"] for t, s in al.unaligned],
                "FN": [[g[2:], gold.tokens[i]]
                       for i, (g, p) in enumerate(zip(gold.tags, al.tags, strict=True)) if g != "O" and p != g],
            })
    score = token_macro_f1(gold_all, pred_all, labels)
    return OfficialScore(
        score, "word-level macro F1 (P, I, O)", len(items), unparsed,
        {"unaligned": unaligned, "ceiling": token_macro_f1(gold_all, ceil_all, labels), "tokens": len(gold_all)},
        errors,
    )
