"""Blockwise cross-entropy: the loss never holds the [tokens × vocab] logits of a whole micro-batch.

Why: at 7B, 16 rows × 2048 tokens × 32000 vocab is 4.2 GB per float32 copy of the logits, and the unchunked loss
keeps several (logits, softmax, their gradient). Here the sequence axis is cut into blocks of `block_size`
positions (every row of the micro-batch at once, so the batch axis keeps its sharding); each block projects its
hidden states through the output head, takes logsumexp − target logit in float32, and (in the per-position
`blockwise_token_nll`) is wrapped in `jax.checkpoint`, so a backward pass recomputes that block's logits instead
of saving them. Peak extra memory is one block's logits ([rows, block_size, vocab] float32) and its gradient. The
head weight enters each block in its parameter dtype and is cast inside, so its gradient is accumulated across
blocks in that (float32) dtype.

Levanter's blockwise cross-entropy and MaxText's vocab tiling are the references; this one chunks tokens only
(vocab stays whole per block: 32000 columns are small next to the hidden matmul).

Training takes the summed loss through `blockwise_nll_sum`, whose gradient is computed in the forward pass
(the fused linear cross-entropy of Liger and Apple's CCE): each block's softmax is used once for the loss and
for (softmax − one-hot) · weight, which is multiplied into the hidden-state and head gradients there and then.
The backward pass only scales them by the incoming cotangent, so no block's logits or exponentials are ever
recomputed: the head costs three matmuls per token, as without blocks, not four.
"""

from __future__ import annotations

import functools

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


def _pad_blocks(hidden, targets, weights, block_size):
    """(hidden, targets, float32 weights) padded to whole blocks and cut into [n_blocks, rows, block, ...]."""
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

    return blocks(hidden), blocks(targets), blocks(w)


def _unblock(per_block: jax.Array, tokens: int) -> jax.Array:
    """[n_blocks, rows, block, ...] → [rows, tokens, ...]: the inverse of `_pad_blocks`, padding cut off."""
    n_blocks, rows, block = per_block.shape[:3]
    return jnp.moveaxis(per_block, 0, 1).reshape(rows, n_blocks * block, *per_block.shape[3:])[:, :tokens]


def _block_nll(x, w_c, contract, t, wt):
    """One block's (float32 logits, logsumexp, weighted NLL) with the head `w_c` already in the compute dtype."""
    logits = constrain(token_matmul(x, w_c, contract_w=contract, out_dtype=jnp.float32), ACT_VOCAB)
    logz = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, t[..., None], axis=-1)[..., 0]
    return logits, logz, (logz - picked) * wt


def blockwise_token_nll(
    hidden: jax.Array, weight: jax.Array, contract: int, targets: jax.Array, weights: jax.Array,
    block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
) -> jax.Array:
    """Per-position weighted negative log-likelihood [rows, tokens] in float32 (zero where `weights` is zero).

    hidden [rows, tokens, embed] (compute dtype), weight the head ([embed, vocab] or tied [vocab, embed]),
    targets int [rows, tokens], weights [rows, tokens]. A last block shorter than `block_size` is padded with
    zero-weight positions that are cut off again."""
    xs = _pad_blocks(hidden, targets, weights, block_size)
    compute = hidden.dtype

    @jax.checkpoint
    def one_block(x, t, wt):
        return _block_nll(x, weight.astype(compute), contract, t, wt)[2]

    _, per_block = jax.lax.scan(lambda c, blk: (c, one_block(*blk)), None, xs)
    return _unblock(per_block, hidden.shape[1])


