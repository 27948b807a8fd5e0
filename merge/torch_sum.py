"""torch's CPU column sum, replayed in NumPy in the same order, for MergeLM's `[PAD]` row.

MergeLM adds a `[PAD]` token and sets its embedding (and lm_head) row to `weight[:-1].mean(dim=0)` in fp32.
torch computes that as `sum(dim=0) / V` with a cascade (4 levels of partial sums, flushed every 2^k rows) for the
columns its vectorised 4-row kernel covers, and a 4-way interleaved cascade ("ILP") for the remaining columns.
Replaying the exact order gives the same bits; a plain `np.sum` does not. Rows are fed in order, chunk by chunk.
"""

from __future__ import annotations

import numpy as np

VEC_COLUMNS = 32  # 4 rows x 8 floats (AVX2); Mistral's hidden sizes are multiples of 64, so this rarely matters


class _Cascade:
    """torch's multi_row_sum over `size` rows, applied to all columns at once, fed row by row."""

    def __init__(self, size: int, width: int):
        ceil_log2 = (size - 1).bit_length() if size > 1 else 0
        self.level_power = max(4, ceil_log2 // 4)
        self.step = 1 << self.level_power
        self.mask = self.step - 1
        self.full_rows = (size // self.step) * self.step
        self.acc = [np.zeros(width, np.float32) for _ in range(4)]
        self.i = 0

    def add(self, row: np.ndarray) -> None:
        acc = self.acc
        acc[0] += row
        self.i += 1
        if self.i <= self.full_rows and self.i % self.step == 0:
            for j in range(1, 4):
                acc[j] += acc[j - 1]
                acc[j - 1][:] = 0
                if self.i & (self.mask << (j * self.level_power)):
                    break

    def result(self) -> np.ndarray:
        out = self.acc[0].copy()
        for j in range(1, 4):
            out += self.acc[j]
        return out


class TorchColumnSum:
    """Column sums of a [size, width] fp32 matrix in torch's CPU order (fed in row blocks)."""

    def __init__(self, size: int, width: int):
        self.size, self.width = size, width
        self.split = (width // VEC_COLUMNS) * VEC_COLUMNS
        self.plain = _Cascade(size, self.split)
        self.ilp_rows = size // 4
        rest = width - self.split
        self.ilp = [_Cascade(self.ilp_rows, rest) for _ in range(4)]
        self.tail = np.zeros(rest, np.float32)
        self.row = 0

    def add_rows(self, block: np.ndarray) -> None:
        block = block.reshape(-1, self.width)
        for r in block:
            if self.split:
                self.plain.add(r[: self.split])
            if self.split < self.width:
                rest = r[self.split:]
                if self.row < 4 * self.ilp_rows:
                    self.ilp[self.row % 4].add(rest)
                else:
                    self.tail += rest
            self.row += 1

    def result(self) -> np.ndarray:
        if self.row != self.size:
            raise RuntimeError(f"column sum fed {self.row} rows, expected {self.size}")
        out = np.empty(self.width, np.float32)
        out[: self.split] = self.plain.result()
        if self.split < self.width:
            parts = [c.result() for c in self.ilp]
            parts[0] += self.tail
            for k in range(1, 4):
                parts[0] += parts[k]
            out[self.split:] = parts[0]
        return out

    def mean(self) -> np.ndarray:
        return self.result() / np.float32(self.size)
