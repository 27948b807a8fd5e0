"""Splash attention (Pallas, interpret mode on CPU) against the project's XLA `reference_attention`: forward and
gradients, GQA, two packed documents per row, a window shorter than the row, fp32 and bf16."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from train_jax.attention import folded_segment_ids, splash_attention
from train_jax.model import attention_mask_from, reference_attention

T, N, K, D = 256, 4, 2, 64  # GQA: two query heads per KV head; two 128-blocks per row


def _inputs(dtype):
    ks = jax.random.split(jax.random.key(0), 4)
    q = jax.random.normal(ks[0], (2, T, N, D), jnp.float32).astype(dtype)
    k = jax.random.normal(ks[1], (2, T, K, D), jnp.float32).astype(dtype)
    v = jax.random.normal(ks[2], (2, T, K, D), jnp.float32).astype(dtype)
    cot = jax.random.normal(ks[3], (2, T, N, D), jnp.float32)
    # row 0: one document; row 1: two packed documents (positions restart at the boundary, 100 is mid-block)
    seg = np.zeros((2, T), np.int32)
    seg[1, 100:] = 1
    pos = np.stack([np.arange(T), np.concatenate([np.arange(100), np.arange(T - 100)])]).astype(np.int32)
    return q, k, v, cot, jnp.asarray(seg), jnp.asarray(pos)


def _rel(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 2e-2)])
@pytest.mark.parametrize("window", [None, 80])
def test_splash_matches_reference_forward_and_grads(dtype, tol, window):
    q, k, v, cot, seg, pos = _inputs(dtype)
    valid = jnp.ones(seg.shape, bool)
    mask = attention_mask_from(pos, pos, seg, seg, valid, window)
    fseg = folded_segment_ids(seg, valid)

    def loss(fn):
        return lambda q, k, v: jnp.sum(fn(q, k, v).astype(jnp.float32) * cot)

    def ref(q, k, v):
        return reference_attention(q, k, v, mask)

    def ker(q, k, v):
        return splash_attention(q, k, v, fseg, window, interpret=True, block=128)

    np.testing.assert_array_less(_rel(ker(q, k, v), ref(q, k, v)), tol)
    g_ref = jax.grad(loss(ref), argnums=(0, 1, 2))(q, k, v)
    g_ker = jax.grad(loss(ker), argnums=(0, 1, 2))(q, k, v)
    for name, a, b in zip("qkv", g_ker, g_ref, strict=True):
        assert _rel(a, b) <= tol, f"d{name}: relative error {_rel(a, b):.2e} > {tol}"


def test_splash_rejects_sequence_not_multiple_of_block():
    q = jnp.zeros((1, 100, 2, 64))
    k = jnp.zeros((1, 100, 1, 64))
    with pytest.raises(ValueError, match="multiple of a block"):
        splash_attention(q, k, k, jnp.zeros((1, 100), jnp.int32), None, interpret=True)
