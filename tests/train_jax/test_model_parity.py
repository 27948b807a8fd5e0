"""Logits parity of our Flax Mistral with transformers' MistralForCausalLM (torch fp32) on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.train_jax.hf_reference import hf_logits, save_hf_reference, tiny_hf_model
from train_jax import load_hf

CASES = {
    # name: (overrides, seq_len) — every case runs a sequence longer than the sliding window
    "gqa1_hd16": (dict(num_attention_heads=4, num_key_value_heads=4, head_dim=16, sliding_window=8), 24),
    "gqa2_hd128": (dict(num_attention_heads=4, num_key_value_heads=2, head_dim=128, sliding_window=16), 40),
    "gqa4_odd_vocab": (dict(num_attention_heads=8, num_key_value_heads=2, head_dim=16, vocab_size=997, sliding_window=6), 20),
    "tied_no_window": (dict(tie_word_embeddings=True, sliding_window=None, rope_theta=1e6), 16),
}


def _assert_close(ours: np.ndarray, ref: np.ndarray) -> None:
    tol = 1e-4 * np.abs(ref).max()
    err = np.abs(ours - ref).max()
    assert err <= tol, f"max |Δlogits| {err:.3e} > {tol:.3e}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_match_transformers(tmp_path, case):
    overrides, seq = CASES[case]
    ref_model = tiny_hf_model(seed=hash(case) % 1000, **overrides)
    save_hf_reference(ref_model, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf")
    rng = np.random.default_rng(0)
    ids = rng.integers(0, ref_model.config.vocab_size, size=(2, seq))
    _assert_close(np.asarray(ours(ids)), hf_logits(ref_model, ids))


def test_padded_batch_matches_transformers(tmp_path):
    ref_model = tiny_hf_model(seed=3, num_attention_heads=4, num_key_value_heads=1, sliding_window=8)
    save_hf_reference(ref_model, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf")
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 101, size=(3, 20))
    lengths = [20, 13, 5]
    # Right padding: positions are the plain range for real tokens.
    mask = np.array([[1] * n + [0] * (20 - n) for n in lengths])
    ref = hf_logits(ref_model, ids, attention_mask=mask)
    got = np.asarray(ours(ids, attention_mask=mask))
    for row, n in enumerate(lengths):
        _assert_close(got[row, :n], ref[row, :n])
    # Left padding with explicit positions (as batched generation uses).
    lmask = mask[:, ::-1].copy()
    pos = np.maximum(np.cumsum(lmask, axis=1) - 1, 0)
    ref = hf_logits(ref_model, ids, attention_mask=lmask, position_ids=pos)
    got = np.asarray(ours(ids, positions=pos, attention_mask=lmask))
    for row, n in enumerate(lengths):
        _assert_close(got[row, 20 - n :], ref[row, 20 - n :])


def test_numpy_and_jax_inputs_agree(tmp_path):
    import jax.numpy as jnp

    ref_model = tiny_hf_model(seed=5)
    save_hf_reference(ref_model, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf")
    ids = np.arange(12).reshape(1, 12)
    np.testing.assert_array_equal(np.asarray(ours(ids)), np.asarray(ours(jnp.asarray(ids, jnp.int32))))


def test_bf16_compute_kl_to_fp32_reference(tmp_path):
    import jax

    ref_model = tiny_hf_model(seed=7, sliding_window=8)
    save_hf_reference(ref_model, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf", dtype="float32", compute_dtype="bfloat16")
    ids = np.random.default_rng(2).integers(0, 101, size=(2, 24))
    ref = hf_logits(ref_model, ids)
    got = np.asarray(ours(ids))
    assert got.dtype == np.float32
    p = jax.nn.log_softmax(ref, axis=-1)
    q = jax.nn.log_softmax(got, axis=-1)
    kl = float(np.mean(np.sum(np.exp(p) * (p - q), axis=-1)))
    assert kl <= 1e-3, f"mean KL(torch fp32 ‖ ours bf16) = {kl:.2e} per token"


def test_fused_attention_matches_reference(tmp_path):
    """The fused path (jax.nn.dot_product_attention) against the plain XLA path, with segments and padding."""
    ref_model = tiny_hf_model(seed=11, sliding_window=6)
    save_hf_reference(ref_model, tmp_path / "hf")
    plain = load_hf(tmp_path / "hf", attention="xla")
    fused = load_hf(tmp_path / "hf", attention="fused")
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 101, size=(2, 18))
    seg = np.array([[1] * 7 + [2] * 11, [1] * 18])
    pos = np.array([list(range(7)) + list(range(11)), list(range(18))])
    mask = np.array([[1] * 18, [1] * 15 + [0] * 3])
    a = np.asarray(plain(ids, positions=pos, segment_ids=seg, attention_mask=mask))
    b = np.asarray(fused(ids, positions=pos, segment_ids=seg, attention_mask=mask))
    valid = mask.astype(bool)
    _assert_close(b[valid], a[valid])
