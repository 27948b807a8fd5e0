"""Batched greedy generation with a KV cache, jitted over fixed length buckets.

Prompts are left-padded to a length bucket and batched at a fixed batch size, so a whole evaluation compiles a
handful of programs instead of one per prompt. The cache holds every position; the attention mask applies the
sliding window by position, so prompts longer than the window generate exactly as transformers does. Decoding
runs in one `lax.while_loop` that stops when every row has produced eos.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from train_jax.model import Mistral, to_jnp_dtype
from train_jax.sharding import activation_sharding, rows_sharding

DEFAULT_BUCKETS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


def bucket_for(length: int, buckets: Sequence[int]) -> int:
    for b in buckets:
        if length <= b:
            return b
    raise ValueError(f"prompt of {length} tokens exceeds the largest bucket {max(buckets)}")


@functools.partial(jax.jit, static_argnames=("graphdef", "max_new_tokens", "mesh"))
def _generate_batch(graphdef, state, ids, valid, eos_token_id, pad_token_id, max_new_tokens: int, mesh=None):
    """Greedy tokens [rows, max_new_tokens]; with `mesh`, the activations (the model's logical constraints) and the
    KV cache are split by rows like the prompts (`rows_sharding`): data-parallel decoding over the batch axes."""
    if mesh is None:
        return _greedy(graphdef, state, ids, valid, eos_token_id, pad_token_id, max_new_tokens, None)
    with activation_sharding(mesh):
        return _greedy(graphdef, state, ids, valid, eos_token_id, pad_token_id, max_new_tokens, mesh)


def _greedy(graphdef, state, ids, valid, eos_token_id, pad_token_id, max_new_tokens: int, mesh):
    model: Mistral = nnx.merge(graphdef, state)
    cfg = model.config
    b, p = ids.shape
    s = p + max_new_tokens
    dtype = to_jnp_dtype(cfg.dtype)
    positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0).astype(jnp.int32)
    key_pos = jnp.zeros((b, s), jnp.int32).at[:, :p].set(positions)
    key_valid = jnp.zeros((b, s), bool).at[:, :p].set(valid.astype(bool))
    shape = (b, s, cfg.num_key_value_heads, cfg.head_dim)
    cache = [(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(cfg.num_hidden_layers)]
    if mesh is not None:
        split = rows_sharding(mesh, shape)
        cache = jax.lax.with_sharding_constraint(cache, [(split, split)] * len(cache))
    logits, cache = model.decode(ids, positions, cache, 0, key_pos, key_valid, last_only=True)
    first = jnp.argmax(logits[:, -1, :], axis=-1).astype(jnp.int32)
    out = jnp.full((b, max_new_tokens), pad_token_id, jnp.int32).at[:, 0].set(first)
    done = first == eos_token_id
    next_pos = positions[:, -1] + 1

    def cond(carry):
        t, _, _, _, _, done, _ = carry
        return (t < max_new_tokens) & ~jnp.all(done)

    def body(carry):
        t, token, cache, key_pos, key_valid, done, out = carry
        slot = p + t - 1
        pos = next_pos + t - 1
        key_pos = jax.lax.dynamic_update_slice_in_dim(key_pos, pos[:, None], slot, axis=1)
        key_valid = jax.lax.dynamic_update_slice_in_dim(key_valid, jnp.ones((b, 1), bool), slot, axis=1)
        logits, cache = model.decode(token[:, None], pos[:, None], cache, slot, key_pos, key_valid)
        nxt = jnp.argmax(logits[:, -1, :], axis=-1).astype(jnp.int32)
        nxt = jnp.where(done, pad_token_id, nxt)
        out = jax.lax.dynamic_update_slice_in_dim(out, nxt[:, None], t, axis=1)
        done = done | (nxt == eos_token_id)
        return t + 1, nxt, cache, key_pos, key_valid, done, out

    carry = (jnp.int32(1), first, cache, key_pos, key_valid, done, out)
    *_, out = jax.lax.while_loop(cond, body, carry)
    return out


def greedy_generate(
    model: Mistral,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    eos_token_id: int,
    pad_token_id: int = 0,
    *,
    batch_size: int = 8,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    on_batch: Callable[[list[int], list[list[int]]], None] | None = None,
    mesh: Mesh | None = None,
) -> list[list[int]]:
    """Greedy continuations of token-id prompts: new tokens up to and including the first eos.

    Prompts are sorted by length and cut into batches of `batch_size` (the last batch padded with dummy rows),
    each left-padded to its length bucket, so programs are reused across batches. `on_batch(indices, outputs)`
    is called after each batch (for incremental writing and resume). With `mesh` (the one the model is sharded
    over) each batch's rows are split over its batch axes: data-parallel decoding, a 1/n share of the KV cache.
    """
    if max_new_tokens < 1:
        raise ValueError("max_new_tokens must be ≥ 1")
    graphdef, state = nnx.split(model)
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    results: list[list[int]] = [[] for _ in prompts]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if any(len(prompts[i]) == 0 for i in idx):
            raise ValueError("empty prompt: every prompt needs at least one token (e.g. <s>)")
        p = bucket_for(max(len(prompts[i]) for i in idx), buckets)
        ids = np.full((batch_size, p), pad_token_id, np.int32)
        valid = np.zeros((batch_size, p), np.int32)
        for row, i in enumerate(idx):
            toks = list(prompts[i])
            ids[row, p - len(toks) :] = toks
            valid[row, p - len(toks) :] = 1
        for row in range(len(idx), batch_size):  # dummy rows: one token, never read
            ids[row, -1] = prompts[idx[0]][-1]
            valid[row, -1] = 1
        if mesh is not None:
            ids, valid = (jax.device_put(a, rows_sharding(mesh, a.shape)) for a in (ids, valid))
        out = np.asarray(
            _generate_batch(graphdef, state, ids, valid, eos_token_id, pad_token_id, max_new_tokens=max_new_tokens,
                            mesh=mesh)
        )
        batch_out = []
        for row, i in enumerate(idx):
            toks = out[row].tolist()
            if eos_token_id in toks:
                toks = toks[: toks.index(eos_token_id) + 1]
            results[i] = toks
            batch_out.append(toks)
        if on_batch is not None:
            on_batch(idx, batch_out)
    return results
