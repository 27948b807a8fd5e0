"""Shardings from the logical-axis rules: golden PartitionSpecs, and a sharded step equal to the one-device step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from train_jax import optim
from train_jax.config import ModelConfig
from train_jax.model import abstract_model, init_model
from train_jax.sharding import batch_parallelism, batch_sharding, make_mesh, param_specs
from train_jax.train import init_state, jit_train_step, make_train_step, split_model, state_shardings
from train_jax.train_config import load_config

GOLDEN = Path(__file__).parent / "golden" / "partition_specs.json"
REPO = Path(__file__).resolve().parents[2]
MESHES = {
    "fsdp8": {"fsdp": 8},
    "fsdp4_tensor2": {"fsdp": 4, "tensor": 2},
    "data2_fsdp4": {"data": 2, "fsdp": 4},
}


def _model_configs() -> dict[str, ModelConfig]:
    tiny = dict(load_config(REPO / "configs" / "tiny.yaml").model)
    tiny.pop("init_seed", None)
    return {"tiny": ModelConfig(**tiny), "mistral_7b": ModelConfig()}  # ModelConfig() is BioMistral-7B's shape


def _specs() -> dict:
    out = {}
    for name, cfg in _model_configs().items():
        _, params = nnx.split(abstract_model(cfg), nnx.Param)
        for mesh_name, shape in MESHES.items():
            specs = param_specs(params, make_mesh(shape))
            out[f"{name}/{mesh_name}"] = {k: [list(a) if isinstance(a, tuple) else a for a in v]
                                          for k, v in sorted(specs.items())}
    return out


def test_partition_specs_match_golden():
    got = _specs()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got.keys() == want.keys()
    for key in want:
        diff = {p: (got[key].get(p), s) for p, s in want[key].items() if got[key].get(p) != s}
        assert not diff, f"{key}: {diff}"
    # the golden file itself says what FSDP and tensor parallelism mean here
    fsdp = want["mistral_7b/fsdp8"]
    assert fsdp["layers/0/self_attn/q_proj/kernel"] == ["fsdp", None]
    assert fsdp["layers/0/mlp/down_proj/kernel"] == [None, "fsdp"]
    assert fsdp["embed_tokens/embedding"] == [None, "fsdp"] and fsdp["norm/scale"] == [None]
    tp = want["mistral_7b/fsdp4_tensor2"]
    assert tp["layers/0/self_attn/q_proj/kernel"] == ["fsdp", "tensor"]
    assert tp["layers/0/self_attn/o_proj/kernel"] == ["tensor", "fsdp"]
    assert tp["lm_head/kernel"] == ["fsdp", "tensor"]


def test_batch_parallelism_and_batch_spec():
    mesh = make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
    assert batch_parallelism(mesh) == 4
    assert batch_sharding(mesh, (1, 8, 16)).spec == jax.sharding.PartitionSpec(None, ("data", "fsdp"), None)


SMALL = ModelConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=8, sliding_window=12)


def random_batch(seed: int, micro: int, rows: int, seq: int, vocab: int = 128) -> dict[str, np.ndarray]:
    """Rows of two documents each, random target weights (so token normalisation matters)."""
    rng = np.random.default_rng(seed)
    cut = rng.integers(3, seq - 3, size=(micro, rows))
    idx = np.arange(seq)
    seg = np.where(idx[None, None, :] < cut[..., None], 1, 2).astype(np.int32)
    pos = np.where(seg == 1, idx, idx - cut[..., None]).astype(np.int32)
    return {
        "input_ids": rng.integers(0, vocab, (micro, rows, seq)).astype(np.int32),
        "targets": rng.integers(0, vocab, (micro, rows, seq)).astype(np.int32),
        "weights": (rng.random((micro, rows, seq)) < 0.6).astype(np.float32),
        "segment_ids": seg,
        "positions": pos,
    }


def run_steps(cfg: ModelConfig, mesh_shape: dict | None, batches: list[dict], eps: float = 1e-3):
    """Train a few steps on a mesh (or one device); returns the metrics and the final parameters on the host."""
    graphdef, state_p, params = split_model(init_model(cfg, seed=0))
    schedule = optim.lr_schedule("linear", 1e-2, 10, 0)
    tx = optim.make_optimizer(schedule, weight_decay=0.1, eps=eps)
    devices = jax.devices() if mesh_shape else jax.devices()[:1]
    mesh = make_mesh(mesh_shape or {"fsdp": 1}, devices)
    shardings = state_shardings(state_p, tx, mesh)
    state = jax.device_put(init_state(params, tx, 0), shardings)
    b_shard = batch_sharding(mesh, batches[0]["input_ids"].shape)
    step = jit_train_step(make_train_step(graphdef, tx, schedule, mesh=mesh, grad_shardings=shardings.params),
                          shardings, b_shard, mesh)
    metrics = []
    for b in batches:
        state, m = step(state, jax.device_put(b, b_shard))
        metrics.append({k: float(v) for k, v in jax.device_get(m).items()})
    return metrics, jax.device_get(state.params), state


def assert_trees_close(a, b, rtol=1e-5):
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        err = np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)
        assert err <= rtol, f"{jax.tree_util.keystr(path)}: relative error {err:.2e}"


@pytest.fixture(scope="module")
def single_device_run():
    batches = [random_batch(1, 1, 8, 16), random_batch(2, 1, 8, 16)]
    return batches, run_steps(SMALL, None, batches)


@pytest.mark.parametrize("mesh_name", sorted(MESHES))
def test_sharded_steps_equal_single_device(single_device_run, mesh_name):
    batches, (ref_metrics, ref_params, _) = single_device_run
    metrics, params, state = run_steps(SMALL, MESHES[mesh_name], batches)
    for got, want in zip(metrics, ref_metrics, strict=True):
        for k in ("loss", "grad_norm", "target_tokens"):
            assert abs(got[k] - want[k]) <= 1e-5 * abs(want[k]), (k, got[k], want[k])
    assert_trees_close(params, ref_params)
    # the state really is sharded as the rules say (not silently replicated)
    q = state.params["layers"][0]["self_attn"]["q_proj"]["kernel"]
    assert q.sharding.spec[0] == "fsdp" and len(q.addressable_shards) == 8
    mu = state.opt_state[1][0].mu["layers"][0]["self_attn"]["q_proj"]["kernel"]
    assert mu.sharding == q.sharding


def test_accumulated_micro_batches_equal_one_large_batch(single_device_run):
    """k=2 micro-batches of 4 rows on an 8-device mesh == one batch of 8 rows on one device (token-normalised:
    the two halves hold different numbers of target tokens)."""
    batches, (ref_metrics, ref_params, _) = single_device_run
    split = [{k: v.reshape(2, 4, *v.shape[2:]) for k, v in b.items()} for b in batches]
    assert split[0]["weights"][0].sum() != split[0]["weights"][1].sum()
    metrics, params, _ = run_steps(SMALL, {"data": 2, "fsdp": 2, "tensor": 2}, split)
    for got, want in zip(metrics, ref_metrics, strict=True):
        for k in ("loss", "grad_norm", "target_tokens"):
            assert abs(got[k] - want[k]) <= 1e-5 * abs(want[k]), (k, got[k], want[k])
    assert_trees_close(params, ref_params)


# ------------------------------------------------------------------ rules from the config, fallback, activations


def test_second_rule_for_a_name_is_the_fallback():
    from jax.sharding import PartitionSpec as P

    from train_jax.sharding import logical_to_spec

    mesh = make_mesh({"data": 1, "fsdp": 4, "tensor": 2})
    rules = (("embed", "fsdp"), ("embed", "tensor"), ("mlp", "fsdp"))
    # the first embed rule fits: fsdp
    assert logical_to_spec(("embed", None), rules, mesh, (8, 3)) == P("fsdp", None)
    # fsdp does not divide 6: the second rule (tensor) is used instead of nothing
    assert logical_to_spec(("embed", None), rules, mesh, (6, 3)) == P("tensor", None)
    # fsdp already taken by mlp: again the second rule
    assert logical_to_spec(("mlp", "embed"), rules, mesh, (8, 8)) == P("fsdp", "tensor")
    # only one rule: unchanged behaviour (nothing fits → replicated)
    assert logical_to_spec(("mlp",), rules, mesh, (6,)) == P(None)


def test_activations_have_their_own_names_and_config_rules_reach_the_step():
    from jax.sharding import PartitionSpec as P

    from train_jax.sharding import DEFAULT_RULES, logical_to_spec, rules_from_config

    mesh = make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
    names = {n for n, _ in DEFAULT_RULES}
    assert {"activation_batch", "activation_embed", "activation_heads", "activation_mlp", "activation_vocab"} <= names
    act = ("activation_batch", "activation_length", "activation_embed")
    assert logical_to_spec(act, DEFAULT_RULES, mesh, (4, 8, 16)) == P(("data", "fsdp"), None, None)
    # MaxText style: shard activations' embed over tensor, parameters untouched
    custom = rules_from_config([["activation_embed", "tensor"], *[[n, t] for n, t in DEFAULT_RULES]])
    assert logical_to_spec(act, custom, mesh, (4, 8, 16)) == P(("data", "fsdp"), None, "tensor")
    assert logical_to_spec(("embed", "mlp"), custom, mesh, (16, 32)) == P("fsdp", "tensor")


@pytest.mark.parametrize(
    "bad,msg",
    [([], "non-empty list"), ([["embed"]], r"\[0\]"), ([["embed", "model"]], r"\[0\] \(embed\): mesh axes")],
)
def test_logical_axis_rules_key_is_validated(tmp_path, bad, msg):
    import yaml

    from train_jax.train_config import TrainConfigError

    cfg = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({**cfg, "logical_axis_rules": bad, "output_dir": str(tmp_path / "o")}))
    with pytest.raises(TrainConfigError, match=msg):
        load_config(path)
    path.write_text(json.dumps({**cfg, "logical_axis_rules": [["embed", None], ["batch", ["data", "fsdp"]]]}))
    assert load_config(path).logical_axis_rules == [["embed", None], ["batch", ["data", "fsdp"]]]
