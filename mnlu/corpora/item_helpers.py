"""Small helpers every converter family shares: the token budget, option lists that fit (A)…(M), mentions.

- The token budget: an item must fit `max_seq_length` *with* the `<s>` the trainer prepends, so the budget of a
  rendered chat is `max_seq_length − 1` (`token_budget`). Tokens are counted with the context's counter, else
  the real Mistral tokenizer (`token_counter`; the estimate of `mnlu.windows` only if that cannot be loaded).
- Long sources (whole papers, visit dialogues, clinical notes) are cut by whole units (sentences, turns, lines)
  so the rendered chat fits; the answer is never cut (`fit_to_budget`, `longest_fitting_prefix`).
- A label set larger than 13 (MTSamples' ~40 specialties, TrialStop's 17 reasons) cannot be lettered in full,
  so an item shows its gold label(s) plus a seeded sample of the other labels, in the corpus's label order.
- A gold mention is a character span with a type (`Mention`); in an answer it is written one piece per line of
  the text (`answer_pieces`), since the span format has one line per type.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mnlu.corpora.registry import ConvertContext
from mnlu.prompts import LETTERS, render_chat
from mnlu.windows import CountTokens, real_count_tokens

NER_TYPE = "named entity recognition"
RE_NEGATIVE = "not related to"  # the released scorer leaves this option out of the micro F1

MAX_OPTIONS = len(LETTERS)


def options_with_gold(
    labels: Sequence[str], gold: Sequence[str], *, key: str, seed: int, max_options: int = MAX_OPTIONS
) -> list[str]:
    """All labels when they fit; otherwise the gold labels plus seeded distractors, in `labels` order."""
    unknown = [g for g in gold if g not in labels]
    if unknown:
        raise ValueError(f"gold label(s) {unknown} not in the label set")
    if len(labels) <= max_options:
        return list(labels)
    if len(set(gold)) > max_options:
        raise ValueError(f"{len(set(gold))} gold labels; the format letters at most {max_options}")
    others = [label for label in labels if label not in gold]
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{seed}\x00{key}".encode()).digest()[:8], "big"))
    chosen = set(gold) | set(rng.sample(others, max_options - len(set(gold))))
    return [label for label in labels if label in chosen]


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    label: str  # the span type (a SpanType name), or the argument's role
    key: str = ""  # mention id (T3) or concept id (BioRED), for relations


def answer_pieces(text: str, start: int, end: int) -> list[str]:
    """A mention as answer text: one piece per line it covers (stripped), so a mention across a line break
    cannot break the one-line-per-type answer."""
    return [p.strip() for p in text[start:end].split("\n") if p.strip()]


def token_counter(ctx: ConvertContext) -> CountTokens:
    """The context's counter, else the real Mistral tokenizer (loaded once, lazily, and kept in the context)."""
    if ctx.count_tokens is None:
        ctx.count_tokens = real_count_tokens()
    return ctx.count_tokens


def token_budget(ctx: ConvertContext) -> int:
    """Tokens a rendered chat may have: `max_seq_length` less the `<s>` the trainer prepends."""
    return ctx.max_seq_length - 1


def record_tokens(record: dict[str, Any], count: CountTokens) -> int:
    return count(render_chat(record["messages"]))


def longest_fitting_prefix(n_units: int, fits: Callable[[int], bool], *, least: int = 0) -> int:
    """The largest k in [least, n_units] with fits(k) (fits must be monotone: a shorter prefix fits whenever a
    longer one does), by binary search; `least` when none fits."""
    if fits(n_units):
        return n_units
    lo, hi, best = least, n_units - 1, least
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid == least or fits(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def fit_to_budget(build: Callable[[int], dict[str, Any]], n_units: int, ctx: ConvertContext) -> dict[str, Any]:
    """The record built from the most leading units (at least one) whose rendered chat fits the budget."""
    count, budget = token_counter(ctx), token_budget(ctx)
    if n_units <= 1:
        return build(n_units)
    k = longest_fitting_prefix(n_units, lambda k: record_tokens(build(k), count) <= budget, least=1)
    return build(k)
