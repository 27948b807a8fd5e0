"""`ties`: trim each task vector to its exactly-k largest |delta| (k = max(1, int(density * n)), ties by
position), elect signs, average the agreeing deltas (mergekit `ties`). `rescale` is rejected: mergekit rescales
the trimmed task vector to the original L1 norm, which we do not implement."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MergeError
from .base import ChunkContext, MergeMethod
from .kernels import ties_combine
from .magnitude_trim import magnitude_cuts, magnitude_trim

if TYPE_CHECKING:
    from ..plan import Plan


def elect_and_combine(ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
    cfg = ctx.cfg
    return ties_combine(ctx.base, ctx.fts, ctx.tensor.weights, cfg.effective_normalize, cfg.lambda_, out,
                        ctx.scratch, ctx.divisor, ctx.mask)


class Ties(MergeMethod):
    name = "ties"
    sparsify = "magnitude"
    default_normalize = True

    def validate(self, cfg, where: str) -> None:
        if cfg.rescale:
            raise MergeError(f"{where}: parameters.rescale: ties does not support rescale (mergekit rescales "
                             "the trimmed task vector to its L1 norm; we do not); remove it or set it to false")

    def prepare(self, plan: Plan, pool: ThreadPoolExecutor, chunk_elements: int) -> dict:
        return magnitude_cuts(plan, pool, chunk_elements)

    def trim(self, ctx: ChunkContext) -> list[int]:
        return magnitude_trim(ctx)

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        return elect_and_combine(ctx, out)
