"""Keep glibc from handing the XLA:CPU working set back to the kernel after every step.

XLA:CPU allocates one temporary slab per execution (1.2 GB for the bench's 120M-parameter step) from a worker
thread. glibc serves an allocation that large with a fresh `mmap` (a thread arena cannot grow that far, and it
falls back to mmap even when told not to) and `munmap`s it on free, so every step page-faults its whole working
set again: 300k minor faults and 1-2.5 CPU-seconds of kernel time per step on a 2-core host, 15-20% of the step.
One arena, no mmap and a high trim threshold make the slab come from the heap and stay there, so the next step
reuses the same pages. PyTorch's CPU guides reach the same end by preloading jemalloc or tcmalloc.

Measured on `mnlu train --config configs/tiny.yaml --max_steps 3` (bench/RESULTS.md, issue 11) that tuning makes
peak RSS worse where the working set is not one reused slab: 3.40 vs 2.53 GB on 8 simulated devices (32 rows ×
1024): freed blocks of other sizes are never returned. One arena alone is the part that never hurt: 2.39 GB there,
1.06 vs 1.10 GB on one device, step time within noise. So `mnlu train` (`tune_from_env`) applies, only when asked:

- `MNLU_HOST_MALLOC=tuned`: one arena (`one_arena`), bounded: freed memory still goes back to the kernel;
- `MNLU_HOST_MALLOC=keep`: the whole tuning (`keep_freed_memory`), for a fixed-size step where the slab reuse
  pays (bench/train_step.py) and the memory is there;

and glibc's defaults otherwise.

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


def _mallopt():
    """glibc's mallopt, or None off Linux/glibc."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def keep_freed_memory() -> bool:
    """Tune glibc malloc in this process as described above; True when it was applied."""
    mallopt = _mallopt()
    if os.environ.get(OPT_OUT_ENV, "").lower() == "default" or mallopt is None:
        return False
    return all(mallopt(opt, value) == 1 for opt, value in (
        (M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))


def one_arena() -> bool:
    """Only glibc's arena limit set to 1 (no per-thread arenas holding freed memory); True when applied."""
    mallopt = _mallopt()
    return mallopt is not None and mallopt(M_ARENA_MAX, 1) == 1


def tune_from_env() -> bool:
    """`mnlu train`'s entry: `tuned` → `one_arena`, `keep` → `keep_freed_memory`, anything else glibc's defaults."""
    mode = os.environ.get(OPT_OUT_ENV, "").lower()
    if mode == "tuned":
        return one_arena()
    if mode == "keep":
        return keep_freed_memory()
    return False


__all__ = ["keep_freed_memory", "one_arena", "tune_from_env", "TUNABLES", "OPT_OUT_ENV"]
