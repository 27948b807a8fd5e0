"""Test-only helpers: tiny random transformers Mistral models (torch is the parity oracle, never a run-time need)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import MistralConfig, MistralForCausalLM


def tiny_hf_model(seed: int = 0, **overrides) -> MistralForCausalLM:
    kwargs = dict(
        vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, sliding_window=8, max_position_embeddings=256, rope_theta=10000.0,
        tie_word_embeddings=False,
    )
    kwargs.update(overrides)
    torch.manual_seed(seed)
    cfg = MistralConfig(**kwargs)
    cfg._attn_implementation = "eager"
    model = MistralForCausalLM(cfg).eval()
    with torch.no_grad():  # non-trivial norm weights so a wrong norm mapping cannot hide
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.08)
    return model


def hf_logits(model: MistralForCausalLM, ids: np.ndarray, attention_mask=None, position_ids=None) -> np.ndarray:
    with torch.no_grad():
        out = model(
            input_ids=torch.as_tensor(ids, dtype=torch.long),
            attention_mask=None if attention_mask is None else torch.as_tensor(attention_mask, dtype=torch.long),
            position_ids=None if position_ids is None else torch.as_tensor(position_ids, dtype=torch.long),
        )
    return out.logits.float().numpy()


def save_hf_reference(model: MistralForCausalLM, path: Path, **kwargs) -> Path:
    model.save_pretrained(path, **kwargs)
    return path
