"""Compile-only planning: will this recipe fit that pod? The real train step, compiled for abstract devices.

    mnlu train --config configs/tiny.yaml --compile-only --topology cpu:8 [--json plan.json]
    .venv-tpu/bin/mnlu train --config configs/mistral7b_plan.yaml --compile-only --topology v5p-8 \
        --per_device_train_batch_size 16 --json runs/plan_v5p8_b16.json      # needs `make tpu-venv`
    .venv-tpu/bin/mnlu train --config configs/mistral7b_plan.yaml --compile-only --topology v6e-8 --find-max-batch
    python -c "from train_jax.plan import plan; ..."  # plan(cfg, topology) -> dict (same numbers)

The abstract state comes from `jax.eval_shape` (no weights are materialised), the mesh from the config over the
topology's devices, the batch shapes and shardings from `trainer.build_step` (the function the real run uses),
and the step is lowered and compiled. Reported per device: argument, output, temp, code and peak bytes from
`memory_analysis()`, the chip's HBM and fits / does not fit with the headroom.

FLOPs per step, honestly counted. XLA's `cost_analysis()` counts the body of a `lax.scan` (layers, loss blocks,
accumulation micro-batches) once, and it does not count a custom call at all (the TPU splash kernel is a Pallas
custom call: opaque to XLA). So the compiled FLOPs are counted *per layer from unrolled compiles* of the same
step (no layer scan, one loss block, one micro-batch) with 1 and 2 layers: F = F1 + (L−1)·(F2 − F1), exact since
the layers are identical, times the number of micro-batches. When the compiled program contains a Pallas/Mosaic
custom call, the attention kernel's FLOPs are added analytically (forward 4·rows·T²·heads·head_dim per layer over
the blocks the causal/window mask keeps, the backward 3.5× that, the forward once more under remat) and the
output says so. The count is checked against an analytic count of the same program (matmuls, remat recompute,
attention as it runs): on v6e libtpu's cost_analysis reports ~60% of a layer's matmul FLOPs (measured: 8.6e12
counted vs 1.43e13 per layer and device at 4 × 2048), so the ideal step time uses the larger of the two and the
output flags an undercount. Shown next to each other: model FLOPs 6·N·tokens, the MFU numerator (6·N_matmul·tokens + causal
attention, the input embedding does no matmul), the full T×S masked attention an XLA program computes, the remat
recompute, and the ideal step time at the chip's peak for the MFU numerator and for the executed FLOPs.

`find_max_batch` searches the largest per-device batch that fits: compiles at the configured batch, predicts the
edge from the (near-affine) peak-vs-batch line of the compiles so far, and confirms fits(b) and not fits(b + 1)
with real compiles (a few compiles, not one per batch).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from train_jax.topology import GIB, Topology, parse_topology
from train_jax.train_config import TrainConfig

KERNEL_CALL = re.compile(r'custom_call_target="(tpu_custom_call|mosaic[^"]*|[^"]*splash[^"]*)"')
# libtpu refuses a program whose temporaries exceed the chip ("… required for HLO temporaries (100.72G) exceeds
# available HBM (31.25G)"); that is a "does not fit" answer, not a planner failure
_REFUSAL = re.compile(r"RESOURCE_EXHAUSTED.*?HLO temporaries \(([\d.]+)([KMGT])\) exceeds? available HBM \(([\d.]+)([KMGT])\)",
                      re.DOTALL)
_UNIT = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
SPLASH_BWD_OVER_FWD = 3.5  # dkv kernel: QKᵀ, dP, dV, dK; dq kernel: QKᵀ, dP, dQ → 14 vs the forward's 4 (QKᵀ, PV)


class CompileRefused(Exception):
    """The compiler refused the program for lack of device memory; `temp_bytes` is what it said it needed."""

    def __init__(self, temp_bytes: float, hbm_bytes: float, message: str):
        super().__init__(message)
        self.temp_bytes, self.hbm_bytes = temp_bytes, hbm_bytes


def refusal_of(error: Exception) -> tuple[float, float] | None:
    """(temporaries bytes, HBM bytes) when `error` is the compiler's out-of-HBM refusal, else None."""
    m = _REFUSAL.search(str(error))
    if m is None:
        return None
    return float(m.group(1)) * _UNIT[m.group(2)], float(m.group(3)) * _UNIT[m.group(4)]


