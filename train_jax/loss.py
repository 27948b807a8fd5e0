"""Blockwise cross-entropy: the loss never holds the [tokens × vocab] logits of a whole micro-batch.

Why: at 7B, 16 rows × 2048 tokens × 32000 vocab is 4.2 GB per float32 copy of the logits, and the unchunked loss
keeps several (logits, softmax, their gradient). Here the sequence axis is cut into blocks of `block_size`
positions (every row of the micro-batch at once, so the batch axis keeps its sharding); each block projects its
hidden states through the output head, takes logsumexp − target logit in float32, and is wrapped in
`jax.checkpoint`, so the backward pass recomputes that block's logits instead of saving them. Peak extra memory
is one block's logits ([rows, block_size, vocab] float32) and its gradient. The head weight enters each block in
its parameter dtype and is cast inside, so its gradient is accumulated across blocks in that (float32) dtype.

Levanter's blockwise cross-entropy and MaxText's vocab tiling are the references; this one chunks tokens only
(vocab stays whole per block: 32000 columns are small next to the hidden matmul).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from train_jax.model import ACT_VOCAB, Mistral, to_jnp_dtype, token_matmul
from train_jax.sharding import constrain

DEFAULT_LOSS_BLOCK_SIZE = 512  # sequence positions per block (see bench/loss_memory.py for the measurement)


def head_weight(model: Mistral) -> tuple[jax.Array, int]:
    """(output-head weight in its parameter dtype, the axis of it that contracts with the hidden size)."""
    if model.config.tie_word_embeddings:
        return model.embed_tokens.embedding[...], 1  # [vocab, embed]
    return model.lm_head.kernel[...], 0  # [embed, vocab]


def blockwise_token_nll(
    hidden: jax.Array, weight: jax.Array, contract: int, targets: jax.Array, weights: jax.Array,
    block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
) -> jax.Array:
    """Per-position weighted negative log-likelihood [rows, tokens] in float32 (zero where `weights` is zero).

    hidden [rows, tokens, embed] (compute dtype), weight the head ([embed, vocab] or tied [vocab, embed]),
    targets int [rows, tokens], weights [rows, tokens]. A last block shorter than `block_size` is padded with
    zero-weight positions that are cut off again."""
    if block_size < 1:
        raise ValueError(f"block_size is {block_size}; expected an integer ≥ 1")
    rows, tokens, _ = hidden.shape
    block = min(block_size, tokens)
    n_blocks = -(-tokens // block)
    pad = n_blocks * block - tokens
    w = weights.astype(jnp.float32)
    if pad:
        hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
        targets = jnp.pad(targets, ((0, 0), (0, pad)))
        w = jnp.pad(w, ((0, 0), (0, pad)))

    def blocks(a):  # [rows, n_blocks * block, ...] → [n_blocks, rows, block, ...]
        return jnp.moveaxis(a.reshape(rows, n_blocks, block, *a.shape[2:]), 1, 0)

    compute = hidden.dtype

    @jax.checkpoint
    def one_block(x, t, wt):
        logits = token_matmul(x, weight.astype(compute), contract_w=contract, out_dtype=jnp.float32)
        logits = constrain(logits, ACT_VOCAB)
        logz = jax.nn.logsumexp(logits, axis=-1)
        picked = jnp.take_along_axis(logits, t[..., None], axis=-1)[..., 0]
        return (logz - picked) * wt

    if n_blocks == 1:
        nll = one_block(hidden, targets, w)
    else:
        _, per_block = jax.lax.scan(lambda c, xs: (c, one_block(*xs)), None,
                                    (blocks(hidden), blocks(targets), blocks(w)))
        nll = jnp.moveaxis(per_block, 0, 1).reshape(rows, n_blocks * block)
    return nll[:, :tokens]


def gathered_token_nll(
    hidden: jax.Array, weight: jax.Array, contract: int, targets: jax.Array, weights: jax.Array, capacity: int,
    block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
) -> jax.Array:
    """`blockwise_token_nll` with the output head applied only at the (at most `capacity`) positions whose weight
    is non-zero, gathered first; the result is scattered back to [rows, tokens] (zero elsewhere).

    Why: with the assistant-only loss a packed row's targets are a few percent of its positions (about 5% on the
    demo corpora), and for a small model the 32000-column head is most of the step's FLOPs, so projecting only the
    targets makes a CPU step several times faster. Equal to the dense loss whenever the targets fit; positions past
    `capacity` are dropped, which `targets_dropped` (train_jax.train) counts and the trainer refuses."""
    if capacity < 1:
        raise ValueError(f"capacity is {capacity}; expected an integer ≥ 1")
    rows, tokens, embed = hidden.shape
    flat_w = jnp.asarray(weights).reshape(rows * tokens).astype(jnp.float32)
    (idx,) = jnp.nonzero(flat_w != 0, size=capacity, fill_value=0)
    valid = jnp.arange(capacity) < jnp.count_nonzero(flat_w)
    x = hidden.reshape(rows * tokens, embed)[idx][None]
    t = jnp.asarray(targets).reshape(rows * tokens)[idx][None]
    w = jnp.where(valid, flat_w[idx], 0.0)[None]
    nll = blockwise_token_nll(x, weight, contract, t, w, block_size)[0]
    return jnp.zeros(rows * tokens, jnp.float32).at[idx].add(nll).reshape(rows, tokens)


def model_token_nll(model: Mistral, batch: dict[str, jax.Array], block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
                    target_capacity: int = 0) -> jax.Array:
    """The model's per-position weighted NLL of one batch [rows, tokens] (see `blockwise_token_nll`);
    `target_capacity` > 0 applies the head at the weighted positions only (`gathered_token_nll`)."""
    hidden = model.hidden_states(batch["input_ids"], positions=batch["positions"], segment_ids=batch["segment_ids"])
    weight, contract = head_weight(model)
    hidden = hidden.astype(to_jnp_dtype(model.config.dtype))
    if target_capacity > 0:
        return gathered_token_nll(hidden, weight, contract, batch["targets"], batch["weights"], target_capacity,
                                  block_size)
    return blockwise_token_nll(hidden, weight, contract, batch["targets"], batch["weights"], block_size)


__all__ = ["DEFAULT_LOSS_BLOCK_SIZE", "blockwise_token_nll", "gathered_token_nll", "model_token_nll", "head_weight"]
