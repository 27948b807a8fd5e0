"""`attention: fused` picks its kernel from the devices the program is compiled for, never from the host.

- CPU target: the XLA path (no Pallas call), even when `jax.default_backend()` claims a TPU.
- TPU target (an abstract v5e 2x2 topology compiled on this CPU host with libtpu from `.venv-tpu`): the train step
  of a tiny model calls the Pallas splash kernel (Mosaic custom call) and holds no [T, T] float32 buffer, while
  the same step with `attention: xla` holds them (so the check can fail). Skipped with the reason when
  `.venv-tpu` is absent (`make tpu-venv`); it runs `bench/tpu_attention_plan.py --check` in that venv.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from train_jax.attention import AttentionMask, folded_segment_ids, fused_attention, target_platform
from train_jax.model import attention_mask_from
from train_jax.sharding import activation_sharding, make_mesh

ROOT = Path(__file__).resolve().parents[2]
TPU_PY = ROOT / ".venv-tpu" / "bin" / "python"


def _attend_jaxpr() -> str:
    t = 256
    q = jnp.zeros((2, t, 4, 128), jnp.bfloat16)
    kv = jnp.zeros((2, t, 2, 128), jnp.bfloat16)
    pos = jnp.broadcast_to(jnp.arange(t), (2, t))
    seg = jnp.zeros((2, t), jnp.int32)
    valid = jnp.ones((2, t), bool)
    mask = AttentionMask(attention_mask_from(pos, pos, seg, seg, valid, 128), folded_segment_ids(seg, valid))
    return str(jax.make_jaxpr(lambda q, k, v: fused_attention(q, k, v, mask, 128))(q, kv, kv))


def test_cpu_target_uses_xla_even_if_the_host_default_backend_says_tpu(monkeypatch):
    mesh = make_mesh({"fsdp": -1})
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")  # the choice must not read it
    with activation_sharding(mesh):
        assert target_platform() == "cpu"
        text = _attend_jaxpr()
    assert "pallas_call" not in text and "dot_general" in text
    assert target_platform() == "cpu"  # no mesh: the first local device decides
    assert "pallas_call" not in _attend_jaxpr()


@pytest.mark.skipif(not TPU_PY.exists(), reason="no .venv-tpu with libtpu (build it with `make tpu-venv`)")
def test_tpu_target_compiles_the_splash_kernel_and_no_tt_fp32_scores():
    done = subprocess.run([str(TPU_PY), str(ROOT / "bench/tpu_attention_plan.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["host_default_backend"] == "cpu" and out["target_platform"] == "tpu"
    fused, xla = out["fused"], out["xla"]
    assert fused["lowered_mosaic"] > 0 and fused["mosaic_custom_calls"] > 0
    assert fused["tt_f32_buffers"] == 0, "the fused step holds [T, T] fp32 scores"
    assert xla["mosaic_custom_calls"] == 0 and xla["tt_f32_buffers"] > 0  # the check sees them when they exist
