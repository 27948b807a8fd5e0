"""Position-chunked MLP for training: the [rows, T, intermediate] SwiGLU activations exist one block at a time.

Why: under remat the backward pass of a layer recomputes its forward, and the MLP is its largest working set:
gate, up, silu(gate)·up and their gradients are each [rows, T, intermediate] (at 7B, 16 rows × 2048 × 14336 bf16
is 896 MiB per buffer per device, 4–5 of them alive at the layer's backward; the compiled v6e-8 step's peak).
Each position's MLP is independent of the others, so the same computation runs `block` positions at a time
inside `jax.checkpoint`: the backward pass recomputes one block's activations instead of keeping all of them.

The weights enter the block loop once per layer, gathered (FSDP shards joined; tensor-parallel shards kept) and
in float32, so the loop does no collective per block and the weight gradients are summed over the blocks in
float32 (then rounded once, as a single matmul's output would be). Each block casts them to the compute dtype.

The block size is a training choice (`mlp_block_size` in the train config, 0 = whole): the train step sets it
with `mlp_chunks(block)` while it is traced; generation is unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from train_jax.trace_blocks import TraceBlockSize

mlp_chunks = TraceBlockSize("mlp_block_size")  # `with mlp_chunks(block):` while the train step is traced
chunks_for = mlp_chunks.blocks_for


def by_position_chunks(fn: Callable[..., jax.Array], x: jax.Array, weights: Sequence[jax.Array]) -> jax.Array:
    """fn(x_block [B, block, E], *weights) → [B, block, E'] over the position blocks of x [B, T, E], each block
    under `jax.checkpoint`, weights float32 loop invariants (see the module docstring). One call when whole."""
    b, t = x.shape[:2]
    n = chunks_for(t)
    if n == 1:
        return fn(x, *weights)
    block = t // n
    blocks = jnp.moveaxis(x.reshape(b, n, block, *x.shape[2:]), 1, 0)  # [n, B, block, E]
    dtypes = [w.dtype for w in weights]
    w32 = [w.astype(jnp.float32) for w in weights]
    one = jax.checkpoint(lambda xb, ws: fn(xb, *[w.astype(d) for w, d in zip(ws, dtypes, strict=True)]))
    out = jax.lax.map(lambda xb: one(xb, w32), blocks)
    return jnp.moveaxis(out, 0, 1).reshape(b, t, *out.shape[3:])


__all__ = ["mlp_chunks", "chunks_for", "by_position_chunks"]
