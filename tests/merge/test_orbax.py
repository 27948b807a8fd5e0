"""The fine-tuned side straight from an orbax checkpoint (train_jax's layout) equals the same weights as HF."""

from __future__ import annotations

import numpy as np
import pytest

from merge.api import run_merge
from merge.config import from_dict
from merge.sources import open_source

from .helpers import load_tensors

ocp = pytest.importorskip("orbax.checkpoint")
jnp = pytest.importorskip("jax.numpy")

LAYER = {
    "self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mlp": ("gate_proj", "up_proj", "down_proj"),
}


def _params_tree(hf: dict[str, np.ndarray], n_layers: int, stacked: bool) -> dict:
    """train_jax's param tree: kernels [in, out] (HF transposed), optionally stacked over layers."""
    def layer(i):
        p = f"model.layers.{i}"
        d = {grp: {proj: {"kernel": hf[f"{p}.{grp}.{proj}.weight"].T} for proj in projs}
             for grp, projs in LAYER.items()}
        d["input_layernorm"] = {"scale": hf[f"{p}.input_layernorm.weight"]}
        d["post_attention_layernorm"] = {"scale": hf[f"{p}.post_attention_layernorm.weight"]}
        return d

    layers = [layer(i) for i in range(n_layers)]
    if stacked:
        import jax

        layers = jax.tree.map(lambda *xs: np.stack(xs), *layers)
    tree = {"embed_tokens": {"embedding": hf["model.embed_tokens.weight"]}, "layers": layers,
            "norm": {"scale": hf["model.norm.weight"]}, "lm_head": {"kernel": hf["lm_head.weight"].T}}
    import jax

    return jax.tree.map(lambda x: jnp.asarray(np.ascontiguousarray(x)), tree)


@pytest.fixture(scope="module")
def orbax_fts(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("orbax")
    hf = load_tensors(models["ft32"])
    # 1) train_jax's CheckpointManager layout: checkpoints/<step>/params/, no prefix, one leaf per layer
    mgr = ocp.CheckpointManager(root / "run" / "checkpoints", item_names=("params", "opt_state"))
    tree = _params_tree(hf, 2, stacked=False)
    mgr.save(3, args=ocp.args.Composite(params=ocp.args.StandardSave(tree),
                                        opt_state=ocp.args.StandardSave({"mu": tree})))
    mgr.wait_until_finished()
    # 2) an nnx-style state dict under model/, layers stacked (scan over layers), via StandardCheckpointer
    ck = ocp.StandardCheckpointer()
    ck.save(root / "stacked", {"model": _params_tree(hf, 2, stacked=True)})
    ck.wait_until_finished()
    return {"manager": root / "run" / "checkpoints", "stacked": root / "stacked"}


def test_orbax_reader_names_shapes_values(models, orbax_fts):
    hf = load_tensors(models["ft32"])
    for path in orbax_fts.values():
        src = open_source(path)
        assert set(src.tensors) == set(hf)
        for name, (dtype, shape) in src.tensors.items():
            assert dtype == "F32" and shape == hf[name].shape, name
            rows = shape[0]
            buf = np.empty(hf[name].size, np.float32)
            r = rows // 3 + 1
            src.read_rows(name, 0, r, buf)
            src.read_rows(name, r, rows, buf[r * hf[name][0].size:] if hf[name].ndim > 1 else buf[r:])
            assert np.array_equal(buf.reshape(shape), hf[name]), name


@pytest.mark.parametrize("rng", ["native", "mergelm"])
def test_merge_from_orbax_equals_merge_from_hf(models, orbax_fts, tmp_path, rng):
    def run(ft, name):
        cfg = from_dict({"merge_method": "dare_linear", "base_model": str(models["base32"]), "rng": rng,
                         "models": [{"model": str(ft), "parameters": {"weight": 0.5, "drop_rate": 0.2}}],
                         "chunk_elements": 500})
        run_merge(cfg, tmp_path / name, progress=False, log=lambda *_: None)
        return load_tensors(tmp_path / name)  # headers differ (the recipe names the input), tensors must not

    ref = run(models["ft32"], "hf")
    for key in ("manager", "stacked"):
        got = run(orbax_fts[key], key)
        assert all(np.array_equal(got[k].view(np.uint32), ref[k].view(np.uint32)) for k in ref), key
