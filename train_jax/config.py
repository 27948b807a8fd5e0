"""Model configuration: the Mistral shapes read from an HF `config.json`, plus the JAX run-time choices.

Shapes always come from the checkpoint's config (never a preset): `rope_theta` is top-level in transformers-4
configs and under `rope_parameters` in transformers-5 configs; `sliding_window` may be null.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_ARCHITECTURES = ("MistralForCausalLM",)
ATTENTION_IMPLS = ("xla", "fused")
DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """A config that cannot describe a supported model; the message names the file and key."""


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 8
    head_dim: int = 128
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    sliding_window: int | None = 4096
    max_position_embeddings: int = 32768
    tie_word_embeddings: bool = False
    bos_token_id: int = 1
    eos_token_id: int = 2
    initializer_range: float = 0.02
    # JAX run-time policy (not part of the HF config).
    param_dtype: str = "float32"
    dtype: str = "float32"  # compute dtype; logits and loss are always float32
    attention: str = "xla"  # "xla" (reference) or "fused" (jax.nn.dot_product_attention: cuDNN on GPU)
    remat: str = "none"  # see train_jax.model.REMAT_POLICIES
    scan_layers: bool = False  # run the layers as one lax.scan (compiles one layer); parameters keep their layout
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if self.attention not in ATTENTION_IMPLS:
            raise ConfigError(f"attention={self.attention!r}; expected one of {ATTENTION_IMPLS}")
        for key in ("param_dtype", "dtype"):
            if getattr(self, key) not in DTYPES:
                raise ConfigError(f"{key}={getattr(self, key)!r}; expected one of {DTYPES}")

    @property
    def num_groups(self) -> int:
        return self.num_attention_heads // self.num_key_value_heads

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def num_params(self) -> int:
        e, m, v, L = self.hidden_size, self.intermediate_size, self.vocab_size, self.num_hidden_layers
        q, kv = self.num_attention_heads * self.head_dim, self.num_key_value_heads * self.head_dim
        per_layer = e * q + 2 * e * kv + q * e + 3 * e * m + 2 * e
        return L * per_layer + v * e * (1 if self.tie_word_embeddings else 2) + e

    # ------------------------------------------------------------------------------------------ HF config

    @classmethod
    def from_hf_dict(cls, cfg: dict[str, Any], *, source: str = "config.json", **runtime: Any) -> ModelConfig:
        archs = cfg.get("architectures") or ["MistralForCausalLM"]
        if not any(a in SUPPORTED_ARCHITECTURES for a in archs):
            raise ConfigError(f"{source}: architectures={archs}; supported: {list(SUPPORTED_ARCHITECTURES)}")
        if cfg.get("model_type", "mistral") != "mistral":
            raise ConfigError(f"{source}: model_type={cfg.get('model_type')!r}; expected 'mistral'")
        required = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        missing = [k for k in required if k not in cfg]
        if missing:
            raise ConfigError(f"{source}: missing key(s) {missing}")
        heads = int(cfg["num_attention_heads"])
        rope = cfg.get("rope_parameters") or {}
        theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
        rope_type = rope.get("rope_type", "default")
        if rope_type != "default" or cfg.get("rope_scaling"):
            raise ConfigError(f"{source}: rope scaling {rope_type!r} is not supported (only default RoPE)")
        if cfg.get("hidden_act", "silu") != "silu":
            raise ConfigError(f"{source}: hidden_act={cfg.get('hidden_act')!r}; expected 'silu'")
        eos = cfg.get("eos_token_id", 2)
        if isinstance(eos, list):
            eos = eos[0]
        return cls(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or int(cfg["hidden_size"]) // heads),
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-5)),
            rope_theta=float(theta),
            sliding_window=None if cfg.get("sliding_window") is None else int(cfg["sliding_window"]),
            max_position_embeddings=int(cfg.get("max_position_embeddings", 32768)),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            bos_token_id=int(cfg.get("bos_token_id", 1) if cfg.get("bos_token_id") is not None else 1),
            eos_token_id=int(eos if eos is not None else 2),
            initializer_range=float(cfg.get("initializer_range", 0.02)),
            **runtime,
        )

    @classmethod
    def from_hf_file(cls, path: str | Path, **runtime: Any) -> ModelConfig:
        path = Path(path)
        try:
            cfg = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: not found; an HF model directory needs config.json") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
        return cls.from_hf_dict(cfg, source=str(path), **runtime)

    def to_hf_dict(self, torch_dtype: str) -> dict[str, Any]:
        """A transformers-loadable MistralForCausalLM config (both the 4.x and 5.x RoPE spellings)."""
        return {
            "architectures": ["MistralForCausalLM"],
            "model_type": "mistral",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": self.rope_theta},
            "sliding_window": self.sliding_window,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "initializer_range": self.initializer_range,
            "attention_dropout": 0.0,
            "use_cache": True,
            "dtype": torch_dtype,
            "torch_dtype": torch_dtype,
        }


def load_model_yaml(path: str | Path) -> dict[str, Any]:
    """The `model:` section of a YAML recipe (e.g. configs/tiny.yaml)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
