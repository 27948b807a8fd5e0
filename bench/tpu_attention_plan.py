"""Compile the project's train step ahead of time for an abstract TPU topology (no TPU needed: libtpu's compiler,
`jax.experimental.topologies`) and print the compiler's per-chip peak memory; `--check` instead compiles a tiny
model and verifies that `attention: fused` lowers to the Pallas splash kernel with no [T, T] fp32 buffer.

Run in the TPU test venv (`.venv-tpu`, jax[tpu]==0.10.2):
  .venv-tpu/bin/python bench/tpu_attention_plan.py --topology v6e:2x4 --rows 16 --attention fused xla
  .venv-tpu/bin/python bench/tpu_attention_plan.py --check
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import topologies  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

from train_jax.config import ModelConfig  # noqa: E402
from train_jax.model import abstract_model  # noqa: E402
from train_jax.optim import make_optimizer  # noqa: E402
from train_jax.sharding import MESH_AXES, batch_sharding  # noqa: E402
from train_jax.train import abstract_state, jit_train_step, make_train_step, split_model, state_shardings  # noqa: E402

GIB = 2**30


def tpu_mesh(topology: str) -> Mesh:
    """All chips of the topology on the fsdp axis (the project's default mesh)."""
    devices = topologies.get_topology_desc(topology_name=topology, platform="tpu").devices
    return Mesh(np.asarray(devices).reshape(1, len(devices), 1), MESH_AXES)


def compile_step(mesh: Mesh, cfg: ModelConfig, rows_per_device: int, micro: int, seq: int):
    """The jitted train step (AdamW, fp32 master weights) lowered and compiled for `mesh`."""
    graphdef, params_state, _ = split_model(abstract_model(cfg))
    schedule = lambda step: jnp.float32(2e-5)  # noqa: E731
    tx = make_optimizer(schedule)
    shardings = state_shardings(params_state, tx, mesh)
    state = abstract_state(params_state, tx, shardings)
    shape = (micro, rows_per_device * mesh.devices.size, seq)
    b_shard = batch_sharding(mesh, shape)
    batch = {k: jax.ShapeDtypeStruct(shape, jnp.int32, sharding=b_shard)
             for k in ("input_ids", "targets", "segment_ids", "positions")}
    batch["weights"] = jax.ShapeDtypeStruct(shape, jnp.float32, sharding=b_shard)
    step = make_train_step(graphdef, tx, schedule, mesh=mesh, grad_shardings=shardings.params)
    lowered = jit_train_step(step, shardings, b_shard, mesh).lower(state, batch)
    return lowered, lowered.compile()


def seven_b(attention: str) -> ModelConfig:
    return ModelConfig(param_dtype="float32", dtype="bfloat16", attention=attention, remat="full", scan_layers=True)


def check() -> dict:
    """Tiny model, seq 512 (vocab 640, MLP 768: no logits or MLP shape matches), v5e 2x2: the fused step must call the Mosaic
    kernel and hold no f32[.., 512, 512]."""
    mesh = tpu_mesh("v5e:2x2")
    out = {"host_default_backend": jax.default_backend(), "target_platform": mesh.devices.flat[0].platform}
    for attention in ("fused", "xla"):
        cfg = ModelConfig(vocab_size=640, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=128, sliding_window=256,
                          dtype="bfloat16", attention=attention, remat="full")
        lowered, compiled = compile_step(mesh, cfg, 1, 1, 512)
        hlo = compiled.as_text()
        out[attention] = {
            "mosaic_custom_calls": len(re.findall(r'custom_call_target="tpu_custom_call"', hlo)),
            "lowered_mosaic": lowered.as_text().count("tpu_custom_call"),
            "tt_f32_buffers": len(re.findall(r"f32\[[0-9,]*(?:512|1024),512\]", hlo)),  # scores [.., (G·)T, S]
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--topology", default="v6e:2x4")
    ap.add_argument("--rows", type=int, nargs="+", default=[16])
    ap.add_argument("--micro", type=int, default=1, help="gradient accumulation steps")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--attention", nargs="+", default=["fused"])
    args = ap.parse_args()
    if args.check:
        print(json.dumps(check()))
        return
    mesh = tpu_mesh(args.topology)
    for attention in args.attention:
        for rows in args.rows:
            _, compiled = compile_step(mesh, seven_b(attention), rows, args.micro, args.seq)
            m = compiled.memory_analysis()
            print(json.dumps({"topology": args.topology, "chips": int(mesh.devices.size), "attention": attention,
                              "rows_per_device": rows, "micro": args.micro, "seq": args.seq,
                              "peak_gib": round(m.peak_memory_in_bytes / GIB, 2),
                              "args_gib": round(m.argument_size_in_bytes / GIB, 2),
                              "temp_gib": round(m.temp_size_in_bytes / GIB, 2)}), flush=True)


if __name__ == "__main__":
    main()