def compile_or_refuse(lowered):
    """`lowered.compile()`, with the compiler's out-of-memory refusal raised as `CompileRefused`."""
    try:
        return lowered.compile()
    except Exception as e:  # jax.errors.JaxRuntimeError; other errors propagate unchanged
        found = refusal_of(e)
        if found is None:
            raise
        raise CompileRefused(*found, str(e).splitlines()[0][:300]) from e


def refused_memory(e: CompileRefused) -> tuple[dict[str, float], float]:
    """Memory per device of a refused program: only its temporaries are known (a lower bound of the peak)."""
    return {"temp_gib": e.temp_bytes / GIB, "peak_gib": e.temp_bytes / GIB}, e.temp_bytes


def _lower(cfg: TrainConfig, model_cfg, devices):
    """(the lowered train step, mesh, rows per micro-batch) for `devices`."""
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
    return step_fn.lower(*args), mesh, rows_micro


def _compile(cfg: TrainConfig, model_cfg, devices):
    lowered, mesh, rows_micro = _lower(cfg, model_cfg, devices)
    return compile_or_refuse(lowered), mesh, rows_micro


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float((cost or {}).get("flops", 0.0))


def kernel_calls(compiled) -> int:
    """How many Pallas/Mosaic custom calls (kernels XLA's cost model cannot see) the compiled program holds."""
    try:
        text = compiled.as_text()
    except Exception:  # some backends cannot print an executable
        return 0
    return len(KERNEL_CALL.findall(text or ""))


def memory_per_device(compiled) -> tuple[dict[str, float], float]:
    """(GiB by category, peak bytes) of one device's program."""
    mem = compiled.memory_analysis()
    per_device = {
        "argument_gib": mem.argument_size_in_bytes / GIB, "output_gib": mem.output_size_in_bytes / GIB,
        "alias_gib": mem.alias_size_in_bytes / GIB, "temp_gib": mem.temp_size_in_bytes / GIB,
        "code_gib": mem.generated_code_size_in_bytes / GIB,
    }
    peak = max(getattr(mem, "peak_memory_in_bytes", 0) or 0, mem.argument_size_in_bytes + mem.output_size_in_bytes
               - mem.alias_size_in_bytes + mem.temp_size_in_bytes)  # CPU reports no true peak
    per_device["peak_gib"] = peak / GIB
    host = (getattr(mem, "host_temp_size_in_bytes", 0) + getattr(mem, "host_argument_size_in_bytes", 0)
            + getattr(mem, "host_output_size_in_bytes", 0) - getattr(mem, "host_alias_size_in_bytes", 0))
    if host:  # buffers offloaded to the host (remat_policy full_offload): host RAM, not the chip's HBM
        per_device["host_gib"] = host / GIB
    return per_device, peak


