"""Peak host memory of `load_hf` on a synthetic Mistral checkpoint of ≥ 2 GB, against transformers' loader.

The checkpoint (bf16, real tensor names, 4096-wide layers) is written once to a scratch directory. Each loader
runs in a fresh process; we report its peak RSS above the process's own baseline (after imports), and that
minus the bytes of the loaded model itself, which on a CPU backend necessarily live in host memory. Target:
overhead ≤ 1.5 × the largest tensor.

    .venv/bin/python bench/hf_import_memory.py [--scratch /tmp/hf_mem_bench] [--layers 4] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LOADER = r"""
import json, resource, sys, time, os
os.environ.setdefault("JAX_PLATFORMS", "cpu")
kind, path = sys.argv[1], sys.argv[2]
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
if kind == "ours":
    import jax, jax.numpy as jnp
    from train_jax import load_hf
    jnp.zeros(1).block_until_ready()
else:
    import torch
    from transformers import AutoModelForCausalLM
base = rss_kb()
t = time.perf_counter()
if kind == "ours":
    m = load_hf(path)
    from flax import nnx
    leaves = [v.get_value() for _, v in nnx.to_flat_state(nnx.state(m, nnx.Param))]
    jax.block_until_ready(leaves)
    model_bytes = sum(x.nbytes for x in leaves)
else:
    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    model_bytes = sum(p.numel() * p.element_size() for p in m.parameters())
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "model_bytes": model_bytes, "seconds": secs}))
"""


def write_checkpoint(out: Path, layers: int) -> tuple[int, int]:
    """A bf16 MistralForCausalLM-shaped checkpoint with 4096-wide layers; returns (total, largest) bytes."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import ml_dtypes

    from train_jax.config import ModelConfig
    from train_jax.hf import hf_tensor_names
    from train_jax.safetensors_io import ShardWriter

    cfg = ModelConfig(num_hidden_layers=layers)
    bf16 = np.dtype(ml_dtypes.bfloat16)
    shapes = {
        "model.embed_tokens.weight": (cfg.vocab_size, cfg.hidden_size),
        "lm_head.weight": (cfg.vocab_size, cfg.hidden_size),
        "model.norm.weight": (cfg.hidden_size,),
    }
    q, kv = cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim
    for i in range(layers):
        p = f"model.layers.{i}"
        shapes |= {
            f"{p}.self_attn.q_proj.weight": (q, cfg.hidden_size),
            f"{p}.self_attn.k_proj.weight": (kv, cfg.hidden_size),
            f"{p}.self_attn.v_proj.weight": (kv, cfg.hidden_size),
            f"{p}.self_attn.o_proj.weight": (cfg.hidden_size, q),
            f"{p}.mlp.gate_proj.weight": (cfg.intermediate_size, cfg.hidden_size),
            f"{p}.mlp.up_proj.weight": (cfg.intermediate_size, cfg.hidden_size),
            f"{p}.mlp.down_proj.weight": (cfg.hidden_size, cfg.intermediate_size),
            f"{p}.input_layernorm.weight": (cfg.hidden_size,),
            f"{p}.post_attention_layernorm.weight": (cfg.hidden_size,),
        }
    names = [n for n, _, _ in hf_tensor_names(cfg)]
    out.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(out / "model.safetensors", [(n, bf16, shapes[n]) for n in names], {"format": "pt"})
    rng = np.random.default_rng(0)
    for n in names:
        writer.write(n, (rng.standard_normal(shapes[n], dtype=np.float32) * 0.02).astype(bf16))
    writer.close()
    (out / "config.json").write_text(json.dumps(cfg.to_hf_dict("bfloat16")))
    sizes = [int(np.prod(s)) * 2 for s in shapes.values()]
    return sum(sizes), max(sizes)


def run_loader(kind: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", LOADER, kind, str(path)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scratch", default="/tmp/hf_mem_bench")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the synthetic checkpoint")
    args = ap.parse_args()
    scratch = Path(args.scratch)
    t = time.perf_counter()
    total, largest = write_checkpoint(scratch, args.layers)
    print(f"synthetic checkpoint: {total / 1e9:.2f} GB, largest tensor {largest / 1e6:.0f} MB "
          f"(written in {time.perf_counter() - t:.0f} s)")
    rows = {}
    for kind in ("ours", "transformers"):
        r = run_loader(kind, scratch)
        above = (r["peak_kb"] - r["base_kb"]) * 1024
        overhead = above - r["model_bytes"]
        rows[kind] = (above, overhead, r["seconds"])
        print(f"{kind:>12}: peak RSS above baseline {above / 1e9:.2f} GB; minus the loaded model "
              f"{overhead / 1e6:.0f} MB = {overhead / largest:.2f} × largest tensor; {r['seconds']:.1f} s")
    ratio = rows["ours"][0] / rows["transformers"][0]
    print(f"ours / transformers peak-above-baseline: {ratio:.2f}×; target overhead ≤ 1.5 × largest tensor: "
          f"{'met' if rows['ours'][1] <= 1.5 * largest else 'NOT met'}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
