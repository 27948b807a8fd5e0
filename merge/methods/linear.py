"""`linear`: the weighted average of the models themselves (mergekit `linear`); the base counts only where it is
listed under `models` (mergekit 0.1.5 also adds `base_model` into the average; see the README)."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .kernels import linear


class Linear(MergeMethod):
    name = "linear"
    uses_deltas = False
    default_normalize = True

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        cfg = ctx.cfg
        models, j = [], 0
        for m in cfg.models:
            if cfg.is_base(m):
                models.append(ctx.base)
            else:
                models.append(ctx.fts[j])
                j += 1
        return linear(models, ctx.tensor.all_weights, cfg.effective_normalize, out, ctx.scratch)
