"""Storage dtypes: bf16/fp16/fp32 in, fp32 arithmetic, round-to-nearest-even out.

bf16 has no NumPy dtype, so it travels as uint16 bit patterns: widening is a 16-bit shift (exact) and narrowing
is the usual RNE bit trick on the fp32 pattern, which is what torch's `.to(torch.bfloat16)` does.
"""

from __future__ import annotations

import numpy as np

from .errors import MergeError

# safetensors dtype name -> (numpy storage dtype, bytes per element)
STORAGE = {"BF16": np.dtype("<u2"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4")}
ALIASES = {
    "bfloat16": "BF16", "bf16": "BF16", "float16": "F16", "fp16": "F16", "half": "F16",
    "float32": "F32", "fp32": "F32", "float": "F32", "BF16": "BF16", "F16": "F16", "F32": "F32",
}
TORCH_NAMES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


def canonical(name: str, where: str = "dtype") -> str:
    """Map user spellings (bfloat16, bf16, F32, ...) to the safetensors names."""
    try:
        return ALIASES[name]
    except KeyError:
        raise MergeError(f"{where}: unsupported dtype {name!r}; expected one of bfloat16, float16, float32") from None


def itemsize(dtype: str) -> int:
    return STORAGE[dtype].itemsize


def to_f32(raw: np.ndarray, dtype: str, out: np.ndarray) -> np.ndarray:
    """Widen a storage array (bf16 bits, fp16 or fp32) into the float32 array `out` (exact)."""
    if dtype == "BF16":
        np.left_shift(raw, 16, out=out.view(np.uint32), dtype=np.uint32)
    else:
        np.copyto(out, raw, casting="unsafe" if dtype == "F16" else "no")
    return out


def from_f32(x: np.ndarray, dtype: str, out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Narrow float32 `x` into storage `out` with round-to-nearest-even; `scratch` is a uint32 work array."""
    if dtype == "F32":
        np.copyto(out, x)
    elif dtype == "F16":
        np.copyto(out, x, casting="same_kind")  # numpy's float32 -> float16 cast rounds to nearest even
    else:
        bits = x.view(np.uint32)  # (bits + 0x7FFF + lsb of the result) >> 16, the last shift narrowing on the fly
        np.right_shift(bits, 16, out=scratch)
        np.bitwise_and(scratch, 1, out=scratch)
        np.add(scratch, 0x7FFF, out=scratch)
        np.add(scratch, bits, out=scratch)
        np.right_shift(scratch, 16, out=out, casting="unsafe")
    return out
