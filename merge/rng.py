"""The two Bernoulli streams: MergeLM's (one MT19937 stream in module order) and ours (counter-based).

Both produce one uint32 draw per element and drop an element iff (draw & 0xFFFFFF) < ceil(float32(p) * 2^24),
which is exactly torch's CPU `bernoulli(full(p))` test on its 24-bit uniform. They differ in where draws come
from: `mergelm` walks torch's single sequential stream (entered anywhere by jump-ahead, see mt19937), so a
tensor's mask depends on every tensor before it; `native` keys numpy's Philox by (seed, model, tensor name) and
counts by element index, so a mask depends on nothing but its own coordinates: chunk size, thread count and order
cannot change it.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from . import mt19937

LOW24 = 0xFFFFFF


def drop_threshold(drop_rate: float) -> int:
    """Drop iff (draw & 0xFFFFFF) < threshold; float32(p) as torch's `full_like` stores it."""
    p32 = float(np.float32(drop_rate))
    return min(1 << 24, math.ceil(p32 * (1 << 24)))


def keep_mask(draws: np.ndarray, threshold: int) -> np.ndarray:
    """In place: uint32 draws -> all-ones where kept, zero where dropped (for bitwise AND with fp32 data)."""
    as_int = draws.view(np.int32)
    np.bitwise_and(draws, LOW24, out=draws)
    # kept iff low24 >= threshold iff (threshold - 1 - low24) < 0; the arithmetic shift spreads the sign bit.
    np.subtract(np.int32(threshold - 1), as_int, out=as_int)
    np.right_shift(as_int, 31, out=as_int)
    return draws


class MergeLMStream:
    """Sequential reader of torch.manual_seed(seed)'s CPU stream, entered at an arbitrary draw index."""

    def __init__(self, seed: int, position: int):
        self.seed = seed
        self.position = position
        self._gen = mt19937.generator_at(seed, position)

    def draws(self, position: int, n: int) -> np.ndarray:
        if position != self.position:
            if position < self.position:
                self._gen = mt19937.generator_at(self.seed, position)
            else:
                gap = position - self.position
                if gap < (1 << 22):
                    self._gen.integers(0, 1 << 32, size=gap, dtype=np.uint32)
                else:
                    self._gen = mt19937.generator_at(self.seed, position)
            self.position = position
        out = self._gen.integers(0, 1 << 32, size=n, dtype=np.uint32)
        self.position += n
        return out


def philox_key(seed: int, model_index: int, tensor: str) -> int:
    h = hashlib.blake2b(f"mnlu-merge/v1\0{seed}\0{model_index}\0{tensor}".encode(), digest_size=16).digest()
    return int.from_bytes(h, "little")


def native_draws(key: int, start: int, n: int) -> np.ndarray:
    """Draws for elements [start, start+n) of one tensor: element e is 32-bit half (e % 2) of Philox word e // 2."""
    w0 = start // 2
    w1 = (start + n + 1) // 2
    gen = np.random.Philox(key=key, counter=w0 // 4)
    if w0 % 4:
        gen.random_raw(w0 % 4)
    words = gen.random_raw(w1 - w0)
    halves = words.view(np.uint32)
    lo = start - 2 * w0
    return halves[lo : lo + n]
