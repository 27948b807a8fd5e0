"""DARE's trim: drop each delta with probability p from the chunk's uint32 draws (shared by dare_* methods)."""

from __future__ import annotations

import numpy as np

from .. import rng
from .base import ChunkContext
from .kernels import apply_mask


def random_trim(ctx: ChunkContext) -> list[int]:
    kept = []
    for j, f in enumerate(ctx.fts):
        p = ctx.tensor.drop_rates[j]
        mask = rng.keep_mask(ctx.draws(j, ctx.n), rng.drop_threshold(p))
        apply_mask(f, mask)
        kept.append(int(np.count_nonzero(mask)))
    return kept


def dare_rescale(ctx: ChunkContext) -> None:
    """DARE's rescale of the kept deltas, in place: times float32(1/(1 - p)) (the DARE paper; mergekit 0.1.5
    instead matches each tensor's L1 norm)."""
    for f, p in zip(ctx.fts, ctx.tensor.drop_rates, strict=True):
        if 0.0 < p < 1.0:
            np.multiply(f, np.float32(1.0 / (1.0 - p)), out=f)
