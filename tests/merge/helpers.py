"""Tiny synthetic Mistral-shaped checkpoints with MistralForCausalLM's real tensor names (test-only torch use)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TINY = dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=128, rms_norm_eps=1e-5,
            tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def make_model_dir(path: Path, seed: int = 0, dtype: str = "bfloat16", like: Path | None = None,
                   noise: float = 0.01, tokenizer: bool = True, std: float = 0.05, **overrides) -> Path:
    """Save a random tiny MistralForCausalLM; with `like`, the weights are that model's plus small noise
    (a stand-in for fine-tuning), so deltas are small as in a real fine-tune."""
    import torch
    from safetensors.torch import load_file
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(seed)
    cfg = MistralConfig(**{**TINY, **overrides})
    model = MistralForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
        if like is not None:
            ref = load_file(str(like / "model.safetensors"))
            for name, p in model.named_parameters():
                p.copy_(ref[name].float() + noise * torch.randn_like(p))
    model = model.to(getattr(torch, dtype))
    model.save_pretrained(path, safe_serialization=True)
    if tokenizer:
        write_tokenizer(path, cfg.vocab_size)
    return path


def write_tokenizer(path: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(3, vocab_size):
        vocab[f"w{i}"] = i
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)


def load_tensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of an HF directory as float32 NumPy arrays (via safetensors' torch loader)."""
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    out = {}
    for f in files:
        for k, v in load_file(str(f)).items():
            out[k] = v.float().numpy()
    return out


def read_config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text())
