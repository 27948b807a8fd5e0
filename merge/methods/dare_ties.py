"""`dare_ties`: DARE's random drop and 1/(1 - p) rescale, then TIES's sign election and agreeing average."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .random_trim import random_trim
from .ties import elect_and_combine


class DareTies(MergeMethod):
    name = "dare_ties"
    sparsify = "random"
    default_rescale = True

    def trim(self, ctx: ChunkContext) -> list[int]:
        return random_trim(ctx)

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        if ctx.cfg.effective_rescale:
            for f, p in zip(ctx.fts, ctx.tensor.drop_rates, strict=True):
                if 0.0 < p < 1.0:
                    np.multiply(f, np.float32(1.0 / (1.0 - p)), out=f)
        return elect_and_combine(ctx, out)
