"""The output HF directory: loads in transformers and in train_jax.load_hf with the expected logits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from merge.cli import main

from .helpers import CHAT_TEMPLATE, read_config
from .test_mergelm import mergelm_replica


@pytest.fixture(scope="module")
def merged(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("merged") / "out"
    argv = ["--base", str(models["base"]), "--finetuned", str(models["ft"]), "--out", str(out),
            "--method", "dare_linear", "--drop-rate", "0.2", "--rescale", "--weight", "0.5", "--rng", "mergelm",
            "--seed", "0", "--no-progress", "--add-pad-token", "--max-shard-size", "60KB"]
    assert main(argv) == 0
    return out


def _expected_model(models):
    from transformers import MistralConfig, MistralForCausalLM

    state = mergelm_replica(models["base"], models["ft"], 0.2, add_pad=True)
    cfg = read_config(models["base"])
    cfg["vocab_size"] += 1
    model = MistralForCausalLM(MistralConfig(**{k: v for k, v in cfg.items() if k != "architectures"}))
    model.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in state.items()}, strict=True)
    return model.eval()


def test_directory_layout(models, merged):
    cfg = read_config(merged)
    assert cfg["vocab_size"] == 97 and cfg["pad_token_id"] == 96
    assert cfg.get("dtype", cfg.get("torch_dtype")) == "bfloat16"
    index = json.loads((merged / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and all((merged / s).is_file() for s in shards)
    gen = json.loads((merged / "generation_config.json").read_text())
    assert gen["eos_token_id"] == 2 and gen["pad_token_id"] == 96
    header = (merged / shards[0]).read_bytes()
    meta = json.loads(header[8 : 8 + int.from_bytes(header[:8], "little")])["__metadata__"]
    recipe = json.loads(meta["mnlu_merge"])
    assert recipe["rng"] == "mergelm" and recipe["seed"] == 0 and len(recipe["base"]["fingerprint"]) == 64
    report = json.loads((merged / "merge_report.json").read_text())
    assert len(report["tensors"]) == 21
    assert not list(merged.parent.glob(".*tmp*"))


def test_loads_in_transformers_with_expected_logits(models, merged):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ids = torch.tensor([[1, 5, 9, 33, 96, 2]])
    got = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(got(ids).logits, _expected_model(models)(ids).logits)
    tok = AutoTokenizer.from_pretrained(merged)
    assert tok.pad_token == "[PAD]" and tok.pad_token_id == 96
    assert tok.chat_template == CHAT_TEMPLATE


def test_loads_in_train_jax_load_hf(models, merged):
    hf = pytest.importorskip("train_jax.hf")
    import jax.numpy as jnp

    model = hf.load_hf(merged, dtype="float32")
    ids = np.array([[1, 5, 9, 33, 96, 2]], dtype=np.int32)
    ours = np.asarray(model(jnp.asarray(ids)))
    with torch.no_grad():
        ref = _expected_model(models)(torch.tensor(ids, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
