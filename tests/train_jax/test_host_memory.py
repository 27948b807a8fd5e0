"""The host allocator tuning: a freed large block is reused without page faults (glibc only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import json, resource, sys, threading
import numpy as np
from numpy._core import multiarray
from train_jax.host_memory import keep_freed_memory
multiarray._set_madvise_hugepage(False)  # count 4 KiB pages, as XLA's buffers get them
applied = keep_freed_memory() if sys.argv[1] == "tuned" else False
faults = []
def work():  # from a worker thread, like XLA's executions
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        del a
t = threading.Thread(target=work); t.start(); t.join()
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _probe(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "MNLU_HOST_MALLOC")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_a_freed_slab_is_reused_without_page_faults():
    stock, tuned = _probe("default"), _probe("tuned")
    pages = 300 * 2**20 // 4096
    assert tuned["applied"] is True
    assert all(f > 0.9 * pages for f in stock["faults"]), stock  # stock glibc: mmap + munmap every time
    assert tuned["faults"][0] > 0.9 * pages and max(tuned["faults"][1:]) < 0.01 * pages, tuned


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    from train_jax.host_memory import OPT_OUT_ENV, keep_freed_memory

    monkeypatch.setenv(OPT_OUT_ENV, "default")
    assert keep_freed_memory() is False
