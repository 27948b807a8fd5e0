"""The interface every merge method implements; the executor calls it chunk by chunk and knows nothing else.

A method owns its name, its defaults, its validation, its per-tensor preparation (streamed over the whole
tensor before any chunk is merged, e.g. TIES thresholds) and its two per-chunk steps: `trim` (sparsify the
negated deltas in place) and `combine` (write the merged fp32 chunk).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..config import MergeConfig
    from ..plan import Plan, TensorPlan


@dataclass
class ChunkContext:
    """One chunk of one tensor: inputs, the tensor's resolved parameters, and scratch buffers of its size."""

    plan: Plan
    tensor: TensorPlan
    start: int  # flat index of the chunk's first element in the tensor
    base: np.ndarray
    fts: list[np.ndarray]  # fine-tuned models; negated deltas (base - model) for delta methods
    prepared: dict  # what the method's `prepare` returned
    draws: Callable[[int, int], np.ndarray]  # (model j, n) -> this chunk's uint32 draws for model j
    scratch: np.ndarray
    divisor: np.ndarray
    mask: np.ndarray

    @property
    def cfg(self) -> MergeConfig:
        return self.plan.cfg

    @property
    def n(self) -> int:
        return self.base.size


class MergeMethod:
    name: ClassVar[str]
    uses_deltas: ClassVar[bool] = True  # works on deltas to the base (everything but linear)
    sparsify: ClassVar[str | None] = None  # None, "random" (DARE) or "magnitude" (TIES); for the plan's text
    default_normalize: ClassVar[bool] = False
    default_rescale: ClassVar[bool] = False
    mergelm: ClassVar[bool] = False  # has a MergeLM-compatible mode (rng mergelm)

    def validate(self, cfg: MergeConfig, where: str) -> None:
        """Reject parameter combinations this method cannot honour (after the generic checks)."""

    def prepare(self, plan: Plan, pool: ThreadPoolExecutor, chunk_elements: int) -> dict:
        """Per-tensor state computed before merging, streamed chunk by chunk; must not depend on chunking."""
        return {}

    def trim(self, ctx: ChunkContext) -> list[int]:
        """Sparsify ctx.fts in place; returns how many elements each model keeps in this chunk."""
        return [ctx.n] * len(ctx.fts)

    def combine(self, ctx: ChunkContext, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError
