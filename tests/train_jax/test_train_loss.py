"""Blockwise cross-entropy equals the unchunked loss (values and gradients, fp32) for tied and untied heads and
a block size that does not divide the token count; bad block sizes are refused."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.train_jax.test_sharding import SMALL
from train_jax.loss import blockwise_token_nll
from train_jax.model import init_model
from train_jax.train import per_token_nll, split_model, token_nll


def _unchunked_nll(graphdef, params, batch):
    """The reference: whole-batch logits, logsumexp − target logit."""
    model = nnx.merge(graphdef, params)
    logits = model(batch["input_ids"], positions=batch["positions"], segment_ids=batch["segment_ids"])
    logz = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, batch["targets"][..., None], axis=-1)[..., 0]
    w = batch["weights"].astype(jnp.float32)
    return jnp.sum((logz - picked) * w)


def _batch(rows=3, seq=21, vocab=128, seed=0):
    rng = np.random.default_rng(seed)
    weights = (rng.random((rows, seq)) < 0.6).astype(np.float32)  # an assistant-only style mask
    return {
        "input_ids": rng.integers(0, vocab, (rows, seq)).astype(np.int32),
        "targets": rng.integers(0, vocab, (rows, seq)).astype(np.int32),
        "weights": weights,
        "segment_ids": np.ones((rows, seq), np.int32),
        "positions": np.tile(np.arange(seq, dtype=np.int32), (rows, 1)),
    }


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("block", [5, 8, 64])  # 21 tokens: 5 and 8 leave a short last block; 64 is one block
def test_blockwise_loss_and_grads_equal_unchunked(tied, block):
    cfg = SMALL.replace(tie_word_embeddings=tied)
    graphdef, _, params = split_model(init_model(cfg, seed=4))
    batch = _batch()
    ref_loss, ref_grads = jax.jit(jax.value_and_grad(lambda p: _unchunked_nll(graphdef, p, batch)))(params)
    loss, grads = jax.jit(jax.value_and_grad(lambda p: token_nll(graphdef, p, batch, block)[0]))(params)
    assert _rel(loss, ref_loss) <= 1e-6
    flat_ref = dict(jax.tree_util.tree_flatten_with_path(ref_grads)[0])
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
        assert _rel(g, flat_ref[path]) <= 1e-6, jax.tree_util.keystr(path)
    per_tok = jax.jit(lambda p: per_token_nll(graphdef, p, batch, block))(params)
    assert per_tok.shape == batch["weights"].shape
    assert np.all(np.asarray(per_tok)[batch["weights"] == 0] == 0)


def test_blockwise_loss_refuses_a_bad_block_size():
    h = jnp.zeros((1, 4, 8))
    with pytest.raises(ValueError, match="block_size"):
        blockwise_token_nll(h, jnp.zeros((8, 16)), 0, jnp.zeros((1, 4), jnp.int32), jnp.ones((1, 4)), 0)


def test_blockwise_loss_does_not_hold_all_logits():
    """The compiled loss+grad of 8 × 2048 tokens × vocab 32000 (1 GiB per fp32 logits copy) needs far less
    temporary memory than one copy of the logits."""
    rows, seq, embed, vocab = 8, 2048, 64, 32000
    hidden = jax.ShapeDtypeStruct((rows, seq, embed), jnp.float32)
    weight = jax.ShapeDtypeStruct((embed, vocab), jnp.float32)
    t = jax.ShapeDtypeStruct((rows, seq), jnp.int32)
    w = jax.ShapeDtypeStruct((rows, seq), jnp.float32)

    def loss(h, wt, tg, wg):
        return jnp.sum(blockwise_token_nll(h, wt, 0, tg, wg, 256))

    compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(hidden, weight, t, w).compile()
    temp = compiled.memory_analysis().temp_size_in_bytes
    assert temp < rows * seq * vocab * 4 / 3, temp
