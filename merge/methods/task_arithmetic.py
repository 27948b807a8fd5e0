"""`task_arithmetic`: base + lambda * sum_j w_j * delta_j (divided by sum_j w_j when normalising)."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .kernels import weighted_delta_sum


class TaskArithmetic(MergeMethod):
    name = "task_arithmetic"

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        cfg = ctx.cfg
        return weighted_delta_sum(ctx.base, ctx.fts, ctx.tensor.weights, cfg.effective_normalize, cfg.lambda_,
                                  out)
