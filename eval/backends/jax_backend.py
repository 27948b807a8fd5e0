"""Our own generation: the HF directory loaded into the Flax Mistral (sharded over the mesh) and decoded
greedily with `train_jax.generate.greedy_generate` (KV cache, sliding-window aware, jitted per length bucket).

The default backend on a CPU and the way to evaluate on a TPU. Prompts are rendered and encoded exactly as for
vLLM (`render.encode_prompt`), so the two backends can be compared token for token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.backends.render import decode_outputs, encode_prompt


def load_tokenizer(model_dir: str | os.PathLike) -> Any:
    """The exported tokenizer (with the chat template) from the model folder; never remote code."""
    from transformers import AutoTokenizer

    path = Path(model_dir)
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"{path}: no tokenizer files; export the model with its tokenizer (mnlu export)")
    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


class JaxGenerator:
    """A `GenerateFn` over records, backed by our Flax model."""

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        max_new_tokens: int,
        dtype: str | None = None,
        mesh: Any = None,
        batch_size: int = 8,
        buckets: Sequence[int] | None = None,
    ):
        from train_jax.hf import load_hf
        from train_jax.sharding import make_mesh

        self.model_dir = Path(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.eos_token_id = self.tokenizer.eos_token_id
        if self.eos_token_id is None:
            raise ValueError(f"{model_dir}: the tokenizer has no eos token; generation could not stop")
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else 0
        self.mesh = make_mesh() if mesh is None else mesh
        self.model = load_hf(model_dir, dtype=dtype, mesh=self.mesh)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.buckets = buckets

    def prompt_length(self, record: Mapping[str, Any]) -> int:
        return len(encode_prompt(self.tokenizer, record))

    def generate_ids(self, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
        from train_jax.generate import greedy_generate

        options = {"buckets": tuple(self.buckets)} if self.buckets else {}
        return greedy_generate(
            self.model, [list(p) for p in prompts], self.max_new_tokens, self.eos_token_id, self.pad_token_id,
            batch_size=self.batch_size, mesh=self.mesh, **options,
        )

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        ids = [encode_prompt(self.tokenizer, r) for r in records]
        return decode_outputs(self.tokenizer, self.generate_ids(ids), self.eos_token_id)
