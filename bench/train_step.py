"""Train-step throughput: our jitted step vs transformers + torch AdamW, against the machine's matmul ceiling.

    python bench/train_step.py                       # CPU: a 120M-parameter Mistral (4 layers, hidden 1024), seq 512
    python bench/train_step.py --device gpu          # GPU: a Mistral-7B-wide stack (4 layers), bf16, cuDNN attention

Both sides train the same architecture on the same batch and sequence length: forward, loss, backward, global-norm
clipping at 1.0 and an AdamW update (ours: fp32 master weights, AdamW in optax, loss in fp32; torch: AdamW foreach).
fp32 is compared with fp32, and our bf16-compute policy with torch's bf16 autocast. Timings are interleaved with a
fixed matmul (the ceiling) right before and after each timed step, because this host's speed changes under load;
ratios are medians of per-round ratios. MFU uses MaxText's FLOP count (causal attention at half).

The torch side runs in its own process, so each side runs with its own host allocator: ours tuned to keep the
XLA working set (as `mnlu train` with MNLU_HOST_MALLOC=keep, train_jax/host_memory.py), torch with stock glibc as transformers
users run it (`--peer-malloc tuned` gives torch the same tuning; `--our-malloc default` takes ours away).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=None, help="default: 1024 on cpu, 4096 (7B) on gpu")
    p.add_argument("--intermediate", type=int, default=None, help="default: 3584 on cpu, 14336 on gpu")
    p.add_argument("--heads", type=int, default=None, help="query heads (head_dim 128); default hidden/128")
    p.add_argument("--kv-heads", type=int, default=None, help="default heads/4")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seq", type=int, default=None, help="default 512 on cpu, 2048 on gpu")
    p.add_argument("--batch", type=int, default=None, help="default 2 on cpu, 8 on gpu")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precisions", default=None, help="comma list of fp32,bf16 (default: both on cpu, bf16 on gpu)")
    p.add_argument("--remat", default="none", help="our remat policy (none, full, dots, dots_no_batch)")
    p.add_argument("--scan-layers", action="store_true")
    p.add_argument("--no-peer", action="store_true", help="skip transformers + torch")
    p.add_argument("--peer-budget-s", type=float, default=120.0,
                   help="shrink batch/seq (both sides) when one torch step would take longer than this")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--our-malloc", choices=("tuned", "default"), default="tuned",
                   help="tuned: glibc kept from returning the step's slab "
                   "(`mnlu train` with MNLU_HOST_MALLOC=keep, train_jax/host_memory.py); default: stock glibc")
    p.add_argument("--peer-malloc", choices=("default", "tuned"), default="default",
                   help="the torch process's allocator: stock glibc (default) or the same tuning as ours")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def model_config(args):
    from train_jax.config import ModelConfig

    gpu = args.device == "gpu"
    hidden = args.hidden or (4096 if gpu else 1024)
    heads = args.heads or hidden // 128
    return ModelConfig(
        vocab_size=args.vocab, hidden_size=hidden, intermediate_size=args.intermediate or (14336 if gpu else 3584),
        num_hidden_layers=args.layers, num_attention_heads=heads, num_key_value_heads=args.kv_heads or max(1, heads // 4),
        head_dim=128, sliding_window=4096, max_position_embeddings=32768,
    )


# ------------------------------------------------------------------------------------------------ ceilings


def jax_ceiling(dtype: str, n: int) -> float:
    import jax
    import jax.numpy as jnp

    dt = jnp.bfloat16 if dtype == "bf16" else jnp.float32
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), dt)
    f = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def torch_ceiling(dtype: str, n: int, device: str) -> float:
    import torch

    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    a = torch.randn(n, n, dtype=dt, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    a @ a
    sync()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        a @ a
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


# ----------------------------------------------------------------------------------------------- our step


def make_ours(cfg, precision: str, batch: int, seq: int, remat: str, scan: bool, device: str):
    import jax
    import jax.numpy as jnp

    from train_jax import optim
    from train_jax.model import Mistral
    from train_jax.train import init_state, make_train_step, split_model

    mcfg = cfg.replace(dtype="bfloat16" if precision == "bf16" else "float32", param_dtype="float32",
                       attention="fused" if device == "gpu" else "xla", remat=remat, scan_layers=scan)
    from flax import nnx

    graphdef, _, _ = split_model(nnx.eval_shape(lambda: Mistral(mcfg, rngs=nnx.Rngs(params=0))))
    schedule = optim.lr_schedule("constant", 1e-5, 100, 0)
    tx = optim.make_optimizer(schedule, weight_decay=0.0, max_grad_norm=1.0)
    state = jax.jit(lambda: init_state(split_model(Mistral(mcfg, rngs=nnx.Rngs(params=0)))[2], tx, 0))()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, cfg.vocab_size, (1, batch, seq + 1)).astype(np.int32)
    data = {
        "input_ids": jnp.asarray(ids[..., :-1]), "targets": jnp.asarray(ids[..., 1:]),
        "weights": jnp.ones((1, batch, seq), jnp.float32), "segment_ids": jnp.ones((1, batch, seq), jnp.int32),
        "positions": jnp.broadcast_to(jnp.arange(seq, dtype=jnp.int32), (1, batch, seq)),
    }
    step = jax.jit(make_train_step(graphdef, tx, schedule), donate_argnums=(0,))
    holder = {"state": state}

    def run() -> float:
        holder["state"], m = step(holder["state"], data)
        return float(m["loss"])  # waits for the step

    t = time.perf_counter()
    run()
    compile_s = time.perf_counter() - t
    return run, compile_s


# ---------------------------------------------------------------------------------------------- the peer


def make_torch(hf_dict: dict, precision: str, batch: int, seq: int, device: str):
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    hf = MistralConfig(**hf_dict)
    hf._attn_implementation = "sdpa"
    dev = "cuda" if device == "gpu" else "cpu"
    model = MistralForCausalLM(hf).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, foreach=True)
    ids = torch.as_tensor(np.random.default_rng(0).integers(0, hf.vocab_size, (batch, seq)), device=dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def run() -> float:
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        return float(loss.detach())

    t = time.perf_counter()
    run()
    return run, time.perf_counter() - t


def torch_worker() -> int:
    """The peer in its own process (so each side runs with its own allocator settings): JSON commands on stdin,
    one JSON answer per line on stdout."""
    import torch

    step = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "threads":
            torch.set_num_threads(cmd["n"])
            out = {}
        elif cmd["cmd"] == "ceiling":
            out = {"flops": torch_ceiling(cmd["dtype"], cmd["n"], cmd["device"])}
        elif cmd["cmd"] == "setup":
            step = None
            step, compile_s = make_torch(cmd["hf"], cmd["precision"], cmd["batch"], cmd["seq"], cmd["device"])
            out = {"warmup_s": compile_s}
        elif cmd["cmd"] == "step":
            t = time.perf_counter()
            step()
            out = {"seconds": time.perf_counter() - t}
        else:
            return 0
        print(json.dumps(out), flush=True)
    return 0


class TorchPeer:
    """Handle on the torch worker process."""

    def __init__(self, malloc: str, device: str):
        import subprocess

        from train_jax.host_memory import OPT_OUT_ENV, TUNABLES

        env = dict(os.environ)
        env.pop("GLIBC_TUNABLES", None)
        env[OPT_OUT_ENV] = "default"
        if malloc == "tuned":
            env["GLIBC_TUNABLES"] = TUNABLES
        self.device = device
        self.proc = subprocess.Popen([sys.executable, __file__, "--torch-worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the torch worker died (exit {self.proc.wait()})")
        return json.loads(line)

    def ceiling(self, dtype: str, n: int) -> float:
        return self.ask(cmd="ceiling", dtype=dtype, n=n, device="cuda" if self.device == "gpu" else "cpu")["flops"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait()


# --------------------------------------------------------------------------------------------------- main


def main() -> int:
    args = parse_args()
    if args.torch_worker:
        return torch_worker()
    from train_jax.host_memory import keep_freed_memory

    our_malloc = "tuned" if args.our_malloc == "tuned" and keep_freed_memory() else "default"
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    if args.device == "gpu" and jax.default_backend() != "gpu":
        print(f"--device gpu: jax sees no GPU (backend {jax.default_backend()})", file=sys.stderr)
        return 2
    cfg = model_config(args)
    seq = args.seq or (2048 if args.device == "gpu" else 512)
    batch = args.batch or (8 if args.device == "gpu" else 2)
    precisions = (args.precisions or ("bf16" if args.device == "gpu" else "fp32,bf16")).split(",")
    from train_jax.metrics import PEAK_BF16, train_flops_per_step

    flops = train_flops_per_step(cfg, batch, seq)
    kind = jax.devices()[0].device_kind
    print(f"device: {kind} ({jax.default_backend()}), model {cfg.num_params() / 1e6:.1f}M params "
          f"({cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, mlp {cfg.intermediate_size}, "
          f"{cfg.num_attention_heads}/{cfg.num_key_value_heads} heads), batch {batch} × seq {seq}, "
          f"{flops / 1e12:.3f} TFLOP per step (MaxText count)")
    n = 2048 if args.device == "cpu" else 8192
    print(f"allocator: ours {our_malloc}, torch {args.peer_malloc} (see train_jax/host_memory.py)")
    peer_proc = None if args.no_peer else TorchPeer(args.peer_malloc, args.device)
    if peer_proc is not None and args.device == "cpu":
        peer_proc.ask(cmd="threads", n=os.cpu_count() or 1)
    hf_dict = {k: v for k, v in cfg.to_hf_dict("float32").items()
               if k not in ("architectures", "model_type", "dtype", "torch_dtype", "rope_parameters")}
    results = {}
    for prec in precisions:
        b_p, s_p = batch, seq
        torch_in_ceiling = not args.no_peer
        if not args.no_peer:  # a CPU without fast bf16 GEMMs makes torch's autocast step take hours: shrink both
            c = peer_proc.ceiling(prec, 512)
            while train_flops_per_step(cfg, b_p, s_p) / c > args.peer_budget_s and b_p * s_p > 64:
                b_p, s_p = (b_p // 2, s_p) if b_p > 1 else (b_p, s_p // 2)
            if (b_p, s_p) != (batch, seq):
                torch_in_ceiling = False  # its slow GEMM is no ceiling, and timing it would take minutes
                print(f"[{prec}] torch reaches {c / 1e9:.1f} GFLOP/s in {prec} here: both sides run batch {b_p} × "
                      f"seq {s_p} so one torch step fits {args.peer_budget_s:.0f}s")
        flops_p, tokens_p = train_flops_per_step(cfg, b_p, s_p), b_p * s_p
        ours, ours_compile = make_ours(cfg, prec, b_p, s_p, args.remat, args.scan_layers, args.device)
        peer = None
        if peer_proc is not None:
            peer_proc.ask(cmd="setup", hf=hf_dict, precision=prec, batch=b_p, seq=s_p, device=args.device)

            def peer() -> None:
                peer_proc.ask(cmd="step")
        rows = []
        for r in range(args.rounds):
            row = {}
            for name, fn in (("ours", ours), ("torch", peer)):
                if fn is None:
                    continue
                before = max(jax_ceiling(prec, n), peer_proc.ceiling(prec, n) if torch_in_ceiling else 0)
                t = time.perf_counter()
                fn()
                dt = time.perf_counter() - t
                after = max(jax_ceiling(prec, n), peer_proc.ceiling(prec, n) if torch_in_ceiling else 0)
                ceiling = (before + after) / 2
                row[name] = {"seconds": dt, "tokens_per_s": tokens_p / dt, "ceiling_flops": ceiling,
                             "of_ceiling": flops_p / dt / ceiling}
            rows.append(row)
            msg = "  ".join(f"{k}: {v['tokens_per_s']:.0f} tok/s ({100 * v['of_ceiling']:.0f}% of ceiling "
                            f"{v['ceiling_flops'] / 1e9:.0f} GFLOP/s)" for k, v in row.items())
            print(f"[{prec}] round {r + 1}: {msg}", flush=True)
        summary = {
            "ours_tokens_per_s": statistics.median(x["ours"]["tokens_per_s"] for x in rows),
            "ours_of_ceiling": statistics.median(x["ours"]["of_ceiling"] for x in rows),
            "ours_compile_s": ours_compile,
            "batch": b_p,
            "seq": s_p,
        }
        if not args.no_peer:
            summary["torch_tokens_per_s"] = statistics.median(x["torch"]["tokens_per_s"] for x in rows)
            summary["torch_of_ceiling"] = statistics.median(x["torch"]["of_ceiling"] for x in rows)
            summary["speedup_vs_torch"] = statistics.median(
                x["torch"]["seconds"] / x["ours"]["seconds"] for x in rows)
        if args.device == "gpu":
            peak = next((v for k, v in sorted(PEAK_BF16.items(), key=lambda kv: -len(kv[0]))
                         if k.lower() in kind.lower()), float("nan"))
            summary["mfu"] = statistics.median(flops_p / x["ours"]["seconds"] / peak for x in rows)
            summary["peak_flops"] = peak
        results[prec] = summary
        line = f"[{prec}] ours {summary['ours_tokens_per_s']:.0f} tok/s = {100 * summary['ours_of_ceiling']:.1f}% of ceiling"
        if "speedup_vs_torch" in summary:
            line += (f"; torch {summary['torch_tokens_per_s']:.0f} tok/s = {100 * summary['torch_of_ceiling']:.1f}%;"
                     f" ours/torch = {summary['speedup_vs_torch']:.2f}×")
        if "mfu" in summary:
            line += f"; MFU {100 * summary['mfu']:.1f}% of {summary['peak_flops'] / 1e12:.0f} TFLOP/s"
        print(line, flush=True)
        del ours, peer
    if args.json:
        args.json.write_text(json.dumps({"device": kind, "batch": batch, "seq": seq, "params": cfg.num_params(),
                                         "flops_per_step": flops, "our_malloc": our_malloc,
                                         "peer_malloc": args.peer_malloc, "results": results}, indent=2) + "\n")
    if peer_proc is not None:
        peer_proc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