def _nll_and_grads(hidden, weight, contract, targets, weights, block_size):
    """(Σ weighted NLL, its gradient wrt hidden, wrt the head weight), one pass over the blocks."""
    compute = hidden.dtype
    w_c = weight.astype(compute)
    xs = _pad_blocks(hidden, targets, weights, block_size)

    def one_block(carry, blk):
        total, d_weight = carry
        x, t, wt = blk
        logits, logz, nll = _block_nll(x, w_c, contract, t, wt)
        total = total + jnp.sum(nll)
        onehot = jax.nn.one_hot(t, logits.shape[-1], dtype=jnp.float32)
        d_logits = ((jnp.exp(logits - logz[..., None]) - onehot) * wt[..., None]).astype(compute)
        d_x = token_matmul(d_logits, w_c, contract_w=1 - contract, out_dtype=jnp.float32).astype(compute)
        flat_x, flat_d = x.reshape(-1, x.shape[-1]), d_logits.reshape(-1, d_logits.shape[-1])
        pair = (flat_x, flat_d) if contract == 0 else (flat_d, flat_x)  # [embed, vocab] or tied [vocab, embed]
        d_weight = d_weight + jax.lax.dot_general(*pair, (((0,), (0,)), ((), ())),
                                                  preferred_element_type=jnp.float32)
        return (total, d_weight), d_x

    init = (jnp.zeros((), jnp.float32), jnp.zeros(weight.shape, jnp.float32))  # head grad in float32
    (total, d_weight), d_blocks = jax.lax.scan(one_block, init, xs)
    return total, _unblock(d_blocks, hidden.shape[1]), d_weight.astype(weight.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 5))
def blockwise_nll_sum(
    hidden: jax.Array, weight: jax.Array, contract: int, targets: jax.Array, weights: jax.Array,
    block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
) -> jax.Array:
    """Σ of `blockwise_token_nll` (a float32 scalar), differentiable in hidden and weight with the gradient
    computed in the forward pass (module docstring): the training loss. Residuals are one hidden-sized and one
    head-sized array, the same as the gradients they become."""
    return jnp.sum(blockwise_token_nll(hidden, weight, contract, targets, weights, block_size))


def _nll_sum_fwd(hidden, weight, contract, targets, weights, block_size):
    total, d_hidden, d_weight = _nll_and_grads(hidden, weight, contract, targets, weights, block_size)
    return total, (d_hidden, d_weight)


def _nll_sum_bwd(contract, block_size, residuals, g):
    d_hidden, d_weight = residuals
    # targets and weights are data: no cotangent
    return d_hidden * g.astype(d_hidden.dtype), d_weight * g.astype(d_weight.dtype), None, None


blockwise_nll_sum.defvjp(_nll_sum_fwd, _nll_sum_bwd)


