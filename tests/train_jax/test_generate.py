"""Our batched greedy generation is token-identical to transformers' greedy `generate`."""

from __future__ import annotations

import jax
import numpy as np
import torch

from tests.train_jax.hf_reference import save_hf_reference, tiny_hf_model
from train_jax import load_hf
from train_jax.generate import greedy_generate
from train_jax.sharding import make_mesh


def _hf_greedy(model, prompts, max_new, eos, pad):
    width = max(len(p) for p in prompts)
    ids = np.full((len(prompts), width), pad)
    mask = np.zeros_like(ids)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = p
        mask[r, width - len(p) :] = 1
    with torch.no_grad():
        out = model.generate(
            input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask), max_new_tokens=max_new,
            do_sample=False, eos_token_id=eos, pad_token_id=pad,
        )
    result = []
    for row in out[:, width:].tolist():
        result.append(row[: row.index(eos) + 1] if eos in row else row)
    return result


def test_greedy_matches_transformers_mixed_lengths_across_window(tmp_path):
    ref = tiny_hf_model(seed=21, vocab_size=64, sliding_window=12, num_attention_heads=4, num_key_value_heads=2)
    save_hf_reference(ref, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf")
    rng = np.random.default_rng(0)
    lengths = [3, 9, 17, 30, 5, 22]  # shorter and longer than the window of 12
    prompts = [rng.integers(3, 64, size=n).tolist() for n in lengths]
    eos = 7  # a frequent-enough token so some rows stop early
    want = _hf_greedy(ref, prompts, 20, eos, 0)
    assert any(len(w) < 20 for w in want), "fixture: some row must reach eos before max_new_tokens"
    got = greedy_generate(ours, prompts, 20, eos, 0, batch_size=4, buckets=(8, 16, 32))
    assert got == want
    mesh = make_mesh({"data": 1, "fsdp": 4, "tensor": 1}, devices=jax.devices()[:4])
    split = greedy_generate(load_hf(tmp_path / "hf", mesh=mesh), prompts, 20, eos, 0, batch_size=4,
                            buckets=(8, 16, 32), mesh=mesh)  # rows and KV cache split over 4 devices
    assert split == want
    for g in got:  # every row stops at its first eos: nothing (not even padding) is returned past it
        assert eos not in g[:-1], g
        assert len(g) == 20 or g[-1] == eos, g


def test_on_batch_reports_every_prompt_once(tmp_path):
    ref = tiny_hf_model(seed=4, vocab_size=50)
    save_hf_reference(ref, tmp_path / "hf")
    ours = load_hf(tmp_path / "hf")
    prompts = [[5, 6, 7], [8], [9, 10, 11, 12, 13], [14, 15]]
    seen = []
    out = greedy_generate(ours, prompts, 4, eos_token_id=2, batch_size=3, on_batch=lambda i, o: seen.extend(i))
    assert sorted(seen) == [0, 1, 2, 3]
    assert all(1 <= len(o) <= 4 for o in out)
