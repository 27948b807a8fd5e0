"""rng mergelm against a replica of MergeLM's own operation sequence, written here with torch (test-only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from merge.cli import main
from merge.config import from_dict
from merge.plan import build_plan

from .helpers import load_tensors, read_config


def _fp32_state(path: Path) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_file(str(path / "model.safetensors")).items()}


def _module_order(path: Path) -> list[str]:
    from transformers import MistralConfig, MistralForCausalLM

    cfg = MistralConfig(**{k: v for k, v in read_config(path).items() if k not in ("architectures",)})
    with torch.device("meta"):
        model = MistralForCausalLM(cfg)
    return [n for n, _ in model.named_parameters()]


def _smart_resize(sd: dict[str, torch.Tensor]) -> None:
    """smart_tokenizer_and_embedding_resize: one new row, set to the mean of the old rows (fp32)."""
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        w = sd[name]
        new = torch.cat([w, torch.zeros(1, w.shape[1])], dim=0)
        new[-1:] = new[:-1].mean(dim=0, keepdim=True)
        sd[name] = new


def mergelm_replica(base: Path, ft: Path, rate: float, add_pad: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """MergeLM: mask_merging(models_to_merge=[base, ft], weight_format=delta_weight, use_weight_rescale=True,
    mask_strategy=random, mask_apply_method=average_merging), base as the pretrained model."""
    order = _module_order(base)
    pretrained, base_copy, finetuned = _fp32_state(base), _fp32_state(base), _fp32_state(ft)
    if add_pad:
        for sd in (pretrained, base_copy, finetuned):
            _smart_resize(sd)
    torch.manual_seed(seed)
    models_to_merge = [base_copy, finetuned]
    with torch.no_grad():
        for model in models_to_merge:
            task_vector = {n: model[n] - pretrained[n] for n in order}
            masked = {}
            for n in order:  # mask_input_with_mask_rate
                t = task_vector[n]
                mask = torch.bernoulli(torch.full_like(input=t, fill_value=rate))
                m = t * (1 - mask)
                if rate != 1.0:
                    m = torch.div(input=m, other=1 - rate)
                masked[n] = m
            for n in order:  # combine_with_pretrained_model(scaling_coefficient=1.0)
                model[n] = pretrained[n] + 1.0 * masked[n]
        return {n: torch.stack([m[n] for m in models_to_merge], dim=0).mean(dim=0) for n in order}


def test_module_order_matches_mistral(models):
    cfg = from_dict({"merge_method": "dare_linear", "base_model": str(models["base"]),
                     "models": [str(models["ft"])], "rng": "native"})
    plan = build_plan(cfg)
    assert [t.name for t in plan.tensors] == _module_order(models["base"])


@pytest.mark.parametrize("add_pad", [False, True])
def test_mergelm_bit_for_bit(models, tmp_path, add_pad):
    out = tmp_path / "out"
    argv = ["--base", str(models["base"]), "--finetuned", str(models["ft"]), "--out", str(out),
            "--method", "dare_linear", "--drop-rate", "0.2", "--rescale", "--weight", "0.5", "--rng", "mergelm",
            "--seed", "0", "--dtype", "float32", "--no-progress", "--chunk-elements", "1000", "--threads", "3"]
    assert main(argv + (["--add-pad-token"] if add_pad else [])) == 0
    ours = load_tensors(out)
    ref = mergelm_replica(models["base"], models["ft"], 0.2, add_pad)
    assert set(ours) == set(ref)
    for name, value in ref.items():
        assert ours[name].shape == tuple(value.shape), name
        assert np.array_equal(ours[name].view(np.uint32), value.numpy().view(np.uint32)), name
    if add_pad:
        assert read_config(out)["vocab_size"] == read_config(models["base"])["vocab_size"] + 1
        assert read_config(out)["pad_token_id"] == read_config(models["base"])["vocab_size"]


def test_mergelm_paper_config_file(models, tmp_path):
    """configs/merge_dare.yaml with paths from flags gives the same bytes as the flag-only recipe."""
    cfg = Path(__file__).resolve().parents[2] / "configs" / "merge_dare.yaml"
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["--config", str(cfg), "--base", str(models["base"]), "--finetuned", str(models["ft"]),
                 "--out", str(a), "--no-progress"]) == 0
    assert main(["--base", str(models["base"]), "--finetuned", str(models["ft"]), "--out", str(b),
                 "--method", "dare_linear", "--drop-rate", "0.2", "--rescale", "--weight", "0.5", "--rng",
                 "mergelm", "--seed", "0", "--no-progress", "--threads", "1"]) == 0
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    ref = mergelm_replica(models["base"], models["ft"], 0.2, False)
    ours = load_file(str(a / "model.safetensors"))
    for name, value in ref.items():  # bf16 output: MergeLM's fp32 result rounded to nearest even
        assert torch.equal(ours[name], value.to(torch.bfloat16)), name


def test_torch_bernoulli_stream_fact():
    """design.md §3: torch's CPU bernoulli(full(p)) drops iff (draw & 0xFFFFFF) * 2^-24 < float32(p), with the
    draws of RandomState(seed) (one per element, consecutive tensors continuing the stream)."""
    from merge.rng import MergeLMStream, drop_threshold, keep_mask

    torch.manual_seed(7)
    a = torch.bernoulli(torch.full((3000,), 0.2))
    b = torch.bernoulli(torch.full((50, 41), 0.35))
    s = MergeLMStream(7, 3000)
    keep_b = keep_mask(s.draws(3000, 2050), drop_threshold(0.35))
    assert np.array_equal(keep_b == 0, b.numpy().reshape(-1) == 1)
    keep_a = keep_mask(MergeLMStream(7, 0).draws(0, 3000), drop_threshold(0.2))
    assert np.array_equal(keep_a == 0, a.numpy() == 1)
