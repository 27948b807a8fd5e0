"""HF import/export: our export loads in transformers, transformers' saves load in ours, round trips are exact."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest
from flax import nnx

from tests.train_jax.hf_reference import hf_logits, save_hf_reference, tiny_hf_model
from train_jax import load_hf, save_hf
from train_jax.config import ConfigError
from train_jax.hf import CheckpointError
from train_jax.model import init_model
from train_jax.safetensors_io import SafetensorsError
from train_jax.tiny import tiny_config


def _params(model) -> dict:
    return {k: np.asarray(v.get_value()) for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}


def _assert_bit_equal(a, b):
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    for k in pa:
        assert pa[k].dtype == pb[k].dtype, k
        assert np.array_equal(pa[k].view(np.uint8), pb[k].view(np.uint8)), k


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_load_save_load_is_bit_exact(tmp_path, dtype):
    ref = tiny_hf_model(seed=1)
    save_hf_reference(ref, tmp_path / "hf")
    first = load_hf(tmp_path / "hf", dtype=dtype)
    save_hf(first, tmp_path / "ours", max_shard_size="40KB")
    second = load_hf(tmp_path / "ours")
    _assert_bit_equal(first, second)
    files = sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert "model.safetensors.index.json" in files and len([f for f in files if f.endswith(".safetensors")]) > 1
    assert not any(f.startswith(("params.json", "consolidated")) for f in files)


def test_export_loads_in_transformers_with_identical_logits(tmp_path):
    from transformers import AutoModelForCausalLM

    cfg, _ = tiny_config()
    cfg = cfg.replace(vocab_size=32000, hidden_size=64, intermediate_size=96, sliding_window=16)
    model = init_model(cfg, seed=3)
    out = save_hf(model, tmp_path / "export", tokenizer=True)
    meta = json.loads((out / "config.json").read_text())
    assert meta["architectures"] == ["MistralForCausalLM"] and meta["sliding_window"] == 16
    gen = json.loads((out / "generation_config.json").read_text())
    tok_cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert gen["eos_token_id"] == 2 and tok_cfg["eos_token"] == "</s>"
    hf = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
    ids = np.random.default_rng(0).integers(0, 32000, size=(2, 24))
    ours = np.asarray(model(ids))
    ref = hf_logits(hf, ids)
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()
    with open(next(out.glob("model-*.safetensors")), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        assert json.loads(f.read(n))["__metadata__"]["format"] == "pt"


@pytest.mark.parametrize("sharded", [False, True])
def test_transformers_save_pretrained_loads_identically(tmp_path, sharded):
    ref = tiny_hf_model(seed=9)
    save_hf_reference(ref, tmp_path / "hf", max_shard_size="50KB" if sharded else "10GB")
    assert (tmp_path / "hf" / "model.safetensors.index.json").exists() == sharded
    ours = load_hf(tmp_path / "hf")
    ids = np.arange(30).reshape(2, 15) % 101
    ref_logits = hf_logits(ref, ids)
    assert np.abs(np.asarray(ours(ids)) - ref_logits).max() <= 1e-4 * np.abs(ref_logits).max()


def test_bf16_export_rounds_to_nearest_even(tmp_path):
    ref = tiny_hf_model(seed=2)
    save_hf_reference(ref, tmp_path / "hf")
    model = load_hf(tmp_path / "hf")
    save_hf(model, tmp_path / "bf16", dtype="bfloat16")
    back = load_hf(tmp_path / "bf16")
    assert back.config.param_dtype == "bfloat16"
    a = _params(model)
    b = _params(back)
    for k in a:
        np.testing.assert_array_equal(a[k].astype(ml_dtypes.bfloat16).view(np.uint16), b[k].view(np.uint16))


# ------------------------------------------------------------------------------------------ bad inputs


@pytest.fixture()
def saved(tmp_path):
    ref = tiny_hf_model(seed=5)
    save_hf_reference(ref, tmp_path / "hf", max_shard_size="60KB")
    return tmp_path / "hf"


def test_truncated_shard_is_a_clear_error(saved):
    shard = sorted(saved.glob("model-*.safetensors"))[-1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 100])
    with pytest.raises(SafetensorsError, match=r"truncated"):
        load_hf(saved)


def test_missing_shard_is_a_clear_error(saved):
    sorted(saved.glob("model-*.safetensors"))[0].unlink()
    with pytest.raises(SafetensorsError, match=r"listed but missing"):
        load_hf(saved)


def test_unknown_architecture_is_a_clear_error(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["architectures"] = ["LlamaForSequenceClassification"]
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"config.json: architectures"):
        load_hf(saved)


def test_wrong_shape_is_a_clear_error(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["intermediate_size"] = 100
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"mlp.gate_proj.weight' has shape \[96, 64\]; the config needs \[100, 64\]"):
        load_hf(saved)


def test_missing_tensor_is_a_clear_error(tmp_path):
    ref = tiny_hf_model(seed=6)
    save_hf_reference(ref, tmp_path / "hf")
    cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    cfg["num_hidden_layers"] = 3
    (tmp_path / "hf" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"missing tensor\(s\) \['model.layers.2"):
        load_hf(tmp_path / "hf")


def test_failed_export_leaves_no_partial_directory(tmp_path):
    model = load_hf(save_hf_reference(tiny_hf_model(seed=8), tmp_path / "hf"))
    # The tokenizer step comes after every shard is written: a bad donor fails the export late.
    with pytest.raises(FileNotFoundError, match="no tokenizer_config.json"):
        save_hf(model, tmp_path / "out", tokenizer=tmp_path / "no-such-tokenizer")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


def test_export_refuses_to_overwrite_without_consent(tmp_path):
    model = load_hf(save_hf_reference(tiny_hf_model(seed=8), tmp_path / "hf"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError):
        save_hf(model, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "user data"


def test_load_onto_a_mesh_places_shards_and_keeps_logits(tmp_path):
    import jax

    from train_jax.sharding import make_mesh

    ref = tiny_hf_model(seed=12)
    save_hf_reference(ref, tmp_path / "hf")
    mesh = make_mesh({"fsdp": 4, "tensor": 2})
    model = load_hf(tmp_path / "hf", mesh=mesh)
    state = dict(nnx.to_flat_state(nnx.state(model, nnx.Param)))
    q = state[("layers", 0, "self_attn", "q_proj", "kernel")].get_value()
    assert q.sharding.spec == jax.sharding.PartitionSpec("fsdp", "tensor")
    assert len(q.addressable_shards) == 8 and q.addressable_shards[0].data.shape == (16, 32)
    ids = np.arange(20).reshape(2, 10)
    ref_logits = hf_logits(ref, ids)
    assert np.abs(np.asarray(model(ids)) - ref_logits).max() <= 1e-4 * np.abs(ref_logits).max()
