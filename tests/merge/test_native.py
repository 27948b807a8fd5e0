"""rng native: Bernoulli statistics, exact scaling, and output bytes independent of chunking and threads."""

from __future__ import annotations

import json
import math

import numpy as np

from merge.api import run_merge
from merge.config import from_dict

from .helpers import load_tensors


def _merge(tmp_path, name, models, seed=0, chunk=1 << 20, threads=2, p=0.3, w=0.5):
    cfg = from_dict({"merge_method": "dare_linear", "base_model": str(models["base32"]), "seed": seed,
                     "models": [{"model": str(models["ft32"]), "parameters": {"weight": w, "drop_rate": p}}],
                     "chunk_elements": chunk, "threads": threads})
    out = tmp_path / name
    run_merge(cfg, out, progress=False, log=lambda *_: None)
    return out


def test_native_statistics_and_exact_scaling(models, tmp_path):
    p, w = 0.3, 0.5
    out = _merge(tmp_path, "a", models, p=p, w=w)
    B, F, M = load_tensors(models["base32"]), load_tensors(models["ft32"]), load_tensors(out)
    c = np.float32(w / (1 - p))
    report = json.loads((out / "merge_report.json").read_text())
    kept_report = {t["name"]: t["models"][0]["kept_fraction"] for t in report["tensors"]}
    for name in B:
        b, f, m = B[name].reshape(-1), F[name].reshape(-1), M[name].reshape(-1)
        kept_value = b + c * (f - b)
        changed = m != b
        assert np.array_equal(m[changed], kept_value[changed]), name  # kept: scaled by exactly w/(1-p)
        dropped = ~changed
        assert np.array_equal(m[dropped], b[dropped]), name  # dropped: the base
        n = b.size
        frac = changed.mean()
        assert abs(frac - (1 - p)) <= 5 * math.sqrt(p * (1 - p) / n), (name, frac)
        assert abs(kept_report[name] - frac) < 1e-5, name


def test_native_bytes_independent_of_chunks_and_threads(models, tmp_path):
    ref = (_merge(tmp_path, "ref", models) / "model.safetensors").read_bytes()
    for i, (chunk, threads) in enumerate([(97, 1), (1000, 3), (64, 4)]):
        got = (_merge(tmp_path, f"c{i}", models, chunk=chunk, threads=threads) / "model.safetensors").read_bytes()
        assert got == ref, (chunk, threads)
    other = (_merge(tmp_path, "seed1", models, seed=1) / "model.safetensors").read_bytes()
    assert other != ref
    a, b = load_tensors(tmp_path / "ref"), load_tensors(tmp_path / "seed1")
    for name in a:
        if a[name].size >= 64:
            assert not np.array_equal(a[name], b[name]), name


def test_mergelm_bytes_independent_of_chunks_and_threads(models, tmp_path):
    def run(name, chunk, threads):
        cfg = from_dict({"merge_method": "dare_linear", "base_model": str(models["base"]), "rng": "mergelm",
                         "models": [{"model": str(models["ft"]), "parameters": {"weight": 0.5, "drop_rate": 0.2}}],
                         "chunk_elements": chunk, "threads": threads})
        run_merge(cfg, tmp_path / name, progress=False, log=lambda *_: None)
        return (tmp_path / name / "model.safetensors").read_bytes()

    ref = run("r", 1 << 20, 1)
    assert run("s", 50, 4) == ref
    assert run("t", 3001, 2) == ref
