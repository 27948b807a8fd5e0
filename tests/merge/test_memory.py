"""Bounded memory: merging two ~440 MB inputs stays below one input's size (the 7B case is in bench/: 0.21 GiB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from merge.plan import mistral_tensor_shapes
from merge.safetensors_io import ShardWriter

ROOT = Path(__file__).resolve().parents[2]


def _shapes():
    return mistral_tensor_shapes(layers=2, hidden=2048, intermediate=5632, vocab=32000, kv_dim=512)


def _write(path: Path, seed: int) -> int:
    path.mkdir()
    shapes = _shapes()
    w = ShardWriter(path, [(n, "BF16", s) for n, s in shapes], 5 * 10**9, {"format": "pt"})
    rng = np.random.default_rng(seed)
    for name, shape in shapes:
        n = int(np.prod(shape))
        for s in range(0, n, 1 << 22):
            m = min(1 << 22, n - s)
            bits = (rng.integers(0, 1 << 16, m, dtype=np.uint16) & np.uint16(0x807F)) | np.uint16(120 << 7)
            w.write(name, s * 2, bits)
    w.close()
    cfg = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 2048,
           "intermediate_size": 5632, "num_hidden_layers": 2, "num_attention_heads": 16, "num_key_value_heads": 4,
           "vocab_size": 32000, "tie_word_embeddings": False}
    (path / "config.json").write_text(json.dumps(cfg))
    return sum(f.stat().st_size for f in path.glob("*.safetensors"))


_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"merge exited with {os.waitstatus_to_exitcode(status)}")
print(usage.ru_maxrss)
"""


def test_peak_rss_is_a_few_chunks(tmp_path):
    size = _write(tmp_path / "base", 0)
    _write(tmp_path / "ft", 1)
    assert size > 400e6
    cmd = [sys.executable, "-m", "merge.cli", "--base", str(tmp_path / "base"), "--finetuned", str(tmp_path / "ft"),
           "--out", str(tmp_path / "out"), "--method", "dare_linear", "--drop-rate", "0.2", "--weight", "0.5",
           "--rng", "mergelm", "--threads", "2", "--no-progress"]
    # Linux keeps a process's peak RSS across fork+exec, so a child forked from this (large) pytest process would
    # report pytest's size. A small launcher process forks the merge instead and reports its peak.
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = int(done.stdout.split()[-1]) * 1024
    assert peak < 350e6, f"peak RSS {peak / 1e6:.0f} MB for inputs of {size / 1e6:.0f} MB each"