def _grouped(x: jax.Array, group_rows: int) -> jax.Array:
    """[rows, tokens, ...] → [rows / group_rows, group_rows × tokens, ...]: consecutive rows as one gather group."""
    if group_rows < 1 or x.shape[0] % group_rows:
        raise ValueError(f"group_rows is {group_rows}; expected a divisor of the {x.shape[0]} rows")
    return x.reshape(x.shape[0] // group_rows, group_rows * x.shape[1], *x.shape[2:])


def _gather_targets(hidden, targets, weights, capacity, group_rows: int = 1):
    """(idx [groups, capacity], hidden, targets, weights) at each group's first `capacity` positions of non-zero
    weight; a group is `group_rows` consecutive rows (1: each row its own).

    Per group of consecutive rows, so the gathered arrays keep the batch's row sharding when a group lies within one
    device's rows: every device gathers from its own rows only. Pooling a device's rows lets one capacity cover
    their total, which varies far less than one row's count."""
    if capacity < 1:
        raise ValueError(f"capacity is {capacity}; expected an integer ≥ 1")
    hidden, targets = _grouped(hidden, group_rows), _grouped(jnp.asarray(targets), group_rows)
    w_all = _grouped(jnp.asarray(weights).astype(jnp.float32), group_rows)

    def one_row(x, t, w):
        (idx,) = jnp.nonzero(w != 0, size=capacity, fill_value=0)
        valid = jnp.arange(capacity) < jnp.count_nonzero(w)
        return idx, x[idx], t[idx], jnp.where(valid, w[idx], 0.0)

    return jax.vmap(one_row)(hidden, jnp.asarray(targets), w_all)


def gathered_token_nll(
    hidden: jax.Array, weight: jax.Array, contract: int, targets: jax.Array, weights: jax.Array, capacity: int,
    block_size: int = DEFAULT_LOSS_BLOCK_SIZE, group_rows: int = 1,
) -> jax.Array:
    """`blockwise_token_nll` with the output head applied only at (at most `capacity` per row) positions whose
    weight is non-zero, gathered first; the result is scattered back to [rows, tokens] (zero elsewhere).

    Why: with the assistant-only loss a packed row's targets are a few percent of its positions (about 5% on the
    demo corpora), and for a small model the 32000-column head is most of the step's FLOPs, so projecting only the
    targets makes a CPU step several times faster. Equal to the dense loss whenever the targets fit; positions past
    `capacity` in a row (a group of `group_rows` rows) are dropped, which `targets_dropped` (train_jax.train)
    counts and the trainer refuses."""
    rows, tokens = hidden.shape[:2]
    idx, x, t, w = _gather_targets(hidden, targets, weights, capacity, group_rows)
    nll = blockwise_token_nll(x, weight, contract, t, w, block_size)
    grouped = jax.vmap(lambda i, v: jnp.zeros(group_rows * tokens, jnp.float32).at[i].add(v))(idx, nll)
    return grouped.reshape(rows, tokens)


def targets_past_capacity(weights: jax.Array, capacity: int, group_rows: int = 1) -> jax.Array:
    """How many target positions (non-zero weight) lie past `capacity` in their group of `group_rows` consecutive
    rows (along the second-to-last axis), summed over all groups."""
    w = jnp.asarray(weights) != 0
    per_row = jnp.sum(w, axis=-1)
    per_group = jnp.sum(per_row.reshape(*per_row.shape[:-1], -1, group_rows), axis=-1)
    return jnp.sum(jnp.maximum(per_group - capacity, 0))


def _hidden_and_head(model: Mistral, batch: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array, int]:
    hidden = model.hidden_states(batch["input_ids"], positions=batch["positions"], segment_ids=batch["segment_ids"])
    weight, contract = head_weight(model)
    return hidden.astype(to_jnp_dtype(model.config.dtype)), weight, contract


def model_token_nll(model: Mistral, batch: dict[str, jax.Array], block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
                    target_capacity: int = 0, group_rows: int = 1) -> jax.Array:
    """The model's per-position weighted NLL of one batch [rows, tokens] (see `blockwise_token_nll`);
    `target_capacity` > 0 applies the head at the weighted positions only (`gathered_token_nll`)."""
    hidden, weight, contract = _hidden_and_head(model, batch)
    if target_capacity > 0:
        return gathered_token_nll(hidden, weight, contract, batch["targets"], batch["weights"], target_capacity,
                                  block_size, group_rows)
    return blockwise_token_nll(hidden, weight, contract, batch["targets"], batch["weights"], block_size)


def model_nll_sum(model: Mistral, batch: dict[str, jax.Array], block_size: int = DEFAULT_LOSS_BLOCK_SIZE,
                  target_capacity: int = 0, group_rows: int = 1) -> jax.Array:
    """Σ of `model_token_nll` (float32 scalar), differentiated through `blockwise_nll_sum`: the training loss."""
    hidden, weight, contract = _hidden_and_head(model, batch)
    targets, weights = batch["targets"], batch["weights"]
    if target_capacity > 0:
        _, hidden, targets, weights = _gather_targets(hidden, targets, weights, target_capacity, group_rows)
    return blockwise_nll_sum(hidden, weight, contract, targets, weights, block_size)


__all__ = ["DEFAULT_LOSS_BLOCK_SIZE", "blockwise_nll_sum", "blockwise_token_nll", "gathered_token_nll",
           "head_weight", "model_nll_sum", "model_token_nll", "targets_past_capacity"]
