"""AdamW with HF Trainer's semantics: the same schedules, decay mask, clipping and defaults, in optax.

Why match HF exactly: the paper's recipe is an HF Trainer recipe, so its learning rate at step t, which tensors
decay, and when gradients are clipped must mean the same here. The schedule is a function of the update count
(the first update uses the rate at step 0, which is 0 during warmup, as in HF); warmup is `warmup_steps`, or
ceil(warmup_ratio × total steps); norm scales get no weight decay (HF's `get_decay_parameter_names` leaves out every
parameter whose name contains `norm`); gradients are clipped by their global norm before AdamW.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax


def warmup_steps(total_steps: int, warmup_ratio: float, warmup_steps: int = 0) -> int:
    return warmup_steps if warmup_steps > 0 else math.ceil(total_steps * warmup_ratio)


def lr_schedule(kind: str, peak: float, total_steps: int, warmup: int) -> Callable[[jax.Array], jax.Array]:
    """HF's `get_scheduler(kind)` lambdas times the peak rate, as a jittable function of the update count."""

    def schedule(count: jax.Array) -> jax.Array:
        step = jnp.asarray(count, jnp.float32)
        warm = step / max(1, warmup)
        if kind == "constant":
            return jnp.asarray(peak, jnp.float32) + 0.0 * step
        if kind == "constant_with_warmup":
            return peak * jnp.where(step < warmup, warm, 1.0)
        progress = (step - warmup) / max(1, total_steps - warmup)
        if kind == "linear":
            after = jnp.maximum(0.0, (total_steps - step) / max(1, total_steps - warmup))
        elif kind == "cosine":
            after = jnp.maximum(0.0, 0.5 * (1.0 + jnp.cos(jnp.pi * 0.5 * 2.0 * progress)))
        else:
            raise ValueError(f"lr_scheduler_type={kind!r}; expected linear, cosine, constant, constant_with_warmup")
        return peak * jnp.where(step < warmup, warm, after)

    return schedule


def decay_mask(params: Any) -> Any:
    """True for tensors that get weight decay: everything but the norm scales (as HF)."""

    def decays(path: tuple[Any, ...], _: Any) -> bool:
        return not any("norm" in str(getattr(k, "key", k)).lower() for k in path)

    return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(
    schedule: Callable[[jax.Array], jax.Array],
    *,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """clip_by_global_norm → AdamW (torch's decoupled decay, bias-corrected moments, eps outside the sqrt)."""
    parts = []
    if max_grad_norm and max_grad_norm > 0:
        parts.append(optax.clip_by_global_norm(max_grad_norm))
    parts.append(optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*parts)
