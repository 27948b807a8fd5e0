"""Split long documents into windows that fit a token budget without ever cutting a gold span.

Why: MNLU items are trained at `max_seq_length` tokens (2048 in the paper); a full text (LINNAEUS, n2c2 notes)
is far longer. A window is a character range `(start, end)` of the text; cuts are preferred at newlines, then
sentence ends, then any whitespace, and only then anywhere, and never strictly inside a span. A window exceeds
the budget only when it holds no allowed cut at all (one span, or overlapping spans, longer than the budget).

Token counts come from a `count_tokens(text) -> int` callable (the real tokenizer, `mnlu.tokenizer.count_tokens`);
without one, a conservative estimate is used (`estimate_tokens`: one token per digit, one per two other
characters; the Mistral tokenizer averages ~3.7 characters per token on the sample corpora, ≥ 2.9 per document,
and splits every digit).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from itertools import pairwise

CountTokens = Callable[[str], int]
Span = tuple[int, int]

_LEVELS = (
    re.compile(r"\n\s*"),  # paragraph / line breaks
    re.compile(r"(?<=[.!?])[\"')\]]*\s+"),  # sentence ends
    re.compile(r"\s+"),  # any whitespace
)


def estimate_tokens(text: str) -> int:
    """Conservative token estimate: every digit is a token, other characters two per token."""
    digits = sum(c.isdigit() for c in text)
    return digits + -(-(len(text) - digits) // 2)


def real_count_tokens() -> CountTokens:
    """The project tokenizer's counter when it can be loaded, else `estimate_tokens` (imported lazily)."""
    try:
        from mnlu.tokenizer import count_tokens
    except ImportError:  # pragma: no cover - the tokenizer module is part of the package
        return estimate_tokens
    return count_tokens


def _merged(spans: Sequence[Span]) -> list[Span]:
    """Union of overlapping spans: a cut strictly inside one of these would cut a span."""
    out: list[list[int]] = []
    for s, e in sorted((s, e) for s, e in spans if e > s):
        if out and s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


class _Blocked:
    def __init__(self, spans: Sequence[Span]):
        self.intervals = _merged(spans)
        self.starts = [s for s, _ in self.intervals]

    def allows(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos - 1) - 1  # last interval starting before pos
        return i < 0 or not (self.intervals[i][0] < pos < self.intervals[i][1])

    def covers(self, i: int) -> bool:
        """Whether character i belongs to a span."""
        j = bisect.bisect_right(self.starts, i) - 1
        return j >= 0 and i < self.intervals[j][1]

    def snap_back(self, pos: int, floor: int) -> int:
        """The largest allowed cut ≤ pos (≥ floor), or floor."""
        i = bisect.bisect_right(self.starts, pos - 1) - 1
        if i >= 0 and self.intervals[i][0] < pos < self.intervals[i][1]:
            pos = self.intervals[i][0]
        return max(pos, floor)

    def snap_forward(self, pos: int, ceil: int) -> int:
        i = bisect.bisect_right(self.starts, pos - 1) - 1
        if i >= 0 and self.intervals[i][0] < pos < self.intervals[i][1]:
            pos = self.intervals[i][1]
        return min(pos, ceil)


def _trim(text: str, a: int, b: int, blocked: _Blocked) -> Span:
    """Drop surrounding whitespace that belongs to no span."""
    while a < b and text[a].isspace() and not blocked.covers(a):
        a += 1
    while b > a and text[b - 1].isspace() and not blocked.covers(b - 1):
        b -= 1
    return a, b


