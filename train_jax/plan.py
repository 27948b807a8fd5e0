"""Compile-only planning: will this recipe fit that pod? The real train step, compiled for abstract devices.

    mnlu train --config configs/tiny.yaml --compile-only --topology cpu:8 [--json plan.json]
    .venv-tpu/bin/mnlu train --config configs/mistral7b_plan.yaml --compile-only --topology v5p-8 \
        --per_device_train_batch_size 16 --json runs/plan_v5p8_b16.json      # needs `make tpu-venv`
    python -c "from train_jax.plan import plan; ..."  # plan(cfg, topology) -> dict (same numbers)

The abstract state comes from `jax.eval_shape` (no weights are materialised), the mesh from the config over the
topology's devices, the batch shapes and shardings from `trainer.build_step` (the function the real run uses),
and the step is lowered and compiled. Reported per device: argument, output, temp, code and peak bytes from
`memory_analysis()`, the chip's HBM and fits / does not fit with the headroom; FLOPs per step: XLA's
`cost_analysis()` counts a `lax.scan` body once, so with scan_layers the compiled FLOPs are counted from two extra
unrolled compiles of the same step with 1 and 2 layers (F = F1 + (L−1)·(F2 − F1): exact, the layers are
identical), shown next to model FLOPs 6·N·tokens, attention FLOPs (full T×S masked, as compiled, and causal
half, as MFU counts), and the remat recompute.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from train_jax.topology import GIB, Topology, parse_topology
from train_jax.train_config import TrainConfig


def _compile(cfg: TrainConfig, model_cfg, devices):
    from flax import nnx

    from train_jax import optim
    from train_jax.model import abstract_model
    from train_jax.sharding import DEFAULT_RULES, batch_parallelism, make_mesh, rules_from_config
    from train_jax.train import state_shardings
    from train_jax.trainer import build_step

    rules = DEFAULT_RULES if cfg.logical_axis_rules is None else rules_from_config(cfg.logical_axis_rules)
    mesh = make_mesh(cfg.mesh, devices=devices)
    rows_micro = cfg.per_device_train_batch_size * batch_parallelism(mesh, rules)
    schedule = optim.lr_schedule(cfg.lr_scheduler_type, cfg.learning_rate, 1000, 100)
    tx = optim.make_optimizer(schedule, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
                              b1=cfg.adam_beta1, b2=cfg.adam_beta2, eps=cfg.adam_epsilon)
    graphdef, abstract_params = nnx.split(abstract_model(model_cfg), nnx.Param)
    shardings = state_shardings(abstract_params, tx, mesh, rules)
    _, step_fn, args = build_step(cfg, graphdef, abstract_params, tx, schedule, mesh, rules, rows_micro, shardings)
    return step_fn.lower(*args).compile(), mesh, rows_micro


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float((cost or {}).get("flops", 0.0))


def theory_flops(model_cfg, rows: int, seq: int, remat: str) -> dict[str, float]:
    """Per step, all devices: model 6·N·tokens, attention (full T×S masked as compiled; causal half), remat."""
    tokens = rows * seq
    n = model_cfg.num_params()
    L, h, d = model_cfg.num_hidden_layers, model_cfg.num_attention_heads, model_cfg.head_dim
    attn_fwd_full = 4.0 * rows * seq * seq * h * d * L  # QKᵀ and PV over every key
    model = 6.0 * n * tokens
    recompute = (2.0 * (n - model_cfg.vocab_size * model_cfg.hidden_size) * tokens + attn_fwd_full
                 if remat == "full" else 0.0)  # the layers' forward once more (the head is outside the remat)
    return {"model_6NT": model, "attention_full": 3 * attn_fwd_full, "attention_causal": 1.5 * attn_fwd_full,
            "remat_recompute": recompute, "expected_compiled": model + 3 * attn_fwd_full + recompute}


def plan(cfg: TrainConfig, topology: Topology | str, model_cfg=None) -> dict[str, Any]:
    """Compile the train step of `cfg` for `topology`; memory per device, fit, FLOPs and ideal step time."""
    from train_jax.trainer import _model_config

    topo = parse_topology(topology) if isinstance(topology, str) else topology
    model_cfg = model_cfg or _model_config(cfg)[0]
    devices = topo.devices()
    compiled, mesh, rows_micro = _compile(cfg, model_cfg, devices)
    mem = compiled.memory_analysis()
    rows = rows_micro * cfg.gradient_accumulation_steps
    raw = _flops(compiled)
    L = model_cfg.num_hidden_layers
    # scans (layers, loss blocks) are counted once by cost_analysis: count from unrolled compiles instead
    flat = dataclasses.replace(cfg, scan_layers=False, loss_block_size=cfg.max_seq_length)
    if L > 2:
        f1, f2 = (_flops(_compile(flat, model_cfg.replace(num_hidden_layers=k, scan_layers=False), devices)[0])
                  for k in (1, 2))
        compiled_flops, method = f1 + (L - 1) * (f2 - f1), "unrolled 1- and 2-layer compiles, extrapolated to L"
    elif cfg.scan_layers or cfg.loss_block_size < cfg.max_seq_length:
        compiled_flops = _flops(_compile(flat, model_cfg.replace(scan_layers=False), devices)[0])
        method = "an unrolled compile (no layer scan, one loss block)"
    else:
        compiled_flops, method = raw, "cost_analysis of the compiled step (no scan)"
    per_device = {
        "argument_gib": mem.argument_size_in_bytes / GIB, "output_gib": mem.output_size_in_bytes / GIB,
        "alias_gib": mem.alias_size_in_bytes / GIB, "temp_gib": mem.temp_size_in_bytes / GIB,
        "code_gib": mem.generated_code_size_in_bytes / GIB,
    }
    peak = max(getattr(mem, "peak_memory_in_bytes", 0) or 0, mem.argument_size_in_bytes + mem.output_size_in_bytes
               - mem.alias_size_in_bytes + mem.temp_size_in_bytes)  # CPU reports no true peak
    per_device["peak_gib"] = peak / GIB
    theory = theory_flops(model_cfg, rows, cfg.max_seq_length, cfg.remat)
    # cost_analysis is per device program on SPMD: scale to all devices
    total_compiled = compiled_flops * len(devices)
    out: dict[str, Any] = {
        "topology": topo.name, "platform": topo.platform, "devices": len(devices), "mesh": dict(mesh.shape),
        "params": model_cfg.num_params(), "per_device_batch": cfg.per_device_train_batch_size,
        "accumulation": cfg.gradient_accumulation_steps, "seq": cfg.max_seq_length, "rows_per_step": rows,
        "remat": cfg.remat, "scan_layers": cfg.scan_layers, "compute_dtype": cfg.compute,
        "loss_block_size": cfg.loss_block_size, "memory_per_device": per_device,
        "hbm_gib": None if topo.hbm_bytes is None else topo.hbm_bytes / GIB,
        "flops": {"compiled_all_devices": total_compiled, "compiled_raw_cost_analysis_per_device": raw,
                  "count_method": method, **theory},
    }
    if topo.hbm_bytes is not None:
        out["fits"] = peak <= topo.hbm_bytes
        out["headroom"] = 1.0 - peak / topo.hbm_bytes
    if topo.peak_flops is not None:
        out["ideal_step_s"] = total_compiled / (topo.peak_flops * len(devices))
        out["ideal_step_s_model_flops"] = theory["model_6NT"] / (topo.peak_flops * len(devices))
    return out


def format_plan(p: dict[str, Any]) -> str:
    m, f = p["memory_per_device"], p["flops"]
    lines = [
        f"plan: {p['topology']} ({p['devices']} devices, mesh {p['mesh']}), {p['params'] / 1e9:.2f}B params, "
        f"{p['per_device_batch']} rows/device × {p['accumulation']} micro × {p['seq']} tokens, remat {p['remat']}",
        "per device GiB: " + ", ".join(f"{k[:-4]} {v:.2f}" for k, v in m.items()),
    ]
    if p.get("hbm_gib") is not None:
        verdict = "fits" if p["fits"] else "does NOT fit"
        lines.append(f"HBM {p['hbm_gib']:.2f} GiB: {verdict} (headroom {100 * p['headroom']:.1f}%)")
    lines.append(f"FLOPs/step: compiled {f['compiled_all_devices']:.3e} ({f['count_method']}); model 6·N·tokens "
                 f"{f['model_6NT']:.3e}; attention full {f['attention_full']:.3e} / causal {f['attention_causal']:.3e}; "
                 f"remat recompute {f['remat_recompute']:.3e}; ratio compiled/6NT "
                 f"{f['compiled_all_devices'] / f['model_6NT']:.2f}")
    if "ideal_step_s" in p:
        lines.append(f"ideal step at peak: {p['ideal_step_s']:.3f}s compiled FLOPs, {p['ideal_step_s_model_flops']:.3f}s "
                     "model FLOPs")
    return "\n".join(lines)


def write_json(p: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(p, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


__all__ = ["plan", "format_plan", "write_json", "theory_flops"]
