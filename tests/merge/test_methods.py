"""Exact identities, and linear / task arithmetic / TIES against a straightforward NumPy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from merge.api import run_merge
from merge.config import from_dict

from .helpers import load_tensors


def _merge(tmp_path, name, base, models, method, **kw):
    cfg = from_dict({"merge_method": method, "base_model": str(base), "models": models, **kw})
    out = tmp_path / name
    run_merge(cfg, out, progress=False, log=lambda *_: None)
    return out


def _raw(path):
    return {k: v.view(torch.int16).numpy() if v.dtype == torch.bfloat16 else v.numpy()
            for k, v in load_file(str(path / "model.safetensors")).items()}




def test_identities(models, tmp_path):
    import shutil

    base = models["base"]
    twin = tmp_path / "twin"
    shutil.copytree(base, twin)
    braw = _raw(base)
    for i, (method, params, rng) in enumerate([
        ("linear", {"weight": 0.5}, "native"), ("task_arithmetic", {"weight": 0.7}, "native"),
        ("ties", {"weight": 1.0, "density": 0.5}, "native"), ("dare_linear", {"drop_rate": 0.3}, "native"),
        ("dare_ties", {"drop_rate": 0.3}, "native"), ("dare_linear", {"weight": 0.5, "drop_rate": 0.2}, "mergelm"),
    ]):
        models_list = [{"model": str(twin), "parameters": params}]
        if method == "linear":
            models_list.append({"model": str(base), "parameters": {"weight": 0.5}})
        out = _merge(tmp_path, f"self{i}", base, models_list, method, rng=rng)
        got = _raw(out)
        for k in braw:
            assert np.array_equal(got[k], braw[k]), (method, rng, k)


@pytest.mark.parametrize("rng", ["mergelm", "native"])
def test_drop_rate_zero_is_average_and_one_is_base(models, tmp_path, rng):
    base, ft = models["base"], models["ft"]
    b, f = load_file(str(base / "model.safetensors")), load_file(str(ft / "model.safetensors"))
    m0 = [{"model": str(ft), "parameters": {"weight": 0.5, "drop_rate": 0.0}}]
    got = load_file(str(_merge(tmp_path, "p0", base, m0, "dare_linear", rng=rng) / "model.safetensors"))
    for k in b:  # (base + ft) / 2 in fp32, rounded to nearest even in bf16
        assert torch.equal(got[k], ((b[k].float() + f[k].float()) / 2).to(torch.bfloat16)), k
    m1 = [{"model": str(ft), "parameters": {"weight": 0.5, "drop_rate": 1.0}}]
    got = load_file(str(_merge(tmp_path, "p1", base, m1, "dare_linear", rng=rng) / "model.safetensors"))
    for k in b:
        assert torch.equal(got[k], b[k]), k


def test_linear_task_arithmetic_ties_match_numpy(models, tmp_path):
    base, f1, f2 = models["base32"], models["ft32"], models["ft32b"]
    B, F1, F2 = load_tensors(base), load_tensors(f1), load_tensors(f2)
    f32 = np.float32

    out = _merge(tmp_path, "lin", base, [{"model": str(base), "parameters": {"weight": 0.2}},
                                         {"model": str(f1), "parameters": {"weight": 0.5}},
                                         {"model": str(f2), "parameters": {"weight": 0.3}}], "linear")
    got = load_tensors(out)
    for k in B:
        exp = (f32(0.2) * B[k] + f32(0.5) * F1[k] + f32(0.3) * F2[k]) / (f32(0.2) + f32(0.5) + f32(0.3))
        assert np.array_equal(got[k], exp), k

    out = _merge(tmp_path, "ta", base, [{"model": str(f1), "parameters": {"weight": 0.6}},
                                        {"model": str(f2), "parameters": {"weight": 0.9}}], "task_arithmetic",
                 parameters={"lambda": 0.8})
    got = load_tensors(out)
    for k in B:  # mergekit's order: w_j * delta_j in float32, summed in model order, then times lambda
        exp = B[k] + (f32(0.6) * (F1[k] - B[k]) + f32(0.9) * (F2[k] - B[k])) * f32(0.8)
        assert np.array_equal(got[k], exp), k

    out = _merge(tmp_path, "ties", base, [{"model": str(f1), "parameters": {"weight": 0.6, "density": 0.4}},
                                          {"model": str(f2), "parameters": {"weight": 0.9, "density": 0.7}}],
                 "ties", parameters={"lambda": 1.1})
    got = load_tensors(out)
    for k in B:
        deltas = []
        for F, w, density in ((F1, 0.6, 0.4), (F2, 0.9, 0.7)):
            d = (F[k] - B[k]).reshape(-1)
            keep = int(density * d.size)
            trimmed = np.zeros_like(d)
            top = np.argsort(-np.abs(d))[:keep]
            trimmed[top] = d[top]
            deltas.append(f32(w) * trimmed)
        elected = np.where(deltas[0] + deltas[1] >= 0, 1, -1)
        agree = [np.sign(d) == elected for d in deltas]
        mixed = deltas[0] * agree[0] + deltas[1] * agree[1]
        divisor = f32(0.6) * agree[0] + f32(0.9) * agree[1]
        divisor[divisor == 0] = 1
        exp = B[k].reshape(-1) + (mixed / divisor.astype(np.float32)) * f32(1.1)
        assert np.array_equal(got[k].reshape(-1), exp), k
