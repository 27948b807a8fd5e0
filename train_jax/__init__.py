"""A Flax NNX Mistral that loads BioMistral's HF weights, fine-tunes them sharded, and exports them back."""

from __future__ import annotations

from typing import Any

__all__ = ["load_hf", "save_hf", "Mistral", "ModelConfig", "init_model"]


def __getattr__(name: str) -> Any:  # lazy: `import train_jax` stays cheap and jax-free until used
    if name in ("load_hf", "save_hf"):
        from train_jax import hf

        return getattr(hf, name)
    if name in ("Mistral", "init_model"):
        from train_jax import model

        return getattr(model, name)
    if name == "ModelConfig":
        from train_jax.config import ModelConfig

        return ModelConfig
    raise AttributeError(name)