def split_into_windows(
    text: str,
    spans: Sequence[Span],
    max_tokens: int,
    count_tokens: CountTokens | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> list[Span]:
    """Character ranges covering every non-space character of `text[start:end]`, in order, each within
    `max_tokens` tokens where an allowed cut exists; no span in `spans` is cut by a window boundary.

    The text is cut into atoms (sentences, or finer pieces where a sentence alone is too long); windows are
    then filled greedily with atoms and end at the strongest break (line > sentence > space > anywhere) in the
    second half of what fits.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be ≥ 1, got {max_tokens}")
    count = count_tokens or estimate_tokens
    end = len(text) if end is None else end
    blocked = _Blocked([(s, e) for s, e in spans if s < end and e > start])
    atoms: list[tuple[int, int, int]] = []  # (start, end, tokens)
    strength: dict[int, int] = {}  # cut position → break level (lower is stronger)
    _atoms(text, start, end, 0, max_tokens, count, blocked, atoms, strength)
    windows = [_trim(text, a, b, blocked) for a, b in _pack(text, atoms, strength, max_tokens, count)]
    return [(a, b) for a, b in windows if b > a]


_FINEST_ALWAYS = 1  # always cut at lines and sentences, so windows can end there


def _atoms(text: str, a: int, b: int, level: int, max_tokens: int, count: CountTokens, blocked: _Blocked,
           atoms: list[tuple[int, int, int]], strength: dict[int, int]) -> None:
    if b <= a:
        return
    n = count(text[a:b])
    if level > _FINEST_ALWAYS and n <= max_tokens:
        atoms.append((a, b, n))
        return
    if level >= len(_LEVELS):
        for piece in _split_anywhere(text, a, b, max_tokens, count, blocked):
            if piece[0] > a:
                strength[piece[0]] = len(_LEVELS)
            atoms.append((*piece, count(text[piece[0]:piece[1]])))
        return
    cuts = [m.end() for m in _LEVELS[level].finditer(text, a, b) if a < m.end() < b and blocked.allows(m.end())]
    for c in cuts:
        strength.setdefault(c, level)
    bounds = [a, *cuts, b]
    for u_a, u_b in pairwise(bounds):
        _atoms(text, u_a, u_b, level + 1, max_tokens, count, blocked, atoms, strength)


def _pack(text: str, atoms: list[tuple[int, int, int]], strength: dict[int, int], max_tokens: int,
          count: CountTokens) -> list[Span]:
    out: list[Span] = []
    i = 0
    while i < len(atoms):
        # the furthest atom j such that atoms i..j fit (sums first, then the real count of the joined text)
        j, total = i, atoms[i][2]
        while j + 1 < len(atoms) and total + atoms[j + 1][2] <= max_tokens:
            j += 1
            total += atoms[j][2]
        while j > i and count(text[atoms[i][0]:atoms[j][1]]) > max_tokens:
            total -= atoms[j][2]
            j -= 1
        if j + 1 < len(atoms):  # end at the strongest break in the second half of what fits
            best, best_level, running = j, strength.get(atoms[j][1], len(_LEVELS)), 0
            for k in range(i, j + 1):
                running += atoms[k][2]
                level = strength.get(atoms[k][1], len(_LEVELS))
                if 2 * running >= total and level <= best_level:
                    best, best_level = k, level
            j = best
        out.append((atoms[i][0], atoms[j][1]))
        i = j + 1
    return out


def _split_anywhere(text: str, a: int, b: int, max_tokens: int, count: CountTokens, blocked: _Blocked
                    ) -> list[Span]:
    """No whitespace left to cut at: take the longest allowed prefix that fits (binary search), repeatedly."""
    out: list[Span] = []
    while a < b:
        if count(text[a:b]) <= max_tokens:
            out.append((a, b))
            break
        lo, hi = a + 1, b  # the largest cut c in (a, b) with count(text[a:c]) <= max_tokens
        best = a
        while lo <= hi:
            mid = (lo + hi) // 2
            if count(text[a:mid]) <= max_tokens:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        cut = blocked.snap_back(best, a)
        if cut <= a:  # a span (or a single character) alone does not fit: keep it whole
            cut = blocked.snap_forward(max(best, a + 1), b)
        out.append((a, cut))
        a = cut
    return out


def spans_within(window: Span, spans: Sequence[Span]) -> list[int]:
    """Indices of the spans lying inside `window` (by construction, a span lies inside exactly one window)."""
    a, b = window
    return [i for i, (s, e) in enumerate(spans) if a <= s and e <= b]


def fit_windows(
    text: str,
    spans: Sequence[Span],
    max_seq_length: int,
    item_tokens: Callable[[int, int], int],
    count_tokens: CountTokens | None = None,
) -> list[Span]:
    """Windows whose whole items fit `max_seq_length`: `item_tokens(a, b)` is the token length of the longest
    item built for window `text[a:b]` (instruction, text and answer, rendered). The text budget starts at
    `max_seq_length − item_tokens(0, 0)` and any window whose items still do not fit is split again with a
    budget shrunk by the excess. A window returned that still does not fit holds no allowed cut; the caller
    reports it."""
    count = count_tokens or estimate_tokens
    budget = max(1, max_seq_length - item_tokens(0, 0))
    stack = list(reversed(split_into_windows(text, spans, budget, count)))
    result: list[Span] = []
    while stack:
        a, b = stack.pop()
        need = item_tokens(a, b)
        if need <= max_seq_length:
            result.append((a, b))
            continue
        current = count(text[a:b])
        smaller = max(1, min(current - 1, current - (need - max_seq_length)))
        sub = split_into_windows(text, spans, smaller, count, start=a, end=b)
        if sub == [(a, b)]:
            result.append((a, b))
            continue
        stack.extend(reversed(sub))
    return result
