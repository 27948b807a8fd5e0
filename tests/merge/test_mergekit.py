"""mergekit 0.1.5 itself as the reference: every deterministic method and density, bitwise in fp32 compute.

mergekit runs in its own virtual environment (`make mergekit-venv` builds /tmp/mergekit-venv; after
`make mergekit-venv MERGEKIT_VENV=DIR` set MERGEKIT_PYTHON=DIR/bin/python), all recipes in one process
(tests/merge/mergekit_driver.py). Documented differences (README, `mnlu merge`) are left out here and tested
elsewhere: `linear` with a base_model (mergekit adds the base into the average), DARE's rescale (ours exactly
1/(1 - p)) and `ties` with `rescale` (rejected).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file

from merge.api import run_merge
from merge.config import from_dict

MERGEKIT_PYTHON = Path(os.environ.get("MERGEKIT_PYTHON", "/tmp/mergekit-venv/bin/python"))
DRIVER = Path(__file__).with_name("mergekit_driver.py")

W = [0.6, 0.9]


def _ties(density, **params):
    return ("ties", [{"weight": w, "density": density} for w in W], params)


CASES = {
    "linear": ("linear", [{"weight": 0.6}, {"weight": 0.4}], {}),
    "linear_unnormalized": ("linear", [{"weight": 0.6}, {"weight": 0.9}], {"normalize": False}),
    "task_arithmetic": ("task_arithmetic", [{"weight": w} for w in W], {"lambda": 0.8}),
    "task_arithmetic_normalized": ("task_arithmetic", [{"weight": w} for w in W], {"normalize": True}),
    "ties_d1": _ties(1.0),
    "ties_d0.9": _ties(0.9),
    "ties_d0.5": _ties(0.5),
    "ties_d0.2": _ties(0.2),
    "ties_d0.01": _ties(0.01),  # density * n < 1 for the 64-element norms: one element kept
    "ties_unnormalized_lambda": _ties(0.4, normalize=False, **{"lambda": 1.1}),
    "ties_mixed_density": ("ties", [{"weight": 0.6, "density": 0.3}, {"weight": 0.9, "density": 0.7}], {}),
    "dare_linear_d1": ("dare_linear", [{"weight": w, "density": 1.0} for w in W], {}),
    "dare_ties_d1": ("dare_ties", [{"weight": w, "density": 1.0} for w in W], {}),
    "ties_filter_lists": ("ties", [
        {"weight": [{"filter": "mlp", "value": 0.5}, {"value": 1.0}],
         "density": [{"filter": "self_attn", "value": 0.3}, {"value": 0.7}]},
        {"weight": 0.9, "density": [{"filter": "norm", "value": 0.05}, {"value": 0.5}]},
    ], {}),
    "task_arithmetic_filter_global": ("task_arithmetic", [{}, {"weight": 0.3}],
                                      {"weight": [{"filter": "embed", "value": 2.0}, {"value": 0.7}]}),
}
OUT_DTYPE_CASE = "task_arithmetic_out_bf16"


def _recipes(models, name):
    method, per_model, params = CASES.get(name, CASES["task_arithmetic"])
    entries = [{"model": str(m), "parameters": p} for m, p in zip((models["ft32"], models["ft32b"]), per_model,
                                                                   strict=True)]
    ours = {"merge_method": method, "base_model": str(models["base32"]), "models": entries,
            "dtype": "float32", "parameters": params}
    theirs = dict(ours)
    if method == "linear":
        del theirs["base_model"]  # documented: mergekit 0.1.5 would add the base into the average
    if name == OUT_DTYPE_CASE:
        ours["out_dtype"] = theirs["out_dtype"] = "bfloat16"
    return ours, theirs


@pytest.fixture(scope="module")
def mergekit_outputs(models, tmp_path_factory):
    if not MERGEKIT_PYTHON.exists():
        pytest.skip(f"mergekit venv not found at {MERGEKIT_PYTHON} (build it with `make mergekit-venv`, or set "
                    "MERGEKIT_PYTHON)")
    root = tmp_path_factory.mktemp("mergekit")
    jobs = []
    for name in [*CASES, OUT_DTYPE_CASE]:
        _, theirs = _recipes(models, name)
        recipe = root / f"{name}.yaml"
        recipe.write_text(yaml.safe_dump(theirs))
        jobs.append([str(recipe), str(root / name)])
    (root / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([str(MERGEKIT_PYTHON), str(DRIVER), str(root / "jobs.json")], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """Raw bit patterns (int16 for bf16, int32 for fp32), so the comparison is bitwise."""
    import torch

    out = {}
    for f in sorted(path.glob("*.safetensors")):
        for k, v in load_file(str(f)).items():
            out[k] = v.view(torch.int16 if v.element_size() == 2 else torch.int32).numpy()
    return out


def _within_product_rounding(models, name, k, a, b) -> bool:
    from .helpers import load_tensors

    _, per_model, params = CASES[name]
    mats = [load_tensors(models[m])[k].astype(np.float64) for m in ("ft32", "ft32b")]
    weights = [p["weight"] for p in per_model]
    scale = sum(abs(w) * np.abs(m) for w, m in zip(weights, mats, strict=True))
    if params.get("normalize", True):
        scale = scale / abs(sum(weights))
    x, y = a.view(np.float32).astype(np.float64), b.view(np.float32).astype(np.float64)
    bad = np.abs(x - y) > 2.0**-23 * scale + 1e-45
    return not bad.any()


@pytest.mark.parametrize("name", [*CASES, OUT_DTYPE_CASE])
def test_bitwise_equal_to_mergekit(models, mergekit_outputs, tmp_path, name):
    ours_recipe, _ = _recipes(models, name)
    out = tmp_path / "ours"
    run_merge(from_dict(ours_recipe), out, progress=False, log=lambda *_: None)
    ours, theirs = _tensors(out), _tensors(mergekit_outputs / name)
    assert sorted(ours) == sorted(theirs)
    for k in ours:
        a, b = ours[k], theirs[k]
        assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, b.dtype)
        if CASES.get(name, ("",))[0] == "linear":
            # Documented: mergekit's linear accumulates with torch's addcmul_ (a fused multiply-add on CPUs with
            # FMA) where we round each product, so results differ by at most one rounding of each product.
            assert np.array_equal(a, b) or _within_product_rounding(models, name, k, a, b), (name, k)
            continue
        diff = int(np.count_nonzero(a != b))
        assert diff == 0, f"{name}: {k}: {diff} of {a.size} elements differ from mergekit"
