"""Training metrics: MFU by MaxText's formula, and one logger that feeds the progress bar, metrics.jsonl and
tensorboard. Only process 0 writes anything.

MFU = model FLOPs per step / (step time × peak FLOP/s × devices). Model FLOPs (MaxText's
`calculate_tflops_training_per_device`): 3 × (forward matmul FLOPs of every weight + the output projection) plus
3 × attention FLOPs with causal attention counted at half (and the sliding window respected); the embedding lookup
counts nothing. The peak is `peak_tflops_per_device` when given, a table of accelerators' dense bf16 peaks, or, on a
CPU, a matmul ceiling measured at start-up in the compute dtype.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from train_jax.config import ModelConfig

# Dense bf16 peak FLOP/s per device (vendor figures), matched against `device_kind`, longest key first.
PEAK_BF16 = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "TPU v6": 918e12,
    "TPU v5p": 459e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v4": 275e12,
}


def train_flops_per_step(cfg: ModelConfig, rows: int, seq: int) -> float:
    """MaxText's training FLOPs for `rows` sequences of `seq` tokens (forward + backward = 3 × forward)."""
    tokens = rows * seq
    e, m, L = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    q, kv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    ffn = 2 * tokens * m * e * 3  # gate, up, down
    qkv = 2 * tokens * e * (q + 2 * kv) * d
    proj = 2 * tokens * e * q * d
    logits = 2 * tokens * e * cfg.vocab_size
    window = cfg.sliding_window or seq
    visible = seq * seq / 2 if window >= seq else seq * window - window * window / 2  # keys per query, summed
    attention = 4 * rows * visible * q * d
    return 3.0 * ((ffn + qkv + proj) * L + logits) + 3.0 * attention * L


def measure_matmul_flops(dtype: str = "float32", n: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of a jitted n×n matmul on one device (float32 accumulation), best of `repeats`."""
    import jax
    import jax.numpy as jnp

    dt = jnp.bfloat16 if dtype == "bfloat16" else jnp.float32
    a = jnp.ones((n, n), dt)
    f = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def peak_flops_per_device(compute_dtype: str, override_tflops: float | None = None) -> tuple[float, str]:
    """(peak FLOP/s of one device, where the number comes from)."""
    import jax

    if override_tflops:
        return override_tflops * 1e12, "peak_tflops_per_device"
    kind = jax.devices()[0].device_kind
    for key in sorted(PEAK_BF16, key=len, reverse=True):
        if key.lower() in kind.lower():
            peak = PEAK_BF16[key]
            return (peak if compute_dtype == "bfloat16" else peak / 2), f"{key} datasheet"
    if jax.default_backend() == "cpu":
        # The simulated devices share the host's cores: the ceiling of one is the host's divided among them.
        return measure_matmul_flops(compute_dtype) / jax.local_device_count(), "measured CPU matmul"
    return float("nan"), f"unknown device {kind!r}"


class MetricsLogger:
    """Progress bar + `<output_dir>/metrics.jsonl` + tensorboard (`<output_dir>/runs`), on process 0 only."""

    def __init__(
        self,
        output_dir: str | Path,
        *,
        total_steps: int,
        start_step: int,
        reporters: list[str],
        enabled: bool,
        show_bar: bool = True,
    ):
        self.enabled = enabled
        self.path = Path(output_dir) / "metrics.jsonl"
        self.bar = None
        self.tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_after(start_step)
        if show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)
        if "tensorboard" in reporters:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(str(Path(output_dir) / "runs"))

    def _drop_after(self, step: int) -> None:
        """A resumed run replays the steps after its checkpoint: drop their earlier records."""
        if not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(f"{line}\n" for line in kept))
        os.replace(tmp, self.path)

    def event(self, record: dict[str, Any]) -> None:
        """A non-step record (start, resume, summary) in metrics.jsonl."""
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **{k: float(v) for k, v in values.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"train/{k}", float(v), step)
        if self.bar is not None:
            self.bar.set_postfix(
                loss=f"{values['loss']:.4f}",
                lr=f"{values['learning_rate']:.2e}",
                gnorm=f"{values['grad_norm']:.3f}",
                tok_s=f"{values['tokens_per_s']:.0f}",
                mfu=f"{100 * values['mfu']:.1f}%",
                refresh=False,
            )

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def write(self, message: str) -> None:
        """A one-line message on process 0 (through the bar, so it does not break it)."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(message)
        else:
            print(message, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