def causal_block_fraction(seq: int, window: int | None, block: int) -> float:
    """The share of [T, T] score blocks a block-sparse kernel computes under a causal (and window) mask."""
    n = -(-seq // block)
    reach = n if window is None else min(n, -(-window // block) + 1)  # key blocks a query block may touch
    kept = sum(min(i + 1, reach) for i in range(n))
    return kept / (n * n)


def theory_flops(model_cfg, rows: int, seq: int, remat: str) -> dict[str, float]:
    """Per step, all devices: model 6·N·tokens, the MFU numerator, attention (full T×S masked as an XLA program
    computes it; causal half, as MFU counts it), and the remat recompute."""
    tokens = rows * seq
    n = model_cfg.num_params()
    n_matmul = n - model_cfg.vocab_size * model_cfg.hidden_size * (0 if model_cfg.tie_word_embeddings else 1)
    L, h, d = model_cfg.num_hidden_layers, model_cfg.num_attention_heads, model_cfg.head_dim
    attn_fwd_full = 4.0 * rows * seq * seq * h * d * L  # QKᵀ and PV over every key
    model = 6.0 * n * tokens
    recompute = (2.0 * (n_matmul - model_cfg.vocab_size * model_cfg.hidden_size) * tokens + attn_fwd_full
                 if remat == "full" else 0.0)  # the layers' forward once more (the head is outside the remat)
    return {"model_6NT": model, "model_6NmatmulT_plus_causal_attention": 6.0 * n_matmul * tokens + 1.5 * attn_fwd_full,
            "attention_full": 3 * attn_fwd_full, "attention_causal": 1.5 * attn_fwd_full,
            "remat_recompute": recompute, "expected_xla": 6.0 * n_matmul * tokens + 3 * attn_fwd_full + recompute}


def kernel_flops(model_cfg, rows: int, seq: int, remat: str) -> float:
    """Analytic FLOPs of the splash kernel per step (all devices): the blocks it computes, forward + backward."""
    from train_jax.attention import splash_block

    block = splash_block(seq) or seq
    frac = causal_block_fraction(seq, model_cfg.sliding_window, block)
    fwd = 4.0 * rows * seq * seq * model_cfg.num_attention_heads * model_cfg.head_dim * model_cfg.num_hidden_layers
    return fwd * frac * (1.0 + SPLASH_BWD_OVER_FWD + (1.0 if remat == "full" else 0.0))


def count_flops(cfg: TrainConfig, model_cfg, devices) -> dict[str, Any]:
    """FLOPs per step per device program, counted per layer from unrolled compiles (see the module docstring)."""
    L = model_cfg.num_hidden_layers
    flat = dataclasses.replace(cfg, scan_layers=False, loss_block_size=cfg.max_seq_length,
                               gradient_accumulation_steps=1, attention_query_block=0, mlp_block_size=0)
    micro = cfg.gradient_accumulation_steps
    if L > 2:
        c1, c2 = (_compile(flat, model_cfg.replace(num_hidden_layers=k, scan_layers=False), devices)[0] for k in (1, 2))
        f1, f2 = _flops(c1), _flops(c2)
        per_layer, outside = f2 - f1, 2 * f1 - f2
        calls = kernel_calls(c2) - kernel_calls(c1)
        method = "per layer from unrolled 1- and 2-layer compiles: F1 + (L-1)(F2-F1)"
    else:
        c = _compile(flat, model_cfg.replace(scan_layers=False), devices)[0]
        per_layer, outside, calls = _flops(c) / L, 0.0, kernel_calls(c) // max(L, 1)
        method = f"an unrolled {L}-layer compile (no layer scan, one loss block)"
    if micro > 1:
        method += f", × {micro} micro-batches (accumulation scan unrolled by count)"
    return {"per_device": micro * (outside + L * per_layer), "per_layer_per_device": per_layer,
            "outside_layers_per_device": outside, "kernel_calls_per_layer": calls, "count_method": method}


def plan(cfg: TrainConfig, topology: Topology | str, model_cfg=None, *, flops: bool = True,
         hbm_bytes: float | None = None) -> dict[str, Any]:
    """Compile the train step of `cfg` for `topology`; memory per device, fit, FLOPs and ideal step time.

    `flops=False` skips the extra unrolled compiles (memory and fit only); `hbm_bytes` overrides the chip's HBM
    (and gives simulated CPU devices one, for a what-if)."""
    from train_jax.trainer import _model_config

    topo = parse_topology(topology) if isinstance(topology, str) else topology
    model_cfg = model_cfg or _model_config(cfg)[0]
    devices = topo.devices()
    lowered, mesh, rows_micro = _lower(cfg, model_cfg, devices)
    refused = None
    try:
        compiled = compile_or_refuse(lowered)
        per_device, peak = memory_per_device(compiled)
    except CompileRefused as e:  # does not fit: no FLOPs to count
        compiled, refused = None, str(e)
        per_device, peak = refused_memory(e)
        flops = False
    rows = rows_micro * cfg.gradient_accumulation_steps
    hbm = hbm_bytes if hbm_bytes is not None else topo.hbm_bytes
    out: dict[str, Any] = {
        "topology": topo.name, "platform": topo.platform, "devices": len(devices), "mesh": dict(mesh.shape),
        "params": model_cfg.num_params(), "per_device_batch": cfg.per_device_train_batch_size,
        "accumulation": cfg.gradient_accumulation_steps, "seq": cfg.max_seq_length, "rows_per_step": rows,
        "remat": cfg.remat, "scan_layers": cfg.scan_layers, "compute_dtype": cfg.compute, "attention": cfg.attention,
        "loss_block_size": cfg.loss_block_size, "mlp_block_size": cfg.mlp_block_size,
        "attention_query_block": cfg.attention_query_block, "memory_per_device": per_device,
        "hbm_gib": None if hbm is None else hbm / GIB,
    }
    if hbm is not None:
        out["fits"] = peak <= hbm and refused is None
        out["headroom"] = 1.0 - peak / hbm
    if refused is not None:
        out["refused_by_compiler"] = refused
    if not flops:
        return out
    counted = count_flops(cfg, model_cfg, devices)
    theory = theory_flops(model_cfg, rows, cfg.max_seq_length, cfg.remat)
    compiled_all = counted["per_device"] * len(devices)  # SPMD: cost_analysis is one device's program
    kernel = kernel_flops(model_cfg, rows, cfg.max_seq_length, cfg.remat) if counted["kernel_calls_per_layer"] else 0.0
    # the analytic count of the same program: matmuls + remat + attention as it runs (kernel blocks, or full T×S)
    attention = kernel or theory["attention_full"] + (theory["attention_full"] / 3 if cfg.remat == "full" else 0.0)
    analytic = theory["expected_xla"] - theory["attention_full"] - (
        theory["attention_full"] / 3 if cfg.remat == "full" else 0.0) + attention
    f = {"compiled_all_devices": compiled_all, "compiled_raw_cost_analysis_per_device": _flops(compiled),
         "kernel_analytic": kernel, "executed": compiled_all + kernel, "executed_analytic": analytic,
         "counted_over_analytic": (compiled_all + kernel) / analytic,
         "kernel_note": (f"{counted['kernel_calls_per_layer']} Pallas custom call(s) per layer, not counted by "
                         "cost_analysis: attention kernel FLOPs added analytically" if kernel else "no custom calls"),
         **counted, **theory}
    f.pop("per_device")
    out["flops"] = f
    if topo.peak_flops is not None:
        peak_all = topo.peak_flops * len(devices)
        out["ideal_step_s"] = max(f["executed"], analytic) / peak_all  # cost_analysis may undercount (v6e)
        out["ideal_step_s_model_flops"] = theory["model_6NmatmulT_plus_causal_attention"] / peak_all
    return out


def find_max_batch(cfg: TrainConfig, topology: Topology | str, *, hbm_bytes: float | None = None, limit: int = 1024,
                   say: Callable[[str], None] = print) -> dict[str, Any]:
    """The largest per-device batch whose step fits the HBM: {max_batch, tried: [{batch, peak_gib, fits}]}."""
    from train_jax.trainer import _model_config

    topo = parse_topology(topology) if isinstance(topology, str) else topology
    hbm = hbm_bytes if hbm_bytes is not None else topo.hbm_bytes
    if hbm is None:
        raise ValueError(f"--find-max-batch: {topo.name} has no HBM size; give one with --hbm-gib")
    model_cfg = _model_config(cfg)[0]
    seen: dict[int, float] = {}

    def peak_at(b: int) -> float:
        if b not in seen:
            p = plan(dataclasses.replace(cfg, per_device_train_batch_size=b), topo, model_cfg, flops=False,
                     hbm_bytes=hbm)
            seen[b] = p["memory_per_device"]["peak_gib"] * GIB
            say(f"find-max-batch: {b} rows/device → peak {seen[b] / GIB:.2f} GiB "
                f"({'fits' if seen[b] <= hbm else 'does not fit'} {hbm / GIB:.2f})")
        return seen[b]

    def predict() -> int:  # the edge of the line through the two compiles nearest to it
        fits = [b for b in seen if seen[b] <= hbm]
        over = [b for b in seen if seen[b] > hbm]
        pts = sorted(seen, key=lambda b: abs(seen[b] - hbm))[:2]
        lo, hi = (max(fits) if fits else 0), (min(over) if over else limit + 1)
        if len(pts) == 2 and pts[0] != pts[1] and seen[pts[0]] != seen[pts[1]]:
            a, b = sorted(pts)
            slope = (seen[b] - seen[a]) / (b - a)
            guess = a + math.floor((hbm - seen[a]) / slope) if slope > 0 else hi - 1
        else:
            guess = lo * 2 if lo else max(1, hi // 2)
        return min(max(guess, lo + 1), hi - 1) if hi - lo > 1 else lo

    b = max(1, min(cfg.per_device_train_batch_size, limit))
    peak_at(b)
    peak_at(max(1, b // 2) if seen[b] > hbm else min(limit, 2 * b))
    while True:
        fits = [x for x in seen if seen[x] <= hbm]
        over = [x for x in seen if seen[x] > hbm]
        lo, hi = (max(fits) if fits else 0), (min(over) if over else limit + 1)
        if hi - lo <= 1:
            break
        if not fits and min(seen) == 1:
            break
        peak_at(predict())
    lo = max([x for x in seen if seen[x] <= hbm], default=0)
    return {"topology": topo.name, "hbm_gib": hbm / GIB, "max_batch": lo, "limit": limit,
            "tried": [{"batch": x, "peak_gib": seen[x] / GIB, "fits": seen[x] <= hbm} for x in sorted(seen)]}


def format_plan(p: dict[str, Any]) -> str:
    m = p["memory_per_device"]
    lines = [
        f"plan: {p['topology']} ({p['devices']} devices, mesh {p['mesh']}), {p['params'] / 1e9:.2f}B params, "
        f"{p['per_device_batch']} rows/device × {p['accumulation']} micro × {p['seq']} tokens, remat {p['remat']}",
        "per device GiB: " + ", ".join(f"{k[:-4]} {v:.2f}" for k, v in m.items()),
    ]
    if p.get("hbm_gib") is not None:
        verdict = "fits" if p["fits"] else "does NOT fit"
        lines.append(f"HBM {p['hbm_gib']:.2f} GiB: {verdict} (headroom {100 * p['headroom']:.1f}%)")
    if p.get("refused_by_compiler"):
        lines.append(f"the compiler refused the program (only its temporaries are known): {p['refused_by_compiler']}")
    if "flops" in p:
        f = p["flops"]
        lines += [
            f"FLOPs/step counted {f['compiled_all_devices']:.3e} ({f['count_method']}); {f['kernel_note']}"
            + (f" {f['kernel_analytic']:.3e}" if f["kernel_analytic"] else "") + f"; executed {f['executed']:.3e}",
            f"FLOPs/step theory: model 6·N·tokens {f['model_6NT']:.3e}; MFU numerator (6·N_matmul·tokens + causal "
            f"attention) {f['model_6NmatmulT_plus_causal_attention']:.3e}; attention full T×S {f['attention_full']:.3e}"
            f" / causal {f['attention_causal']:.3e}; remat recompute {f['remat_recompute']:.3e}; executed / MFU "
            f"numerator {f['executed'] / f['model_6NmatmulT_plus_causal_attention']:.2f}",
            f"FLOPs/step analytic for this program (matmuls + remat + attention as run) {f['executed_analytic']:.3e}; "
            f"counted / analytic {f['counted_over_analytic']:.2f}"
            + ("" if f["counted_over_analytic"] > 0.9 else " (cost_analysis undercounts on this backend: the ideal"
               " step uses the analytic count)"),
        ]
    if "ideal_step_s" in p:
        lines.append(f"ideal step at chip peak: {p['ideal_step_s_model_flops']:.3f}s for the MFU numerator (100% MFU), "
                     f"{p['ideal_step_s']:.3f}s for the executed FLOPs (the larger of counted and analytic)")
    return "\n".join(lines)


def format_max_batch(r: dict[str, Any]) -> str:
    tried = ", ".join(f"{t['batch']}: {t['peak_gib']:.2f}{'' if t['fits'] else ' (no)'}" for t in r["tried"])
    return (f"largest per-device batch that fits {r['topology']} ({r['hbm_gib']:.2f} GiB): {r['max_batch']}"
            f" (compiled: {tried})")


def write_json(p: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(p, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


__all__ = ["plan", "find_max_batch", "format_plan", "format_max_batch", "write_json", "theory_flops",
           "kernel_flops", "count_flops", "causal_block_fraction"]
