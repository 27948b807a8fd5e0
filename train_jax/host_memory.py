"""Keep glibc from handing the XLA:CPU working set back to the kernel after every step.

XLA:CPU allocates one temporary slab per execution (1.2 GB for the bench's 120M-parameter step) from a worker
thread. glibc serves an allocation that large with a fresh `mmap` (a thread arena cannot grow that far, and it
falls back to mmap even when told not to) and `munmap`s it on free, so every step page-faults its whole working
set again: 300k minor faults and 1-2.5 CPU-seconds of kernel time per step on a 2-core host, 15-20% of the step.
One arena, no mmap and a high trim threshold make the slab come from the heap and stay there, so the next step
reuses the same pages. PyTorch's CPU guides reach the same end by preloading jemalloc or tcmalloc.

Measured on `mnlu train --config configs/tiny.yaml --max_steps 3` (bench/RESULTS.md, issue 11) the tuning makes
peak RSS much worse where the working set is not one reused slab: 19.3 GB tuned vs 9.8 GB default on 8 simulated
devices (32 rows × 1024), 3.1 vs 2.1 GB on one device: freed blocks of other sizes are never returned. So `mnlu
train` applies it only when asked (`MNLU_HOST_MALLOC=tuned`, see `tune_from_env`); benchmarks of one fixed-size
step may still call `keep_freed_memory()` directly.

Call `keep_freed_memory()` before jax is imported (threads created later share the main arena). It is a no-op
off glibc and with MNLU_HOST_MALLOC=default in the environment. The cost: freed host memory stays in the
process (up to 2 GiB at the top of the heap), which a training process reuses at its next step anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int
OPT_OUT_ENV = "MNLU_HOST_MALLOC"
TUNABLES = f"glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold={TRIM_THRESHOLD}"


def keep_freed_memory() -> bool:
    """Tune glibc malloc in this process as described above; True when it was applied."""
    if os.environ.get(OPT_OUT_ENV, "").lower() == "default" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(opt, value) == 1 for opt, value in (
        (M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))


def tune_from_env() -> bool:
    """`mnlu train`'s entry: the tuning only with MNLU_HOST_MALLOC=tuned (glibc's defaults otherwise)."""
    if os.environ.get(OPT_OUT_ENV, "").lower() != "tuned":
        return False
    return keep_freed_memory()


__all__ = ["keep_freed_memory", "tune_from_env", "TUNABLES", "OPT_OUT_ENV"]
