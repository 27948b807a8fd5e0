"""`dare_ties`: DARE's random drop and 1/(1 - p) rescale, then TIES's sign election and agreeing average."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .random_trim import dare_rescale, random_trim
from .ties import elect_and_combine


class DareTies(MergeMethod):
    name = "dare_ties"
    sparsify = "random"
    default_rescale = True

    def trim(self, ctx: ChunkContext) -> list[int]:
        return random_trim(ctx)

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        if ctx.cfg.effective_rescale:
            dare_rescale(ctx)
        return elect_and_combine(ctx, out)
