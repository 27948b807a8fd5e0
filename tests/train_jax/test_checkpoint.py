"""Checkpoints: restore onto another mesh bit for bit, the documented tensorstore layout, keep-N, and export."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from tests.train_jax.test_sharding import SMALL
from train_jax import optim
from train_jax.checkpoint import (
    Checkpointer,
    CheckpointNotFound,
    find_step_dir,
    param_names,
    read_meta,
    read_param,
)
from train_jax.model import init_model
from train_jax.sharding import make_mesh
from train_jax.train import TrainState, abstract_state, init_state, split_model, state_shardings


def _state(mesh_shape, seed=0, step=0):
    graphdef, pstate, params = split_model(init_model(SMALL, seed=seed))
    tx = optim.make_optimizer(optim.lr_schedule("constant", 1e-3, 10, 0))
    mesh = make_mesh(mesh_shape)
    shardings = state_shardings(pstate, tx, mesh)
    state = init_state(params, tx, seed)
    rng = np.random.default_rng(seed)
    # non-trivial AdamW moments, so a mix-up between mu, nu and params cannot hide
    opt = jax.tree.map(lambda x: x + rng.normal(size=x.shape).astype(x.dtype) if x.ndim else x, state.opt_state)
    state = TrainState(np.int32(step), state.params, opt, state.rng)
    return jax.device_put(state, shardings), pstate, tx, shardings


META = {"model_config": SMALL.to_hf_dict("float32"), "export_dtype": "float32", "tokenizer": "bundled"}


def test_restore_onto_a_different_mesh_is_exact(tmp_path):
    state, pstate, tx, _ = _state({"fsdp": 8}, step=7)
    ckpt = Checkpointer(tmp_path, max_to_keep=2)
    ckpt.save(state, {"epoch": 1, "row": 24}, META)
    ckpt.wait()
    new_shardings = state_shardings(pstate, tx, make_mesh({"data": 2, "fsdp": 2, "tensor": 2}))
    restored, data, meta = Checkpointer(tmp_path).restore(abstract_state(pstate, tx, new_shardings))
    assert int(restored.step) == 7 and data == {"epoch": 1, "row": 24} and meta["step"] == 7
    for a, b, sh in zip(jax.tree.leaves(state), jax.tree.leaves(restored), jax.tree.leaves(new_shardings), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert b.sharding == sh
    q = restored.params["layers"][1]["self_attn"]["q_proj"]["kernel"]
    assert q.sharding.spec == jax.sharding.PartitionSpec("fsdp", "tensor")


def test_params_layout_is_readable_with_tensorstore_alone(tmp_path):
    state, *_ = _state({"fsdp": 4, "tensor": 2}, step=3)
    ckpt = Checkpointer(tmp_path)
    ckpt.save(state, {}, META)
    ckpt.close()
    step_dir = find_step_dir(tmp_path)
    assert step_dir == tmp_path.resolve() / "checkpoints" / "3"
    expected = {".".join(str(getattr(k, "key", k)) for k in path)
                for path, _ in jax.tree_util.tree_flatten_with_path(state.params)[0]}
    assert set(param_names(step_dir)) == expected
    assert "layers.0.self_attn.q_proj.kernel" in expected and "embed_tokens.embedding" in expected
    for path, value in jax.tree_util.tree_flatten_with_path(state.params)[0]:
        name = ".".join(str(getattr(k, "key", k)) for k in path)
        got = read_param(step_dir, name)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.asarray(value))
    assert read_meta(step_dir)["model_config"]["hidden_size"] == SMALL.hidden_size


def test_keep_n_and_named_steps(tmp_path):
    ckpt = Checkpointer(tmp_path, max_to_keep=2)
    for step in (1, 2, 3):
        state, *_ = _state({"fsdp": 8}, step=step)
        ckpt.save(state, {"row": step}, META)
    ckpt.close()
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == [2, 3]
    assert find_step_dir(tmp_path, 2).name == "2"
    with pytest.raises(CheckpointNotFound, match="step 1"):
        find_step_dir(tmp_path, 1)
    with pytest.raises(CheckpointNotFound):
        find_step_dir(tmp_path / "nowhere")


def test_export_streams_a_checkpoint_into_an_hf_directory(tmp_path):
    from train_jax.cli import export_main
    from train_jax.hf import load_hf

    state, *_ = _state({"fsdp": 8}, seed=4, step=5)
    ckpt = Checkpointer(tmp_path / "run")
    ckpt.save(state, {}, META)
    ckpt.close()
    assert export_main(["--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 0
    cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert cfg["hidden_size"] == SMALL.hidden_size and cfg["torch_dtype"] == "float32"
    assert json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())["chat_template"]
    back = load_hf(tmp_path / "hf")
    _, _, params = split_model(back)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(jax.device_get(state.params)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert export_main(["--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "hf16"),
                        "--dtype", "bfloat16"]) == 0
    assert json.loads((tmp_path / "hf16" / "config.json").read_text())["torch_dtype"] == "bfloat16"
    assert export_main(["--checkpoint", str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
