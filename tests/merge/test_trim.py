"""TIES's exact-k trim, densities as written, dtype/out_dtype, filter lists, and dare_ties against NumPy.

Regression cases of issue 14: TIES kept more than k deltas when |delta| ties the cut-off (+20 of 2,560 in a
bf16 tensor; 0.648 / 0.325 at density 0.5 / 0.2 on a simulated 2048 x 2048 bf16 fine-tune), density 0.2 became
drop_rate 0.8 and kept 511 of 2,560, density * n < 1 kept nothing, `rescale` was silently ignored for ties,
`dtype` was read as the output dtype, and filter lists crashed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from merge.api import run_merge
from merge.config import from_dict
from merge.errors import MergeError
from merge.methods.magnitude_trim import exact_k_cut, keep_count
from merge.rng import philox_key

from .helpers import load_tensors, make_model_dir

EMBED = "model.embed_tokens.weight"


@pytest.fixture(scope="module")
def vocab40(tmp_path_factory):
    """bf16 base and fine-tune whose embedding has 40 x 64 = 2,560 elements, as in the issue."""
    root = tmp_path_factory.mktemp("trim")
    base = make_model_dir(root / "base", seed=10, vocab_size=40)
    ft = make_model_dir(root / "ft", seed=11, like=base, vocab_size=40)
    return base, ft


def _merge(tmp_path, name, recipe, **kw):
    out = tmp_path / name
    run_merge(from_dict(recipe), out, progress=False, log=lambda *_: None, **kw)
    return out


def _kept(out, tensor):
    report = json.loads((out / "merge_report.json").read_text())
    row = next(r for r in report["tensors"] if r["name"] == tensor)
    numel = int(np.prod(row["shape"]))
    return [round(m["kept_fraction"] * numel) for m in row["models"]]


def _bits(out):
    return {k: v.view(torch.int16).numpy() if v.dtype == torch.bfloat16 else v.numpy()
            for k, v in load_file(str(out / "model.safetensors")).items()}


def test_exact_k_cut_is_chunking_independent_and_breaks_ties_by_index():
    rng = np.random.default_rng(0)
    x = rng.choice(np.float32([-0.5, -0.25, 0.0, 0.25, 0.5, 1.0]), size=1000)  # heavy ties everywhere
    for k in (1, 7, 333, 500, 999):
        cuts = set()
        for step in (1, 13, 250, 1000):
            cuts.add(exact_k_cut(lambda s=step: ((i, x[i:i + s]) for i in range(0, x.size, s)), x.size, k))
        assert len(cuts) == 1, (k, cuts)
        cut = cuts.pop()
        bits = np.abs(x).view(np.uint32)
        idx = np.arange(x.size)
        keep = (bits > cut.bits) | ((bits == cut.bits) & (idx < cut.before))
        assert keep.sum() == k
        order = np.lexsort((idx, -np.abs(x)))  # largest first, lower index first among equals
        assert np.array_equal(np.flatnonzero(keep), np.sort(order[:k]))


def test_keep_count_is_mergekits_k():
    assert keep_count(0.2, 2560) == 512  # not 511 (the old density -> drop_rate -> density round trip)
    assert keep_count(0.01, 32) == 1  # density * n < 1 still keeps one
    assert keep_count(0.0, 32) == 0 and keep_count(1.0, 32) == 32
    for d in (0.1, 0.2, 0.45):
        assert keep_count(d, 2560) == int(d * 2560)


def test_ties_keeps_exactly_k_with_ties_at_the_cut(vocab40, tmp_path):
    base, ft = vocab40
    B, F = load_tensors(base), load_tensors(ft)
    d = (F[EMBED] - B[EMBED]).reshape(-1)
    k = 512
    kth = np.sort(np.abs(d))[::-1][k - 1]
    # The old rule (keep every |delta| >= the k-th) kept 512 + 16 here (+20 in the fixture).
    assert np.count_nonzero(np.abs(d) >= kth) == k + 16, "fixture must have ties at the cut-off"
    recipe = {"merge_method": "ties", "base_model": str(base),
              "models": [{"model": str(ft), "parameters": {"weight": 1.0, "density": 0.2}}]}
    outs = [_merge(tmp_path, f"t{i}", {**recipe, "chunk_elements": ce}, threads=th)
            for i, (ce, th) in enumerate([(64, 1), (192, 3), (1 << 20, 2)])]
    assert _kept(outs[0], EMBED) == [512]
    ref = _bits(outs[0])
    for out in outs[1:]:  # same bytes for any chunk size and thread count
        assert all(np.array_equal(ref[n], v) for n, v in _bits(out).items())
    order = np.lexsort((np.arange(d.size), -np.abs(d)))
    keep = np.zeros(d.size, bool)
    keep[order[:k]] = True
    raw_b = load_file(str(base / "model.safetensors"))[EMBED].view(torch.int16).numpy().reshape(-1)
    raw_f = load_file(str(ft / "model.safetensors"))[EMBED].view(torch.int16).numpy().reshape(-1)
    assert np.array_equal(ref[EMBED].reshape(-1), np.where(keep & (d != 0), raw_f, raw_b))


@pytest.fixture(scope="module")
def finetune2048(tmp_path_factory):
    """A simulated bf16 fine-tune as in the issue: 2048 x 2048 embedding and lm_head, deltas at 1% of the
    weights' spread (0.0002 against 0.02), so bf16 rounding makes many |delta| equal."""
    root = tmp_path_factory.mktemp("trim2048")
    shape = dict(vocab_size=2048, hidden_size=2048, intermediate_size=64, num_hidden_layers=1,
                 num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    base = make_model_dir(root / "base", seed=20, tokenizer=False, std=0.02, **shape)
    ft = make_model_dir(root / "ft", seed=21, like=base, noise=0.0002, tokenizer=False, **shape)
    return base, ft


@pytest.mark.parametrize("density", [0.5, 0.2])
def test_simulated_bf16_finetune_keeps_exactly_density(finetune2048, tmp_path, density):
    base, ft = finetune2048
    d = (load_tensors(ft)[EMBED] - load_tensors(base)[EMBED]).reshape(-1)
    n, k = d.size, int(density * d.size)
    kth = np.sort(np.abs(d))[::-1][k - 1]
    old_rule = np.count_nonzero(np.abs(d) >= kth) / n  # keep everything tied with the cut (0.648 / 0.325 before)
    assert old_rule > density + 0.1, f"fixture must have many ties at the cut (old rule kept {old_rule:.3f})"
    out = _merge(tmp_path, f"d{density}", {"merge_method": "ties", "base_model": str(base),
                                            "models": [{"model": str(ft), "parameters": {"density": density}}]})
    order = np.lexsort((np.arange(n), -np.abs(d)))  # largest |delta| first, lower index first among ties
    keep = np.zeros(n, bool)
    keep[order[:k]] = True
    raw_b = load_file(str(base / "model.safetensors"))[EMBED].view(torch.int16).numpy().reshape(-1)
    raw_f = load_file(str(ft / "model.safetensors"))[EMBED].view(torch.int16).numpy().reshape(-1)
    got = _bits(out)[EMBED].reshape(-1)
    assert np.array_equal(got, np.where(keep, raw_f, raw_b))  # exactly the k largest, not every tie at the cut
    assert _kept(out, EMBED) == _kept(out, "lm_head.weight") == [round(density * n)]  # report: 4 digits


def test_density_times_n_below_one_keeps_one(vocab40, tmp_path):
    base, ft = vocab40
    out = _merge(tmp_path, "d001", {"merge_method": "ties", "base_model": str(base),
                                    "models": [{"model": str(ft), "parameters": {"density": 0.01}}]})
    assert _kept(out, "model.norm.weight") == [1]  # 64 elements: int(0.64) = 0, but one is kept
    changed = np.count_nonzero(_bits(out)["model.norm.weight"] != _bits(base)["model.norm.weight"])
    assert changed == 1


def test_ties_rescale_is_rejected(vocab40, tmp_path):
    base, ft = vocab40
    with pytest.raises(MergeError, match=r"parameters\.rescale: ties does not support rescale"):
        _merge(tmp_path, "r", {"merge_method": "ties", "base_model": str(base), "parameters": {"rescale": True},
                               "models": [{"model": str(ft), "parameters": {"density": 0.5}}]})


def test_dtype_is_compute_and_out_dtype_is_output(vocab40, tmp_path):
    base, ft = vocab40
    recipe = {"merge_method": "task_arithmetic", "base_model": str(base), "models": [str(ft)]}
    both = load_file(str(_merge(tmp_path, "a", {**recipe, "dtype": "float32", "out_dtype": "bfloat16"})
                         / "model.safetensors"))
    assert {v.dtype for v in both.values()} == {torch.bfloat16}
    only = load_file(str(_merge(tmp_path, "b", {**recipe, "dtype": "float32"}) / "model.safetensors"))
    assert {v.dtype for v in only.values()} == {torch.float32}
    out_only = load_file(str(_merge(tmp_path, "c", {**recipe, "out_dtype": "float16"}) / "model.safetensors"))
    assert {v.dtype for v in out_only.values()} == {torch.float16}


def test_filter_lists_pick_per_tensor_values(models, tmp_path):
    base, f1 = models["base32"], models["ft32"]
    B, F = load_tensors(base), load_tensors(f1)
    weight = [{"filter": "mlp", "value": 0.5}, {"filter": "norm", "value": [{"value": 0.25}]}, {"value": 1.0}]
    out = _merge(tmp_path, "fl", {"merge_method": "task_arithmetic", "base_model": str(base),
                                  "models": [{"model": str(f1), "parameters": {"weight": weight}}]})
    got = load_tensors(out)
    for k in B:
        w = 0.5 if "mlp" in k else 0.25 if "norm" in k else 1.0
        assert np.array_equal(got[k], B[k] + np.float32(w) * (F[k] - B[k])), k


@pytest.mark.parametrize("params, message", [
    ({"weight": [0.1, 0.5, 1.0]}, r"models\[0\]\.parameters\.weight: gradients .* are not supported"),
    ({"density": [{"filter": "mlp"}]}, r"models\[0\]\.parameters\.density\[0\]: expected a mapping with 'value'"),
    ({"weight": [{"filter": 3, "value": 1}]}, r"weight\[0\]\.filter: expected a string"),
])
def test_bad_parameter_lists_name_the_key(models, params, message):
    with pytest.raises(MergeError, match=message):
        from_dict({"merge_method": "ties", "base_model": str(models["base32"]),
                   "models": [{"model": str(models["ft32"]), "parameters": params}]})


def test_dare_ties_matches_numpy_reference(models, tmp_path):
    """DARE (drop with the native stream, rescale by 1/(1 - p)) then TIES (weights, sign election, sum of the
    agreeing deltas, lambda), computed here directly from the draws' definition."""
    base, fts = models["base32"], [models["ft32"], models["ft32b"]]
    seed, lam = 7, 1.2
    params = [{"weight": 0.6, "drop_rate": 0.3}, {"weight": 0.9, "density": 0.6}]
    out = _merge(tmp_path, "dt", {"merge_method": "dare_ties", "base_model": str(base), "seed": seed,
                                  "parameters": {"lambda": lam},
                                  "models": [{"model": str(f), "parameters": p} for f, p in zip(fts, params, strict=True)]})
    got, B = load_tensors(out), load_tensors(base)
    Fs = [load_tensors(f) for f in fts]
    f32 = np.float32
    for name in B:
        n = B[name].size
        weighted = []
        for j, (F, p) in enumerate(zip(Fs, params, strict=True)):
            drop = p.get("drop_rate", 1.0 - p.get("density", 1.0))
            words = np.random.Philox(key=philox_key(seed, j, name)).random_raw((n + 1) // 2)
            draws = words.view(np.uint32)[:n]  # element e: 32-bit half e % 2 of Philox word e // 2
            keep = (draws & 0xFFFFFF) >= np.ceil(float(f32(drop)) * 2**24)
            d = (F[name] - B[name]).reshape(-1) * keep
            d = d * f32(1.0 / (1.0 - drop))
            weighted.append(d * f32(p["weight"]))
        elected = np.where(weighted[0] + weighted[1] >= 0, 1.0, -1.0)
        mixed = sum((w * (np.sign(w) == elected)).astype(np.float32) for w in weighted)
        exp = B[name].reshape(-1) + mixed.astype(np.float32) * f32(lam)
        assert np.array_equal(got[name].reshape(-1), exp), name
