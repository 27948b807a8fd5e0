"""Reading rows of a tensor in output layout: shared by the executor and by per-tensor method preparation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .safetensors_io import io_buffer
from .torch_sum import TorchColumnSum

if TYPE_CHECKING:
    from .plan import Plan, TensorPlan


def read_model_rows(plan: Plan, j: int | None, t: TensorPlan, r0: int, r1: int, out: np.ndarray,
                    raw: np.ndarray, pads: dict) -> np.ndarray:
    """Rows [r0, r1) of tensor t of the base (j None) or fine-tuned model j as fp32, in output layout: the
    [PAD] row is synthesised, and rows a model lacks (vocab policy "base") come from the base."""
    src = plan.base if j is None else plan.finetuned[j]
    have = t.base_rows if j is None else min(t.model_rows[j], t.base_rows)
    n = (r1 - r0) * t.row_len
    view = out[:n]
    real = min(r1, have)
    if real > r0:
        src.read_rows(t.name, r0, real, view[: (real - r0) * t.row_len], raw)
    for r in range(max(r0, have), r1):
        dst = view[(r - r0) * t.row_len : (r - r0 + 1) * t.row_len]
        if t.pad_row and r == t.base_rows:
            dst[:] = pads[(-1 if j is None else j, t.name)]
        else:
            plan.base.read_rows(t.name, r, r + 1, dst, raw)
    return view


def pad_rows(plan: Plan) -> dict[tuple[int, str], np.ndarray]:
    """MergeLM's [PAD] row for each model (-1 = base) and vocab tensor: torch's fp32 mean of the rows."""
    result = {}
    sources = [(-1, plan.base)] + list(enumerate(plan.finetuned))
    for t in plan.tensors:
        if not t.pad_row:
            continue
        for idx, src in sources:
            rows_in = t.base_rows
            acc = TorchColumnSum(rows_in, t.row_len)
            step = max(1, (1 << 20) // t.row_len)
            buf = np.empty(step * t.row_len, np.float32)
            raw = io_buffer(step * t.row_len * 4)
            for r0 in range(0, rows_in, step):
                r1 = min(rows_in, r0 + step)
                acc.add_rows(src.read_rows(t.name, r0, r1, buf, raw))
            result[(idx, t.name)] = acc.mean()
    return result


def negated_deltas(plan: Plan, j: int, t: TensorPlan, chunk_elements: int):
    """Yield (flat start index, base - model_j) over tensor t in chunks of whole rows (one buffer reused)."""
    step = max(1, chunk_elements // t.row_len)
    n = step * t.row_len
    b, f = np.empty(n, np.float32), np.empty(n, np.float32)
    raw = io_buffer(n * 4)
    for r0 in range(0, t.rows, step):
        r1 = min(t.rows, r0 + step)
        bb = read_model_rows(plan, None, t, r0, r1, b, raw, {})
        ff = read_model_rows(plan, j, t, r0, r1, f, raw, {})
        np.subtract(bb, ff, out=ff)
        yield r0 * t.row_len, ff
