"""`dare_linear`: drop each delta with probability p, rescale the kept ones by 1/(1 - p), add the weighted sum
(task arithmetic). With rng mergelm, MergeLM's `mask_merging` + `average_merging` operation order instead."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .kernels import mergelm_average, weighted_delta_sum
from .random_trim import dare_rescale, random_trim


class DareLinear(MergeMethod):
    name = "dare_linear"
    sparsify = "random"
    default_rescale = True
    mergelm = True

    def trim(self, ctx: ChunkContext) -> list[int]:
        return random_trim(ctx)

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        cfg, t = ctx.cfg, ctx.tensor
        if cfg.rng == "mergelm":
            for f, p in zip(ctx.fts, t.drop_rates, strict=True):
                if cfg.effective_rescale and p != 1.0:
                    np.divide(f, np.float32(1.0 - p), out=f)  # MergeLM divides by float32(1 - p)
            return mergelm_average(ctx.base, ctx.plan.slots, ctx.fts, out)
        if cfg.effective_rescale:
            dare_rescale(ctx)
        return weighted_delta_sum(ctx.base, ctx.fts, t.weights, cfg.effective_normalize, cfg.lambda_, out)
