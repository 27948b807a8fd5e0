"""Compile-only planning of the generation step `mnlu eval --backend jax` runs: will batch B fit that chip?

    .venv-tpu/bin/mnlu train --config configs/mistral7b_plan.yaml --compile-only --topology v6e-8 \
        --generation --batch-size 32 --prompt-tokens 2048 --new-tokens 2048 [--json FILE]

Why: an eval of the 7B model is sized by its KV cache (2 · layers · kv_heads · head_dim values per token) next to
the weights, and by whatever the compiler keeps besides. This lowers and compiles the project's own jitted
generation program (`train_jax.generate._generate_batch`: the prefill and the whole greedy `while_loop` decode
with its cache) for abstract devices, with the weights as the eval backend places them (parameter dtype =
`param_dtype` of the config, each tensor sharded by its logical axes over the mesh, as `load_hf(mesh=...)` does) and
the prompts, activations and KV cache split by rows over the batch mesh axes (`rows_sharding`, as the eval backend
runs it), and reads `memory_analysis()`: per device weights (arguments), temp (cache + activations as the compiler
lays them out), the analytic KV cache of the whole batch for comparison, and fits / does not fit.
"""

from __future__ import annotations

from typing import Any

from train_jax.topology import GIB, Topology, parse_topology
from train_jax.train_config import TrainConfig


def kv_cache_bytes(model_cfg, batch: int, tokens: int, dtype_bytes: int) -> float:
    """K and V for every layer, position and kv head of the whole batch."""
    return 2.0 * model_cfg.num_hidden_layers * model_cfg.num_key_value_heads * model_cfg.head_dim * tokens * batch \
        * dtype_bytes


def plan_generation(cfg: TrainConfig, topology: Topology | str, *, batch: int, prompt_tokens: int, new_tokens: int,
                    hbm_bytes: float | None = None) -> dict[str, Any]:
    """Compile `_generate_batch` for `batch` prompts of `prompt_tokens` (a length bucket) + `new_tokens`."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from train_jax.generate import _generate_batch
    from train_jax.model import abstract_model
    from train_jax.plan import CompileRefused, compile_or_refuse, memory_per_device, refused_memory
    from train_jax.sharding import DEFAULT_RULES, make_mesh, param_shardings, rows_sharding, rules_from_config
    from train_jax.trainer import _model_config

    if min(batch, prompt_tokens, new_tokens) < 1:
        raise ValueError(f"batch {batch}, prompt tokens {prompt_tokens}, new tokens {new_tokens}: each must be ≥ 1")
    topo = parse_topology(topology) if isinstance(topology, str) else topology
    model_cfg = _model_config(cfg)[0]
    # the eval backend computes in the weights' dtype (load_hf: compute defaults to the parameter dtype)
    model_cfg = model_cfg.replace(dtype=model_cfg.param_dtype, remat="none", scan_layers=False)
    devices = topo.devices()
    mesh = make_mesh(cfg.mesh, devices=devices)
    rules = DEFAULT_RULES if cfg.logical_axis_rules is None else rules_from_config(cfg.logical_axis_rules)
    graphdef, state = nnx.split(abstract_model(model_cfg))
    shardings = param_shardings(state, mesh, rules)
    pure = jax.tree.map(lambda v, s: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=s),
                        nnx.to_pure_dict(state), shardings)
    nnx.replace_by_pure_dict(state, pure)
    # the default rules, as `greedy_generate` places the prompts and `_generate_batch` its cache and activations
    ids = jax.ShapeDtypeStruct((batch, prompt_tokens), np.int32, sharding=rows_sharding(mesh, (batch, prompt_tokens)))
    try:
        compiled = compile_or_refuse(_generate_batch.lower(graphdef, state, ids, ids, jnp.int32(2), jnp.int32(0),
                                                           max_new_tokens=new_tokens, mesh=mesh))
        per_device, peak = memory_per_device(compiled)
        refused = None
    except CompileRefused as e:  # the compiler's own "does not fit"
        per_device, peak = refused_memory(e)
        refused = str(e)
    hbm = hbm_bytes if hbm_bytes is not None else topo.hbm_bytes
    dtype_bytes = np.dtype(jnp.dtype(model_cfg.param_dtype)).itemsize
    cache = kv_cache_bytes(model_cfg, batch, prompt_tokens + new_tokens, dtype_bytes)
    out: dict[str, Any] = {
        "kind": "generation", "topology": topo.name, "platform": topo.platform, "devices": len(devices),
        "mesh": dict(mesh.shape), "params": model_cfg.num_params(), "weights_dtype": model_cfg.param_dtype,
        "batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
        "memory_per_device": per_device,
        "weights_gib_all": model_cfg.num_params() * dtype_bytes / GIB,
        "kv_cache_gib_whole_batch": cache / GIB,
        "kv_cache_gib_if_sharded": cache / len(devices) / GIB,
        "hbm_gib": None if hbm is None else hbm / GIB,
    }
    if hbm is not None:
        out["fits"] = peak <= hbm and refused is None
        out["headroom"] = 1.0 - peak / hbm
    if refused is not None:
        out["refused_by_compiler"] = refused
    return out


def format_generation_plan(p: dict[str, Any]) -> str:
    m = p["memory_per_device"]
    lines = [
        f"generation plan: {p['topology']} ({p['devices']} devices, mesh {p['mesh']}), {p['params'] / 1e9:.2f}B params "
        f"({p['weights_dtype']}, {p['weights_gib_all']:.2f} GiB in all), batch {p['batch']} × ({p['prompt_tokens']} "
        f"prompt + {p['new_tokens']} new tokens)",
        "per device GiB (compiled): " + ", ".join(f"{k[:-4]} {v:.2f}" for k, v in m.items()),
        f"KV cache of the batch (analytic): {p['kv_cache_gib_whole_batch']:.2f} GiB, "
        f"{p['kv_cache_gib_if_sharded']:.2f} GiB per device if split evenly",
    ]
    if p.get("hbm_gib") is not None:
        verdict = "fits" if p["fits"] else "does NOT fit"
        lines.append(f"HBM {p['hbm_gib']:.2f} GiB: {verdict} (headroom {100 * p['headroom']:.1f}%)")
    if p.get("refused_by_compiler"):
        lines.append(f"the compiler refused the program (only its temporaries are known): {p['refused_by_compiler']}")
    return "\n".join(lines)


__all__ = ["plan_generation", "format_generation_plan", "kv_cache_bytes"]
