"""TIES's trim: keep exactly k = max(1, int(density * n)) largest |delta| per tensor, streamed.

The cut is found without ever holding a tensor: two histogram passes over the fp32 bit patterns of |delta|
(high then low 16 bits; for non-negative floats the bit order is the value order) give the k-th largest value
T; when more elements equal T than are still needed, a third pass finds the flat index below which ties are
kept, so ties are broken by position (lowest index first). The result is a (T, index) pair, the same for any
chunk size, thread count or order, and each chunk applies it with two comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..rows import negated_deltas
from .base import ChunkContext
from .kernels import ABS, apply_mask, magnitude_mask

if TYPE_CHECKING:
    from ..plan import Plan

DROP_ALL = 0x7F800001  # above every finite magnitude


@dataclass(frozen=True)
class Cut:
    """Keep |delta| >= T at flat indices below `before`, |delta| > T from there on (T as fp32 bits)."""

    bits: int
    before: int


def keep_count(density: float, n: int) -> int:
    """mergekit's k: int(density * n) in float64, at least one element for any positive density."""
    if density <= 0 or n == 0:
        return 0
    return min(n, max(1, int(density * n)))


def exact_k_cut(chunks: Callable[[], Iterator[tuple[int, np.ndarray]]], n: int, k: int) -> Cut:
    """The cut keeping exactly k of the n elements streamed by `chunks()` (pairs of start index, fp32)."""
    if k <= 0:
        return Cut(DROP_ALL, 0)
    if k >= n:
        return Cut(0, n)
    hist = np.zeros(1 << 15, np.int64)
    for _, x in chunks():
        hist += np.bincount((x.view(np.uint32) & ABS) >> 16, minlength=1 << 15)
    above = np.cumsum(hist[::-1])
    hi_rank = int(np.searchsorted(above, k))  # first bin (from the top) that reaches k
    hi = (1 << 15) - 1 - hi_rank
    need = k - (int(above[hi_rank - 1]) if hi_rank > 0 else 0)
    low = np.zeros(1 << 16, np.int64)
    for _, x in chunks():
        bits = x.view(np.uint32) & ABS
        low += np.bincount(bits[(bits >> 16) == hi] & 0xFFFF, minlength=1 << 16)
    cum = np.cumsum(low[::-1])
    lo_rank = int(np.searchsorted(cum, need))
    lo = (1 << 16) - 1 - lo_rank
    ties_needed = need - (int(cum[lo_rank - 1]) if lo_rank > 0 else 0)
    threshold = (hi << 16) | lo
    if ties_needed == int(low[lo]):
        return Cut(threshold, n)  # every tie is kept
    seen = 0
    for start, x in chunks():
        idx = np.flatnonzero((x.view(np.uint32) & ABS) == threshold)
        if seen + idx.size >= ties_needed:
            return Cut(threshold, start + int(idx[ties_needed - seen - 1]) + 1)
        seen += idx.size
    raise AssertionError("tie count changed between passes")  # pragma: no cover - inputs are read-only


def magnitude_cuts(plan: Plan, pool: ThreadPoolExecutor, chunk_elements: int) -> dict[tuple[int, str], Cut]:
    """The cut of every (fine-tuned model j, merged tensor) with density < 1, one job per pair."""
    jobs = [(j, t) for j in range(len(plan.finetuned)) for t in plan.tensors
            if t.merged and keep_count(t.densities[j], t.numel) < t.numel]

    def one(job):
        j, t = job
        k = keep_count(t.densities[j], t.numel)
        return (j, t.name), exact_k_cut(lambda: negated_deltas(plan, j, t, chunk_elements), t.numel, k)

    return dict(pool.map(one, jobs))


def magnitude_trim(ctx: ChunkContext) -> list[int]:
    kept = []
    n = ctx.n
    for j, f in enumerate(ctx.fts):
        cut = ctx.prepared.get((j, ctx.tensor.name))
        if cut is None:
            kept.append(n)
            continue
        lim = min(n, max(0, cut.before - ctx.start))
        mask = ctx.mask[:n]
        magnitude_mask(f[:lim], cut.bits, mask[:lim])
        magnitude_mask(f[lim:], cut.bits + 1, mask[lim:])
        apply_mask(f, mask)
        kept.append(int(np.count_nonzero(mask)))
    return kept
