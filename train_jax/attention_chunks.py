"""Query-chunked XLA attention for training: the [T, S] fp32 scores exist one block of queries at a time.

Why: the XLA attention path (`attention: xla`, and `fused` on a CPU target) materialises the fp32 scores
[rows, kv_heads, group·T, S] and keeps several copies alive through the backward pass (scores, probabilities,
their gradients: 4-6 × 64 MiB per layer for the tiny config's 4 rows × 1024 on each device, the largest part of
its step's working set). Cut into query blocks under `jax.checkpoint`, each block's scores are recomputed in the
backward pass instead of kept, so at most one block's scores and their gradients are alive. Each query's
softmax row is independent of the other queries, so the result is the same computation, block by block.

The block size is a training choice (`attention_query_block` in the train config, 0 = whole): the train step
sets it with `query_chunks(block)` while it is traced, and the model's XLA attention calls
`by_query_chunks(reference_attention, ...)`, which reads it. Generation (no context) is unaffected.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from train_jax.trace_blocks import TraceBlockSize

query_chunks = TraceBlockSize("attention_query_block")  # `with query_chunks(block):` while the step is traced


def by_query_chunks(attend: Callable, q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array) -> jax.Array:
    """`attend(q, k, v, mask)` (q [B, T, N, D], mask [B, 1, T, S]) one query block at a time when a block size
    is set, it divides T and is smaller than T; else in one call."""
    b, t, n, d = q.shape
    nb = query_chunks.blocks_for(t)
    if nb == 1:
        return attend(q, k, v, mask)
    block = t // nb
    q_blocks = jnp.moveaxis(q.reshape(b, nb, block, n, d), 1, 0)  # [nb, B, block, N, D]
    m_blocks = jnp.moveaxis(mask.reshape(b, mask.shape[1], nb, block, mask.shape[-1]), 2, 0)  # [nb, B, 1, block, S]
    one = jax.checkpoint(lambda qb, mb: attend(qb, k, v, mb))
    out = jax.lax.map(lambda xs: one(*xs), (q_blocks, m_blocks))
    return jnp.moveaxis(out, 0, 1).reshape(b, t, n, d)


__all__ = ["query_chunks", "by_query_chunks"]
