"""Small helpers the converters share: option lists that fit the (A)…(M) format, and the token budget.

- A label set larger than 13 (MTSamples' ~40 specialties, TrialStop's 17 reasons) cannot be lettered in full,
  so an item shows its gold label(s) plus a seeded sample of the other labels, in the corpus's label order.
- Long sources (whole papers, visit dialogues) are cut by whole units (sentences, turns) so the rendered
  chat fits `max_seq_length`; the answer is never cut. Without a token counter in the context the
  conservative estimate of `mnlu.windows` is used (it errs on the short side).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Any

from mnlu.corpora.registry import ConvertContext
from mnlu.prompts import LETTERS, render_chat
from mnlu.windows import estimate_tokens

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


def token_counter(ctx: ConvertContext) -> Callable[[str], int]:
    return ctx.count_tokens if ctx.count_tokens is not None else estimate_tokens


def record_tokens(record: dict[str, Any], count: Callable[[str], int]) -> int:
    return count(render_chat(record["messages"]))


def fit_to_budget(build: Callable[[int], dict[str, Any]], n_units: int, ctx: ConvertContext) -> dict[str, Any]:
    """The record built from the most leading units (at least one) whose rendered chat, with the `<s>` the
    trainer prepends, fits the budget."""
    count = token_counter(ctx)
    budget = ctx.max_seq_length - 1
    full = build(n_units)
    if n_units <= 1 or record_tokens(full, count) <= budget:
        return full
    lo, hi = 1, n_units - 1  # lo always kept; find the largest k in [lo, hi] that fits
    best = build(1)
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = build(mid)
        if record_tokens(candidate, count) <= budget:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
