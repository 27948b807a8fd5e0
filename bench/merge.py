"""Benchmark: a Mistral-7B-shaped DARE merge (bf16, real tensor names and shapes, random values), end to end.

Times `mnlu merge` in both RNG modes and mergekit's `dare_linear` (PyPI mergekit in its own virtual environment)
on the same inputs in the same run, with each process's peak RSS (wait4), against the disk's sequential read
bandwidth measured alongside. Input pages are dropped from the page cache (posix_fadvise on our own files only)
before each timed run, so every run reads cold.

    python bench/merge.py                       # 7B: 32 layers, two ~14.5 GB inputs in /tmp/merge_bench
    python bench/merge.py --layers 8            # the smaller "4 GB" configuration
    python bench/merge.py --skip-mergekit --keep-inputs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from merge.plan import mistral_tensor_shapes  # noqa: E402
from merge.safetensors_io import ShardWriter  # noqa: E402

MISTRAL_7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                  num_key_value_heads=8, head_dim=128)


def tensor_shapes(layers: int) -> list[tuple[str, tuple[int, ...]]]:
    return mistral_tensor_shapes(layers=layers, hidden=MISTRAL_7B["hidden_size"],
                                 intermediate=MISTRAL_7B["intermediate_size"], vocab=MISTRAL_7B["vocab_size"],
                                 kv_dim=MISTRAL_7B["num_key_value_heads"] * MISTRAL_7B["head_dim"])


def config(layers: int) -> dict:
    return {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "num_hidden_layers": layers,
            "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": 4096,
            "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
            "torch_dtype": "bfloat16", **MISTRAL_7B}


def write_model(path: Path, layers: int, seed: int, base: Path | None) -> None:
    """Random bf16 weights (|x| in [2^-10, 2^-2]); the fine-tuned model flips low mantissa bits of the base's,
    a small relative delta like a real fine-tune. Written chunk by chunk (bounded memory)."""
    path.mkdir(parents=True, exist_ok=True)
    shapes = tensor_shapes(layers)
    writer = ShardWriter(path, [(n, "BF16", s) for n, s in shapes], 5 * 10**9, {"format": "pt"})
    gen = np.random.Generator(np.random.PCG64(seed))
    chunk = 1 << 24
    if base is not None:
        from merge.sources import HFSource

        src = HFSource(base)
    for name, shape in shapes:
        row = math.prod(shape[1:]) if len(shape) > 1 else 1
        rows = shape[0]
        step = max(1, chunk // row)
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            m = (r1 - r0) * row
            r = gen.integers(0, 1 << 16, size=m, dtype=np.uint16)
            if base is None:
                bits = (r & np.uint16(0x807F)) | ((np.uint16(117) + ((r >> 7) & np.uint16(7))) << np.uint16(7))
            else:
                b = src.read_raw_rows(name, r0, r1, np.empty(m * 2, np.uint8))
                bits = b ^ (r & np.uint16(0x0003))
            writer.write(name, r0 * row * 2, bits.astype(np.uint16))
    writer.close()
    (path / "config.json").write_text(json.dumps(config(layers), indent=2))
    (path / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))


def drop_cache(*dirs: Path) -> None:
    for d in dirs:
        for f in d.glob("*.safetensors"):
            fd = os.open(f, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def disk_read_gbps(path: Path, limit: int = 4 << 30) -> float:
    drop_cache(path)
    f = sorted(path.glob("*.safetensors"))[0]
    fd = os.open(f, os.O_RDONLY)
    buf = bytearray(16 << 20)
    done, t0 = 0, time.perf_counter()
    while done < limit:
        n = os.readv(fd, [buf])
        if n <= 0:
            break
        done += n
    dt_ = time.perf_counter() - t0
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    return done / dt_ / 1e9


def timed(cmd: list[str], env=None) -> tuple[float, float, int]:
    """(seconds, peak RSS GiB, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err[-3000:], file=sys.stderr)
    return seconds, usage.ru_maxrss / 2**20, code


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--scratch", default="/tmp/merge_bench")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--modes", default="mergelm,native")
    ap.add_argument("--mergekit-venv", default="/tmp/mergekit-venv")
    ap.add_argument("--skip-mergekit", action="store_true")
    ap.add_argument("--keep-inputs", action="store_true")
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args(argv)

    scratch = Path(args.scratch) / f"L{args.layers}"
    base, ft = scratch / "base", scratch / "ft"
    if not (base / "config.json").exists():
        print(f"writing synthetic inputs to {scratch} ...", flush=True)
        t0 = time.perf_counter()
        write_model(base, args.layers, 0, None)
        write_model(ft, args.layers, 1, base)
        print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    in_bytes = sum(f.stat().st_size for d in (base, ft) for f in d.glob("*.safetensors"))
    out_bytes = in_bytes / 2
    disk = disk_read_gbps(ft)
    floor = in_bytes / (disk * 1e9)
    print(f"inputs {in_bytes / 1e9:.1f} GB; disk read {disk:.2f} GB/s -> read floor {floor:.1f} s", flush=True)

    rows = []
    for mode in [m for m in args.modes.split(",") if m]:
        out = scratch / f"out_{mode}"
        shutil.rmtree(out, ignore_errors=True)
        drop_cache(base, ft)
        cmd = [sys.executable, "-m", "merge.cli", "--base", str(base), "--finetuned", str(ft), "--out", str(out),
               "--method", "dare_linear", "--drop-rate", "0.2", "--rescale", "--weight", "0.5", "--rng", mode,
               "--seed", "0", "--no-progress"] + (["--threads", str(args.threads)] if args.threads else [])
        s, rss, code = timed(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)})
        rows.append((f"mnlu merge --rng {mode}", s, rss, code))
        print(f"mnlu merge {mode:8s} {s:7.1f} s  peak RSS {rss:5.2f} GiB  exit {code}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if not args.skip_mergekit:
        out = scratch / "out_mergekit"
        shutil.rmtree(out, ignore_errors=True)
        cfg = scratch / "mergekit.yml"
        cfg.write_text(f"merge_method: dare_linear\nbase_model: {base}\nmodels:\n  - model: {ft}\n"
                       "    parameters: {weight: 0.5, density: 0.8}\nparameters: {rescale: true}\ndtype: bfloat16\n")
        drop_cache(base, ft)
        s, rss, code = timed([str(Path(args.mergekit_venv) / "bin" / "mergekit-yaml"), str(cfg), str(out),
                              "--random-seed", "0", "--lazy-unpickle", "--quiet"])
        rows.append(("mergekit 0.1.5 dare_linear", s, rss, code))
        print(f"mergekit        {s:7.1f} s  peak RSS {rss:5.2f} GiB  exit {code}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    peer = next((r for r in rows if r[0].startswith("mergekit")), None)
    lines = [f"\n## merge bench {dt.date.today()} ({platform.node()}, {os.cpu_count()} cores)\n",
             f"`python bench/merge.py --layers {args.layers}`: two bf16 inputs of {in_bytes / 2e9:.1f} GB, "
             f"output {out_bytes / 1e9:.1f} GB; cold disk read {disk:.2f} GB/s (read floor {floor:.1f} s)\n",
             "| run | seconds | peak RSS GiB | vs mergekit | vs read floor |", "|---|---|---|---|---|"]
    for name, s, rss, code in rows:
        ratio = f"{peer[1] / s:.2f}x faster" if peer and peer[1] and name != peer[0] else "-"
        lines.append(f"| {name}{'' if code == 0 else ' (FAILED)'} | {s:.1f} | {rss:.2f} | {ratio} | "
                     f"{s / floor:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.results, "a") as fh:
        fh.write(text)
    if not args.keep_inputs:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(r[3] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
