"""Align span answers (`Type: a...b`) back to a sentence's tokens as IOB2 or IO tags.

A string answer has no positions, so the k-th listed span of a type is placed at its next occurrence in the
tokens after the (k−1)-th one; if there is none after it, at the first free occurrence anywhere. Spans match
whole tokens: the span is split on whitespace and compared with a token window, exactly, then ignoring case.
A span that cannot be placed (not in the text, or only overlapping tokens already tagged) is returned as
unaligned, so the caller can count it as a false positive that tags cannot show. With several types, a first
pass places each type alone and the real pass steers each type away from the other types' places where it has
another free occurrence (an entity of one type often contains the words of another: `IL-2` in `IL-2 gene`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Alignment:
    tags: list[str]
    unaligned: list[tuple[str, str]]  # (type, span)


def _find(tokens: Sequence[str], words: Sequence[str], start: int, free: Sequence[bool], fold: bool) -> int:
    n = len(words)
    for i in range(start, len(tokens) - n + 1):
        window = tokens[i : i + n]
        same = [a.lower() for a in window] == [b.lower() for b in words] if fold else list(window) == list(words)
        if same and all(free[i : i + n]):
            return i
    return -1


def _place_all(tokens, spans, tag_of, avoid_by_type=None):
    """Sequential placement: per type, each span at its next free occurrence after the previous one (then
    anywhere free); exact before case-insensitive. With `avoid_by_type`, occurrences on tokens another type
    claimed in a first pass are tried last, so one type does not take an occurrence another type needs."""
    free = [True] * len(tokens)
    placed: list[tuple[str, int, int]] = []
    unaligned: list[tuple[str, str]] = []
    for type_name, listed in spans.items():
        suffix = tag_of.get(type_name)
        cursor = 0
        avoid = avoid_by_type.get(type_name) if avoid_by_type else None
        for span in listed:
            words = span.split()
            if suffix is None or not words:
                unaligned.append((type_name, span))
                continue
            pos = -1
            masks = [free] if avoid is None else [[f and not a for f, a in zip(free, avoid, strict=True)], free]
            for mask in masks:
                for start, fold in ((cursor, False), (0, False), (cursor, True), (0, True)):
                    pos = _find(tokens, words, start, mask, fold)
                    if pos >= 0:
                        break
                if pos >= 0:
                    break
            if pos < 0:
                unaligned.append((type_name, span))
                continue
            for j in range(pos, pos + len(words)):
                free[j] = False
            placed.append((suffix, pos, pos + len(words)))
            cursor = pos + len(words)
    return placed, unaligned


def align_spans(
    tokens: Sequence[str],
    spans: Mapping[str, Sequence[str]],
    tag_of: Mapping[str, str],
    *,
    scheme: str = "IOB2",
) -> Alignment:
    """Tags for `tokens` from `{answer type: [span, ...]}`; `tag_of` maps an answer type to its tag suffix
    (types missing from it are unaligned). `scheme` is "IOB2" (`B-X`/`I-X`) or "IO" (`I-X` only)."""
    if scheme not in ("IOB2", "IO"):
        raise ValueError(f"unknown tag scheme {scheme!r}; expected 'IOB2' or 'IO'")
    placed, unaligned = _place_all(tokens, spans, tag_of)
    if len([t for t in spans if spans[t]]) > 1:
        # Second pass: each type avoids, where it can, the tokens the other types took in a first pass made
        # without competition (each type alone).
        alone = {t: _place_all(tokens, {t: spans[t]}, tag_of)[0] for t in spans}
        avoid = {}
        for t in spans:
            mask = [False] * len(tokens)
            for other, places in alone.items():
                if other != t:
                    for _, a, b in places:
                        mask[a:b] = [True] * (b - a)
            avoid[t] = mask
        placed, unaligned = _place_all(tokens, spans, tag_of, avoid)
    tags = ["O"] * len(tokens)
    for suffix, a, b in placed:
        for j in range(a, b):
            tags[j] = f"I-{suffix}"
        if scheme == "IOB2":
            tags[a] = f"B-{suffix}"
    return Alignment(tags, unaligned)
