"""`task_arithmetic`: base + lambda * sum_j w_j * delta_j (divided by sum_j w_j when normalising)."""

from __future__ import annotations

import numpy as np

from .base import ChunkContext, MergeMethod
from .kernels import scaled_delta_sum


def delta_coefficients(ctx: ChunkContext, scales: list[float]) -> list[np.float32]:
    """float32(lambda * w_j * scale_j / total): total = sum of weights when normalising (if not ~0), else 1."""
    cfg, weights = ctx.cfg, ctx.tensor.weights
    total = sum(weights) if cfg.effective_normalize else 1.0
    total = total if abs(total) >= 1e-8 else 1.0
    return [np.float32(cfg.lambda_ * w * s / total) for w, s in zip(weights, scales, strict=True)]


class TaskArithmetic(MergeMethod):
    name = "task_arithmetic"

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        coeffs = delta_coefficients(ctx, [1.0] * len(ctx.fts))
        return scaled_delta_sum(ctx.base, ctx.fts, coeffs, out, ctx.scratch)
