"""Generation throughput: our JAX greedy generation vs transformers `generate`, same tiny model, same prompts.

The model is configs/tiny.yaml's shape (a 19M-parameter Mistral, fp32); prompts are 64 tokens and each run makes
exactly 64 new tokens per row (eos can never be produced), at batch 8 and batch 1. Ours and the peer are
interleaved, and a fixed float32 matmul (the machine's ceiling) is timed right before and after each step, so the
ratio is taken in the same machine state. Compilation is done once before timing (one length bucket).

    .venv/bin/python bench/generate.py [--repeats 3] [--record]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROMPT_LEN, NEW_TOKENS = 64, 64


def matmul_gflops(n: int = 1024) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    t = time.perf_counter()
    for _ in range(4):
        a @ a
    return 4 * 2 * n**3 / (time.perf_counter() - t) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--record", action="store_true", help="append the run to bench/RESULTS.md")
    args = p.parse_args(argv)

    import torch
    from transformers import MistralForCausalLM

    from train_jax.config import ModelConfig
    from train_jax.generate import greedy_generate
    from train_jax.hf import save_hf
    from train_jax.model import init_model

    torch.set_num_threads(os.cpu_count() or 1)
    cfg = ModelConfig(vocab_size=32000, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=128, sliding_window=4096,
                      max_position_embeddings=32768)
    ours = init_model(cfg, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        save_hf(ours, Path(tmp) / "m")
        peer = MistralForCausalLM.from_pretrained(Path(tmp) / "m", torch_dtype=torch.float32).eval()
    n_params = sum(p.numel() for p in peer.parameters())
    rng = np.random.default_rng(0)
    never = cfg.vocab_size + 7  # an eos id no row can produce: every row makes exactly NEW_TOKENS tokens

    def run_ours(prompts):
        out = greedy_generate(ours, prompts, NEW_TOKENS, never, 0, batch_size=len(prompts), buckets=(PROMPT_LEN,))
        assert all(len(o) == NEW_TOKENS for o in out)

    def run_peer(prompts):
        with torch.no_grad():
            out = peer.generate(torch.tensor(prompts), attention_mask=torch.ones(len(prompts), PROMPT_LEN,
                                dtype=torch.long), max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                do_sample=False, pad_token_id=0, eos_token_id=2)
        assert out.shape[1] == PROMPT_LEN + NEW_TOKENS

    rows = []
    for batch in (8, 1):
        prompts = rng.integers(3, cfg.vocab_size, size=(batch, PROMPT_LEN)).tolist()
        run_ours(prompts)  # compile
        run_peer(prompts)  # warm up
        ours_t, peer_t, ceil = [], [], []
        for _ in range(args.repeats):
            for fn, sink in ((run_ours, ours_t), (run_peer, peer_t)):
                c0 = matmul_gflops()
                t = time.perf_counter()
                fn(prompts)
                sink.append(time.perf_counter() - t)
                ceil.append((c0 + matmul_gflops()) / 2)
        ours_tps = batch * NEW_TOKENS / statistics.median(ours_t)
        peer_tps = batch * NEW_TOKENS / statistics.median(peer_t)
        ratios = [p / o for o, p in zip(ours_t, peer_t, strict=True)]  # per interleaved pair: same machine state
        rows.append((batch, ours_tps, peer_tps, statistics.median(ratios), min(ceil), max(ceil)))

    print(f"model: {n_params / 1e6:.1f}M-parameter Mistral, fp32; prompts {PROMPT_LEN} + {NEW_TOKENS} new tokens")
    lines = ["| batch | ours (new tok/s) | transformers (new tok/s) | ratio (median of pairs) | matmul GFLOP/s |",
             "|---|---|---|---|---|"]
    for batch, o, pr, r, c_lo, c_hi in rows:
        lines.append(f"| {batch} | {o:.0f} | {pr:.0f} | {r:.2f}x | {c_lo:.0f}-{c_hi:.0f} |")
    print("\n".join(lines))
    if args.record:
        stamp = datetime.date.today().isoformat()
        entry = (f"\n## {stamp} bench/generate.py (JAX greedy generation vs transformers generate)\n\n"
                 f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.python_version()}; "
                 f"command: `.venv/bin/python bench/generate.py --repeats {args.repeats} --record`; "
                 f"model {n_params / 1e6:.1f}M params fp32, {PROMPT_LEN} + {NEW_TOKENS} tokens\n\n"
                 + "\n".join(lines) + "\n")
        with open(Path(__file__).resolve().parent / "RESULTS.md", "a") as f:
            f.write(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
